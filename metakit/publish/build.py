"""Build the workbook: execute every review notebook and turn it into a self-contained HTML report.

``python -m metakit build`` (see :mod:`metakit.__main__`) calls :func:`build`, which

1. validates, for each selected review, ``notebooks/<review>.ipynb``, its parameter file
   (``params/<review>.yaml`` or ``--params FILE``; see :mod:`metakit.publish.params`), its data
   folder and the output folder before anything is written;
2. locks the output folder (one build at a time writes into it; another is refused at once) and
   removes what a killed build left there (``.staging`` folders, temporary files);
3. skips a review whose notebook, parameter file, data folder, ``metakit`` source and build options
   are unchanged since its last successful build (their content hash is kept in
   ``<out>/<review>/.build-hash``; ``force=True`` rebuilds);
4. executes the others with papermill, each in a fresh worker process (``jobs`` at once) with its
   own kernel: a failing notebook is reported and does not stop the others;
5. converts each executed notebook with nbconvert into ``<out>/<review>/<review>.html`` (code
   hidden; with ``with_code=True`` also ``<review>-with-code.html``): figures embedded as data URIs,
   no external scripts, a table of contents from the markdown headings and a provenance footer;
   the executed notebook is kept as ``<out>/<review>/<review>.ipynb``;
6. writes ``<out>/index.html``, a scoreboard of every review.

Notebook contract
-----------------
A review notebook has a code cell tagged ``parameters`` that declares at least ``review``,
``data_dir`` and ``output_dir``. The build injects ``data_dir`` (absolute; ``data/<review>`` unless
the parameter file names another folder inside the project, or ``--data-dir`` one anywhere) and
``output_dir`` (an absolute, empty, private staging folder, ``<out>/<review>/.staging``). Executed
with ``cwd`` set to ``notebooks/``. The notebook then does exactly one of:

* write ``results.csv`` into ``output_dir`` (the results-table contract: columns
  :data:`metakit.workbook.contract.COLUMNS`, verdicts in
  :data:`metakit.workbook.contract.VERDICTS`, e.g. through
  :class:`metakit.workbook.results.ResultsTable`); the review is ``ok``;
* write ``status.json`` containing ``{"status": "not_implemented"}`` into ``output_dir``: the
  notebook is a placeholder and the index shows the review as "not yet implemented", never as
  passing.

A notebook that raises, or that writes neither file (or a ``results.csv`` that breaks the
contract, or anything but regular files), is ``failed``. Whatever the notebook writes into
``output_dir`` is published next to the report, readable by all (mode 0644). Study names and other
text from data must reach the report through pandas' HTML (escaped) or be escaped by the notebook.

Atomicity, interruption, determinism
------------------------------------
Every file is first written into a temporary file or folder inside the output folder and then moved
into place with :func:`os.replace`. The files of a run are published only after the notebook ran and
both reports rendered, with SIGTERM and SIGINT held back while they move, so a failed or killed run
never replaces the last good report nor publishes part of a run; the index marks a failed review,
shows the end of the traceback and still links that last good report. SIGTERM or SIGINT (Ctrl-C)
stops the workers and their kernels (within :data:`STOP_SECONDS`), removes their staging folders
and ends the build with status 128 + the signal number. Two builds of the same inputs into the
same folder write byte-identical ``results.csv`` and reports: the injected parameters cell has a
fixed id, the staging folder a fixed name, kernels a fixed string-hash seed (set order), and the
report footer names the inputs, not the wall-clock time (the record ``.build.json`` and the index
keep the times).

Speed
-----
papermill saves the executed notebook once, after the run, not after every cell; kernels are shut
down at once when the notebook ends; with several jobs each kernel gets its share of the CPUs for
its BLAS threads; papermill and nbconvert are imported once, in the build process, before it forks
its workers.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from metakit.engine._text import quote
from metakit.publish import provenance
from metakit.publish.index import STATUS_LABELS, index_html
from metakit.publish.params import ParamsError, load_params, notebook_parameters, relative_label
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

STOP_SECONDS = 10
"""Seconds a worker gets to stop after SIGTERM before it is killed."""

STATUS_FILE = "status.json"
NOT_IMPLEMENTED = "not_implemented"
RESULTS_FILE = "results.csv"
HASH_FILE = ".build-hash"
RECORD_FILE = ".build.json"
KERNEL_LOG = ".kernel.log"
LOCK_FILE = ".build.lock"
STAGING = ".staging"
INJECTED_CELL_ID = "injected-parameters"
PROTECTED = ("data", "notebooks", "params")
"""Project folders that ``--out`` may not be, nor lie inside."""
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Variables that cap a kernel's BLAS threads."""
HASH_SEED = "0"
"""``PYTHONHASHSEED`` of the kernels (unless the build's environment sets one)."""

