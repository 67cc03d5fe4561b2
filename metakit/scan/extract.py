"""Find every printed pooled result in a prepared paper, with the statistics printed beside it.

:func:`extract` reads a :class:`~metakit.scan.text.Document` in three passes:

1. forest plots printed as text: the pooled rows (``Overall``, ``Subtotal``, ``Subgroup``,
   ``Total``) with their ``(I² = ..%, p = ..)`` and the estimate that follows; study rows are
   per-study data, not results, and are passed over. A line that holds many estimates at once
   is a garbled figure: only a row whose weight ``100.00`` pins it is read, every other pooled
   row of the figure is listed as unread;
2. tables: a header naming the estimate and both bounds (``Pooled_HR  CI_Lower  CI_Upper``), or
   a column headed ``(95% CI)`` holding ``1.69 (1.02–2.81)``;
3. running text: every confidence interval, with the estimate before it (the nearest number,
   preferring one named by a measure label), the measure, and the p, z, I², Q, df, τ², number
   of studies and patients, and model printed in the same sentence. Heterogeneity printed before
   the estimate in the same sentence (``(P = 0.95; I2 = 0%), a fixed-effects model ... (RR =
   34.54, ...)``) belongs to it; a p-value after heterogeneity words is the heterogeneity test's;
   words of another test (between groups, Egger) end what the result can claim.

Nothing is guessed: a result whose measure or interval cannot be read is returned with
``unread`` saying why, and is not checked. Chi-squared tests printed with their df and p
(``χ² = 2.4321, df = 1, p = 0.1189``) are returned too (``kind="test"``), for the check of p
against the statistic.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field

from metakit.scan import notation as nt
from metakit.scan.text import Document

_PREPOSITION = re.compile(r"(?i:\b(?:at|after|in|over|within|for|than|from|to|up\s+to|until)\s+"
                          r"(?:the\s+)?$)")
_TIME_UNITS = frozenset({"month", "months", "week", "weeks", "day", "days", "year", "years",
                         "hours", "hour", "h", "min"})
_REFERENCE = re.compile(r"\[[\d,\s–-]+\]|\((?:19|20)\d\d[a-z]?\)|(?i:\b(?:fig(?:ure)?s?\.?|table|"
                        r"ref\.?)\s*S?\d+)")


@dataclass
class Finding:
    """One printed result, every number as printed (minus sign ``-``, no ``%``).

    ``start``/``end`` span the result in the prepared text; ``unread`` says why a result
    cannot be checked (empty when it was read); ``kind`` is ``text``, ``forest``, ``table`` or
    ``test`` (a chi-squared test).
    """

    start: int
    end: int
    kind: str
    measure: str = ""
    estimate: str = ""
    ci_low: str = ""
    ci_high: str = ""
    ci_level: str = ""
    p_value: str = ""
    z: str = ""
    i2: str = ""
    q: str = ""
    q_df: str = ""
    q_pval: str = ""
    tau2: str = ""
    k: str = ""
    n: str = ""
    model: str = ""
    unread: str = ""
    notes: list[str] = field(default_factory=list)

    def set(self, name: str, value: str) -> None:
        """Record a statistic unless already set; a different second value goes to the notes."""
        current = getattr(self, name)
        if not current:
            setattr(self, name, value)
        elif current != value:
            self.notes.append(f"{name} also printed as {value}")


def number(text: str) -> str:
    """A printed number in one spelling: ASCII minus, no spaces, no percent sign."""
    return text.replace("–", "-").replace(" ", "").rstrip("%")


class _Labels:
    """Every measure label of a text, found once, looked up by position."""

    def __init__(self, text: str) -> None:
        self.spans = [(m.start(), m.end(), nt.measure_of(m))
                      for m in nt.MEASURE_LABEL.finditer(text)]
        self.starts = [s for s, _, _ in self.spans]

    def within(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """Labels that lie wholly between ``start`` and ``end``."""
        first = bisect.bisect_left(self.starts, start)
        last = bisect.bisect_left(self.starts, end)
        return [span for span in self.spans[first:last] if span[1] <= end]

    def last(self, start: int, end: int) -> tuple[int, int, str] | None:
        """The last label wholly between ``start`` and ``end``."""
        found = self.within(start, end)
        return found[-1] if found else None


def extract(doc: Document) -> list[Finding]:
    """Every pooled result printed in ``doc``, in text order (see the module docstring)."""
    claimed: list[tuple[int, int]] = []
    labels = _Labels(doc.text)
    findings = _forest(doc, claimed) + _tables(doc, claimed)
    findings += _running_text(doc, claimed, labels)
    findings += _tests(doc, claimed)
    findings += _without_interval(doc, claimed, labels)
    findings.sort(key=lambda f: f.start)
    return findings


# -- forest plots --------------------------------------------------------------------------


def _lines(doc: Document) -> list[tuple[int, str, int]]:
    """``(start, line, paragraph number)`` of every line of the prepared text."""
    out, start, paragraph = [], 0, 0
    for line in doc.text.split("\n"):
        if not line.strip():
            paragraph += 1
        elif not doc.is_skipped(start):
            out.append((start, line, paragraph))
        start += len(line) + 1
    return out


def _header_measure(lines: list[tuple[int, str, int]], at: int) -> tuple[str, str]:
    """Measure and model named by the nearest header line above line ``at`` in its paragraph
    (``"generic"`` for an 'ES (95% CI)' column, ``""`` when none or several are named)."""
    paragraph = lines[at][2]
    for _, line, par in reversed(lines[max(0, at - 40):at + 1]):
        if par != paragraph:
            break
        if "CI" in line or "Weight" in line or "Author" in line:
            measures = {nt.measure_of(m) for m in nt.MEASURE_LABEL.finditer(line)} - {"mean"}
            model = _model_words(line)
            if len(measures) == 1:
                return measures.pop(), model
            if len(measures) > 1:
                return "", model
    return "", ""


def _model_words(text: str) -> str:
    if re.search(r"(?i:random|\bDL\b|D\+L|REML)", text):
        return "random"
    if re.search(r"(?i:fixed|\bIV\b|I-V|M-H|Peto|common)", text):
        return "fixed"
    return ""


def _caption(lines: list[tuple[int, str, int]], at: int) -> int:
    """Index of the first figure caption after line ``at`` (or ``at`` when none follows)."""
    for j in range(at + 1, min(at + 40, len(lines))):
        if re.match(r"\s*(?:\*\*)?\s*Fig", lines[j][1]):
            return j
    return at


def _caption_measure(lines: list[tuple[int, str, int]], at: int) -> str:
    """``proportion`` when the caption after a figure of generic 'ES' rows names a rate."""
    caption = lines[_caption(lines, at)][1]
    if not re.match(r"\s*(?:\*\*)?\s*Fig", caption) or \
            re.search(r"(?i:odds|ratio|difference|hazard)", caption):
        return ""
    return "proportion" if re.search(r"(?i:rate|proportion|prevalence|incidence)", caption) \
        else ""


_FULL_WEIGHT = re.compile(r"\s*100(?:\.0+)?(?![\d.])")


def _forest(doc: Document, claimed: list[tuple[int, int]]) -> list[Finding]:
    lines = _lines(doc)
    findings: list[Finding] = []
    garbled: dict[int, list[tuple[str, Finding, bool]]] = {}
    for at, (start, line, _) in enumerate(lines):
        triples = list(nt.TRIPLE.finditer(line))
        labels = [m for m in nt.POOLED_LABEL.finditer(line) if m.group()[0].isupper()]
        if not triples or not labels:
            continue
        if "\t" not in line and len(triples) < 3 and line[:labels[0].start()].strip():
            continue  # running text that merely says "total" or "overall"
        measure, model = _header_measure(lines, at)
        header_measure = measure
        if measure in ("", "generic"):
            measure = _caption_measure(lines, at) if measure == "generic" else ""
        is_garbled = len(triples) > 2
        claimed.append((start, start + len(line)))
        for i, label in enumerate(labels):
            stop = labels[i + 1].start() if i + 1 < len(labels) else len(line)
            bracket = line.find("(", label.end(), min(stop, label.end() + 20))
            het = nt.FOREST_HETEROGENEITY.match(line, bracket, stop) if bracket >= 0 else None
            after = het.end() if het else label.end()
            triple = next((t for t in triples if after <= t.start() < stop), None)
            if triple is None and not is_garbled:
                continue
            found = Finding(start + label.start(), start + (triple.end() if triple else stop),
                            "forest", measure=measure,
                            model=_model_words(line[label.start():after]) or model)
            if het:
                found.i2, found.q_pval = number(het.group("i2")), het.group("p")
                if found.q_pval == ".":
                    found.q_pval = ""
                    found.notes.append("heterogeneity p printed as '.' (one study)")
            if triple is not None:
                _set_triple(found, triple)
            if is_garbled:
                pinned = triple is not None and label.group("label").lower() == "overall" and \
                    _FULL_WEIGHT.match(line, triple.end()) is not None
                kind = "overall" if label.group("label").lower() == "overall" else \
                    "subtotal " + found.i2
                garbled.setdefault(_caption(lines, at), []).append((kind, found, pinned))
                continue
            if not found.measure:
                found.unread = ("the forest plot's header names more than one measure"
                                if header_measure == "" and "CI" in line else
                                "measure not named in the forest plot's header")
            _revman_footer(doc, found, start + len(line) + 1)
            claimed.append((start, found.end))
            findings.append(found)
    for rows in garbled.values():
        findings += _garbled_figure(rows)
    return findings


def _garbled_figure(rows: list[tuple[str, Finding, bool]]) -> list[Finding]:
    """One finding per pooled row of a figure whose text layer mixes its rows.

    The overall row is read where its weight of 100 pins its estimate (the most common reading
    of its copies is kept); a subtotal cannot be paired with its estimate and is unread.
    """
    out = []
    for kind in dict.fromkeys(k for k, _, _ in rows):
        copies = [f for k, f, _ in rows if k == kind]
        pinned = [f for k, f, p in rows if k == kind and p]
        found = copies[0]
        if pinned:
            readings = Counter((f.estimate, f.ci_low, f.ci_high) for f in pinned)
            (found.estimate, found.ci_low, found.ci_high), _ = readings.most_common(1)[0]
            found.start = min(f.start for f in pinned)
        else:
            found.estimate = found.ci_low = found.ci_high = ""
            found.unread = ("garbled forest-plot row: the figure's text layer mixes its rows, "
                            "so this pooled row cannot be paired with its estimate")
        for name in ("i2", "q_pval"):
            values = Counter(getattr(f, name) for f in copies if getattr(f, name))
            if values:
                setattr(found, name, values.most_common(1)[0][0])
                others = sorted(set(values) - {getattr(found, name)})
                if others:
                    found.notes.append(f"other copies print {name} as " + ", ".join(others))
        found.notes = list(dict.fromkeys(
            [n for n in found.notes if not n.startswith("other copies")] +
            [n for n in found.notes if n.startswith("other copies")]))
        if len(copies) > 1:
            found.notes.append(f"the garbled figure prints this row {len(copies)} times")
        out.append(found)
    return out


def _set_triple(found: Finding, match: re.Match[str]) -> None:
    found.estimate = number(match.group("est"))
    found.ci_low, found.ci_high = number(match.group("lo")), number(match.group("hi"))
    if "%" in match.group(0) and found.measure in ("", "proportion"):
        found.measure = "proportion_pct"


def _revman_footer(doc: Document, found: Finding, start: int) -> None:
    """RevMan's lines under a total: ``Heterogeneity: Chi² = ...; I² = ..%`` and the Z test."""
    text = doc.text
    for _ in range(2):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if not re.match(r"\s*(?i:heterogeneity|test\s+for\s+overall\s+effect)\s*:", line):
            return
        _statistics(found, text, start, end, mode="", pre=False)
        found.end = end
        start = end + 1


