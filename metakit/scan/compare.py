"""Compare what a scan extracted with a hand-made ``published.csv``: recall and precision.

The pooled results of a ``published.csv`` are its rows that print an estimate with both CI
bounds (or, for a chi-squared test, its statistic and p), except rows whose interval the note
calls an IQR or a range. A scanned row matches a published one when its estimate and both
bounds are the same printed text (the sign spelled ``-``, no ``%``), and its p-value too where
both print one; a chi-squared test matches on its statistic and p. A published result counts
towards recall only when its numbers stand in the paper's text at all (:func:`in_text`): numbers
shown only in figure images or supplements cannot be scanned.

This is how the scan is validated against the five reviews of the workbook
(``benchmarks/bench_scan_extraction.py``), as statcheck was validated against hand coding.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from metakit.scan.extract import number

Row = Mapping[str, str]


def read_published(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``published.csv``, every cell as printed text."""
    with open(path, newline="", encoding="utf-8") as stream:
        return [dict(row) for row in csv.DictReader(stream)]


def is_chi2(row: Row) -> bool:
    return str(row.get("measure", "")).strip().lower() in ("chi2", "chi-squared", "χ²")


def is_pooled_result(row: Row) -> bool:
    """Whether a published row is a result the scan should find (see the module docstring)."""
    estimate, low, high = (row.get(k, "").strip() for k in ("estimate", "ci_low", "ci_high"))
    if is_chi2(row):
        return bool(estimate and row.get("p_value", "").strip())
    if not (estimate and low and high):
        return False
    return not re.search(r"\b(?:IQR|interquartile|range)\b", row.get("note", ""))


def _key(row: Row) -> tuple[str, ...]:
    if is_chi2(row):
        return ("chi2", number(row.get("estimate") or row.get("q", "")),
                number(row.get("p_value") or row.get("q_pval", "")))
    return tuple(number(row.get(k, "")) for k in ("estimate", "ci_low", "ci_high"))


def matches(scanned: Row, published: Row) -> bool:
    """Whether a scanned row is the published result (see the module docstring)."""
    if is_chi2(published) != is_chi2(scanned):
        return False
    if _key(scanned) != _key(published):
        return False
    p, q = number(scanned.get("p_value", "")), number(published.get("p_value", ""))
    return is_chi2(published) or not (p and q) or p == q


def _token(value: str) -> str:
    return r"(?<![\d.])[-–]?\s?" + re.escape(value.lstrip("-")) + r"(?![\d])"


def in_text(row: Row, text: str, span: int = 250) -> bool:
    """Whether the row's estimate and bounds (or statistic and p) stand within ``span``
    characters of each other in ``text``, the estimate first."""
    values = [v for v in _key(row) if v and v != "chi2"]
    first = re.compile(_token(values[0]))
    for match in first.finditer(text):
        window = text[match.start():match.start() + span]
        if all(re.search(_token(v), window) for v in values[1:]):
            return True
    return False


@dataclass
class Comparison:
    """Recall and precision of one scan against one ``published.csv``."""

    results: list[dict[str, str]]
    not_in_text: list[dict[str, str]]
    found: list[dict[str, str]]
    missed: list[dict[str, str]]
    scanned: int
    correct: int
    wrong: list[Row] = field(default_factory=list)
    unread: int = 0
    unread_of_results: int = 0

    @property
    def recall(self) -> float:
        total = len(self.found) + len(self.missed)
        return len(self.found) / total if total else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.scanned if self.scanned else 1.0


def compare(scanned: Iterable[Row], published: Iterable[Row], text: str) -> Comparison:
    """Recall and precision of ``scanned`` rows (``scan.csv`` columns) against ``published``.

    ``text`` is the paper's prepared text, used to tell which published results are printed in
    it. Rows the scan left unread are counted apart, not as extractions.
    """
    scanned = list(scanned)
    results = [dict(r) for r in published if is_pooled_result(r)]
    printed = [r for r in results if in_text(r, text)]
    not_in_text = [r for r in results if r not in printed]
    read = [s for s in scanned if s.get("verdict") != "unread"]
    unread = [s for s in scanned if s.get("verdict") == "unread"]
    found = [r for r in printed if any(matches(s, r) for s in read)]
    missed = [r for r in printed if r not in found]
    wrong = [s for s in read if not any(matches(s, r) for r in results)]
    unread_of_results = sum(1 for s in unread if any(_key(s)[:1] == _key(r)[:1] and
                                                     matches({**s, "verdict": ""}, r)
                                                     for r in results))
    return Comparison(results, not_in_text, found, missed, len(read), len(read) - len(wrong),
                      wrong, len(unread), unread_of_results)
