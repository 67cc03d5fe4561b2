"""Effect sizes and their sampling variances, as R's ``metafor::escalc``.

References
----------
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. doi:10.18637/jss.v036.i03
Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
estimators. Journal of Educational Statistics, 6(2), 107-128.
Freeman, M. F., & Tukey, J. W. (1950). Transformations related to the angular and the square
root. Annals of Mathematical Statistics, 21(4), 607-611.
Hedges, L. V., Gurevitch, J., & Curtis, P. S. (1999). The meta-analysis of response ratios in
experimental ecology. Ecology, 80(4), 1150-1156. (ROM)
Rothman, K. J., Greenland, S., & Lash, T. L. (2008). Modern Epidemiology (3rd ed.), chapter 14.
Lippincott Williams & Wilkins. (IRR, IRD)
Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced from a
small sample. Metron, 1, 3-32. (ZCOR)
Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during and
after myocardial infarction. Progress in Cardiovascular Diseases, 27(5), 335-371. (PETO)
Altman, D. G., & Bland, J. M. (2011). How to obtain the confidence interval from a P value.
BMJ, 343, d2090. (an estimate with its p-value)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from metakit.engine import _validation as v

from metakit.engine.measures import (  # noqa: F401  (re-exported: escalc's measures)
    BINARY,
    CONTINUOUS,
    CORRELATION,
    GENERIC,
    LOG_MEASURES,
    MEASURES,
    PROPORTION,
    RATES,
)
_NO_CORRECTION = frozenset({"PFT", "PAS"})
"""Measures defined for 0/n and n/n, to which metafor adds no continuity correction."""


def hedges_correction(df: ArrayLike) -> NDArray[np.float64]:
    """Exact small-sample correction ``J(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2))`` (Hedges, 1981)."""
    from scipy.special import gammaln  # scipy loads only when it is needed

    m = np.asarray(df, dtype=float)
    return np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))


def _continuity(cells: Sequence[NDArray], add: float, to: str) -> list[NDArray]:
    """Add ``add`` to every cell of a study with a zero cell (``only0``), or of all studies."""
    if to == "only0":
        zero = np.logical_or.reduce([cell == 0 for cell in cells])
    else:
        zero = np.full(cells[0].shape, to == "all")
    shift = np.where(zero, add, 0.0)
    return [cell + shift for cell in cells]


def _binary(measure: str, ai: NDArray, bi: NDArray, ci: NDArray, di: NDArray,
            add: float, to: str) -> tuple[NDArray, NDArray]:
    ai, bi, ci, di = _continuity((ai, bi, ci, di), add, to)
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / ai - 1 / n1 + 1 / ci - 1 / n2
        elif measure == "OR":
            yi = np.log(ai * di / (bi * ci))
            vi = 1 / ai + 1 / bi + 1 / ci + 1 / di
        elif measure == "PETO":
            n, events = n1 + n2, ai + ci
            variance = events * (bi + di) * (n1 / n) * (n2 / n) / (n - 1)
            yi, vi = (ai - events * n1 / n) / variance, 1 / variance
        else:
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return yi, vi


def _proportion(measure: str, xi: NDArray, ni: NDArray, add: float,
                to: str) -> tuple[NDArray, NDArray]:
    if measure == "PFT":
        yi = 0.5 * (np.arcsin(np.sqrt(xi / (ni + 1))) + np.arcsin(np.sqrt((xi + 1) / (ni + 1))))
        return yi, 1 / (4 * ni + 2)
    if measure == "PAS":
        return np.arcsin(np.sqrt(xi / ni)), 1 / (4 * ni)
    xi, mi = _continuity((xi, ni - xi), add, to)
    n = xi + mi
    p = xi / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PR":
            return p, p * (1 - p) / n
        return np.log(p / (1 - p)), 1 / (n * p) + 1 / (n * (1 - p))


def _rates(measure: str, x1i: NDArray, t1i: NDArray, x2i: NDArray, t2i: NDArray, add: float,
           to: str) -> tuple[NDArray, NDArray]:
    x1i, x2i = _continuity((x1i, x2i), add, to)
    r1, r2 = x1i / t1i, x2i / t2i
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "IRR":
            return np.log(r1) - np.log(r2), 1 / x1i + 1 / x2i
        return r1 - r2, r1 / t1i + r2 / t2i


def _double_zero(events: Sequence[NDArray], non_events: Sequence[NDArray] = ()) -> NDArray:
    """Studies with no events (or, given ``non_events``, only events) in both groups."""
    none = np.logical_and.reduce([e == 0 for e in events])
    if non_events:
        none |= np.logical_and.reduce([n == 0 for n in non_events])
    return none


def _from_pval(estimate: NDArray, pval: NDArray, log: bool,
               labels: list[str] | None) -> tuple[NDArray, NDArray]:
    """``yi`` and ``vi`` from an estimate and its two-sided p-value (z-test): ``se = |yi| / z``
    with ``z`` the normal quantile of ``1 - p/2`` (Altman & Bland, 2011)."""
    bad = np.flatnonzero(~((pval > 0) & (pval < 1)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"pval: must be strictly between 0 and 1 to give a standard error, got "
                         f"{pval[i]:g} at {v._where(i, labels)}")
    if log:
        v.check_positive("estimate", estimate, labels=labels)
        estimate = np.log(estimate)
    null = np.flatnonzero(estimate == 0)
    if null.size:
        i = int(null[0])
        raise ValueError(f"estimate: an estimate at the null ({'1' if log else '0'}) with p = "
                         f"{pval[i]:g} < 1 gives no standard error at {v._where(i, labels)}")
    from scipy.special import ndtri  # scipy loads only when it is needed

    se = np.abs(estimate) / -ndtri(pval / 2)  # the normal quantile, as scipy.stats.norm.isf
    return estimate, se**2


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
    from scipy.special import ndtri

    crit = -ndtri((1 - level / 100) / 2)  # the normal quantile, as scipy.stats.norm.isf
    se = (ci_high - ci_low) / (2 * crit)
    return estimate, se**2


def escalc(measure: str, *, ai: ArrayLike | None = None, bi: ArrayLike | None = None,
           ci: ArrayLike | None = None, di: ArrayLike | None = None,
           n1i: ArrayLike | None = None, n2i: ArrayLike | None = None,
           m1i: ArrayLike | None = None, sd1i: ArrayLike | None = None,
           m2i: ArrayLike | None = None, sd2i: ArrayLike | None = None,
           xi: ArrayLike | None = None, ni: ArrayLike | None = None,
           x1i: ArrayLike | None = None, t1i: ArrayLike | None = None,
           x2i: ArrayLike | None = None, t2i: ArrayLike | None = None,
           ri: ArrayLike | None = None,
           estimate: ArrayLike | None = None, ci_low: ArrayLike | None = None,
           ci_high: ArrayLike | None = None, pval: ArrayLike | None = None, level: float = 95,
           add: float = 0.5, to: str = "only0", drop00: bool = False,
           slab: Sequence[Any] | None = None, **passthrough: ArrayLike) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` (metafor's ``escalc``).

    Parameters
    ----------
    measure : str
        Two-group counts (``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``): ``RR``, ``OR`` (log
        scale), ``RD``, ``PETO`` (Peto's log odds ratio ``(a - E)/V``, variance ``1/V``).
        Arm means (``m1i, sd1i, n1i, m2i, sd2i, n2i``): ``MD``; ``SMD`` (Hedges' g with the exact
        correction ``J`` and metafor's large-sample variance ``1/n1 + 1/n2 + g²/(2(n1+n2))``);
        ``ROM`` (log ratio of means, variance ``sd1²/(n1 m1²) + sd2²/(n2 m2²)``; positive means).
        One group's events (``xi, ni``): ``PR``, ``PLO`` (logit), ``PFT`` (Freeman-Tukey
        double arcsine ``½[asin√(x/(n+1)) + asin√((x+1)/(n+1))]``, variance ``1/(4n+2)``),
        ``PAS`` (arcsine square root, variance ``1/(4n)``). Events and person-time per group
        (``x1i, t1i, x2i, t2i``): ``IRR`` (log incidence rate ratio, variance ``1/x1 + 1/x2``),
        ``IRD`` (rate difference, variance ``x1/t1² + x2/t2²``). Correlations (``ri, ni``):
        ``COR`` (variance ``(1-r²)²/(n-1)``), ``ZCOR`` (Fisher's z, variance ``1/(n-3)``).
        Reported results (``estimate`` with ``ci_low, ci_high`` or with ``pval``): any measure;
        ratio measures (``RR``, ``OR``, ``HR``, ``IRR``, ``ROM``, ``PETO``) go on the log scale,
        ``GEN`` is a generic measure on its printed scale.
    ai, bi, ci, di, n1i, n2i : array_like
        2x2 cell counts (events and non-events, treatment then control); ``n1i``/``n2i`` may
        replace ``bi``/``di``.
    m1i, sd1i, m2i, sd2i : array_like
        Arm means and standard deviations (with ``n1i``, ``n2i``).
    xi, ni : array_like
        Events and sizes for single proportions; ``ni`` is also the size for correlations.
    x1i, t1i, x2i, t2i : array_like
        Events and person-time in each group for ``IRR`` and ``IRD``.
    ri : array_like
        Correlation coefficients for ``COR`` and ``ZCOR``.
    estimate, ci_low, ci_high, pval : array_like
        A reported estimate with its confidence interval (``vi`` from the CI width at
        ``level``) or with its two-sided p-value (``vi = (|yi| / z_{p/2})²``, as Altman & Bland
        2011; many papers print only that).
    level : float
        Confidence level of the reported CIs (a proportion below 1 is read as such).
    add, to : float, {"only0", "all", "none"}
        Continuity correction for two-group counts, ``PR``, ``PLO``, ``IRR`` and ``IRD``: with
        ``"only0"`` ``add`` goes to every cell of a study with a zero cell (double-zero
        studies included unless ``drop00``), as metafor. ``PFT`` and ``PAS`` need none.
    drop00 : bool
        Two-group counts and rates: studies with no events (or, for counts, only events) in
        both groups get ``yi = vi = NaN`` (metafor's ``drop00=TRUE``); drop those rows
        (``frame.dropna()``) before pooling.
    slab : sequence, optional
        Study labels, used in error messages and kept as column ``slab``.
    **passthrough : array_like
        Further columns copied into the result (e.g. moderators).

    Returns
    -------
    pandas.DataFrame
        Columns ``yi``, ``vi`` (and ``slab`` and pass-through columns); ``attrs["measure"]``.

    Warns
    -----
    DataWarning
        When an effect size is undefined (e.g. a zero cell with ``to="none"``): its ``yi`` and
        ``vi`` are NaN (metafor recodes them to NA), and the warning names the studies.

    References
    ----------
    Viechtbauer (2010), doi:10.18637/jss.v036.i03; Hedges (1981); Freeman & Tukey (1950);
    Hedges, Gurevitch & Curtis (1999); Rothman, Greenland & Lash (2008); Fisher (1921);
    Yusuf et al. (1985); Altman & Bland (2011).
    """
    v.check_choice("measure", measure, MEASURES)
    if estimate is not None:
        return _generic(measure, estimate, ci_low, ci_high, pval, level, slab, passthrough)
    if measure in GENERIC:
        raise ValueError(f"measure {measure!r} needs arguments estimate and ci_low, ci_high "
                         "(or pval)")
    v.check_choice("to", to, ("only0", "all", "none"))
    add = v.check_number("add", add, minimum=0)
    if not isinstance(drop00, (bool, np.bool_)):
        raise ValueError(f"drop00: must be True or False, got {v.quote(drop00)}")

    def need(**named: ArrayLike | None) -> dict[str, NDArray[np.float64]]:
        missing = [name for name, value in named.items() if value is None]
        if missing:
            raise ValueError(f"measure {measure!r} needs argument(s) {', '.join(missing)}")
        return {name: v.as_float_array(name, value) for name, value in named.items()}

    dropped = None
    if measure in BINARY:
        cols, labels = _two_by_two(need, ai, bi, ci, di, n1i, n2i, slab)
        yi, vi = _binary(measure, cols["ai"], cols["bi"], cols["ci"], cols["di"], add, to)
        if drop00:
            dropped = _double_zero((cols["ai"], cols["ci"]), (cols["bi"], cols["di"]))
    elif measure in CONTINUOUS:
        cols = need(m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i)
        labels = v.labels_or_none(slab, v.same_length(**cols))
        for name in ("sd1i", "sd2i"):
            v.check_positive(name, cols[name], labels=labels)
        for name in ("n1i", "n2i"):
            _check_sizes(name, cols[name], 2, labels, who="each arm")
        n1, n2 = cols["n1i"], cols["n2i"]
        if measure == "MD":
            yi = cols["m1i"] - cols["m2i"]
            vi = cols["sd1i"] ** 2 / n1 + cols["sd2i"] ** 2 / n2
        elif measure == "ROM":
            for name in ("m1i", "m2i"):
                v.check_positive(name, cols[name], labels=labels)
            yi = np.log(cols["m1i"] / cols["m2i"])
            vi = (cols["sd1i"] ** 2 / (n1 * cols["m1i"] ** 2)
                  + cols["sd2i"] ** 2 / (n2 * cols["m2i"] ** 2))
        else:
            pooled = np.sqrt(((n1 - 1) * cols["sd1i"] ** 2 + (n2 - 1) * cols["sd2i"] ** 2)
                             / (n1 + n2 - 2))
            yi = hedges_correction(n1 + n2 - 2) * (cols["m1i"] - cols["m2i"]) / pooled
            vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    elif measure in RATES:
        cols = need(x1i=x1i, t1i=t1i, x2i=x2i, t2i=t2i)
        labels = v.labels_or_none(slab, v.same_length(**cols))
        for name in ("x1i", "x2i"):
            v.check_integer(name, cols[name], labels=labels)
            v.check_positive(name, cols[name], labels=labels, strict=False)
        for name in ("t1i", "t2i"):
            v.check_positive(name, cols[name], labels=labels)
        yi, vi = _rates(measure, cols["x1i"], cols["t1i"], cols["x2i"], cols["t2i"], add, to)
        if drop00:
            dropped = _double_zero((cols["x1i"], cols["x2i"]))
    elif measure in CORRELATION:
        cols = need(ri=ri, ni=ni)
        labels = v.labels_or_none(slab, v.same_length(**cols))
        bad = np.flatnonzero(np.abs(cols["ri"]) > 1)
        if bad.size:
            raise ValueError(f"ri: a correlation must lie in [-1, 1], got {cols['ri'][bad[0]]:g} "
                             f"at {v._where(int(bad[0]), labels)}")
        _check_sizes("ni", cols["ni"], 4 if measure == "ZCOR" else 2, labels)
        r, n = cols["ri"], cols["ni"]
        with np.errstate(divide="ignore"):
            yi, vi = (np.arctanh(r), 1 / (n - 3)) if measure == "ZCOR" else \
                (r, (1 - r**2) ** 2 / (n - 1))
    else:
        cols = need(xi=xi, ni=ni)
        labels = v.labels_or_none(slab, v.same_length(**cols))
        v.check_counts("xi", cols["xi"], "ni", cols["ni"], labels=labels)
        yi, vi = _proportion(measure, cols["xi"], cols["ni"], add, to)
    yi, vi = _undefined_to_nan(measure, yi, vi, labels, add, to)
    if dropped is not None:
        yi, vi = np.where(dropped, np.nan, yi), np.where(dropped, np.nan, vi)
    return _frame(measure, yi, vi, labels, passthrough)


