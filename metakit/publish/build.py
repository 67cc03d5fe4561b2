"""Build the workbook: execute every review notebook and turn it into a self-contained HTML report.

``python -m metakit build`` (see :mod:`metakit.__main__`) calls :func:`build`, which

1. validates, for each selected review, ``notebooks/<review>.ipynb`` and its parameter file
   (``params/<review>.yaml`` or ``--params FILE``) before anything is written (see
   :mod:`metakit.publish.params`);
2. skips a review whose notebook, parameter file, data folder, ``metakit`` source and build options
   are unchanged since its last successful build (their content hash is kept in
   ``<out>/<review>/.build-hash``; ``force=True`` rebuilds);
3. executes the others with papermill, in parallel processes (``jobs``), each in isolation: a
   failing notebook is reported and does not stop the others;
4. converts each executed notebook with nbconvert into ``<out>/<review>/<review>.html`` (code
   hidden; with ``with_code=True`` also ``<review>-with-code.html``): figures embedded as data URIs,
   no external scripts, a table of contents from the markdown headings and a provenance footer;
   the executed notebook is kept as ``<out>/<review>/<review>.ipynb``;
5. writes ``<out>/index.html``, a scoreboard of every review.

Notebook contract
-----------------
A review notebook has a code cell tagged ``parameters`` that declares at least ``review``,
``data_dir`` and ``output_dir``. The build injects ``data_dir`` (absolute; ``data/<review>`` unless
the parameter file names another folder, relative to the project root) and ``output_dir`` (an
absolute, empty, private staging folder next to the review's final output folder). Executed with
``cwd`` set to ``notebooks/``. The notebook then does exactly one of:

* write ``results.csv`` into ``output_dir`` (the results-table contract: columns
  :data:`metakit.workbook.contract.COLUMNS`, verdicts in
  :data:`metakit.workbook.contract.VERDICTS`, e.g. through
  :class:`metakit.workbook.results.ResultsTable`); the review is ``ok``;
* write ``status.json`` containing ``{"status": "not_implemented"}`` into ``output_dir``: the
  notebook is a placeholder and the index shows the review as "not yet implemented", never as
  passing.

A notebook that raises, or that writes neither file (or a ``results.csv`` that breaks the
contract), is ``failed``. Whatever the notebook writes into ``output_dir`` is published next to the
report. Study names and other text from data must reach the report through pandas' HTML (escaped)
or be escaped by the notebook.

Atomicity
---------
Every file is first written into a temporary file or folder inside the output folder and then moved
into place with :func:`os.replace`. The files of a run are published only after the notebook ran and
both reports rendered, so a failed run never replaces the last good report; the index marks the
review as failed, shows the end of the traceback and still links that last good report.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from metakit.publish import provenance
from metakit.publish.index import STATUS_LABELS, index_html
from metakit.publish.params import ParamsError, load_params, notebook_parameters
from metakit.publish.report_html import render_report, report_names, title_of
from metakit.workbook.contract import COLUMNS, check_verdict, tally

def discover_reviews(root: Path) -> tuple[str, ...]:
    """The reviews of a project: one per ``notebooks/<review>.ipynb``, in name order."""
    return tuple(sorted(p.stem for p in (root / "notebooks").glob("*.ipynb")
                        if not p.name.startswith(".")))

KERNEL = "python3"
"""Kernel name passed to papermill. Jupyter resolves its ``python`` to the running interpreter,
so notebooks run with the ``metakit`` that runs the build."""

CELL_TIMEOUT = 900
"""Seconds one cell may run before the notebook is stopped and counted as failed."""

STATUS_FILE = "status.json"
NOT_IMPLEMENTED = "not_implemented"
RESULTS_FILE = "results.csv"
HASH_FILE = ".build-hash"
RECORD_FILE = ".build.json"
KERNEL_LOG = ".kernel.log"

_ERROR_LINES = 8
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


class BuildError(ValueError):
    """The build was asked for something impossible (unknown review, misused option)."""


@dataclass(frozen=True)
class Project:
    """Where a project's notebooks, parameter files and data live.

    Parameters
    ----------
    root : Path
        Project root with ``notebooks/``, ``params/`` and ``data/``.
    reviews : tuple of str, optional
        Known review ids; by default those with a notebook (:func:`discover_reviews`).
    """

    root: Path
    reviews: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.reviews:
            object.__setattr__(self, "reviews", discover_reviews(self.root))

    def notebook(self, review: str) -> Path:
        return self.root / "notebooks" / f"{review}.ipynb"

    def params_file(self, review: str) -> Path:
        return self.root / "params" / f"{review}.yaml"

    def data_dir(self, review: str) -> Path:
        return self.root / "data" / review


@dataclass(frozen=True)
class Job:
    """One review to build, with its parameters validated and its inputs hashed."""

    review: str
    root: Path
    notebook: Path
    parameters: dict[str, Any]
    data_dir: Path
    out_dir: Path
    with_code: bool
    digest: str


@dataclass
class Outcome:
    """What one review's build produced; stored as ``<out>/<review>/.build.json``.

    Attributes
    ----------
    review : str
        Review id.
    status : str
        ``ok``, ``not_implemented`` or ``failed``.
    seconds : float
        Wall-clock time of execution and conversion.
    finished : str
        ISO 8601 time the build of this review ended.
    counts : dict
        Verdict -> number of rows in ``results.csv``.
    files : list of str
        Files published by the run, relative to the review's output folder.
    error : str or None
        End of the traceback of a failed run.
    skipped : bool
        True when the review was up to date and not re-run (not stored).
    """

    review: str
    status: str
    seconds: float
    finished: str
    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False


# --------------------------------------------------------------------------------------------
# Planning: validation and content hashes (standard library and PyYAML only; fast)
# --------------------------------------------------------------------------------------------

def plan(project: Project, reviews: Sequence[str] | None, out: Path,
         params_file: Path | None = None, with_code: bool = False) -> list[Job]:
    """Validate the request and return one :class:`Job` per review, writing nothing.

    Raises
    ------
    BuildError
        An unknown review, or ``params_file`` with other than exactly one review.
    ParamsError
        A missing notebook or parameter file, or a parameter file that fails validation.
    """
    selected = list(dict.fromkeys(reviews)) if reviews else list(project.reviews)
    unknown = [r for r in selected if r not in project.reviews]
    if unknown:
        raise BuildError(f"--only: unknown review '{unknown[0]}' "
                         f"(known: {', '.join(project.reviews)})")
    if params_file is not None and len(selected) != 1:
        raise BuildError("--params: needs exactly one review, chosen with --only")
    package = provenance.file_checksums(_PACKAGE_DIR)
    return [_job(project, review, out.resolve(), params_file, with_code, package)
            for review in selected]


def _job(project: Project, review: str, out: Path, params_file: Path | None, with_code: bool,
         package: dict[str, str]) -> Job:
    notebook = project.notebook(review)
    declared = notebook_parameters(notebook, project.root)
    params_path = params_file or project.params_file(review)
    overrides = load_params(params_path, declared, review, project.root)
    data_dir = (project.root / overrides["data_dir"] if overrides.get("data_dir")
                else project.data_dir(review)).resolve()
    parameters = {**overrides, "review": review, "data_dir": str(data_dir)}
    digest = provenance.input_hash({
        "review": review,
        "notebook": provenance.sha256_file(notebook),
        "params": provenance.sha256_file(params_path),
        "parameters": parameters,
        "data": provenance.file_checksums(data_dir),
        "metakit": package,
        "kernel": KERNEL,
        "with_code": with_code,
    })
    return Job(review=review, root=project.root.resolve(), notebook=notebook.resolve(),
               parameters=parameters, data_dir=data_dir, out_dir=out / review,
               with_code=with_code, digest=digest)



def is_fresh(job: Job) -> bool:
    """True when the last successful build had the same inputs and its reports still exist."""
    try:
        stored = (job.out_dir / HASH_FILE).read_text().strip()
    except OSError:
        return False
    return stored == job.digest and all(
        (job.out_dir / name).is_file() for name in report_names(job.review, job.with_code))


def read_record(out_dir: Path) -> Outcome | None:
    """The stored :class:`Outcome` of a review's last build, or ``None``."""
    try:
        return Outcome(**json.loads((out_dir / RECORD_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


# --------------------------------------------------------------------------------------------
# Atomic file operations
# --------------------------------------------------------------------------------------------

def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _publish(staging: Path, target: Path, previous: Sequence[str]) -> list[str]:
    """Move every file of ``staging`` into ``target``; remove ``previous`` files not replaced."""
    moved = []
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        relative = path.relative_to(staging)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, destination)
        moved.append(relative.as_posix())
    for stale in set(previous) - set(moved):
        (target / stale).unlink(missing_ok=True)
    return moved


# --------------------------------------------------------------------------------------------
# Running one review (in a worker process)
# --------------------------------------------------------------------------------------------

def run_job(job: Job) -> Outcome:
    """Execute, convert and publish one review; never raises for a failing notebook.

    Returns
    -------
    Outcome
        Also stored in the review's output folder. The hash file is removed first and written
        again only after a success (and after the record), so a failed review is always re-run.
    """
    start, started = time.perf_counter(), _now()
    job.out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=job.out_dir))
    previous = read_record(job.out_dir)
    (job.out_dir / HASH_FILE).unlink(missing_ok=True)
    try:
        status, counts = _execute(job, staging)
        _render_reports(job, staging, started, time.perf_counter() - start)
        files = _publish(staging, job.out_dir, previous.files if previous else [])
        outcome = Outcome(job.review, status, time.perf_counter() - start, _now(), counts, files)
    except Exception as exc:  # noqa: BLE001 - any failure of one review is isolated and reported
        outcome = Outcome(job.review, "failed", time.perf_counter() - start, _now(),
                          files=previous.files if previous else [], error=error_text(exc))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    atomic_write(job.out_dir / RECORD_FILE, json.dumps(asdict(outcome), indent=1))
    if outcome.status != "failed":
        atomic_write(job.out_dir / HASH_FILE, job.digest + "\n")
    return outcome


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _kernel_manager_class(log: Any) -> type:
    """An asynchronous kernel manager whose kernel writes its stderr to ``log``.

    The kernel's own start-up warnings would otherwise interleave with the build's progress.
    """
    from jupyter_client.manager import AsyncKernelManager

    class LoggingKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.setdefault("stderr", log)
            await super().start_kernel(**kw)

    return LoggingKernelManager


