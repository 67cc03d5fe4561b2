"""Shared fixtures: tiny throw-away projects, and one build of the repository's own notebooks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from metakit.publish.build import Outcome, Project, build

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"


def write_notebook(path: Path, review: str, *cells: str, extra_params: str = "") -> Path:
    """Write a notebook: a ``parameters`` cell, then ``cells`` (``"# ..."`` ones are markdown)."""
    parameters = f'review = "{review}"\ndata_dir = ""\noutput_dir = ""\n{extra_params}'
    notebook = new_notebook(
        cells=[new_code_cell(parameters, metadata={"tags": ["parameters"]})]
        + [new_markdown_cell(c) if c.startswith("#") else new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


PLACEHOLDER_MARKER = (
    "import json\nfrom pathlib import Path\n"
    "if output_dir:\n"
    "    Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
    "    (Path(output_dir) / 'status.json').write_text(json.dumps({'status': 'not_implemented'}))"
)


def placeholder_notebook(path: Path, review: str) -> Path:
    """A placeholder notebook following the build's ``status.json`` convention."""
    return write_notebook(path, review, f"# {review}\n\n**Not yet implemented.**",
                          PLACEHOLDER_MARKER)


GOOD_CELLS = (
    "# A good review\n\nIntroduction.",
    "## Studies & data",
    # the marker string below must not appear in the code-free report
    ("import pandas as pd\nCODE_MARKER_42 = 1\n"
     "studies = pd.read_csv(f'{data_dir}/studies.csv')\nstudies"),
    ("import matplotlib.pyplot as plt\n"
     "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, 1], [0, 1])\nplt.show()"),
    "## Results",
    ("from metakit.workbook.results import ResultsTable\n"
     "table = ResultsTable(review)\n"
     "table.add(analysis_id='a1', outcome='o', verdict='reproduced', estimate=1.0)\n"
     "table.add(analysis_id='a2', outcome='o', verdict='new', estimate=2.0)\n"
     "table.write(output_dir)"),
)
STUDIES_CSV = "study,events,n\n<script>alert(1)</script> 2020,3,10\nSmith & Jones 2019,4,12\n"


def make_project(root: Path, good: tuple[str, ...] = ("good",), bad: tuple[str, ...] = ("bad",),
                 todo: tuple[str, ...] = ("todo",)) -> Project:
    """A project: ``good`` notebooks write results, ``bad`` ones raise, ``todo`` are placeholders.

    Every review gets ``params/<review>.yaml`` and ``data/<review>/studies.csv``.
    """
    for review in good:
        write_notebook(root / "notebooks" / f"{review}.ipynb", review, *GOOD_CELLS)
    for review in bad:
        write_notebook(root / "notebooks" / f"{review}.ipynb", review, "# Bad",
                       "raise ValueError('boom in notebook')")
    for review in todo:
        placeholder_notebook(root / "notebooks" / f"{review}.ipynb", review)
    reviews = (*good, *bad, *todo)
    for review in reviews:
        (root / "params").mkdir(parents=True, exist_ok=True)
        (root / "params" / f"{review}.yaml").write_text(f"review: {review}\n")
        (root / "data" / review).mkdir(parents=True, exist_ok=True)
        (root / "data" / review / "studies.csv").write_text(STUDIES_CSV)
    return Project(root, reviews=reviews)


@pytest.fixture
def project_factory(tmp_path: Path) -> Callable[..., Project]:
    """Build tiny projects under ``tmp_path``."""
    def factory(**kwargs: tuple[str, ...]) -> Project:
        return make_project(tmp_path / "project", **kwargs)
    return factory


@pytest.fixture(scope="session")
def repo_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Outcome]]:
    """Every notebook of the repository built into a temporary folder (two jobs, with code)."""
    out = tmp_path_factory.mktemp("reports")
    outcomes = build(Project(REPO), out=out, jobs=2, with_code=True, echo=lambda line: None)
    return out, outcomes


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/<review>.csv from this run's results")