def _two_by_two(need: Any, ai: ArrayLike | None, bi: ArrayLike | None, ci: ArrayLike | None,
                di: ArrayLike | None, n1i: ArrayLike | None, n2i: ArrayLike | None,
                slab: Sequence[Any] | None) -> tuple[dict[str, NDArray], list[str] | None]:
    """The four cells of each 2x2 table (from non-events or from totals), validated."""
    totals: list[tuple[str, str, NDArray]] = []
    if bi is None and n1i is not None:
        arm = need(ai=ai, n1i=n1i)
        cols = {"ai": arm["ai"], "bi": arm["n1i"] - arm["ai"]}
        totals.append(("ai", "n1i", arm["n1i"]))
    else:
        cols = need(ai=ai, bi=bi)
    if di is None and n2i is not None:
        arm = need(ci=ci, n2i=n2i)
        cols.update({"ci": arm["ci"], "di": arm["n2i"] - arm["ci"]})
        totals.append(("ci", "n2i", arm["n2i"]))
    else:
        cols.update(need(ci=ci, di=di))
    labels = v.labels_or_none(slab, v.same_length(**cols))
    for events, name, total in totals:
        v.check_counts(events, cols[events], name, total, labels=labels)
    for name, values in cols.items():
        v.check_integer(name, values, labels=labels)
        v.check_positive(name, values, labels=labels, strict=False)
    return cols, labels