def _execute(job: Job, staging: Path) -> tuple[str, dict[str, int]]:
    """Run the notebook with papermill into ``staging``; return its status and verdict counts.

    The kernel's stderr goes to ``<out>/<review>/.kernel.log`` (overwritten by every run).
    """
    import papermill

    with (job.out_dir / KERNEL_LOG).open("w") as log:
        papermill.execute_notebook(
            str(job.notebook), str(staging / f"{job.review}.ipynb"),
            parameters={**job.parameters, "output_dir": str(staging)},
            kernel_name=KERNEL, cwd=str(job.notebook.parent), progress_bar=False,
            log_output=False, execution_timeout=CELL_TIMEOUT,
            kernel_manager_class=_kernel_manager_class(log))
    status_file = staging / STATUS_FILE
    if status_file.is_file():
        status = json.loads(status_file.read_text()).get("status")
        if status != NOT_IMPLEMENTED:
            raise ValueError(f"{STATUS_FILE}: unknown status {status!r}")
        return NOT_IMPLEMENTED, {}
    return "ok", verdict_counts(staging / RESULTS_FILE)


def verdict_counts(results_csv: Path) -> dict[str, int]:
    """Rows per verdict of a ``results.csv`` (:func:`metakit.workbook.contract.tally`: firm and
    conditional contradictions apart), checking the results-table contract.

    Raises
    ------
    ValueError
        The file is missing, its header is not :data:`metakit.workbook.contract.COLUMNS`, or a
        row has an unknown verdict (the message names the row).
    """
    if not results_csv.is_file():
        raise ValueError(f"the notebook wrote neither {RESULTS_FILE} nor {STATUS_FILE} "
                         f"into output_dir")
    with results_csv.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{RESULTS_FILE}: columns {reader.fieldnames} are not the "
                             f"results-table columns {list(COLUMNS)}")
        rows = list(reader)
    for row_number, row in enumerate(rows, start=2):
        check_verdict(row["verdict"], row["assumption"], where=f"{RESULTS_FILE}, row {row_number}")
    return tally(rows)


