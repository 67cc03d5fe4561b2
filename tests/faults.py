"""Helpers of the fault-injection suite (``tests/test_faults_*.py``): builds run as a user runs
them (``python -m metakit build`` in a process of its own), and what a build leaves behind.

Every build started here carries a fresh token in its environment, inherited by its workers and
their kernels, so that a test can tell that no process of its build is left, whatever else runs
on the machine.
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import write_notebook
from metakit.workbook.contract import COLUMNS

TOKEN = "METAKIT_FAULT_TOKEN"
MARKERS = "METAKIT_FAULT_MARKERS"
SECONDS = 120
"""Bound on any one build of the suite."""

QUICK_CELLS = (
    "# A quick review\n\nOne result.",
    "import csv, pathlib\nfrom metakit.workbook.contract import COLUMNS\n"
    "with open(pathlib.Path(output_dir, 'results.csv'), 'w', newline='') as stream:\n"
    "    writer = csv.DictWriter(stream, COLUMNS)\n"
    "    writer.writeheader()\n"
    "    writer.writerow({c: '' for c in COLUMNS} | {'review': review, 'analysis_id': 'a1',\n"
    "                                                 'verdict': 'new', 'estimate': '1.5'})",
)
"""A notebook that writes a one-row ``results.csv`` without importing pandas."""

SLOW_CELL = ("import os, pathlib, time\n"
             "pathlib.Path(os.environ['METAKIT_FAULT_MARKERS'], review + '.started').touch()\n"
             "time.sleep(300)")
"""A cell that says it started (a marker file) and then runs for five minutes."""


def quick_project(root: Path, *reviews: str, cells: tuple[str, ...] = QUICK_CELLS) -> Path:
    """A project whose ``reviews`` are quick notebooks (or ``cells``), each with data and
    parameters."""
    for review in reviews:
        write_notebook(root / "notebooks" / f"{review}.ipynb", review, *cells)
        (root / "params").mkdir(parents=True, exist_ok=True)
        (root / "params" / f"{review}.yaml").write_text(f"review: {review}\n")
        (root / "data" / review).mkdir(parents=True, exist_ok=True)
        (root / "data" / review / "studies.csv").write_text("study,n,source\nA 2020,10,T1\n")
    return root


def environment(markers: Path | None = None) -> tuple[str, dict[str, str]]:
    """A fresh token and the environment of a build that carries it."""
    token = uuid.uuid4().hex
    env = {**os.environ, TOKEN: token}
    if markers is not None:
        env[MARKERS] = str(markers)
    return token, env


def start(root: Path, out: Path | None, *args: str, env: dict[str, str],
          cwd: Path | None = None, session: bool = False) -> subprocess.Popen[str]:
    """Start ``python -m metakit build --root ROOT --out OUT ARGS`` (``out=None``: no --out)."""
    where = ["--root", str(root)] if root is not None else []
    command = [sys.executable, "-m", "metakit", "build", *where,
               *(["--out", str(out)] if out is not None else []), *args]
    return subprocess.Popen(command, cwd=cwd or root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=session)


def run(root: Path | None, out: Path | None, *args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a build to its end and return its exit status, stdout and stderr."""
    process = start(root, out, *args, env=env or environment()[1], cwd=cwd)
    stdout, stderr = process.communicate(timeout=SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def processes_with(token: str) -> list[int]:
    """Live (not zombie) processes whose environment carries ``token``."""
    found = []
    needle = f"{TOKEN}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0") and \
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
    return found


def left_after(token: str, seconds: float = 10.0) -> list[int]:
    """The processes of a build still alive ``seconds`` after it was asked to stop."""
    deadline = time.monotonic() + seconds
    while (alive := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def wait_for(*paths: Path, seconds: float = SECONDS) -> None:
    """Wait until every path exists (a notebook reached its slow cell)."""
    deadline = time.monotonic() + seconds
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, f"never appeared: {[str(p) for p in paths]}"
        time.sleep(0.1)


def reports(out: Path, index: bool = True) -> dict[str, bytes]:
    """Every published file under ``out`` (not hidden; ``index.html`` unless ``index=False``,
    since every build rewrites its times), relative path -> bytes."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
            and (index or p.relative_to(out).as_posix() != "index.html")}


def leftovers(out: Path) -> list[str]:
    """Staging folders and temporary files under ``out``."""
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.name.startswith(".staging") or p.name.endswith(".tmp"))


def one_line(stderr: str) -> str:
    """The single line of an error message (asserting there is exactly one, and no traceback)."""
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr
    return stderr.strip()


def results_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` (skips the test where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()[:80]}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def built_on_tmpfs(tmp_path: Path, review: str, size: str) -> Iterator[tuple[Path, Path, Path]]:
    """A quick project whose ``review`` was built once into ``out`` on a small tmpfs ``disk``:
    ``(root, disk, out)``."""
    root = quick_project(tmp_path / "project", review)
    with tmpfs(tmp_path / "disk", size) as disk:
        out = disk / "out"
        first = run(root, out, "--only", review)
        assert first.returncode == 0, first.stdout + first.stderr
        yield root, disk, out


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)