# -- tables --------------------------------------------------------------------------------

_LOWER = re.compile(r"(?i:lower|\bLL\b|\bLCL\b|CI_?L|low(?:er)?\s*(?:95%\s*)?CI)")
_UPPER = re.compile(r"(?i:upper|\bUL\b|\bUCL\b|CI_?U|up(?:per)?\s*(?:95%\s*)?CI)")
_ESTIMATE_HEADER = re.compile(r"(?i:estimate|pooled|effect|summar|proportion|prevalence|"
                              r"\bmean\b|\bES\b)")
_INTERVAL_CELL = re.compile(rf"\s*(?:{nt.BRACKETED}|(?P<lo2>{nt.SIGNED})\s?%?\s*(?:–|-|to|;)\s*"
                            rf"(?P<hi2>{nt.SIGNED})\s?%?)\s*")
_NUMBER_CELL = re.compile(rf"\s*(?P<num>{nt.SIGNED})(?P<pct>\s?%)?\s*")
_RULE_LINE = re.compile(r"^[\s|:+-]+$")


def _cells(line: str) -> list[str]:
    if "\t" in line:
        return [c.strip() for c in line.split("\t")]
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _tables(doc: Document, claimed: list[tuple[int, int]]) -> list[Finding]:
    lines = [entry for entry in _lines(doc) if "\t" in entry[1] or entry[1].count("|") >= 2]
    findings: list[Finding] = []
    header: dict[str, object] | None = None
    for start, line, paragraph in lines:
        if any(a <= start < b for a, b in claimed) or _RULE_LINE.match(line):
            continue
        cells = _cells(line)
        found_header = _read_header(cells)
        if found_header is not None:
            header = {**found_header, "paragraph": paragraph}
            continue
        if header is None or abs(paragraph - int(header["paragraph"])) > 1:  # type: ignore
            continue
        if header.get("forest"):
            continue  # a forest plot's rows: its pooled rows are read by _forest
        label = cells[0] if cells else ""
        if nt.STUDY_LABEL.search(label):
            continue
        for found in _row_results(cells, header, start, line):
            found.notes.append(f"table row {label!r}" if label else "table row")
            claimed.append((start, start + len(line)))
            findings.append(found)
    return findings


