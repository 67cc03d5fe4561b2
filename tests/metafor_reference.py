"""Access to the metafor reference values (tests/fixtures/metafor_reference.json and
parity_reference.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE = Path(__file__).parent / "fixtures" / "metafor_reference.json"
PARITY = Path(__file__).parent / "fixtures" / "parity_reference.json"
RTOL = 1e-6
RTOL_ITERATIVE = 1e-4


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


@lru_cache(maxsize=1)
def parity() -> dict[str, Any]:
    """Values written by tests/fixtures/make_parity_fixtures.R."""
    return json.loads(PARITY.read_text())


def close(actual: Any, expected: Any, rtol: float = RTOL, atol: float = 1e-10) -> None:
    """Assert agreement; ``None`` in the fixture (R's NA/NULL) must be NaN here."""
    expected_arr = np.array(expected if expected is not None else np.nan, dtype=float)
    np.testing.assert_allclose(np.asarray(actual, dtype=float), expected_arr, rtol=rtol,
                               atol=atol, equal_nan=True)


def close_fields(actual: Any, expected: dict[str, Any], names: dict[str, str], **tol: float) -> None:
    """``close`` for each attribute (or column) of ``actual`` against its fixture key."""
    for ours, theirs in names.items():
        value = actual[ours] if hasattr(actual, "columns") else getattr(actual, ours)
        close(value, expected[theirs], **tol)
