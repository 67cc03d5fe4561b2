"""Scan papers: extract every printed pooled result and run the audit battery on each.

:func:`scan_text` turns one paper's text into rows of ``scan.csv`` (:data:`COLUMNS`);
:func:`scan_file` reads a file first and reports a file that cannot be read instead of raising;
:func:`scan_files` scans many files in parallel, in local processes or, given the address of a
Dask scheduler, on a Dask distributed cluster, with a progress bar.

A row's ``verdict`` is the audit's (:func:`metakit.workbook.results.audit_verdict`):
``inconsistent`` (``assumption`` names what a conditional contradiction rests on),
``deviates``, ``consistent`` or ``not_reproducible`` (nothing the printed numbers allow could be
checked), or ``unread`` when the measure or interval could not be read, which is never checked.

References
----------
Nuijten, M. B., & Polanin, J. R. (2020). "statcheck": Automatically detect statistical
reporting inconsistencies to increase reproducibility of meta-analyses. Research Synthesis
Methods, 11(5), 574-579.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from metakit.scan.extract import Finding, extract
from metakit.scan.readers import MAX_MEGABYTES, ReadError, read_paper
from metakit.scan.text import Document, prepare

COLUMNS: tuple[str, ...] = (
    "file", "offset", "section", "quote", "kind", "measure", "estimate", "ci_low", "ci_high",
    "ci_level", "p_value", "z", "i2", "q", "q_df", "tau2", "q_pval", "k", "n", "model",
    "verdict", "assumption", "checks", "note",
)
"""Columns of ``scan.csv``: where each result stood, its numbers as printed, the audit."""
STATISTICS = ("measure", "estimate", "ci_low", "ci_high", "ci_level", "p_value", "z", "i2", "q",
              "q_df", "tau2", "q_pval", "k", "n", "model")


@dataclass
class FileScan:
    """The scan of one file: its rows, or the one-line reason it could not be read."""

    file: str
    rows: list[dict[str, str]] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Results found, read, checks run, and contradictions of this file."""
        read = [r for r in self.rows if r["verdict"] != "unread"]
        inconsistent = [r for r in read if r["verdict"] == "inconsistent"]
        return {
            "results": len(self.rows), "read": len(read), "unread": len(self.rows) - len(read),
            "checks": sum(checks_run(r) for r in read),
            "inconsistent": len(inconsistent),
            "conditional": sum(1 for r in inconsistent if r["assumption"]),
            "deviates": sum(1 for r in read if r["verdict"] == "deviates"),
            "consistent": sum(1 for r in read if r["verdict"] == "consistent"),
        }


def checks_run(row: dict[str, str]) -> int:
    """How many checks of a ``scan.csv`` row could have failed (``not_checkable`` ones could
    not)."""
    return sum(1 for part in row["checks"].split("; ") if part and
               not part.endswith(": not_checkable"))


def _quote(doc: Document, found: Finding) -> str:
    start, end = doc.sentence(found.start, found.end)
    return " ".join(doc.text[start:end].split())


def _row(doc: Document, found: Finding, file: str, rule: str | None,
         level: float) -> dict[str, str]:
    from metakit.audit.battery import I2_FROM_Q, battery
    from metakit.workbook.results import audit_verdict, failure_note

    row = {"file": file, "offset": str(doc.raw_offset(found.start)),
           "section": doc.section(found.start), "quote": _quote(doc, found), "kind": found.kind}
    row.update({name: getattr(found, name) for name in STATISTICS})
    notes = list(found.notes)
    checks = []
    if found.unread:
        verdict, assumption = "unread", ""
        notes.insert(0, found.unread)
    else:
        try:
            checks = battery(row, rule=rule, level=level, i2_assumption=I2_FROM_Q,
                             label=f"{file}@{row['offset']}")
        except ValueError as exc:
            checks = []
            notes.insert(0, f"cannot be checked: {exc}")
            verdict, assumption = "unread", ""
        else:
            verdict, assumption = audit_verdict(checks)
            failed = failure_note(checks)
            if failed:
                notes.insert(0, failed)
    row.update(verdict=verdict, assumption=assumption,
               checks="; ".join(f"{c.name}: {c.verdict}" for c in checks),
               note="; ".join(notes))
    return row


def _check_rule(rule: str | None) -> None:
    """Reject a model-choice rule that cannot be read, before any paper is scanned."""
    if rule is not None:
        from metakit.audit import model_rule

        model_rule(None, None, None, rule)  # parses the rule; raises ValueError naming it