def _column(cells: list[str], pattern: re.Pattern[str] | str) -> int | None:
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    return next((i for i, c in enumerate(cells) if rx.search(c)), None)


def _read_header(cells: list[str]) -> dict[str, object] | None:
    """Column roles of a table's header row, or ``None`` when the row is no such header.

    Roles: ``estimate``, ``lower``, ``upper`` (bounds in columns of their own), ``ci`` (columns
    headed by a CI keyword, holding ``1.69 (1.02–2.81)`` or just the interval, the estimate
    then in the column before), ``i2``, ``p`` (the heterogeneity p when right after I²), ``k``,
    ``z``, and ``chi2`` with ``p`` for a table of chi-squared tests.
    """
    if any(re.search(r"\d\.\d", c) for c in cells):
        return None  # a header holds no decimals
    if _column(cells, r"(?i:%?\s*weight)") is not None and \
            any(nt.CI_KEYWORD.search(c) for c in cells):
        return {"forest": True}
    roles: dict[str, int | None] = {
        "lower": _column(cells, _LOWER), "upper": _column(cells, _UPPER),
        "i2": _column(cells, r"(?i:^I.?\s?(?:2|²|squared|\(2\)))"),
        "p": _column(cells, r"(?i:^p\b|p.?values?)"),
        "k": _column(cells, r"(?i:stud(?:y|ies)|^k$|comparisons)"),
        "z": _column(cells, r"^[Zz]$"),
        "chi2": _column(cells, r"(?i:chi|χ)"), "df": _column(cells, r"(?i:^df$|^d\.f\.$)"),
    }
    ci = [i for i, c in enumerate(cells) if nt.CI_KEYWORD.search(c) and i not in
          (roles["lower"], roles["upper"])]
    measures = {}
    for i, cell in enumerate(cells):
        named = nt.MEASURE_LABEL.search(cell.replace("_", " "))
        if named and nt.measure_of(named) != "mean":
            measures[i] = nt.measure_of(named)
    if roles["lower"] is not None and roles["upper"] is not None:
        estimate = next((i for i in range(int(roles["lower"]) - 1, -1, -1)
                         if i in measures or _ESTIMATE_HEADER.search(cells[i])), None)
        if estimate is None:
            return None
        roles["estimate"] = estimate
    elif ci:
        roles["estimate"] = None
    elif roles["chi2"] is not None and roles["p"] is not None:
        return {"roles": roles, "ci": [], "measures": measures, "tests": True}
    else:
        return None
    return {"roles": roles, "ci": ci, "measures": measures, "tests": False}


