"""A paper's text made readable for extraction: one notation, whole sentences, known headings.

:func:`prepare` turns the raw text of a paper (any reader's output) into a :class:`Document`:

- one notation: LaTeX math (``$I^2=45\\%$``, ``\\text{WMD}``, ``\\geq``) becomes plain text,
  every minus sign and hyphen becomes ``-`` and every dash ``–``, odd spaces become spaces,
  a Lancet-style decimal point ``0·72`` becomes ``0.72``, a PDF's ``¼`` for ``=`` becomes ``=``;
- whole sentences: a paragraph that a page break, a figure caption or a table interrupts
  mid-sentence is joined to its continuation (the interrupting lines follow it);
- headings: short title lines, so every result can say where it stood.

Every character of the prepared text maps back to its offset in the raw text
(:meth:`Document.raw_offset`), which is what the scan reports.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SYMBOLS = {"geq": "≥", "ge": "≥", "leq": "≤", "le": "≤", "times": "×", "pm": "±", "chi": "χ",
            "tau": "τ", "mu": "μ", "cdot": "·", "approx": "≈", "sim": "~", "lt": "<", "gt": ">",
            "%": "%", "$": "$", "&": "&", "_": "_", "#": "#"}

# One pass over the raw text; each alternative is rewritten by _replacement.
# Characters rewritten one for one (so offsets are unchanged): minus signs and hyphens, dashes,
# odd spaces.
_ONE_FOR_ONE = str.maketrans({**dict.fromkeys("\u2212\u2010\u2011\u2012\ufe63\uff0d", "-"),
                              **dict.fromkeys("\u2013\u2014\u2015", "–"),
                              **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005"
                                              "\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
                                              "\u3000\r", " ")})
# The rest in one pass; every alternative starts with a rare character, so the scan is fast.
_CLEAN = re.compile(
    r"(?=[\\$^{}⁻⁺⁰¹²³⁴⁵⁶⁷⁸⁹\u200b\u200c\u200d\u00ad\ufeff\u00b7\u00bc\ufb00-\ufb04])"
    r"(?:(?P<cmdarg>\\(?:text|mathrm|mathit|mathbf|textit|textbf|textrm|operatorname|mbox|hat|"
    r"widehat|bar|tilde|boldsymbol)\s*\{(?P<arg>[^{}]*)\})"
    r"|(?P<sym>\\(?P<name>[A-Za-z]+|[%$&_#]))"
    r"|(?P<math>\$)"
    r"|(?P<square>\^\s*\{?\s*2\s*\}?(?![\d.]))"
    r"|(?P<power>\^\s*\{(?P<exp>[^{}]*)\})"
    r"|(?P<brace>[{}])"
    r"|(?P<sup>[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
    r"|(?P<drop>[\u200b\u200c\u200d\u00ad\ufeff])"
    r"|(?P<middot>\u00b7)"
    r"|(?P<quarter>\u00bc)"
    r"|(?P<ligature>[\ufb00-\ufb04]))"
)

_CAPTION = re.compile(r"^\s*(?:\*\*)?\s*(?:\[image:|(?:Supplementary\s+)?(?:Fig(?:ure)?s?\.?|"
                      r"FIGURE|TABLE|Table)\s*S?\d)")
_GLUED_HEADING = re.compile(r"(?<=[a-z.)\]])\.?(\d+(?:\.\d+)+\.?\s+[A-Z][^.\n]{2,80})$")
_GLOSSARY = re.compile(r"^\s*(?:[^\s:;]{1,15}(?:\s[^\s:;]{1,15})?:\s[^;]{1,80};\s*){2,}")
"""A table's footnote of abbreviations (``Con: control group; Exp: experimental group; ...``)."""
_CONTINUES = re.compile(r"^\s*(?:[a-z(\[{–\-$]|C[Il1]\b|\d)")
_TOP_SECTIONS = re.compile(
    r"^(?:\d+\.?\s*)?(abstract|summary|background|introduction|methods?|materials and methods|"
    r"patients and methods|results?|findings|discussion|conclusions?|interpretation|"
    r"references|bibliography|literature cited|acknowledge?ments?|funding|declarations|"
    r"abbreviations|supplementary (?:material|information)|appendix)\s*:?\s*$", re.IGNORECASE)