_ERROR_LINES = 8
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class BuildError(ValueError):
    """The build was asked for something impossible (unknown review, misused option, an output
    folder it may not or cannot write); nothing was written."""


class BuildInterrupted(Exception):
    """SIGTERM or SIGINT stopped the build; ``stopped`` lists the reviews that were running."""

    def __init__(self, signum: int, stopped: Sequence[str] = ()) -> None:
        self.signum, self.stopped = signum, list(stopped)
        name = signal.Signals(signum).name
        running = f"; stopped {', '.join(self.stopped)}, publishing nothing of theirs" \
            if self.stopped else ""
        super().__init__(f"interrupted by {name}{running}")


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
         params_file: Path | None = None, with_code: bool = False,
         data_dir: Path | None = None) -> list[Job]:
    """Validate the request and return one :class:`Job` per review, writing nothing.

    Parameters
    ----------
    data_dir : Path, optional
        Data folder given explicitly by the user (``--data-dir``; anywhere); only with one review.

    Raises
    ------
    BuildError
        No ``notebooks/`` folder in the project, an unknown review, ``params_file`` or
        ``data_dir`` with other than exactly one review, a ``data_dir`` that is not a folder, or
        an ``out`` that is a file or lies inside the project's data, notebooks or parameter
        folders (or a data folder of the build).
    ParamsError
        A missing notebook or parameter file, a parameter file that fails validation, or a
        ``data_dir`` parameter outside the project or not a folder.
    """
    notebooks = project.root / "notebooks"
    if not notebooks.is_dir():
        raise BuildError(f"no notebooks/ folder in {project.root.resolve()} (the project folder "
                         f"the build looked in; run it from the folder that holds notebooks/, "
                         f"params/ and data/, or give --root DIR)")
    selected = list(dict.fromkeys(reviews)) if reviews else list(project.reviews)
    unknown = [r for r in selected if r not in project.reviews]
    if unknown:
        raise BuildError(f"--only: unknown review {quote(unknown[0])} "
                         f"(known: {', '.join(project.reviews)})")
    for option, value in (("--params", params_file), ("--data-dir", data_dir)):
        if value is not None and len(selected) != 1:
            raise BuildError(f"{option}: needs exactly one review, chosen with --only")
    if data_dir is not None and not data_dir.is_dir():
        raise BuildError(f"--data-dir {data_dir}: not a folder")
    package = provenance.file_checksums(_PACKAGE_DIR)
    jobs = [_job(project, review, out.resolve(), params_file, data_dir, with_code, package)
            for review in selected]
    _check_out(project, out, [job.data_dir for job in jobs])
    return jobs


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _check_out(project: Project, out: Path, data_dirs: Sequence[Path]) -> None:
    resolved = out.resolve()
    if resolved.exists() and not resolved.is_dir():
        raise BuildError(f"--out {out}: is a file, not a folder")
    root = project.root.resolve()
    for name in PROTECTED:
        if _inside(resolved, root / name):
            raise BuildError(f"--out {out}: lies inside the project's {name}/ folder; write the "
                             f"reports elsewhere (default: reports/)")
    for folder in data_dirs:
        if _inside(resolved, folder):
            raise BuildError(f"--out {out}: lies inside the data folder {folder}")