def error_text(exc: BaseException) -> str:
    """The last lines of a traceback, without terminal colours."""
    cell_traceback = getattr(exc, "traceback", None)  # papermill.PapermillExecutionError
    if isinstance(cell_traceback, list) and cell_traceback:
        lines = "\n".join(cell_traceback).splitlines()
    else:
        lines = "".join(traceback.format_exception(exc)).splitlines()
    return _ANSI.sub("", "\n".join(lines[-_ERROR_LINES:])).strip()


def _render_reports(job: Job, staging: Path, started: str, seconds: float) -> None:
    import nbformat

    notebook = nbformat.read(staging / f"{job.review}.ipynb", as_version=4)
    notebook.metadata["title"] = title_of(notebook, job.review)
    prov = provenance.Provenance(
        review=job.review, commit=provenance.git_commit(job.root),
        parameters={**job.parameters, "output_dir": str(job.out_dir)},
        data_checksums=provenance.file_checksums(job.data_dir), started=started, seconds=seconds)
    footer = provenance.footer_html(prov)
    for name in report_names(job.review, job.with_code):
        page = render_report(notebook, footer, with_code=name.endswith("-with-code.html"))
        atomic_write(staging / name, page)


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------

def _progress_line(outcome: Outcome) -> str:
    label = "unchanged, skipped" if outcome.skipped else STATUS_LABELS[outcome.status]
    first_error = (outcome.error or "").splitlines()[-1:] if outcome.status == "failed" else []
    tail = f"  {first_error[0]}" if first_error else ""
    return f"  {outcome.review:<10} {label:<22} {outcome.seconds:7.1f} s{tail}"


