"""Effect sizes and their sampling variances, as R's ``metafor::escalc``.

References
----------
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. doi:10.18637/jss.v036.i03
Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
estimators. Journal of Educational Statistics, 6(2), 107-128.
Freeman, M. F., & Tukey, J. W. (1950). Transformations related to the angular and the square
root. Annals of Mathematical Statistics, 21(4), 607-611.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from metakit.engine import _validation as v

BINARY = ("RR", "OR", "RD")
CONTINUOUS = ("MD", "SMD")
PROPORTION = ("PR", "PLO", "PFT")
GENERIC = ("GEN", "HR")
MEASURES = BINARY + CONTINUOUS + PROPORTION + GENERIC
LOG_MEASURES = frozenset({"RR", "OR", "HR", "PETO"})
"""Ratio measures, analysed on the log scale and back-transformed with ``exp``."""


def hedges_correction(df: ArrayLike) -> NDArray[np.float64]:
    """Exact small-sample correction ``J(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2))`` (Hedges, 1981)."""
    m = np.asarray(df, dtype=float)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def _binary(measure: str, ai: NDArray, bi: NDArray, ci: NDArray, di: NDArray,
            add: float, to: str) -> tuple[NDArray, NDArray]:
    if to == "only0":
        zero = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    elif to == "all":
        zero = np.ones_like(ai, dtype=bool)
    else:
        zero = np.zeros_like(ai, dtype=bool)
    shift = np.where(zero, add, 0.0)
    ai, bi, ci, di = ai + shift, bi + shift, ci + shift, di + shift
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / ai - 1 / n1 + 1 / ci - 1 / n2
        elif measure == "OR":
            yi = np.log(ai * di / (bi * ci))
            vi = 1 / ai + 1 / bi + 1 / ci + 1 / di
        else:
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return yi, vi


def _proportion(measure: str, xi: NDArray, ni: NDArray, add: float,
                to: str) -> tuple[NDArray, NDArray]:
    if measure == "PFT":
        yi = 0.5 * (np.arcsin(np.sqrt(xi / (ni + 1))) + np.arcsin(np.sqrt((xi + 1) / (ni + 1))))
        return yi, 1 / (4 * ni + 2)
    mi = ni - xi
    if to == "only0":
        zero = (xi == 0) | (mi == 0)
    elif to == "all":
        zero = np.ones_like(xi, dtype=bool)
    else:
        zero = np.zeros_like(xi, dtype=bool)
    xi = xi + np.where(zero, add, 0.0)
    mi = mi + np.where(zero, add, 0.0)
    n = xi + mi
    p = xi / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PR":
            return p, p * (1 - p) / n
        return np.log(p / (1 - p)), 1 / (n * p) + 1 / (n * (1 - p))


def _from_ci(estimate: NDArray, ci_low: NDArray, ci_high: NDArray, log: bool, level: float,
             labels: list[str] | None) -> tuple[NDArray, NDArray]:
    bad = np.flatnonzero(~((ci_low <= estimate) & (estimate <= ci_high) & (ci_low < ci_high)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"ci_low/ci_high: the interval [{ci_low[i]:g}, {ci_high[i]:g}] does not bracket the "
            f"estimate {estimate[i]:g} at {v._where(i, labels)}")
    if log:
        for name, arr in (("estimate", estimate), ("ci_low", ci_low)):
            v.check_positive(name, arr, labels=labels)
        estimate, ci_low, ci_high = np.log(estimate), np.log(ci_low), np.log(ci_high)
    crit = stats.norm.isf((1 - level / 100) / 2)
    se = (ci_high - ci_low) / (2 * crit)
    return estimate, se**2


def escalc(measure: str, *, ai: ArrayLike | None = None, bi: ArrayLike | None = None,
           ci: ArrayLike | None = None, di: ArrayLike | None = None,
           n1i: ArrayLike | None = None, n2i: ArrayLike | None = None,
           m1i: ArrayLike | None = None, sd1i: ArrayLike | None = None,
           m2i: ArrayLike | None = None, sd2i: ArrayLike | None = None,
           xi: ArrayLike | None = None, ni: ArrayLike | None = None,
           estimate: ArrayLike | None = None, ci_low: ArrayLike | None = None,
           ci_high: ArrayLike | None = None, level: float = 95,
           add: float = 0.5, to: str = "only0", slab: Sequence[Any] | None = None,
           **passthrough: ArrayLike) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` (metafor's ``escalc``).

    Parameters
    ----------
    measure : {"RR", "OR", "RD", "MD", "SMD", "PR", "PLO", "PFT", "HR", "GEN"}
        ``RR``/``OR`` are returned on the log scale. ``SMD`` is Hedges' g with the exact
        correction ``J`` and metafor's large-sample variance ``1/n1 + 1/n2 + g²/(2(n1+n2))``.
        ``PFT`` is the Freeman-Tukey double arcsine ``½[asin√(x/(n+1)) + asin√((x+1)/(n+1))]``
        with variance ``1/(4n+2)``. Given ``estimate``, ``ci_low`` and ``ci_high`` instead of
        raw data, any measure is taken from the reported estimate and CI (``vi`` from the CI
        width); ratio measures (``RR``, ``OR``, ``HR``) go on the log scale. ``GEN`` is a
        generic measure on its printed scale.
    ai, bi, ci, di : array_like
        2x2 cell counts (events and non-events, treatment then control); ``n1i``/``n2i`` may
        replace ``bi``/``di``.
    m1i, sd1i, n1i, m2i, sd2i, n2i : array_like
        Arm means, standard deviations and sizes for ``MD`` and ``SMD``.
    xi, ni : array_like
        Events and sizes for single proportions.
    add, to : float, {"only0", "all", "none"}
        Continuity correction for ``RR``, ``OR``, ``RD``, ``PR`` and ``PLO``: with ``"only0"``
        ``add`` goes to every cell of a study with a zero cell (double-zero studies included,
        as metafor's default ``drop00=False``).
    level : float
        Confidence level of the reported CI for ``GEN``.
    slab : sequence, optional
        Study labels, used in error messages and kept as column ``slab``.
    **passthrough : array_like
        Further columns copied into the result (e.g. moderators).

    Returns
    -------
    pandas.DataFrame
        Columns ``yi``, ``vi`` (and ``slab`` and pass-through columns); ``attrs["measure"]``.

    References
    ----------
    Viechtbauer (2010), doi:10.18637/jss.v036.i03; Hedges (1981); Freeman & Tukey (1950).
    """
    v.check_choice("measure", measure, MEASURES)
    if estimate is not None:
        return _generic(measure, estimate, ci_low, ci_high, level, slab, passthrough)
    if measure in GENERIC:
        raise ValueError(f"measure {measure!r} needs arguments estimate, ci_low, ci_high")
    v.check_choice("to", to, ("only0", "all", "none"))
    if not np.isfinite(add) or add < 0:
        raise ValueError(f"add: must be a non-negative number, got {add!r}")

    def need(**named: ArrayLike | None) -> dict[str, NDArray[np.float64]]:
        missing = [name for name, value in named.items() if value is None]
        if missing:
            raise ValueError(f"measure {measure!r} needs argument(s) {', '.join(missing)}")
        return {name: v.as_float_array(name, value) for name, value in named.items()}

    if measure in BINARY:
        if bi is None and n1i is not None:
            a = need(ai=ai, n1i=n1i)
            cols = {"ai": a["ai"], "bi": a["n1i"] - a["ai"]}
            totals = ("n1i", a["n1i"])
        else:
            cols = need(ai=ai, bi=bi)
            totals = ("bi", None)
        if di is None and n2i is not None:
            c = need(ci=ci, n2i=n2i)
            cols.update({"ci": c["ci"], "di": c["n2i"] - c["ci"]})
            totals2 = ("n2i", c["n2i"])
        else:
            cols.update(need(ci=ci, di=di))
            totals2 = ("di", None)
        k = v.same_length(**cols)
        labels = v.labels_or_none(slab, k)
        for events, (name, total) in (("ai", totals), ("ci", totals2)):
            if total is not None:
                v.check_counts(events, cols[events], name, total, labels=labels)
        for name, values in cols.items():
            v.check_integer(name, values, labels=labels)
            v.check_positive(name, values, labels=labels, strict=False)
        yi, vi = _binary(measure, cols["ai"], cols["bi"], cols["ci"], cols["di"], add, to)
    elif measure in CONTINUOUS:
        cols = need(m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i)
        k = v.same_length(**cols)
        labels = v.labels_or_none(slab, k)
        for name in ("sd1i", "sd2i"):
            v.check_positive(name, cols[name], labels=labels)
        for name in ("n1i", "n2i"):
            v.check_integer(name, cols[name], labels=labels)
            bad = np.flatnonzero(cols[name] < 2)
            if bad.size:
                raise ValueError(f"{name}: each arm needs n >= 2, got {cols[name][bad[0]]:g} at "
                                 f"{v._where(int(bad[0]), labels)}")
        n1, n2 = cols["n1i"], cols["n2i"]
        if measure == "MD":
            yi = cols["m1i"] - cols["m2i"]
            vi = cols["sd1i"] ** 2 / n1 + cols["sd2i"] ** 2 / n2
        else:
            pooled = np.sqrt(((n1 - 1) * cols["sd1i"] ** 2 + (n2 - 1) * cols["sd2i"] ** 2)
                             / (n1 + n2 - 2))
            yi = hedges_correction(n1 + n2 - 2) * (cols["m1i"] - cols["m2i"]) / pooled
            vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    else:
        cols = need(xi=xi, ni=ni)
        k = v.same_length(**cols)
        labels = v.labels_or_none(slab, k)
        v.check_counts("xi", cols["xi"], "ni", cols["ni"], labels=labels)
        yi, vi = _proportion(measure, cols["xi"], cols["ni"], add, to)
    return _frame(measure, yi, vi, labels, passthrough)


