"""``metakit new``: a new review is a dossier and a generic notebook, with no code written."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from metakit.__main__ import main
from metakit.publish.build import Project, build
from metakit.publish.scaffold import KERNELSPEC

BCG = Path(__file__).parent / "fixtures" / "bcg"


def _new(root: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["new", *args, "--root", str(root)])
    return status, out.getvalue(), err.getvalue()


def test_new_writes_a_dossier_a_notebook_and_a_parameter_file(tmp_path):
    status, out, _ = _new(tmp_path, "bcg", "--title", "BCG vaccine")
    assert status == 0
    written = sorted(line.split(" ", 1)[1] for line in out.splitlines())
    assert written == sorted(["data/bcg/review.yaml", "data/bcg/published.csv",
                              "data/bcg/analyses.yaml", "data/bcg/checks.yaml",
                              "data/bcg/README.md", "params/bcg.yaml", "notebooks/bcg.ipynb"])
    notebook = nbformat.read(tmp_path / "notebooks" / "bcg.ipynb", as_version=4)
    assert notebook.metadata["kernelspec"] == KERNELSPEC
    assert [c.metadata.get("tags") for c in notebook.cells].count(["parameters"]) == 1
    assert Project(tmp_path).reviews == ("bcg",)


def test_new_refuses_a_bad_id_and_existing_files(tmp_path):
    assert _new(tmp_path, "BCG")[0] == 2
    assert _new(tmp_path, "bcg")[0] == 0
    status, _, err = _new(tmp_path, "bcg")
    assert status == 2 and "data/bcg/review.yaml: already exists" in err


@pytest.mark.slow
def test_a_filled_dossier_builds_a_report_with_no_notebook_code(tmp_path):
    assert _new(tmp_path, "bcg")[0] == 0
    for name in ("review.yaml", "published.csv", "studies.csv", "analyses.yaml", "checks.yaml"):
        shutil.copy(BCG / name, tmp_path / "data" / "bcg" / name)
    (outcome,) = build(Project(tmp_path), out=tmp_path / "reports", echo=lambda line: None)
    assert outcome.status == "ok", outcome.error
    results = pd.read_csv(tmp_path / "reports" / "bcg" / "results.csv")
    verdicts = results.set_index("analysis_id")["verdict"]
    assert verdicts["rr_overall"] == "reproduced" and verdicts["rr_robust"] == "new"
    page = (tmp_path / "reports" / "bcg" / "bcg.html").read_text()
    assert "Published versus reproduced" in page and "data:image/png;base64" in page
