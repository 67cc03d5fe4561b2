"""The workbook layer: a review's dossier (data with provenance), the generic runner, the results
table and its verdicts, and the tables every report shows. Builds on :mod:`metakit.engine`,
:mod:`metakit.audit` and :mod:`metakit.plots`; notebooks call this layer.

``from metakit.workbook import run`` runs a review from its dossier
(:func:`metakit.workbook.runner.run`). Nothing heavy is imported until then, so the build can read
:mod:`metakit.workbook.contract` without pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run", "load_dossier"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from metakit.workbook.runner import run
        return run
    if name == "load_dossier":
        from metakit.workbook.dossier import load_dossier
        return load_dossier
    raise AttributeError(f"module 'metakit.workbook' has no attribute {name!r}")