def _cell(cells: list[str], i: int | None) -> str:
    return cells[i] if i is not None and 0 <= i < len(cells) else ""


def _row_results(cells: list[str], header: dict[str, object], start: int,
                 line: str) -> list[Finding]:
    roles: dict[str, int | None] = header["roles"]  # type: ignore[assignment]
    measures: dict[int, str] = header["measures"]  # type: ignore[assignment]
    if header["tests"]:
        return _table_test(cells, roles, start, line)
    out = []
    candidates: list[tuple[int, str, str, str, bool]] = []  # column, estimate, lo, hi, percent
    if roles.get("estimate") is not None:
        values = [_NUMBER_CELL.fullmatch(_cell(cells, roles[k]))
                  for k in ("estimate", "lower", "upper")]
        if all(values):
            candidates.append((int(roles["estimate"]), *(v.group("num") for v in values),
                               any(v.group("pct") for v in values)))  # type: ignore[misc]
    for i in header["ci"]:  # type: ignore[union-attr]
        cell = _cell(cells, i)
        triple = nt.TRIPLE.fullmatch(cell.strip())
        interval = _INTERVAL_CELL.fullmatch(cell)
        previous = _NUMBER_CELL.fullmatch(_cell(cells, i - 1))
        if triple:
            candidates.append((i, triple.group("est"), triple.group("lo"), triple.group("hi"),
                               "%" in cell))
        elif interval and previous:
            lo, hi = nt.bounds(interval)
            candidates.append((i - 1, previous.group("num"), lo, hi,
                               "%" in cell or bool(previous.group("pct"))))
    for column, estimate, lo, hi, pct in candidates:
        offset = max(line.find(_cell(cells, column)), 0)
        measure = measures.get(column, measures.get(column + 1, ""))
        found = Finding(start + offset, start + len(line), "table", measure=measure)
        found.estimate, found.ci_low, found.ci_high = number(estimate), number(lo), number(hi)
        if pct and measure in ("", "proportion", "generic"):
            found.measure = "proportion_pct"
        elif measure == "generic" or not measure:
            found.unread = "measure not named in the table's header"
        _table_statistics(found, cells, roles)
        out.append(found)
    return out


def _table_statistics(found: Finding, cells: list[str], roles: dict[str, int | None]) -> None:
    i2 = _NUMBER_CELL.match(_cell(cells, roles["i2"]))
    if i2:
        found.i2 = number(i2.group("num"))
    p = re.match(r"\s*(?:[Pp]\s*=\s*)?(?P<p>[<>≤≥]?\s?" + nt.NUMBER + ")",
                 _cell(cells, roles["p"]))
    if p:
        after_i2 = roles["i2"] is not None and roles["p"] == int(roles["i2"]) + 1
        found.set("q_pval" if after_i2 else "p_value", p.group("p").replace(" ", ""))
    k = _cell(cells, roles["k"])
    if k.isdigit():
        found.k = k
    z = _NUMBER_CELL.fullmatch(_cell(cells, roles["z"]))
    if z:
        found.z = number(z.group("num"))


