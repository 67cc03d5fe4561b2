"""Fault injection, determinism and hygiene: two builds of the same inputs write byte-identical
``results.csv`` and HTML reports (a pandas table, a report table of the formatting layer, a figure
and a printed set included), and every published file is readable by all (0644)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from faults import quick_project, run

pytestmark = pytest.mark.slow

A = "iua"
CELLS = (
    "# Deterministic\n\nA table, a figure and a results table.",
    "import pandas as pd\nframe = pd.DataFrame({'study': ['A', 'B'], 'n': [10, 12]})\nframe",
    "print({'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'})  # order: the hash seed",
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(2, 2))\n"
    "ax.plot([0, 1], [0, 1])\nplt.show()",
    "from metakit.workbook.results import ResultsTable\ntable = ResultsTable(review)\n"
    "table.add(analysis_id='a1', outcome='o', verdict='new', estimate=1.25, ci_low=0.5,\n"
    "          ci_high=2.0)\ntable.write(output_dir)",
    "from metakit.workbook.report import verdict_table\nverdict_table(table)",
)


def two_builds(tmp_path: Path, cells: tuple[str, ...]) -> tuple[Path, dict[str, bytes]]:
    root = quick_project(tmp_path / "project", A, cells=cells)
    out = tmp_path / "out"
    first = run(root, out, "--only", A, "--with-code")
    assert first.returncode == 0, first.stdout
    before = {name: (out / A / name).read_bytes()
              for name in ("results.csv", f"{A}.html", f"{A}-with-code.html")}
    second = run(root, out, "--only", A, "--with-code", "--force")
    assert second.returncode == 0 and "1 ok" in second.stdout, second.stdout
    return out, before


def test_two_builds_are_byte_identical_and_files_are_0644(tmp_path):
    out, before = two_builds(tmp_path, CELLS)
    for name, data in before.items():
        assert (out / A / name).read_bytes() == data, name
    assert b"a1,o," in before["results.csv"]
    published = [p for p in (out / A).iterdir() if not p.name.startswith(".")]
    assert {p.name for p in published} >= {"results.csv", f"{A}.html", f"{A}.ipynb"}
    for path in [*published, out / "index.html"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name

