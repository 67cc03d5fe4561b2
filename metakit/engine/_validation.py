"""Input validation shared by every public function.

Each helper raises :class:`ValueError` whose message names the argument and, where it applies,
the offending study (0-based index, or the label when ``labels`` is given), as metafor does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from metakit.engine._text import quote


class DataWarning(UserWarning):
    """A result is undefined for some studies (set to NaN), and the warning says which and why."""


def _where(index: int, labels: Sequence[str] | None) -> str:
    return f"study {labels[index]!r}" if labels is not None else f"study index {index}"


def as_float_array(name: str, values: ArrayLike, *, labels: Sequence[str] | None = None,
                   allow_nan: bool = False, ndim: int = 1) -> NDArray[np.float64]:
    """Return ``values`` as a float array, rejecting text, wrong shapes and (unless allowed) NaN."""
    if values is None:
        raise ValueError(f"{name}: a value is required")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: values must be numbers, got {_first_non_number(values)}"
                         ) from None
    if array.ndim == 0 and ndim == 1:
        array = array.reshape(1)
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name}: no values given")
    if not allow_nan:
        bad = np.flatnonzero(~np.isfinite(array.ravel()))
        if bad.size:
            where = _where(int(bad[0]), labels) if ndim == 1 else f"position {int(bad[0])}"
            raise ValueError(f"{name}: missing or infinite value at {where}")
    return array


def _first_non_number(values: Any) -> str:
    """Where ``values`` first holds something that is not a number, and what (short)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        return quote(values)
    for i, value in enumerate(np.ravel(np.asarray(values, dtype=object))):
        try:
            float(value)
        except (TypeError, ValueError):
            return f"{quote(value)} at position {i}"
    return quote(values)


def same_length(labels: Sequence[str] | None = None, **arrays: NDArray[Any]) -> int:
    """Check that all arrays have the same length and return it."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"arguments differ in length: {detail}")
    k = next(iter(lengths.values()))
    if labels is not None and len(labels) != k:
        raise ValueError(f"slab: {len(labels)} labels for {k} studies")
    return k


def check_positive(name: str, array: NDArray[np.float64], *,
                   labels: Sequence[str] | None = None, strict: bool = True) -> None:
    """Reject values <= 0 (``strict``) or < 0."""
    bad = np.flatnonzero(array <= 0 if strict else array < 0)
    if bad.size:
        i = int(bad[0])
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name}: must be {bound}, got {array[i]:g} at {_where(i, labels)}")


def check_integer(name: str, array: NDArray[np.float64], *,
                  labels: Sequence[str] | None = None) -> None:
    """Reject counts that are not whole numbers."""
    bad = np.flatnonzero(array != np.round(array))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: counts must be whole numbers, got {array[i]:g} at "
                         f"{_where(i, labels)}")


def check_counts(events_name: str, events: NDArray[np.float64], total_name: str,
                 total: NDArray[np.float64], *, labels: Sequence[str] | None = None) -> None:
    """Counts are whole, non-negative and ``events <= total``."""
    check_integer(events_name, events, labels=labels)
    check_integer(total_name, total, labels=labels)
    check_positive(events_name, events, labels=labels, strict=False)
    check_positive(total_name, total, labels=labels)
    bad = np.flatnonzero(events > total)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{events_name}: {events[i]:g} events exceed {total_name} = {total[i]:g} "
                         f"at {_where(i, labels)}")


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (exact match)."""
    if value not in choices:
        raise ValueError(f"{name}: unknown value {value!r}; choose one of {', '.join(choices)}")
    return value


def check_number(name: str, value: Any, *, minimum: float | None = None,
                 strict: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool or text).

    ``minimum`` (with ``strict`` for ``>``) bounds it from below.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise ValueError(f"{name}: must be a number, got {quote(value)}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name}: must be a finite number, got {number!r}")
    if minimum is not None and (number <= minimum if strict else number < minimum):
        bound = ">" if strict else ">="
        raise ValueError(f"{name}: must be {bound} {minimum:g}, got {number:g}")
    return number


def check_level(level: Any) -> float:
    """Confidence level in percent (metafor's reading of ``level``).

    A level in (0, 1) is read as a proportion (``0.95`` is 95%), as metafor does; a level in
    [1, 100) is a percentage. Booleans, text, NaN and values outside (0, 100) are rejected.
    """
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, (int, float, np.integer,
                                                                      np.floating)) \
            or not 0 < level < 100:
        raise ValueError(f"level: must be a percentage between 0 and 100 (or a proportion "
                         f"below 1), got {quote(level)}")
    return round(float(level) * 100, 10) if level < 1 else float(level)


MAX_MAGNITUDE = 1e50
"""Largest ``|yi|`` and ``vi`` (and ``1/vi``) accepted: beyond it squares and weighted sums of
the estimating equations overflow double precision, so such data are rejected up front."""


def check_magnitude(name: str, array: NDArray[np.float64], *,
                    labels: Sequence[str] | None = None, reciprocal: bool = False) -> None:
    """Reject values whose magnitude (or, with ``reciprocal``, inverse) exceeds
    :data:`MAX_MAGNITUDE`: a unit error (e.g. variances in the wrong scale), not data."""
    size = np.abs(array)
    bad = np.flatnonzero((size > MAX_MAGNITUDE) | (reciprocal & (size < 1 / MAX_MAGNITUDE)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: {array[i]:.3g} at {_where(i, labels)} is outside the range "
                         f"metakit can fit (magnitudes from {1 / MAX_MAGNITUDE:g} to "
                         f"{MAX_MAGNITUDE:g}); check the units of the data")


def effects_and_variances(yi: ArrayLike, vi: ArrayLike, slab: Sequence[Any] | None
                          ) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str] | None]:
    """``(yi, vi, labels)`` of a model's studies: numbers of one length, positive variances and
    magnitudes a fit can handle (:func:`check_magnitude`), errors naming the study."""
    y = as_float_array("yi", yi)
    labels = labels_or_none(slab, len(y))
    var = as_float_array("vi", vi, labels=labels)
    same_length(yi=y, vi=var)
    check_positive("vi", var, labels=labels)
    check_magnitude("yi", y, labels=labels)
    check_magnitude("vi", var, labels=labels, reciprocal=True)
    return y, var, labels


def keyword_only(func: str, args: tuple[Any, ...], names: str) -> None:
    """Reject positional arguments of a function whose data must be named (``names``)."""
    if args:
        raise ValueError(f"{func}: pass the counts by name ({names}); {len(args)} positional "
                         "argument(s) given, and metakit does not guess their order")


def labels_or_none(slab: Sequence[Any] | None, k: int) -> list[str] | None:
    """Study labels as strings, checked against the number of studies."""
    if slab is None:
        return None
    labels = [str(s) for s in slab]
    if len(labels) != k:
        raise ValueError(f"slab: {len(labels)} labels for {k} studies")
    return labels
