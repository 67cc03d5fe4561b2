"""Read a paper's text from a plain-text, Markdown, HTML or PDF file.

:func:`read_paper` picks the reader from the file's ending (or, for an unknown ending, from its
first bytes) and raises :class:`ReadError`, with a one-line reason, for a file that holds no
readable text: missing, empty, binary, over the size limit, not valid text, a broken PDF or a PDF
without a text layer (a scan that needs OCR first). PDF text comes from pypdf; HTML is read with
the standard library's parser, keeping headings, paragraphs and table cells apart.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

MAX_MEGABYTES = 50.0
"""Default size limit of one file, in MiB."""
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown", ".rst", ""})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
PDF_SUFFIXES = frozenset({".pdf"})
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
"""File endings :func:`read_paper` reads; a folder scan takes files with these endings."""


class ReadError(ValueError):
    """A file that holds no readable text; the message says why in one line."""


def read_paper(path: str | os.PathLike[str], *, max_megabytes: float = MAX_MEGABYTES) -> str:
    """The text of one paper.

    Parameters
    ----------
    path : path-like
        A ``.txt``/``.md`` (UTF-8, or Windows-1252), ``.html``/``.htm`` or ``.pdf`` file; another
        ending is read as PDF when the file starts with ``%PDF``, else as text.
    max_megabytes : float
        Files larger than this are refused (a huge file is most likely not one paper).

    Raises
    ------
    ReadError
        When the file is missing, empty, larger than ``max_megabytes``, binary, not valid text,
        or a PDF that is broken, encrypted or has no text layer.
    """
    file = Path(path)
    if not file.is_file():
        raise ReadError("not a file" if file.exists() else "no such file")
    size = file.stat().st_size
    if size == 0:
        raise ReadError("empty file")
    if size > max_megabytes * 2 ** 20:
        raise ReadError(f"{size / 2 ** 20:.0f} MiB, over the limit of {max_megabytes:g} MiB "
                        f"(--max-mb)")
    suffix = file.suffix.lower()
    with open(file, "rb") as stream:
        head = stream.read(8)
    if suffix in PDF_SUFFIXES or (suffix not in SUFFIXES and head.startswith(b"%PDF")):
        text = _pdf(file)
    else:
        raw = file.read_bytes()
        if b"\x00" in raw[:65536]:
            raise ReadError("binary file, not text")
        text = _decode(raw)
        if suffix in HTML_SUFFIXES or (suffix not in SUFFIXES and
                                       text.lstrip()[:15].lower().startswith(("<!doctype html",
                                                                              "<html"))):
            text = html_text(text)
    if not text.strip():
        raise ReadError("no text in the file")
    return text


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise ReadError("not text: neither UTF-8 nor Windows-1252") from None


def _pdf(file: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(file)
        if reader.is_encrypted:
            raise ReadError("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ReadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ReadError(f"not a readable PDF ({type(exc).__name__})") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise ReadError(f"PDF without a text layer ({len(pages)} page(s)); run OCR first")
    return text


_BLOCKS = frozenset({"p", "div", "section", "article", "li", "ul", "ol", "table", "tbody",
                     "thead", "blockquote", "figure", "figcaption", "caption", "header",
                     "footer", "main", "aside", "dd", "dt", "pre"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg", "math-annotation"})


class _Text(HTMLParser):
    """HTML to text: headings as Markdown ``#`` lines, blocks and rows on lines of their own,
    table cells apart by tabs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _HEADINGS:
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in _BLOCKS or tag == "tr":
            self.parts.append("\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        elif tag == "sup":
            self.parts.append("^")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _HEADINGS or tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_text(html: str) -> str:
    """The readable text of an HTML page (see :class:`_Text`)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = ("".join(parser.parts)).split("\n")
    return "\n".join(line.strip(" ") for line in lines)