def _generic(measure: str, estimate: ArrayLike, ci_low: ArrayLike | None,
             ci_high: ArrayLike | None, level: float, slab: Sequence[Any] | None,
             passthrough: dict[str, ArrayLike]) -> pd.DataFrame:
    if ci_low is None or ci_high is None:
        raise ValueError("ci_low, ci_high: both bounds are needed with estimate")
    cols = {name: v.as_float_array(name, value) for name, value in
            (("estimate", estimate), ("ci_low", ci_low), ("ci_high", ci_high))}
    k = v.same_length(**cols)
    labels = v.labels_or_none(slab, k)
    yi, vi = _from_ci(cols["estimate"], cols["ci_low"], cols["ci_high"],
                      measure in LOG_MEASURES, v.check_level(level), labels)
    return _frame(measure, yi, vi, labels, passthrough)


def _frame(measure: str, yi: NDArray, vi: NDArray, labels: list[str] | None,
           passthrough: dict[str, ArrayLike]) -> pd.DataFrame:
    out = pd.DataFrame({"yi": yi, "vi": vi})
    if labels is not None:
        out.insert(0, "slab", labels)
    for name, values in passthrough.items():
        column = np.asarray(values)
        if len(column) != len(out):
            raise ValueError(f"{name}: {len(column)} values for {len(out)} studies")
        out[name] = column
    out.attrs["measure"] = measure
    return out