def _check_sizes(name: str, sizes: NDArray, minimum: int, labels: list[str] | None,
                 who: str = "each study") -> None:
    v.check_integer(name, sizes, labels=labels)
    bad = np.flatnonzero(sizes < minimum)
    if bad.size:
        raise ValueError(f"{name}: {who} needs n >= {minimum}, got {sizes[bad[0]]:g} at "
                         f"{v._where(int(bad[0]), labels)}")


def _undefined_to_nan(measure: str, yi: NDArray, vi: NDArray, labels: list[str] | None,
                      add: float, to: str) -> tuple[NDArray, NDArray]:
    """NaN (with a warning naming the studies) where ``yi`` or ``vi`` is infinite or NaN."""
    bad = ~(np.isfinite(yi) & np.isfinite(vi))
    if not bad.any():
        return yi, vi
    where = [v._where(int(i), labels) for i in np.flatnonzero(bad)]
    shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
    reason = ("a zero count with no continuity correction" if measure not in _NO_CORRECTION
              else "a degenerate count")
    warnings.warn(f"escalc: {measure} is undefined at {shown} ({reason}: add={add:g}, "
                  f"to={to!r}); yi and vi are NaN there", v.DataWarning, stacklevel=3)
    return np.where(bad, np.nan, yi), np.where(bad, np.nan, vi)


