"""``metakit new REVIEW``: scaffold a review's dossier, notebook and parameter file.

A new paper is a new dossier, not new code: the generic notebook this writes runs any dossier
(:func:`metakit.workbook.run`) and shows its findings, data, published-versus-reproduced table,
forest plots, robustness re-runs and audit. Filling ``data/<review>/`` (``review.yaml``,
``published.csv``, the data files, ``analyses.yaml``, ``checks.yaml``) is all a new review needs;
the build finds it from ``notebooks/<review>.ipynb``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

KERNELSPEC = {"name": "metakit", "display_name": "Python (metakit)", "language": "python"}
"""The kernel every notebook declares (``make`` registers it; the build runs the same Python)."""

REVIEW_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScaffoldError(ValueError):
    """The review cannot be scaffolded (bad id, or files that already exist)."""


def write_notebook(path: Path, cells: Sequence[tuple[str, str]], *,
                   parameters: int | None = None) -> Path:
    """Write a notebook of ``(kind, source)`` cells (``"markdown"`` or ``"code"``), without
    outputs, declaring the metakit kernel; cell ``parameters`` (an index) is tagged
    ``parameters``. Cell ids are their positions, so rewriting a notebook changes no id."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": dict(KERNELSPEC),
                         "language_info": {"name": "python"}}
    for i, (kind, source) in enumerate(cells):
        maker = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = maker(source.strip("\n"))
        cell.id = f"c{i:03d}"
        if i == parameters:
            cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    return path


def generic_cells(review: str, title: str) -> list[tuple[str, str]]:
    """The cells of a notebook that shows any dossier (no review-specific code)."""
    return [
        ("markdown", f"# {title} (`{review}`)\n\nThis report is generated from the dossier "
                     f"`data/{review}/`: the paper's identity and stated rules (`review.yaml`), "
                     "every number it prints (`published.csv`), the study-level data, the "
                     "analyses that re-derive them (`analyses.yaml`) and the checks that tie "
                     "printed numbers together (`checks.yaml`)."),
        ("code", f'review = "{review}"\ndata_dir = ""\noutput_dir = ""'),
        ("code", "from metakit.workbook import run\n\nrv = run(review, data_dir)"),
        ("markdown", "## What was found"),
        ("code", "rv.findings()"),
        ("markdown", "## The question and the data\n\nEvery data file, with the sources its "
                     "values were read from."),
        ("code", "rv.sources()"),
        ("markdown", "## Published versus reproduced\n\nEvery printed result once, with its "
                     "verdict; `new` rows are analyses the paper did not report."),
        ("code", "rv.results_table()"),
        ("markdown", "## Forest plots"),
        ("code", "rv.forests()"),
        ("markdown", "## Robustness\n\nThe analyses flagged in `analyses.yaml` under REML with "
                     "the Hartung-Knapp adjustment and a prediction interval, beside the "
                     "authors' model."),
        ("code", "rv.robustness_table()"),
        ("markdown", "## Audit\n\nEvery check of the printed numbers that failed, "
                     "contradictions first."),
        ("code", "rv.audit_table()"),
        ("markdown", "Rows of the results table per verdict:"),
        ("code", "rv.counts()"),
        ("code", "rv.write(output_dir)"),
    ]


_REVIEW_YAML = """\
# The review's identity, the rules it states and the report's options (see CONTRACTS.md).
id: {review}
title: {title}
citation: >-
  Authors. Title. Journal, year.
doi:
design: meta-analysis
studies: ""
software: ""
source: the paper's title page and Methods
rules: {{}}
  # model: {{value: "random if I2 > 50%", source: "Methods, Statistical analysis"}}
"""

_PUBLISHED = ("analysis_id,section,outcome,measure,estimate,ci_low,ci_high,i2,k,source,subgroup,"
              "model,n,p_value,z,q,q_df,q_pval,tau2,note\n")

_ANALYSES = """\
# One entry per re-derivation (it answers rows of published.csv) or new analysis.
analyses: []
  # - id: main
  #   title: "Risk ratio, random effects (Fig. 2)"
  #   data: studies
  #   effect: {measure: RR, source: counts}      # columns ai, bi, ci, di (or n1i, n2i)
  #   model: {method: DL}
  #   answers: {overall: rr_main}
  #   robustness: true
"""

_CHECKS = """\
# Audit checks whose printed numbers come from several places, each with its source.
checks: []
  # - check: parts_sum
  #   label: "subgroup sizes add up to the total"
  #   args: {parts: ["@sub_a.n", "@sub_b.n"], total: "@main.n"}
  #   source: "Results, para 2"
"""

_README = """\
# Data dictionary: `{review}`

Every file of this dossier, every column, where its values come from. See `data/README.md`
for the rules shared by every review and `CONTRACTS.md` for the dossier's schema.
"""

_PARAMS = """\
# Parameters of notebooks/{review}.ipynb (its cell tagged "parameters"), read with yaml.safe_load.
review: {review}
# data_dir: the dossier folder, relative to the project root (default data/{review}).
"""


def new_review(root: Path, review: str, title: str | None = None) -> list[Path]:
    """Scaffold ``review`` under the project ``root``; return the files written.

    Raises
    ------
    ScaffoldError
        If ``review`` is not a lower-case identifier, or any of its files already exists
        (nothing is then written).
    """
    if not REVIEW_ID.match(review):
        raise ScaffoldError(f"REVIEW: {review[:40]!r} is not a review id (lower-case letters, "
                            f"digits and _, starting with a letter)")
    title = title or review.replace("_", " ").capitalize()
    data = root / "data" / review
    files = {
        data / "review.yaml": _REVIEW_YAML.format(review=review, title=title),
        data / "published.csv": _PUBLISHED,
        data / "analyses.yaml": _ANALYSES,
        data / "checks.yaml": _CHECKS,
        data / "README.md": _README.format(review=review),
        root / "params" / f"{review}.yaml": _PARAMS.format(review=review),
    }
    notebook = root / "notebooks" / f"{review}.ipynb"
    existing = [p for p in [*files, notebook] if p.exists()]
    if existing:
        raise ScaffoldError(f"{existing[0].relative_to(root)}: already exists; choose another "
                            f"review id or remove it")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    write_notebook(notebook, generic_cells(review, title), parameters=1)
    return [*files, notebook]
