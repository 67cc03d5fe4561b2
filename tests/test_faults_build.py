"""Fault injection, the build: failing notebooks, signals, killed and concurrent builds, a full disk,
read-only and misplaced output folders. Every case asserts the exit status, the one-line message,
that the last good reports are unchanged (or nothing was written) and that no process is left."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from conftest import write_notebook
from faults import (
    SECONDS, SLOW_CELL, built_on_tmpfs, environment, left_after, leftovers, one_line,
    quick_project, remount_read_only, reports, run, start, wait_for,
)
from metakit.publish.build import HASH_FILE

pytestmark = pytest.mark.slow

A, B = "iua", "por"  # review ids of the tiny projects


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with two quick reviews built once, and a copy of both to restore."""
    base = tmp_path_factory.mktemp("built")
    root, out = quick_project(base / "project", A, B), base / "out"
    first = run(root, out, "--only", A, B, "--jobs", "2")
    assert first.returncode == 0, first.stderr
    for name in ("project", "out"):
        shutil.copytree(base / name, base / f"pristine-{name}", symlinks=True)
    return base


@pytest.fixture
def built(pristine: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """The project and its last good reports, restored in place (so their input hashes hold)."""
    for name in ("project", "out"):
        shutil.rmtree(pristine / name, ignore_errors=True)
        shutil.copytree(pristine / f"pristine-{name}", pristine / name, symlinks=True)
    return pristine / "project", pristine / "out", reports(pristine / "out")


def make_slow(root: Path, *reviews: str) -> None:
    for review in reviews:
        write_notebook(root / "notebooks" / f"{review}.ipynb", review, "# Slow", SLOW_CELL)


def test_failing_notebook_keeps_last_good_report_and_exits_1(built):
    root, out, good = built
    write_notebook(root / "notebooks" / f"{A}.ipynb", A, "# Broken", "1 / 0")
    token, env = environment()
    result = run(root, out, "--only", A, B, "--jobs", "2", "--force", env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    assert any(line.split()[:2] == [A, "failed"] and "ZeroDivisionError" in line
               for line in result.stdout.splitlines())
    assert reports(out)[f"{A}/{A}.html"] == good[f"{A}/{A}.html"]
    assert not (out / A / HASH_FILE).exists()  # re-run next time
    assert leftovers(out) == [] and left_after(token) == []


@pytest.mark.parametrize("how, status", [("SIGTERM to the build", 143),
                                         ("Ctrl-C (SIGINT to the process group)", 130),
                                         ("SIGKILL to the build", -9)])
def test_stopped_build_stops_workers_and_kernels_and_publishes_nothing(built, tmp_path, how,
                                                                       status):
    root, out, good = built
    make_slow(root, A, B)
    markers = tmp_path / "markers"
    markers.mkdir()
    token, env = environment(markers)
    process = start(root, out, "--only", A, B, "--jobs", "2", env=env, session=True)
    wait_for(markers / f"{A}.started", markers / f"{B}.started")
    assert len(left_after(token, 0)) >= 5  # the build, two workers, two kernels
    if how.startswith("SIGTERM"):
        process.send_signal(signal.SIGTERM)
    elif how.startswith("Ctrl-C"):
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.kill()
    stdout, stderr = process.communicate(timeout=SECONDS)
    assert process.returncode == status
    if status > 0:
        message = one_line(stderr)
        assert message.startswith(f"error: interrupted by {signal.Signals(status - 128).name}; "
                                  f"stopped ")
        assert A in message and B in message and "publishing nothing of theirs" in message
    assert left_after(token) == []
    assert reports(out) == good  # last good reports and index unchanged, nothing half-done
    assert leftovers(out) == []
    assert not (out / A / HASH_FILE).exists() and not (out / B / HASH_FILE).exists()


def test_next_build_removes_leftovers_of_a_killed_build(built):
    root, out, _ = built
    good = reports(out, index=False)
    (out / A / ".staging" / "sub").mkdir(parents=True)
    (out / A / ".staging" / "sub" / "results.csv").write_text("half")
    (out / B / ".staging-k2j4").mkdir()  # the name older builds used
    (out / ".index.html.x1y2.tmp").write_text("half")
    (out / A / f".{A}.html.z9.tmp").write_text("half")
    result = run(root, out, "--only", A, B)
    assert result.returncode == 0 and "2 skipped" in result.stdout
    assert leftovers(out) == [] and reports(out, index=False) == good


def test_concurrent_build_into_the_same_folder_is_refused(built, tmp_path):
    root, out, good = built
    make_slow(root, A)
    markers = tmp_path / "markers"
    markers.mkdir()
    token, env = environment(markers)
    first = start(root, out, "--only", A, env=env)
    try:
        wait_for(markers / f"{A}.started")
        second = run(root, out, "--only", B, "--force", env=env)
        assert second.returncode == 2
        message = one_line(second.stderr)
        assert message == (f"error: --out {out}: another build (pid {first.pid}) is writing "
                           f"there; wait for it or choose another --out")
        assert reports(out) == good
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=SECONDS)
    assert first.returncode == 143 and left_after(token) == []


def test_worker_that_dies_fails_its_review_only(built):
    root, out, good = built
    write_notebook(root / "notebooks" / f"{A}.ipynb", A, "# Dies",
                   "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
    token, env = environment()
    result = run(root, out, "--only", A, B, "--jobs", "2", "--force", env=env)
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if line.split()[:1] == [A])
    assert "failed" in line and "the worker process ended with status -9" in line
    assert any(line.split()[:2] == [B, "ok"] for line in result.stdout.splitlines())
    assert reports(out)[f"{A}/{A}.html"] == good[f"{A}/{A}.html"]
    assert leftovers(out) == [] and left_after(token) == []


def test_full_disk_fails_cleanly_and_next_build_recovers(tmp_path):
    with built_on_tmpfs(tmp_path, A, "1m") as (root, disk, out):
        good, index = reports(out, index=False), (out / "index.html").read_bytes()
        filler = disk / "filler"
        with filler.open("wb") as stream, pytest.raises(OSError):
            while True:
                stream.write(b"\0" * 65536)
                stream.flush()
        token, env = environment()
        result = run(root, out, "--only", A, "--force", env=env)
        assert result.returncode == 1
        assert "No space left on device" in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert reports(out, index=False) == good
        if result.stderr:  # no room for the index either: the last one stays
            assert one_line(result.stderr).startswith("error: cannot write the reports: ")
            assert (out / "index.html").read_bytes() == index
        else:  # the index was written and says what failed
            assert b"No space left on device" in (out / "index.html").read_bytes()
        assert leftovers(out) == [] and left_after(token) == []
        filler.unlink()
        again = run(root, out, "--only", A)
        assert again.returncode == 0 and "1 ok" in again.stdout


def test_read_only_output_folder_is_one_line_exit_2(tmp_path):
    with built_on_tmpfs(tmp_path, A, "2m") as (root, disk, out):
        good = reports(out)
        remount_read_only(disk)
        result = run(root, out, "--only", A, "--force")
        assert result.returncode == 2
        assert one_line(result.stderr) == (f"error: --out {out}: cannot write there "
                                           f"(Read-only file system)")
        assert reports(out) == good
        fresh = run(root, disk / "new", "--only", A)
        assert fresh.returncode == 2 and "Read-only file system" in one_line(fresh.stderr)


@pytest.mark.parametrize("target, message", [
    ("file", "is a file, not a folder"),
    ("data", "lies inside the project's data/ folder"),
    ("data/iua", "lies inside the project's data/ folder"),
    ("notebooks/reports", "lies inside the project's notebooks/ folder"),
    ("params", "lies inside the project's params/ folder"),
])
def test_misplaced_output_folder_is_refused_writing_nothing(tmp_path, target, message):
    root = quick_project(tmp_path / "project", A)
    (root / "file").write_text("a file")
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    out = root / target
    result = run(root, out, "--only", A)
    assert result.returncode == 2
    assert one_line(result.stderr) == f"error: --out {out}: {message}" + (
        "; write the reports elsewhere (default: reports/)" if "project's" in message else "")
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_build_run_from_notebooks_folder_says_where_it_looked(tmp_path):
    root = quick_project(tmp_path / "project", A)
    result = run(None, None, "--only", A, cwd=root / "notebooks")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"error: no notebooks/ folder in {root / 'notebooks'} (the project folder the build "
        f"looked in; run it from the folder that holds notebooks/, params/ and data/, or give "
        f"--root DIR)")
    assert not (root / "notebooks" / "reports").exists()