def _run_all(jobs: list[Job], workers: int, echo: Callable[[str], None]) -> list[Outcome]:
    if workers <= 1 or len(jobs) <= 1:
        outcomes = []
        for job in jobs:
            outcomes.append(run_job(job))
            echo(_progress_line(outcomes[-1]))
        return outcomes
    outcomes = []
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker process that died
                outcome = Outcome(job.review, "failed", 0.0, _now(), error=error_text(exc))
                atomic_write(job.out_dir / RECORD_FILE, json.dumps(asdict(outcome), indent=1))
            outcomes.append(outcome)
            echo(_progress_line(outcome))
    return outcomes


def build(project: Project, reviews: Sequence[str] | None = None, out: Path = Path("reports"),
          jobs: int = 1, params_file: Path | None = None, with_code: bool = False,
          force: bool = False, echo: Callable[[str], None] = print) -> list[Outcome]:
    """Build the reports of ``reviews`` (default: all) into ``out`` and write ``out/index.html``.

    Parameters
    ----------
    project : Project
        Where notebooks, parameter files and data live.
    reviews : sequence of str, optional
        Review ids to build; the index still lists every review.
    out : Path
        Output folder (default ``reports``).
    jobs : int
        Notebooks executed at once, each in its own process.
    params_file : Path, optional
        Parameter file to use instead of ``params/<review>.yaml``; only with one review.
    with_code : bool
        Also write ``<review>-with-code.html``.
    force : bool
        Rebuild reviews whose inputs are unchanged.
    echo : callable
        Receives the progress lines and the summary.

    Returns
    -------
    list of Outcome
        One per selected review, in the order of ``reviews``.

    Raises
    ------
    BuildError, ParamsError
        Invalid request; nothing was written.
    """
    start = time.perf_counter()
    planned = plan(project, reviews, out, params_file, with_code)
    fresh = [] if force else [job for job in planned if is_fresh(job)]
    skipped = {}
    for job in fresh:
        record = read_record(job.out_dir)
        if record is not None:
            skipped[job.review] = Outcome(**{**asdict(record), "skipped": True, "seconds": 0.0})
            echo(_progress_line(skipped[job.review]))
    todo = [job for job in planned if job.review not in skipped]
    done = {o.review: o for o in _run_all(todo, jobs, echo)}
    outcomes = [skipped.get(job.review) or done[job.review] for job in planned]
    records = {review: read_record(out / review) for review in project.reviews}
    atomic_write(out / "index.html", index_html(project.reviews, records, out,
                                                provenance.git_commit(project.root), _now()))
    echo(summary(outcomes, time.perf_counter() - start, out / "index.html"))
    return outcomes


def summary(outcomes: Sequence[Outcome], seconds: float, index: Path) -> str:
    """One line: how many reviews ended in which state, total time, where the index is."""
    tally: dict[str, int] = {}
    for outcome in outcomes:
        key = "skipped" if outcome.skipped else STATUS_LABELS[outcome.status]
        tally[key] = tally.get(key, 0) + 1
    parts = ", ".join(f"{n} {label}" for label, n in tally.items())
    return f"{len(outcomes)} review(s): {parts} in {seconds:.1f} s; index: {index}"


__all__ = ["discover_reviews", "BuildError", "Job", "Outcome", "ParamsError", "Project", "build",
           "index_html", "plan", "render_report", "run_job", "summary", "verdict_counts"]