def _generic(measure: str, estimate: ArrayLike, ci_low: ArrayLike | None,
             ci_high: ArrayLike | None, pval: ArrayLike | None, level: float,
             slab: Sequence[Any] | None, passthrough: dict[str, ArrayLike]) -> pd.DataFrame:
    log = measure in LOG_MEASURES
    if pval is not None and ci_low is None and ci_high is None:
        cols = {"estimate": v.as_float_array("estimate", estimate),
                "pval": v.as_float_array("pval", pval)}
        labels = v.labels_or_none(slab, v.same_length(**cols))
        yi, vi = _from_pval(cols["estimate"], cols["pval"], log, labels)
        return _frame(measure, yi, vi, labels, passthrough)
    if pval is not None:
        raise ValueError("pval: give either ci_low, ci_high or pval with estimate, not both")
    if ci_low is None or ci_high is None:
        raise ValueError("ci_low, ci_high: both bounds (or pval) are needed with estimate")
    cols = {name: v.as_float_array(name, value) for name, value in
            (("estimate", estimate), ("ci_low", ci_low), ("ci_high", ci_high))}
    labels = v.labels_or_none(slab, v.same_length(**cols))
    yi, vi = _from_ci(cols["estimate"], cols["ci_low"], cols["ci_high"], log,
                      v.check_level(level), labels)
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