def _job(project: Project, review: str, out: Path, params_file: Path | None,
         explicit_data: Path | None, with_code: bool, package: dict[str, str]) -> Job:
    notebook = project.notebook(review)
    declared = notebook_parameters(notebook, project.root)
    params_path = params_file or project.params_file(review)
    overrides = load_params(params_path, declared, review, project.root)
    root = project.root.resolve()
    if explicit_data is not None:
        data_dir = explicit_data.resolve()
    elif overrides.get("data_dir"):
        data_dir = (root / overrides["data_dir"]).resolve()
        where = f"{relative_label(params_path, root)}: key 'data_dir'"
        if not _inside(data_dir, root):
            raise ParamsError(f"{where}: {quote(overrides['data_dir'])} lies outside the project "
                              f"folder {root}; a folder elsewhere must be given on the command "
                              f"line (--data-dir)")
        if not data_dir.is_dir():
            raise ParamsError(f"{where}: {quote(overrides['data_dir'])} is not a folder")
    else:
        data_dir = project.data_dir(review).resolve()
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
    return Job(review=review, root=root, notebook=notebook.resolve(), parameters=parameters,
               data_dir=data_dir, out_dir=out / review, with_code=with_code, digest=digest)


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
# The output folder: one build at a time, atomic files
# --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def locked_out(out: Path, reviews: Sequence[str]) -> Iterator[None]:
    """Hold the output folder for one build; remove what an interrupted build left in it and in
    the folders of ``reviews``.

    Raises
    ------
    BuildError
        The folder cannot be created or written (a read-only file system, no permission), or
        another build holds it.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BuildError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "unknown"
            raise BuildError(f"--out {out}: another build (pid {holder}) is writing there; wait "
                             f"for it or choose another --out") from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        _remove_leftovers([out, *(out / review for review in reviews)])
        yield
    finally:
        os.close(handle)


def _remove_leftovers(folders: Sequence[Path]) -> None:
    """Staging folders and temporary files of a build that was killed."""
    for folder in folders:
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in folder.iterdir():
            if path.name.startswith(STAGING) and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file():
                path.unlink(missing_ok=True)


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


def _staged_files(staging: Path) -> list[Path]:
    """Every file a run wrote, relative to ``staging``; only regular files may be published."""
    files = []
    for folder, names, file_names in os.walk(staging):
        for name in [*names, *file_names]:
            path = Path(folder) / name
            relative = path.relative_to(staging)
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                raise ValueError(f"output_dir: {quote(relative.as_posix())} is not a regular "
                                 f"file; only regular files are published")
            if path.is_file():
                files.append(relative)
    return sorted(files)


def _publish(staging: Path, target: Path, previous: Sequence[str]) -> list[str]:
    """Move every file of ``staging`` into ``target`` (mode 0644); remove ``previous`` files not
    replaced."""
    moved = []
    for relative in _staged_files(staging):
        destination = target / relative
        destination.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(staging / relative, 0o644)
        os.replace(staging / relative, destination)
        moved.append(relative.as_posix())
    for stale in set(previous) - set(moved):
        if not Path(stale).is_absolute() and ".." not in Path(stale).parts:
            (target / stale).unlink(missing_ok=True)
    return moved


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGTERM and SIGINT back (they are delivered when the block ends)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
    start = time.perf_counter()
    staging = job.out_dir / STAGING
    previous = read_record(job.out_dir)
    old_files = previous.files if previous else []
    try:
        job.out_dir.mkdir(parents=True, exist_ok=True)
        (job.out_dir / HASH_FILE).unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        status, counts, executed = _execute(job, staging)
        _render_reports(job, executed, staging)
        with _signals_held():
            files = _publish(staging, job.out_dir, old_files)
            outcome = Outcome(job.review, status, time.perf_counter() - start, _now(), counts,
                              files)
            _commit(job, outcome)
    except Exception as exc:  # noqa: BLE001 - any failure of one review is isolated and reported
        outcome = Outcome(job.review, "failed", time.perf_counter() - start, _now(),
                          files=old_files, error=error_text(exc))
        with _signals_held():
            _commit(job, outcome)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outcome


def _commit(job: Job, outcome: Outcome) -> None:
    """Store the record (and, after a success, the input hash); a write that fails (a full
    disk) turns the outcome into a failure, reported by the caller."""
    try:
        atomic_write(job.out_dir / RECORD_FILE, json.dumps(asdict(outcome), indent=1))
        if outcome.status != "failed":
            atomic_write(job.out_dir / HASH_FILE, job.digest + "\n")
    except OSError as exc:
        (job.out_dir / HASH_FILE).unlink(missing_ok=True)
        outcome.status, outcome.error = "failed", f"cannot write the build record: {exc}"


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


_KERNELS: list[Any] = []
"""Kernel managers started by this (worker) process, to kill when it is stopped."""


def _kernel_manager_class(log: Any) -> type:
    """An asynchronous kernel manager whose kernel writes its stderr to ``log`` and which this
    worker can kill when it is stopped.

    The kernel's own start-up warnings would otherwise interleave with the build's progress.
    """
    from jupyter_client.manager import AsyncKernelManager

    class WorkerKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.setdefault("stderr", log)
            _KERNELS.append(self)
            await super().start_kernel(**kw)

    return WorkerKernelManager


def _kill_kernels() -> None:
    """Kill the kernels of this process and their subprocesses (each runs in its own session)."""
    for manager in _KERNELS:
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is None:
            continue
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):  # reap it (ChildProcessError: already reaped)
            os.waitpid(process.pid, 0)


def _execute(job: Job, staging: Path) -> tuple[str, dict[str, int], Any]:
    """Run the notebook with papermill into ``staging``; return its status, verdict counts and
    the executed notebook (also written to ``staging``).

    The kernel's stderr goes to ``<out>/<review>/.kernel.log`` (overwritten by every run).
    """
    import nbformat
    import papermill
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    notebook = parameterize_notebook(
        load_notebook_node(str(job.notebook)), {**job.parameters, "output_dir": str(staging)},
        kernel_name=KERNEL)
    for cell in notebook.cells:  # papermill gives the injected cell a random id
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = INJECTED_CELL_ID
    with (job.out_dir / KERNEL_LOG).open("w") as log:
        executed = papermill.execute_notebook(
            notebook, None, kernel_name=KERNEL, cwd=str(job.notebook.parent),
            progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
            request_save_on_cell_execute=False, shutdown_kernel="immediate",
            kernel_manager_class=_kernel_manager_class(log))
    executed.metadata.papermill.update(input_path=str(job.notebook),
                                       output_path=str(job.out_dir / f"{job.review}.ipynb"))
    nbformat.write(executed, str(staging / f"{job.review}.ipynb"))
    status_file = staging / STATUS_FILE
    if status_file.is_file():
        status = json.loads(status_file.read_text()).get("status")
        if status != NOT_IMPLEMENTED:
            raise ValueError(f"{STATUS_FILE}: unknown status {quote(status)}")
        return NOT_IMPLEMENTED, {}, executed
    return "ok", verdict_counts(staging / RESULTS_FILE), executed


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
            raise ValueError(f"{RESULTS_FILE}: columns {quote(reader.fieldnames, 80)} are not "
                             f"the results-table columns")
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


def _render_reports(job: Job, notebook: Any, staging: Path) -> None:
    notebook.metadata["title"] = title_of(notebook, job.review)
    prov = provenance.Provenance(
        review=job.review, commit=provenance.git_commit(job.root),
        parameters={name: provenance.relative_to(value, job.root)
                    for name, value in job.parameters.items()},
        data_checksums=provenance.file_checksums(job.data_dir), inputs=job.digest)
    footer = provenance.footer_html(prov)
    for name in report_names(job.review, job.with_code):
        page = render_report(notebook, footer, with_code=name.endswith("-with-code.html"))
        atomic_write(staging / name, page)


# --------------------------------------------------------------------------------------------
# Workers and signals
# --------------------------------------------------------------------------------------------

_WORKER_STAGING: list[Path] = []
"""The staging folder of this worker process, removed when it is stopped."""


def _stop_worker(signum: int, frame: Any) -> None:
    """A worker's SIGTERM/SIGINT handler: kill its kernels, drop its staging folder, exit."""
    _kill_kernels()
    for path in _WORKER_STAGING:
        shutil.rmtree(path, ignore_errors=True)
    os._exit(128 + signum)


