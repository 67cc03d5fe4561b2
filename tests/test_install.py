"""The package outside the checkout: ``pip install .`` into a folder, then the engine, the audit and
the runner on a dossier given by path, from a temporary directory (no repository path inside the
package)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from metakit import audit, rma

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
from pathlib import Path
import numpy as np
import metakit
from metakit import audit, rma
from metakit.workbook import run

fit = rma(np.array({yi}), np.array({vi}), method="DL")
check = audit.ci_symmetry("0.49", "0.34", "0.70", scale="log")
review = run(Path(sys.argv[1]))
frame = review.frame().set_index("analysis_id")
print(json.dumps({"file": metakit.__file__, "estimate": fit.estimate, "tau2": fit.tau2,
                  "check": check.verdict, "rr": frame.loc["rr_overall", "verdict"],
                  "rows": len(frame)}))
"""
YI = [-0.89, -1.59, -1.35, -1.44, -0.22]
VI = [0.33, 0.19, 0.42, 0.02, 0.05]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("source")
    # a copy, so that setuptools' build/ and egg-info folders never land in the checkout
    shutil.copytree(REPO, build / "metakit", ignore=shutil.ignore_patterns(
        ".git", ".venv", "reports", "tests", "notebooks", "data", "benchmarks", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(build / "metakit")],
                   check=True, capture_output=True, timeout=300)
    return target


def test_installed_package_runs_a_dossier_given_by_path(installed, tmp_path):
    dossier = tmp_path / "bcg"
    shutil.copytree(REPO / "tests" / "fixtures" / "bcg", dossier)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run([sys.executable, "-c", SCRIPT.replace("{yi}", repr(YI)).replace("{vi}", repr(VI)), str(dossier)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(answer["file"]).is_relative_to(installed)     # not the checkout's metakit
    here = rma(np.array(YI), np.array(VI), method="DL")                             # the checkout's engine
    assert answer["estimate"] == pytest.approx(here.estimate, rel=1e-12)
    assert answer["tau2"] == pytest.approx(here.tau2, rel=1e-12)
    assert answer["check"] == audit.ci_symmetry("0.49", "0.34", "0.70", scale="log").verdict
    assert answer["rr"] in ("reproduced", "discrepant") and answer["rows"] > 5


def test_installed_package_names_no_repository_path(installed):
    for source in (installed / "metakit").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert str(REPO) not in text, source


def test_a_review_by_id_is_found_in_the_project_data_folder(tmp_path, monkeypatch):
    from metakit.workbook.data import DataError, data_root
    from metakit.workbook import run

    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "fixtures" / "bcg", project / "data" / "bcg")
    (project / "notebooks").mkdir()
    monkeypatch.delenv("METAKIT_DATA", raising=False)
    monkeypatch.chdir(project / "notebooks")          # where JupyterLab runs a notebook
    assert data_root() == project / "data"
    assert run("bcg").frame()["analysis_id"].iloc[0] == "rr_overall"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="no data folder .*METAKIT_DATA"):
        run("bcg")
    monkeypatch.setenv("METAKIT_DATA", str(project / "data"))
    assert run("bcg").id == "bcg"