def _table_test(cells: list[str], roles: dict[str, int | None], start: int,
                line: str) -> list[Finding]:
    value = _cell(cells, roles["chi2"])
    raw_p = _cell(cells, roles["p"])
    p_text = raw_p.rstrip("*†‡")
    if not (re.fullmatch(nt.NUMBER, value) and re.fullmatch(r"[<>≤≥]?\s?" + nt.NUMBER, p_text)):
        return []
    found = Finding(start + line.find(value), start + len(line), "test", measure="chi2",
                    q=value, q_pval=p_text.replace(" ", ""))
    df = _cell(cells, roles["df"])
    if df.isdigit():
        found.q_df = df
    else:
        found.notes.append("df not printed in the table")
    if p_text != raw_p:
        found.notes.append(f"p printed with a footnote mark: {raw_p}")
    return [found]


# -- running text --------------------------------------------------------------------------


@dataclass
class _Anchor:
    """An interval found in running text, before its estimate is looked for."""

    keyword_start: int
    end: int
    lo: str
    hi: str
    level: str = ""
    credible: bool = False
    estimate: str = ""
    estimate_start: int = -1
    pct: bool = False
    label: str = ""
    form: str = "keyword"


def _overlaps(span: tuple[int, int], claimed: list[tuple[int, int]]) -> bool:
    return any(a < span[1] and span[0] < b for a, b in claimed)


def _anchors(doc: Document, claimed: list[tuple[int, int]], labels: _Labels) -> list[_Anchor]:
    text = doc.text
    anchors: list[_Anchor] = []
    for kw in nt.CI_KEYWORD.finditer(text):
        if doc.is_skipped(kw.start()):
            continue
        printed_level = nt.CI_LEVEL.search(text, max(0, kw.start() - 12), kw.start())
        level = (printed_level.group("level") or printed_level.group("level2")) \
            if printed_level else ""
        keyword_start = printed_level.start() if printed_level else kw.start()
        credible = kw.group("kind").lower().startswith(("cr", "cred"))
        interval = nt.AFTER_KEYWORD.match(text, kw.end())
        if interval:
            anchors.append(_Anchor(keyword_start, interval.end(), *nt.bounds(interval), level,
                                   credible))
            continue
        legend = nt.LEGEND_THEN_TRIPLE.match(text, kw.end())
        if legend and "\n" not in text[kw.end():legend.start("est")]:
            label = labels.last(max(0, kw.start() - 40), kw.start())
            anchors.append(_Anchor(keyword_start, legend.end(), legend.group("lo"),
                                   legend.group("hi"), level, credible,
                                   estimate=legend.group("est"),
                                   estimate_start=legend.start("est"),
                                   pct=bool(legend.group("pct")),
                                   label=label[2] if label else "", form="legend"))
    for label_start, label_end, measure in labels.spans:
        if measure not in nt.RATIO_OR_DIFFERENCE:
            continue
        match = nt.LABELLED_BRACKET.match(text, label_end)
        if match and not doc.is_skipped(label_start):
            anchors.append(_Anchor(label_start, match.end(), match.group("lo"),
                                   match.group("hi"), estimate=match.group("est"),
                                   estimate_start=match.start("est"),
                                   pct=bool(match.group("pct")), label=measure, form="bare"))
    for match in nt.SHORTHAND.finditer(text):
        if not doc.is_skipped(match.start()):
            anchors.append(_Anchor(match.start(), match.end(), match.group("lo"),
                                   match.group("hi"), estimate=match.group("est"),
                                   estimate_start=match.start("est"),
                                   pct=bool(match.group("pct")), form="shorthand"))
    anchors.sort(key=lambda a: (a.keyword_start, a.form == "shorthand"))
    kept: list[_Anchor] = []
    for anchor in anchors:
        span = (anchor.keyword_start, anchor.end)
        if _overlaps(span, claimed) or (kept and anchor.keyword_start < kept[-1].end):
            continue
        if anchor.form == "shorthand":  # only after a result printed in full, same paragraph
            paragraph = text.rfind("\n", 0, anchor.keyword_start)
            if not any(a.form == "keyword" and a.level and a.keyword_start > paragraph
                       for a in kept):
                continue
        kept.append(anchor)
    return kept


