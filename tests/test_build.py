"""The build: execution, reports, index, failure isolation, atomic writes, skipping unchanged."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, make_project, write_notebook
from metakit.publish import build as mkbuild
from metakit.publish.index import index_html
from metakit.publish.report_html import toc_html
from metakit.__main__ import main
from metakit.publish.build import Project, build

SCRIPT = "<script>alert(1)</script>"
# Review ids of the tiny projects (a project's reviews are its notebooks).
GOOD, BAD, TODO = "iua", "por", "nonunion"


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["build", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module", autouse=True)
def frozen_package_source(tmp_path_factory: pytest.TempPathFactory):
    """Hash a frozen copy of the metakit source, so that edits made while the tests run (by
    a developer working on the package) do not defeat the tests of skipping unchanged work."""
    frozen = tmp_path_factory.mktemp("metakit-source")
    shutil.copytree(mkbuild._PACKAGE_DIR, frozen / "metakit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mkbuild, "_PACKAGE_DIR", frozen / "metakit")
        yield frozen / "metakit"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Path, int, str]:
    """A project with a good, a failing and a placeholder notebook, built once from the CLI."""
    root = tmp_path_factory.mktemp("project")
    project = make_project(root, good=(GOOD, "ovarian"), bad=(BAD,), todo=(TODO,))
    out = root / "out"
    code, stdout, _ = run_cli("--root", str(root), "--out", str(out), "--jobs", "2",
                              "--only", GOOD, BAD, TODO)
    return project, out, code, stdout


def page(out: Path, name: str) -> str:
    return (out / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------- execution and index

@pytest.mark.slow
def test_failure_is_isolated_and_exit_status_is_1(built):
    project, out, code, _ = built
    assert code == 1
    records = {r: mkbuild.read_record(out / r) for r in (GOOD, BAD, TODO)}
    assert {r: rec.status for r, rec in records.items()} == {
        GOOD: "ok", BAD: "failed", TODO: "not_implemented"}
    assert mkbuild.read_record(out / "ovarian") is None  # not selected with --only
    assert (out / GOOD / f"{GOOD}.html").is_file()
    assert (out / TODO / f"{TODO}.html").is_file()
    assert not (out / BAD / f"{BAD}.html").exists()
    assert "boom in notebook" in records[BAD].error


@pytest.mark.slow
def test_progress_has_one_line_per_review_and_a_summary(built):
    _, _, _, stdout = built
    lines = stdout.strip().splitlines()
    assert len(lines) == 4
    for review in (GOOD, BAD, TODO):
        assert any(re.match(rf"\s*{review}\s.*\d+\.\d s", line) for line in lines[:3])
    assert lines[-1].startswith("3 review(s): ") and "1 failed" in lines[-1]


@pytest.mark.slow
def test_results_csv_is_published_and_counted_in_index(built):
    _, out, _, _ = built
    assert (out / GOOD / "results.csv").is_file()
    index = page(out, "index.html")
    row = re.search(rf'<tr id="review-{GOOD}">(.*?)</tr>', index, flags=re.DOTALL).group(1)
    assert "ok" in row
    numbers = re.findall(r'<td class="n">(\d*)</td>', row)
    assert numbers[:8] == ["1", "0", "0", "0", "0", "0", "0", "1"]  # reproduced ... new
    assert f'href="{GOOD}/{GOOD}.html"' in row


@pytest.mark.slow
def test_index_shows_placeholder_as_not_implemented_and_failure_with_error(built):
    _, out, _, _ = built
    index = page(out, "index.html")
    todo = re.search(rf'<tr id="review-{TODO}">(.*?)</tr>', index, flags=re.DOTALL).group(1)
    assert "not yet implemented" in todo and ">ok<" not in todo
    bad = re.search(rf'<tr id="review-{BAD}">(.*?)</tr>', index, flags=re.DOTALL).group(1)
    assert "failed" in bad and "ValueError" in bad and "boom in notebook" in bad
    assert index.count("not built") == 1  # ovarian: it has a notebook but was not selected


# ---------------------------------------------------------------- the HTML report

@pytest.mark.slow
def test_report_is_self_contained(built):
    _, out, _, _ = built
    html = page(out, f"{GOOD}/{GOOD}.html")
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html)
    assert not re.search(r'<(img|script|iframe)[^>]+src="(?!data:)', html)
    assert not re.search(r'<link[^>]+href=', html)
    assert not re.search(r"url\((?!data:)", html)  # CSS resources are inlined too
    assert "cdnjs" not in html and "<script" not in html


@pytest.mark.slow
def test_code_is_hidden_by_default(built):
    _, out, _, _ = built
    assert "CODE_MARKER_42" not in page(out, f"{GOOD}/{GOOD}.html")
    assert not (out / GOOD / f"{GOOD}-with-code.html").exists()


@pytest.mark.slow
def test_study_names_are_escaped(built):
    _, out, _, _ = built
    html = page(out, f"{GOOD}/{GOOD}.html")
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Smith &amp; Jones 2019" in html


@pytest.mark.slow
def test_report_has_toc_and_provenance_footer(built):
    project, out, _, _ = built
    html = page(out, f"{GOOD}/{GOOD}.html")
    toc = re.search(r'<nav[^>]+id="toc".*?</nav>', html, flags=re.DOTALL).group(0)
    assert "A good review" in toc and "Studies &amp; data" in toc and "Results" in toc
    for anchor in re.findall(r'href="#([^"]+)"', toc):
        assert f'id="{anchor}"' in html
    footer = re.search(r'<footer[^>]+id="provenance".*?</footer>', html, flags=re.DOTALL).group(0)
    data_file = project.root / "data" / GOOD / "studies.csv"
    assert hashlib.sha256(data_file.read_bytes()).hexdigest() in footer
    assert "studies.csv" in footer and f"<code>data/{GOOD}</code>" in footer
    assert str(project.root.resolve()) not in footer  # no folder of the build machine
    for package in ("python", "numpy", "pandas", "papermill", "nbconvert"):
        assert f"<td>{package}</td>" in footer
    digest = (out / GOOD / mkbuild.HASH_FILE).read_text().strip()
    assert "built from commit" in footer and f"inputs SHA-256 <code>{digest}</code>" in footer
    assert not re.search(r"\d\d:\d\d:\d\d|\d+\.\d s\b", footer)  # no wall-clock time


# ---------------------------------------------------------------- incremental builds

@pytest.mark.slow
def test_unchanged_reviews_are_skipped_and_force_rebuilds(built):
    project, out, _, _ = built
    report = out / GOOD / f"{GOOD}.html"
    before = report.stat().st_mtime_ns
    code, stdout, _ = run_cli("--root", str(project.root), "--out", str(out),
                              "--only", GOOD, TODO)
    assert code == 0
    assert stdout.count("unchanged, skipped") == 2 and "2 skipped" in stdout
    assert report.stat().st_mtime_ns == before
    outcomes = build(project, [TODO], out, force=True, echo=lambda line: None)
    assert not outcomes[0].skipped and outcomes[0].status == "not_implemented"


@pytest.mark.slow
def test_with_code_writes_second_report(built):
    project, out, _, _ = built
    outcomes = build(project, [GOOD], out, with_code=True, echo=lambda line: None)
    assert not outcomes[0].skipped  # a new option is a new input
    with_code = page(out, f"{GOOD}/{GOOD}-with-code.html")
    assert "CODE_MARKER_42" in with_code and SCRIPT not in with_code
    assert "CODE_MARKER_42" not in page(out, f"{GOOD}/{GOOD}.html")
    assert f'href="{GOOD}/{GOOD}-with-code.html"' in page(out, "index.html")


@pytest.mark.slow
def test_changed_data_reruns_and_failed_run_keeps_last_good_report(tmp_path):
    project = make_project(tmp_path / "p", good=("good",), bad=(), todo=())
    out = tmp_path / "out"
    first = build(project, out=out, echo=lambda line: None)[0]
    assert first.status == "ok"
    assert build(project, out=out, echo=lambda line: None)[0].skipped

    data = project.root / "data" / "good" / "studies.csv"
    data.write_text(data.read_text() + "Late 2021,1,5\n")
    assert not build(project, out=out, echo=lambda line: None)[0].skipped
    report, results = out / "good" / "good.html", out / "good" / "results.csv"
    good_report, good_results = report.read_bytes(), results.read_bytes()

    write_notebook(project.notebook("good"), "good", "# Broken", "1 / 0")
    broken = build(project, out=out, echo=lambda line: None)[0]
    assert broken.status == "failed" and "ZeroDivisionError" in broken.error
    assert report.read_bytes() == good_report and results.read_bytes() == good_results
    assert not (out / "good" / mkbuild.HASH_FILE).exists()
    assert not [p for p in (out / "good").iterdir() if p.name.startswith(".staging")]
    index = page(out, "index.html")
    row = re.search(r'<tr id="review-good">(.*?)</tr>', index, flags=re.DOTALL).group(1)
    assert "failed" in row and "last good:" in row and "ZeroDivisionError" in row


@pytest.mark.slow
def test_placeholder_replaced_by_real_notebook_becomes_ok(tmp_path):
    project = make_project(tmp_path / "p", good=(), bad=(), todo=("good",))
    out = tmp_path / "out"
    assert build(project, out=out, echo=lambda line: None)[0].status == "not_implemented"
    assert (out / "good" / "status.json").is_file()
    make_project(tmp_path / "p", good=("good",), bad=(), todo=())
    assert build(project, out=out, echo=lambda line: None)[0].status == "ok"
    assert not (out / "good" / "status.json").exists()  # stale marker removed


# ---------------------------------------------------------------- fast unit tests

def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    mkbuild.atomic_write(target, "good")

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        mkbuild.atomic_write(target, "half")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_verdict_counts_rejects_unknown_verdict(tmp_path):
    from metakit.workbook.contract import COLUMNS

    path = tmp_path / "results.csv"
    row = ["x"] * len(COLUMNS)
    row[COLUMNS.index("verdict")] = "passed"
    path.write_text(",".join(COLUMNS) + "\n" + ",".join(row) + "\n")
    with pytest.raises(ValueError, match=r"row 2: verdict 'passed'"):
        mkbuild.verdict_counts(path)
    with pytest.raises(ValueError, match="neither results.csv nor status.json"):
        mkbuild.verdict_counts(tmp_path / "missing.csv")


def test_toc_lists_headings_with_ids_and_escapes_text():
    toc = toc_html('<h1 id="T">A &lt;b&gt;<a class="anchor-link" href="#T">¶</a></h1>'
                   '<h2>no id</h2><h3 id="s-1">Sub</h3>')
    assert '<a href="#T">A &lt;b&gt;</a>' in toc and "¶" not in toc
    assert '<li class="toc-h3"><a href="#s-1">Sub</a>' in toc and "no id" not in toc


def test_repository_notebooks_are_committed_without_outputs():
    for review in mkbuild.discover_reviews(REPO):
        notebook = nbformat.read(REPO / "notebooks" / f"{review}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, review


def test_changed_package_source_changes_the_hash(frozen_package_source, tmp_path):
    project = make_project(tmp_path / "p", good=(), bad=(), todo=("todo",))
    before = mkbuild.plan(project, None, tmp_path / "out")[0].digest
    assert mkbuild.plan(project, None, tmp_path / "out")[0].digest == before
    module = frozen_package_source / "publish" / "build.py"
    original = module.read_text()
    try:
        module.write_text(original + "\n# edited\n")
        assert mkbuild.plan(project, None, tmp_path / "out")[0].digest != before
    finally:
        module.write_text(original)


def test_index_lists_unbuilt_reviews(tmp_path):
    html = index_html(("a", "b"), {}, tmp_path, None, "2026-01-01T00:00", root=tmp_path)
    assert html.count("not built") == 2


# ---------------------------------------------------------------- the repository's notebooks

@pytest.mark.slow
def test_every_repository_notebook_builds(repo_build):
    out, outcomes = repo_build
    assert [o.review for o in outcomes] == list(mkbuild.discover_reviews(REPO))
    for outcome in outcomes:
        assert outcome.status == "ok", (outcome.review, outcome.error)
        html = page(out, f"{outcome.review}/{outcome.review}.html")
        assert re.search('<footer[^>]+id="provenance"', html)
        assert re.search('<nav[^>]+id="toc"', html)
        assert not re.search(r'<(img|script|iframe)[^>]+src="(?!data:)', html)
        assert (out / outcome.review / "results.csv").is_file()
    records = [json.loads((out / r / mkbuild.RECORD_FILE).read_text()) for r in mkbuild.discover_reviews(REPO)]
    assert all(r["status"] != "failed" for r in records)
