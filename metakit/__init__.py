"""metakit: re-derive, audit and re-run published meta-analyses.

Function names follow R's metafor so that meta-analysts recognise them. Submodules are imported
lazily, so ``import metakit`` stays fast and plotting libraries load only when a figure is drawn.

The package is layered; a layer imports only the layers before it:

1. ``metakit.engine``: effect sizes, models, heterogeneity, bias and sensitivity (arrays in,
   result objects out);
2. ``metakit.audit``: checks of printed numbers;
3. ``metakit.plots``: figures;
4. ``metakit.workbook``: dossiers, the runner, the results table and report tables;
5. ``metakit.publish``: build, parameter files, provenance and HTML (never imported by notebooks).

The public names below (``metakit.rma``, ``metakit.audit``, ``metakit.results`` ...) stay stable
whatever module holds them.
"""

from __future__ import annotations

import importlib
import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "escalc": "metakit.engine.effect_sizes",
    "rma": "metakit.engine.models",
    "RMAResult": "metakit.engine.models",
    "rma_mh": "metakit.engine.mh",
    "rma_peto": "metakit.engine.mh",
    "metaprop": "metakit.engine.proportions",
    "rma_glmm": "metakit.engine.glmm",
    "rma_mv": "metakit.engine.multilevel",
    "subgroup": "metakit.engine.subgroups",
    "rma_batch": "metakit.engine.batch",
    "regtest": "metakit.engine.bias",
    "ranktest": "metakit.engine.bias",
    "peters": "metakit.engine.bias",
    "trimfill": "metakit.engine.bias",
    "fsn": "metakit.engine.bias",
    "leave1out": "metakit.engine.sensitivity",
    "cumul": "metakit.engine.sensitivity",
    "influence": "metakit.engine.sensitivity",
    "baujat": "metakit.engine.sensitivity",
    "exclude": "metakit.engine.sensitivity",
    "permutest": "metakit.engine.permutation",
    "DataWarning": "metakit.engine._validation",
    "load_review": "metakit.workbook.data",
}
_SUBMODULES = {
    "audit": "metakit.audit",
    "plots": "metakit.plots",
    "cohort": "metakit.engine.cohort",
    "results": "metakit.workbook.results",
    "data": "metakit.workbook.data",
    "scan": "metakit.scan",
}

__all__ = sorted(set(_EXPORTS) | set(_SUBMODULES))


class _PublicModules(MetaPathFinder, Loader):
    """Makes ``import metakit.results`` (and ``data``, ``cohort``) load the layered module."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        name = fullname.removeprefix("metakit.")
        if fullname.startswith("metakit.") and _SUBMODULES.get(name, fullname) != fullname:
            return ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return importlib.import_module(_SUBMODULES[spec.name.removeprefix("metakit.")])

    def exec_module(self, module: ModuleType) -> None:
        """The layered module is already executed."""


sys.meta_path.append(_PublicModules())


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'metakit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