def _running_text(doc: Document, claimed: list[tuple[int, int]],
                  labels: _Labels) -> list[Finding]:
    text = doc.text
    anchors = _anchors(doc, claimed, labels)
    findings: list[Finding] = []
    previous_end = 0
    paragraph_measure: tuple[int, str] = (-2, "")  # (paragraph start, its named measure)
    paragraph_level: tuple[int, str] = (-2, "")
    for i, anchor in enumerate(anchors):
        sentence_start = doc.sentence(anchor.keyword_start, anchor.keyword_start + 1)[0]
        window_start = max(previous_end, sentence_start, anchor.keyword_start - 160)
        found = _estimate(doc, anchor, window_start, labels)
        paragraph = text.rfind("\n", 0, found.start)
        if found.measure in nt.RATIO_OR_DIFFERENCE and found.unread == "":
            paragraph_measure = (paragraph, found.measure)
        found = _with_shorthand(found, anchor, paragraph_measure, paragraph)
        if anchor.form == "keyword" and anchor.level:
            paragraph_level = (paragraph, anchor.level)
        elif anchor.form == "shorthand" and paragraph_level[0] == paragraph:
            found.ci_level = paragraph_level[1]
            found.notes.append("shorthand '(estimate, lower to upper)': level as in the "
                               "paragraph's first result")
        first_in_sentence = previous_end <= sentence_start
        if first_in_sentence:
            _statistics(found, text, sentence_start, found.start, mode="", pre=True)
            if not found.k and previous_end <= paragraph + 1:
                _paragraph_studies(found, text, paragraph + 1, sentence_start)
        sentence_end = doc.sentence(anchor.end - 1, anchor.end)[1]
        stop = min(sentence_end, anchors[i + 1].keyword_start if i + 1 < len(anchors)
                   else sentence_end)
        if i + 1 < len(anchors):
            stop = min(stop, _next_start(doc, anchors[i + 1], anchor.end, labels))
        _statistics(found, text, anchor.end, max(stop, anchor.end), mode="", pre=False)
        found.model = found.model or _sentence_model(text, sentence_start, found.start)
        claimed.append((window_start, max(stop, anchor.end)))
        previous_end = anchor.end
        findings.append(found)
    return findings


_REVIEW_SIZE = re.compile(r"(?i:includ|eligib|identif|retriev|fulfil|selected|screen|met\s+the)")


def _paragraph_studies(found: Finding, text: str, start: int, end: int) -> None:
    """The number of studies stated earlier in the paragraph of its first result
    (``MELD was reported in 6 studies ... The data showed (WMD ...)``), when stated once."""
    counts = [m.group("k") or m.group("k2") for m in nt.STUDIES.finditer(text, start, end)]
    if _REVIEW_SIZE.search(text, start, end):
        return  # "twelve studies were included": the review's size, not this analysis's k
    if len(counts) == 1:
        found.k = str(nt.WORDS.get(counts[0].lower(), counts[0]))
        found.notes.append("number of studies from the paragraph's earlier sentence")


def _next_start(doc: Document, anchor: _Anchor, after: int, labels: _Labels) -> int:
    """Where the next result's own text begins (its estimate, or its measure label)."""
    if anchor.estimate_start >= 0:
        label = labels.last(max(after, anchor.estimate_start - 30), anchor.estimate_start)
        return label[0] if label else anchor.estimate_start
    after = max(after, anchor.keyword_start - 160)
    window = doc.text[after:anchor.keyword_start]
    numbers = [m for m in nt.NUMBER_TOKEN.finditer(window)]
    label = labels.last(after, anchor.keyword_start)
    starts = [label[0]] if label else []
    starts += [after + m.start() for m in numbers[-1:]]
    return min(starts) if starts else anchor.keyword_start


def _estimate(doc: Document, anchor: _Anchor, window_start: int, labels: _Labels) -> Finding:
    """The result of one interval: its estimate, measure and level."""
    text = doc.text
    pct_bounds = "%" in anchor.lo or "%" in anchor.hi
    label_measure = anchor.label
    if anchor.estimate_start >= 0:
        estimate, start, pct, unit = anchor.estimate, anchor.estimate_start, anchor.pct, ""
        label = labels.last(max(window_start, start - 40), start)
        if not label_measure and label:
            label_measure = label[2]
    else:
        candidate = _candidate(text, window_start, anchor.keyword_start, pct_bounds, labels)
        if candidate is None:
            found = Finding(anchor.keyword_start, anchor.end, "text")
            found.ci_low, found.ci_high = number(anchor.lo), number(anchor.hi)
            found.unread = "no estimate printed before the confidence interval"
            return found
        estimate, start, pct, unit, label_measure = candidate
    found = Finding(start, anchor.end, "text")
    found.estimate, found.ci_low, found.ci_high = (number(estimate), number(anchor.lo),
                                                   number(anchor.hi))
    found.ci_level = anchor.level
    if anchor.level and not 50 <= float(anchor.level) < 100:
        found.notes.append(f"the CI's level is printed as {anchor.level}% (garbled); read "
                           f"without a level")
        found.ci_level = ""
    if anchor.form == "bare":
        found.notes.append("interval printed without naming it a CI; its level is not printed")
    if not unit:
        after = re.match(rf"\s?(?P<unit>{nt.UNITS})(?![\w/])", text[anchor.end:anchor.end + 12])
        unit = after.group("unit") if after else ""
    found.measure = _measure(found, label_measure, pct, pct_bounds, unit)
    if anchor.credible:
        found.unread = "a Bayesian credible interval, not a confidence interval"
    return found


