"""metakit: re-derive, audit and re-run published meta-analyses.

Function names follow R's metafor so that meta-analysts recognise them. Submodules are imported
lazily, so ``import metakit`` stays fast and plotting libraries load only when a figure is drawn.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "escalc": "metakit.escalc",
    "rma": "metakit.models",
    "RMAResult": "metakit.models",
    "rma_mh": "metakit.mh",
    "rma_peto": "metakit.mh",
    "metaprop": "metakit.proportions",
    "subgroup": "metakit.subgroup",
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
    "audit": "metakit.audit",
    "plots": "metakit.plots",
    "cohort": "metakit.cohort",
    "results": "metakit.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module_name = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'metakit' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
