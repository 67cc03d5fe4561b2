"""metakit: re-derive, audit and re-run published meta-analyses.

Function names follow R's metafor so that meta-analysts recognise them. Submodules are imported
lazily, so ``import metakit`` stays fast and plotting libraries load only when a figure is drawn.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "escalc": "metakit.effect_sizes",
    "rma": "metakit.models",
    "RMAResult": "metakit.models",
    "rma_mh": "metakit.mh",
    "rma_peto": "metakit.mh",
    "metaprop": "metakit.proportions",
    "subgroup": "metakit.subgroups",
    "rma_batch": "metakit.batch",
    "regtest": "metakit.bias",
    "ranktest": "metakit.bias",
    "peters": "metakit.bias",
    "trimfill": "metakit.bias",
    "fsn": "metakit.bias",
    "leave1out": "metakit.sensitivity",
    "cumul": "metakit.sensitivity",
    "influence": "metakit.sensitivity",
    "baujat": "metakit.sensitivity",
    "exclude": "metakit.sensitivity",
    "load_review": "metakit.data",
}
_SUBMODULES = ("audit", "plots", "cohort", "results", "data")

__all__ = sorted(set(_EXPORTS) | set(_SUBMODULES))


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"metakit.{name}")
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'metakit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