_SKIPPED_SECTIONS = frozenset({"references", "bibliography", "literature cited"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
_ABBREVIATION = re.compile(r"(?:\b(?:Figs?|al|vs|e\.g|i\.e|No|Nos|approx|ref|Ref|cf|Dr|St|ca|"
                           r"resp|Tab|Suppl|Eq|Eqs|[A-Z])\.)$")


@dataclass(frozen=True)
class Document:
    """A prepared paper: readable text, its map to the raw text, its headings and sentences.

    Attributes
    ----------
    text : str
        The prepared text (see the module docstring).
    offsets : numpy.ndarray
        ``offsets[i]`` is the raw-text offset of ``text[i]``; one extra entry for the end.
    headings : list of tuple of (int, str, str)
        ``(start, top section, heading)`` of each heading line, in text order.
    sentence_starts : list of int
        Start offset (in ``text``) of every sentence.
    skipped : list of tuple of (int, int)
        Spans of ``text`` (reference lists) that hold no results.
    """

    text: str
    offsets: NDArray[np.int64]
    headings: list[tuple[int, str, str]]
    sentence_starts: list[int]
    skipped: list[tuple[int, int]]

    def raw_offset(self, i: int) -> int:
        """Offset in the raw text of position ``i`` of the prepared text."""
        return int(self.offsets[min(max(i, 0), len(self.offsets) - 1)])

    def section(self, i: int) -> str:
        """``"Top section > heading"`` (or one of them) of the text at position ``i``."""
        at = bisect.bisect_right(self._heading_starts, i) - 1
        if at < 0:
            return ""
        _, top, heading = self.headings[at]
        if top and heading and heading.lower() != top.lower():
            return f"{top} > {heading}"
        return heading or top

    def sentence(self, start: int, end: int, limit: int = 400) -> tuple[int, int]:
        """Span of the sentence(s) holding ``text[start:end]``, at most ``limit`` characters."""
        at = bisect.bisect_right(self.sentence_starts, start) - 1
        first = self.sentence_starts[at] if at >= 0 else 0
        after = bisect.bisect_right(self.sentence_starts, max(end - 1, start))
        last = self.sentence_starts[after] if after < len(self.sentence_starts) else len(self.text)
        while last > first and self.text[last - 1].isspace():
            last -= 1
        if last - first > limit:
            room = max(limit - (end - start), 0) // 2
            first, last = max(first, start - room), min(last, end + room)
        return first, last

    def is_skipped(self, i: int) -> bool:
        return any(a <= i < b for a, b in self.skipped)

    @property
    def _heading_starts(self) -> list[int]:
        return [h[0] for h in self.headings]


def _replacement(match: re.Match[str]) -> str:
    kind, text, start = match.lastgroup, match.string, match.start()
    before = text[max(0, start - 2):start]
    if kind == "cmdarg":
        return match.group("arg")
    if kind == "sym":
        return _SYMBOLS.get(match.group("name"), "")
    if kind == "square":  # I^2, I^{2}, l ^2: the I-squared of a garbled or LaTeX text
        tail = text[max(0, start - 4):start]
        return "²" if tail.endswith(("I", "l", "H", "χ", "\\chi", "I ", "l ", "H ")) else "^2"
    if kind == "power":
        return "^" + match.group("exp")
    if kind == "sup":  # 10⁻⁵ -> 10^-5; I² stays
        return "^" + match.group().translate(_SUPERSCRIPT) if before == "10" else match.group()
    if kind == "middot":  # Lancet's decimal point 0·72
        return "." if before[-1:].isdigit() and text[start + 1:start + 2].isdigit() else "·"
    if kind == "quarter":  # a PDF's '=' read as '¼'
        return "=" if before[-1:].isspace() and text[start + 1:start + 2].isspace() else "¼"
    if kind == "ligature":
        return _LIGATURES[match.group()]
    return ""  # math delimiters, braces, invisible characters


def clean(raw: str) -> tuple[str, NDArray[np.int64]]:
    """Rewrite ``raw`` into one notation; return the text and each character's raw offset."""
    raw = raw.translate(_ONE_FOR_ONE)
    pieces: list[str] = []
    maps: list[NDArray[np.int64]] = []
    last = 0
    for match in _CLEAN.finditer(raw):
        start, end = match.span()
        if start > last:
            pieces.append(raw[last:start])
            maps.append(np.arange(last, start, dtype=np.int64))
        new = _replacement(match)
        if new:
            pieces.append(new)
            maps.append(np.minimum(np.arange(start, start + len(new), dtype=np.int64), end - 1))
        last = end
    pieces.append(raw[last:])
    maps.append(np.arange(last, len(raw) + 1, dtype=np.int64))
    return "".join(pieces), np.concatenate(maps)


def _kind(line: str) -> str:
    stripped = line.strip()
    if not stripped:
        return "blank"
    if "\t" in line or stripped.count("|") >= 2:
        return "table"
    if _CAPTION.match(line):
        return "caption"
    return "prose"


_UNFINISHED = re.compile(r"(?:[,;(=–\-/]|\b(?i:and|or|the|of|in|with|to|a|an|for|by|from|was|"
                         r"were|is|are|than|at|on|that|vs\.?))\s*$")
"""A line that cannot end a sentence: its next line continues it, whatever that line starts
with (``... p < 0.001;`` / ``I2 = 35%)``)."""


def _hard_wrapped(lines: list[str], kinds: list[str]) -> bool:
    """Whether the text is wrapped at a fixed width (pdftotext, e-mail): most long lines end
    mid-sentence, so every such line continues on the next."""
    prose = [line.rstrip() for line, kind in zip(lines, kinds) if kind == "prose"
             and len(line.strip()) > 40]
    if len(prose) < 10:
        return False
    cut = sum(1 for line in prose if line[-1] not in ".!?:")
    return cut > 0.5 * len(prose)


def _reading_order(lines: list[str], kinds: list[str]) -> list[tuple[int, bool]]:
    """Line order with joins: a prose line cut mid-sentence is followed by its continuation.

    Returns ``(line index, joined to the previous line)`` pairs covering every line once.
    """
    order: list[tuple[int, bool]] = []
    used = [False] * len(lines)
    wrapped = _hard_wrapped(lines, kinds)
    for i in range(len(lines)):
        if used[i]:
            continue
        used[i] = True
        order.append((i, False))
        current = i
        while kinds[current] == "prose" and len(lines[current].strip()) > 20 \
                and lines[current].rstrip()[-1] not in ".!?:" \
                and not _GLOSSARY.match(lines[current]):
            any_start = wrapped and len(lines[current].strip()) > 40 or \
                _UNFINISHED.search(lines[current]) is not None
            follow = _continuation(lines, kinds, used, current, any_start)
            if follow is None:
                break
            used[follow] = True
            order.append((follow, True))
            current = follow
    return order


def _continuation(lines: list[str], kinds: list[str], used: list[bool], i: int,
                  any_start: bool) -> int | None:
    """The line that continues line ``i``: the next prose line that starts mid-sentence (or,
    with ``any_start``, the next prose line at all), past captions, tables and glossaries."""
    for j in range(i + 1, min(i + 60, len(lines))):
        if used[j] or kinds[j] != "prose":
            continue
        text = lines[j].strip()
        if any_start or _CONTINUES.match(text):
            return j
        if _GLOSSARY.match(text):
            continue
        if len(text) > 80:
            return None  # a new paragraph that starts a sentence
    return None


def _is_heading(line: str, next_kind: str) -> bool:
    text = line.strip().strip("#*").strip()
    if not text or len(text) > 120 or text[-1] in ".,;:" or len(text.split()) > 15:
        return False
    if text[0].islower() or not any(c.isalpha() for c in text):
        return False
    return line.lstrip().startswith("#") or next_kind in ("prose", "blank")


def prepare(raw: str) -> Document:
    """Prepare the raw text of a paper for extraction (see the module docstring)."""
    cleaned, to_raw = clean(raw)
    lines = cleaned.split("\n")
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    kinds = [_kind(line) for line in lines]
    pieces: list[str] = []
    maps: list[NDArray[np.int64]] = []
    headings: list[tuple[int, str, str]] = []
    skipped: list[tuple[int, int]] = []
    top, skip_from, position = "", None, 0
    order = _reading_order(lines, kinds)
    for n, (i, joined) in enumerate(order):
        line = lines[i]
        if n:
            pieces.append(" " if joined else "\n")
            maps.append(np.array([starts[i] - (0 if joined else 1)], dtype=np.int64))
            position += 1
        next_kind = next((kinds[j] for j, _ in order[n + 1:n + 3] if kinds[j] != "blank"),
                         "blank")
        if kinds[i] == "prose" and not joined and (n + 1 == len(order) or not order[n + 1][1]) \
                and _is_heading(line, next_kind):
            title = line.strip().strip("#*").strip()
            section = _TOP_SECTIONS.match(title)
            if section:
                top = section.group(1).capitalize()
                if skip_from is not None:
                    skipped.append((skip_from, position))
                skip_from = position if top.lower() in _SKIPPED_SECTIONS else None
            headings.append((position, top, title))
        elif kinds[i] == "caption":
            glued = _GLUED_HEADING.search(line)
            if glued:
                headings.append((position + glued.start(1), top, glued.group(1).strip()))
        pieces.append(line)
        maps.append(np.arange(starts[i], starts[i] + len(line), dtype=np.int64))
        position += len(line)
    if skip_from is not None:
        skipped.append((skip_from, position))
    text = "".join(pieces)
    index = np.concatenate(maps + [np.array([len(cleaned)], dtype=np.int64)])
    return Document(text, to_raw[index], headings, _sentences(text), skipped)


def _sentences(text: str) -> list[int]:
    starts = [0]
    for match in re.finditer(r"\n+|" + _SENTENCE_END.pattern, text):
        if match.group().startswith("\n") or not _ABBREVIATION.search(
                text[max(0, match.start() - 8):match.start()]):
            starts.append(match.end())
    return starts