def _candidate(text: str, start: int, end: int, pct_bounds: bool,
               labels: _Labels) -> tuple[str, int, bool, str, str] | None:
    """The estimate before a CI keyword: the nearest number that is not a statistic, a count,
    a time point or a reference, preferring a percentage when the bounds are percentages."""
    window = text[start:end]
    excluded: list[tuple[int, int]] = [m.span() for m in nt.STATISTIC.finditer(window)
                                       if m.lastgroup not in ("het", "effect", "stop", "random",
                                                              "fixed")]
    excluded += [m.span() for m in _REFERENCE.finditer(window)]
    excluded += [m.span() for m in nt.STUDIES.finditer(window)]
    excluded += [m.span() for m in nt.PATIENTS.finditer(window)]
    named = [(e - start, measure) for _, e, measure in labels.within(start, end)]
    named += [(m.end(), "SMD" if m.group("label") in "gd" else "r")
              for m in nt.SHORT_LABEL.finditer(window)]
    candidates = []
    for m in nt.NUMBER_TOKEN.finditer(window):
        if any(a <= m.start() < b for a, b in excluded):
            continue
        unit = m.group("unit") or ""
        if unit in _TIME_UNITS and _PREPOSITION.search(window[:m.start()]) \
                and "." not in m.group("num"):
            continue
        candidates.append(m)
    if not candidates:
        return None
    if pct_bounds and any(m.group("pct") for m in candidates):
        candidates = [m for m in candidates if m.group("pct")]
    best = candidates[-1]
    measure = ""
    before = sorted((pos, name) for pos, name in named if pos <= best.start())
    if before:
        pos, name = before[-1]
        between = [m for m in candidates if pos <= m.start() < best.start()]
        if not between:
            measure = name
    return (best.group("num"), start + best.start(), bool(best.group("pct")),
            best.group("unit") or "", measure)


def _measure(found: Finding, label: str, pct: bool, pct_bounds: bool, unit: str) -> str:
    """The measure from its label, else from a percent sign or a unit; else unread.

    A percentage estimate is a proportion in percent, an estimate with a unit (months, mm) a
    mean (a mean difference when negative); bounds printed in percent around an estimate
    without a unit make it a percentage too.
    """
    if label not in ("proportion", "mean", "generic", ""):
        return label
    if pct or (pct_bounds and not unit):
        if pct_bounds != pct:
            found.notes.append("the estimate and its bounds differ in their percent signs")
        return "proportion_pct"
    if label == "proportion":
        return "proportion"
    if unit or label == "mean":
        if pct_bounds:
            found.notes.append(f"the bounds are printed in percent, the estimate in {unit}")
        if unit and label != "mean":
            found.notes.append(f"measure read from the unit ({unit})")
        return "MD" if found.estimate.startswith("-") and label != "mean" else "mean"
    found.unread = ("measure named only as an effect size" if label == "generic" else
                    "measure not named")
    return ""


def _with_shorthand(found: Finding, anchor: _Anchor, paragraph_measure: tuple[int, str],
                    paragraph: int) -> Finding:
    """A result without a measure, in a paragraph whose earlier result named one (BMJ style)."""
    if found.unread == "measure not named" and paragraph_measure[0] == paragraph \
            and paragraph_measure[1]:
        found.measure, found.unread = paragraph_measure[1], ""
        found.notes.append("measure as in the paragraph's preceding result")
    return found


def _sentence_model(text: str, start: int, end: int) -> str:
    models = [m for m in nt.STATISTIC.finditer(text, start, end)
              if m.lastgroup in ("random", "fixed")]
    return models[-1].lastgroup if models else ""  # type: ignore[return-value]


def _in_group_with_heterogeneity(text: str, at: int, start: int, end: int,
                                 found: Finding) -> bool:
    """Whether the p at ``at`` sits in a bracket with I² or Q and not with the estimate."""
    open_ = text.rfind("(", start, at)
    close = text.find(")", at, end)
    if open_ < 0 or close < 0 or open_ <= found.start <= close:
        return False
    group = text[open_:close]
    return any(m.lastgroup in ("i2", "q", "tau2") for m in nt.STATISTIC.finditer(group))