def _stop_with_parent(parent: int) -> None:
    """Have Linux send this worker SIGTERM when the build process dies, even by SIGKILL, so that
    no worker publishes after the build was killed."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(job: Job, connection: Any, blas_threads: int | None, parent: int) -> None:
    """Entry point of a worker process: build one review, send its :class:`Outcome` back."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _stop_worker)
    _WORKER_STAGING.append(job.out_dir / STAGING)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _stop_with_parent(parent)
    # the kernel inherits this environment: a fixed string-hash seed makes the iteration order
    # of sets the same in every build, so that reports are byte-identical
    os.environ.setdefault("PYTHONHASHSEED", HASH_SEED)
    if blas_threads is not None:
        os.environ.update({name: str(blas_threads) for name in BLAS_THREADS})
    connection.send(run_job(job))
    connection.close()


def _preload() -> None:
    """Import papermill and nbconvert once, before the workers fork, so that no worker pays for
    them again.

    jsonschema (imported by nbformat) imports ``rfc3987_syntax`` when it is installed (it is, for
    jupyterlab's event schemas) and builds a Lark grammar for its ``iri`` format at import: 0.65 s
    per process, for a format no notebook schema uses. The build process does without it.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    import nbconvert  # noqa: F401
    import papermill  # noqa: F401


def _stop_workers(running: Sequence[tuple[Any, Job]]) -> None:
    """SIGTERM every running worker, wait up to :data:`STOP_SECONDS`, kill the rest, and remove
    their staging folders."""
    for process, _ in running:
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process, job in running:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
        shutil.rmtree(job.out_dir / STAGING, ignore_errors=True)


def _run_all(jobs: list[Job], workers: int, echo: Callable[[str], None]) -> list[Outcome]:
    """Build ``jobs``, at most ``workers`` at once, each in a fresh forked process."""
    if not jobs:
        return []
    import multiprocessing
    import multiprocessing.connection

    _preload()
    context = multiprocessing.get_context("fork")
    workers = min(workers, len(jobs))
    blas_threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    pending, running, outcomes = list(jobs), {}, {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                job = pending.pop(0)
                reader, writer = context.Pipe(duplex=False)
                process = context.Process(target=_worker,
                                          args=(job, writer, blas_threads, os.getpid()),
                                          name=f"metakit-build-{job.review}", daemon=True)
                with _signals_held():  # the worker installs its own handlers first
                    process.start()
                    running[reader] = (process, job)
                writer.close()
            for reader in multiprocessing.connection.wait(list(running)):
                process, job = running.pop(reader)
                try:
                    outcome = reader.recv()
                except EOFError:  # the worker died without a word (killed, out of memory)
                    process.join()
                    outcome = Outcome(job.review, "failed", 0.0, _now(), error=(
                        f"the worker process ended with status {process.exitcode}"))
                    shutil.rmtree(job.out_dir / STAGING, ignore_errors=True)
                reader.close()
                process.join()
                outcomes[job.review] = outcome
                echo(_progress_line(outcome))
    except BuildInterrupted as exc:
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        _stop_workers(list(running.values()))
        raise BuildInterrupted(exc.signum, [job.review for _, job in running.values()]) from None
    return [outcomes[job.review] for job in jobs]


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into :class:`BuildInterrupted` in the build process."""
    def interrupt(signum: int, frame: Any) -> None:
        raise BuildInterrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, interrupt) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------