def scan_text(text: str, *, file: str = "", rule: str | None = None,
              level: float = 95) -> list[dict[str, str]]:
    """The ``scan.csv`` rows of one paper's text (see the module docstring).

    Parameters
    ----------
    text : str
        The paper's text, as a reader of :mod:`metakit.scan.readers` returns it.
    file : str
        Name for the ``file`` column.
    rule : str, optional
        The paper's stated model-choice rule (``"random if I2 > 50%"``), checked against the
        model each result names; see :func:`metakit.audit.model_rule`.
    level : float
        Confidence level assumed for intervals printed without one.
    """
    if not isinstance(text, str):
        raise ValueError(f"text: expected the paper's text as a string, got "
                         f"{type(text).__name__}")
    _check_rule(rule)
    doc = prepare(text)
    return [_row(doc, found, file, rule, level) for found in extract(doc)]


def scan_file(path: str | os.PathLike[str], *, rule: str | None = None, level: float = 95,
              max_megabytes: float = MAX_MEGABYTES) -> FileScan:
    """Scan one file; a file that cannot be read gives a :class:`FileScan` with ``error``."""
    start = time.perf_counter()
    name = str(path)
    try:
        text = read_paper(path, max_megabytes=max_megabytes)
    except ReadError as exc:
        return FileScan(name, error=str(exc), seconds=time.perf_counter() - start)
    rows = scan_text(text, file=name, rule=rule, level=level)
    return FileScan(name, rows, seconds=time.perf_counter() - start)


def _scan_many(paths: Sequence[str], rule: str | None, level: float,
               max_megabytes: float) -> list[FileScan]:
    return [scan_file(p, rule=rule, level=level, max_megabytes=max_megabytes) for p in paths]


def _batches(paths: Sequence[str], size: int) -> list[list[str]]:
    return [list(paths[i:i + size]) for i in range(0, len(paths), size)]


def scan_files(paths: Sequence[str | os.PathLike[str]], *, jobs: int = 1,
               scheduler: str | None = None, rule: str | None = None, level: float = 95,
               max_megabytes: float = MAX_MEGABYTES,
               progress: Callable[[int], object] | None = None) -> list[FileScan]:
    """Scan many files, in input order.

    Parameters
    ----------
    paths : sequence of path-like
        The files.
    jobs : int
        Local worker processes (ignored with ``scheduler``); 1 scans in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): the files are scanned
        by its workers, which must see the files at the same paths.
    progress : callable, optional
        Called with the number of files finished by each completed batch.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs: must be a whole number >= 1, got {jobs!r}")
    names = [str(p) for p in paths]
    _check_rule(rule)
    size = max(1, min(20, len(names) // (8 * max(jobs, 1)) or 1))
    batches = _batches(names, size)
    args = (rule, level, max_megabytes)
    if scheduler is not None:
        done = _on_dask(scheduler, batches, args, progress)
    elif jobs == 1 or len(names) <= 1:
        done = []
        for batch in batches:
            done.append(_scan_many(batch, *args))
            if progress:
                progress(len(batch))
    else:
        done = list(_in_processes(batches, args, jobs, progress))
    order = {name: i for i, name in enumerate(names)}
    return sorted((scan for batch in done for scan in batch), key=lambda s: order[s.file])


def _in_processes(batches: list[list[str]], args: tuple[object, ...], jobs: int,
                  progress: Callable[[int], object] | None) -> Iterator[list[FileScan]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_scan_many, batch, *args) for batch in batches]
        for future in as_completed(futures):
            result = future.result()
            if progress:
                progress(len(result))
            yield result


class SchedulerError(ValueError):
    """The Dask scheduler cannot be reached or used."""


def _on_dask(address: str, batches: list[list[str]], args: tuple[object, ...],
             progress: Callable[[int], object] | None) -> list[list[FileScan]]:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - a dependency of metakit
        raise SchedulerError("--scheduler needs dask[distributed]") from None
    try:
        client = Client(address, timeout="5s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = [client.submit(_scan_many, batch, *args, pure=False) for batch in batches]
        done = []
        for future in as_completed(futures):
            result = future.result()
            if progress:
                progress(len(result))
            done.append(result)
        return done
    finally:
        client.close()


def papers_in(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files to scan: each file named, and every file with a readable ending (see
    :data:`metakit.scan.readers.SUFFIXES`) under each folder named, in sorted order.

    Raises
    ------
    ValueError
        When a path does not exist.
    """
    from metakit.scan.readers import SUFFIXES

    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and not
                            p.name.startswith(".") and p.suffix.lower() in SUFFIXES - {""})
        elif path.exists():
            found.append(path)
        else:
            raise ValueError(f"PAPER: {str(path)[:200]!r} does not exist")
    return found