def _statistics(found: Finding, text: str, start: int, end: int, *, mode: str,
                pre: bool) -> None:
    """Read the statistics between ``start`` and ``end`` into ``found``.

    Before the estimate (``pre``) only heterogeneity statistics, the number of studies and
    patients count; after it, a bare p is the result's own test until heterogeneity words or an
    I² or Q switch to the heterogeneity test. Words of another test end the reading.
    """
    df_pending = ""
    for m in nt.STATISTIC.finditer(text, start, end):
        kind = m.lastgroup
        if kind == "stop":
            end = m.start()
            break
        if kind in ("het", "q", "i2", "tau2"):
            mode = "het"
        elif kind == "effect":
            mode = "effect"
        if kind == "p":
            value = m.group("p")
            op = m.group("op")
            printed = ("" if op in "=:" else op.lstrip("=").strip()) + value
            if value == ".":
                found.notes.append("a p-value printed as '.'")
                continue
            het = mode == "het" or (mode != "effect" and _in_group_with_heterogeneity(
                text, m.start(), start, end, found))
            if het:
                found.set("q_pval", printed)
            elif not pre:
                found.set("p_value", printed)
        elif kind == "i2":
            found.set("i2", number(m.group("i2")))
        elif kind == "q":
            found.set("q", m.group("q"))
            if m.group("qdf"):
                found.set("q_df", m.group("qdf"))
        elif kind == "df":
            value = m.group("df").lower()
            df_pending = str(nt.WORDS.get(value, value))
        elif kind == "tau2":
            found.set("tau2", m.group("tau2"))
        elif kind == "z" and not pre:
            found.set("z", number(m.group("z")))
        elif kind == "pi" and not pre:
            found.notes.append("prediction interval printed: " + " ".join(m.group().split()))
        elif kind in ("random", "fixed"):
            found.model = found.model or kind
    if df_pending and (found.q or found.i2 or found.q_pval):
        found.set("q_df", df_pending)
    for m in nt.STUDIES.finditer(text, start, end):
        value = m.group("k") or m.group("k2")
        found.set("k", str(nt.WORDS.get(value.lower(), value)))
    counts = [m.group("n") or m.group("n2") for m in nt.PATIENTS.finditer(text, start, end)]
    if len(counts) == 1:
        found.set("n", counts[0].replace(",", "").replace(" ", ""))
    elif len(counts) > 1:
        found.notes.append("patients printed by group: " + ", ".join(counts))


_LABELLED_VALUE = re.compile(r"\s*(?:=|:|\sof\s)\s*(?P<est>" + nt.SIGNED + r")(?![\d.])")


def _without_interval(doc: Document, claimed: list[tuple[int, int]],
                      labels: _Labels) -> list[Finding]:
    """Named ratio or difference estimates printed without any interval: listed, unread."""
    text = doc.text
    out = []
    for label_start, label_end, measure in labels.spans:
        if measure not in nt.RATIO_OR_DIFFERENCE or doc.is_skipped(label_start):
            continue
        match = _LABELLED_VALUE.match(text, label_end)
        if match is None or _overlaps((label_start, match.end()), claimed):
            continue
        found = Finding(label_start, match.end(), "text", measure=measure,
                        estimate=number(match.group("est")))
        found.unread = "no confidence interval printed with this estimate"
        end = doc.sentence(match.start(), match.end())[1]
        _statistics(found, text, match.end(), end, mode="", pre=False)
        claimed.append((label_start, match.end()))
        out.append(found)
    return out


# -- chi-squared tests ---------------------------------------------------------------------

_CHI2 = re.compile(r"(?=[χCcXQ])(?:χ\s?²|χ\s?2|(?i:chi)\s?²|(?i:chi)\s?2|(?i:chi-?\s?squared?)|X2|"
                   r"(?<![A-Za-z])Q(?:_?[Bb](?:etween)?)?(?![A-Za-z]))"
                   rf"(?:\s*\(\s*(?P<df1>\d+)\s*\))?\s*(?:=|:)\s*(?P<q>{nt.NUMBER})")


def _tests(doc: Document, claimed: list[tuple[int, int]]) -> list[Finding]:
    """Chi-squared tests printed with df and p, outside every result's text."""
    text = doc.text
    out = []
    for match in _CHI2.finditer(text):
        if _overlaps(match.span(), claimed) or doc.is_skipped(match.start()):
            continue
        end = min(doc.sentence(match.start(), match.end())[1], match.end() + 80)
        found = Finding(match.start(), match.end(), "test", measure="chi2", q=match.group("q"))
        if match.group().startswith("Q"):
            found.notes.append("a Q test (chi-squared under the null)")
        if match.group("df1"):
            found.q_df = match.group("df1")
        for m in nt.STATISTIC.finditer(text, match.end(), end):
            if m.lastgroup == "df" and not found.q_df:
                found.q_df = str(nt.WORDS.get(m.group("df").lower(), m.group("df")))
            elif m.lastgroup == "p" and not found.q_pval and m.group("p") != ".":
                op = m.group("op")
                found.q_pval = ("" if op in "=:" else op.lstrip("=").strip()) + m.group("p")
                found.end = m.end()
        if found.q_df and found.q_pval:
            context = text[max(0, match.start() - 200):match.start()]
            if re.search(r"(?i:subgroup\s+differences|between[- ](?:sub)?groups?)", context):
                found.notes.append("test for subgroup differences")
            claimed.append((found.start, found.end))
            out.append(found)
    return out