def _progress_line(outcome: Outcome) -> str:
    label = "unchanged, skipped" if outcome.skipped else STATUS_LABELS[outcome.status]
    first_error = (outcome.error or "").splitlines()[-1:] if outcome.status == "failed" else []
    tail = f"  {first_error[0]}" if first_error else ""
    return f"  {outcome.review:<10} {label:<22} {outcome.seconds:7.1f} s{tail}"


def build(project: Project, reviews: Sequence[str] | None = None, out: Path = Path("reports"),
          jobs: int = 1, params_file: Path | None = None, with_code: bool = False,
          force: bool = False, echo: Callable[[str], None] = print,
          data_dir: Path | None = None) -> list[Outcome]:
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
    data_dir : Path, optional
        Data folder to use (anywhere), overriding the parameter file; only with one review.

    Returns
    -------
    list of Outcome
        One per selected review, in the order of ``reviews``.

    Raises
    ------
    BuildError, ParamsError
        Invalid request, or an output folder that cannot be written or is in use; nothing was
        written.
    BuildInterrupted
        SIGTERM or SIGINT arrived; running reviews were stopped and published nothing.
    OSError
        Writing the index failed (a full disk); the reviews' own outcomes are recorded.
    """
    start = time.perf_counter()
    planned = plan(project, reviews, out, params_file, with_code, data_dir)
    with _interruptible(), locked_out(out, project.reviews):
        fresh = [] if force else [job for job in planned if is_fresh(job)]
        skipped = {}
        for job in fresh:
            record = read_record(job.out_dir)
            if record is not None:
                skipped[job.review] = Outcome(**{**asdict(record), "skipped": True,
                                                 "seconds": 0.0})
                echo(_progress_line(skipped[job.review]))
        todo = [job for job in planned if job.review not in skipped]
        done = {o.review: o for o in _run_all(todo, jobs, echo)}
        outcomes = [skipped.get(job.review) or done[job.review] for job in planned]
        # this run's outcomes over the stored records: a record that could not be written (a
        # full disk) must not leave the index showing the previous success
        records = {review: done.get(review) or read_record(out / review)
                   for review in project.reviews}
        atomic_write(out / "index.html", index_html(project.reviews, records, out,
                                                    provenance.git_commit(project.root), _now(),
                                                    root=project.root))
    echo(summary(outcomes, time.perf_counter() - start, out / "index.html"))
    return outcomes


def summary(outcomes: Sequence[Outcome], seconds: float, index: Path) -> str:
    """One line: how many reviews ended in which state, total time, where the index is."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        key = "skipped" if outcome.skipped else STATUS_LABELS[outcome.status]
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{n} {label}" for label, n in counts.items())
    return f"{len(outcomes)} review(s): {parts} in {seconds:.1f} s; index: {index}"


__all__ = ["BuildError", "BuildInterrupted", "Job", "Outcome", "ParamsError", "Project", "build",
           "discover_reviews", "index_html", "locked_out", "plan", "render_report", "run_job",
           "summary", "verdict_counts"]
