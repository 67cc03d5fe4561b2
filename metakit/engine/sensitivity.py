"""Sensitivity analyses: leave-one-out, cumulative meta-analysis, influence diagnostics, Baujat
plot data, and re-running a model without studies picked by a rule (metafor's ``leave1out``,
``cumul``, ``influence``, ``baujat``).

Each function takes a fitted model from :func:`metakit.rma` and refits it with the same
τ² estimator, test and level, so its numbers agree with metafor 3.8-1.

References
----------
Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
meta-analysis. Research Synthesis Methods, 1(2), 112-125. doi:10.1002/jrsm.11
Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
heterogeneity in meta-analyses: Application to a meta-analysis of 65 trials. Statistics in
Medicine, 21(18), 2641-2652. doi:10.1002/sim.1221
Lau, J., Antman, E. M., Jimenez-Silva, J., Kupelnick, B., Mosteller, F., & Chalmers, T. C.
(1992). Cumulative meta-analysis of therapeutic trials for myocardial infarction. NEJM,
327(4), 248-254. doi:10.1056/NEJM199207233270406
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. doi:10.18637/jss.v036.i03
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from metakit.engine import _validation as v
from metakit.engine.bias import check_result
from metakit.engine.mh import PooledTablesResult, study_estimates
from metakit.engine.models import RMAResult, rma, sandwich

__all__ = ["baujat", "cumul", "exclude", "influence", "leave1out"]

_EPS = np.finfo(float).eps


Fit = RMAResult | PooledTablesResult


def _refit(result: Fit, keep: NDArray[np.bool_]) -> Fit | None:
    """The model refitted to ``keep``; ``None`` where it cannot be fitted (as metafor's
    ``try``, e.g. a moderator that becomes constant, or no events left in an MH fit).

    A single study left in a Hartung-Knapp model is fitted with a z-test, as metafor does
    (the "pooled" result is then that study's own estimate and Wald interval).
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", v.DataWarning)
            if result.test == "knha" and not result.is_regression and keep.sum() == 1:
                i = int(np.flatnonzero(keep)[0])
                return rma(result.yi[keep], result.vi[keep], method=result.method, test="z",
                           level=result.level, measure=result.measure, slab=[result.slab[i]],
                           ni=None if result.ni is None else result.ni[keep],
                           weighted=result.weighted,
                           tau2=result.tau2 if result.tau2_fixed else None)
            return result.refit(keep)
    except (ValueError, np.linalg.LinAlgError):
        return None


def _summary_row(fit: Fit | None, test: str) -> dict[str, float]:
    stat = "tval" if test == "knha" else "zval"
    names = ["k", "estimate", "se", stat, "pval", "ci_low", "ci_high", "q", "q_pval", "tau2",
             "i2", "h2", "pi_low", "pi_high"]
    if fit is None:
        return dict.fromkeys(names, np.nan)
    return {"k": fit.k, "estimate": fit.estimate, "se": fit.se, stat: fit.zval,
            "pval": fit.pval, "ci_low": fit.ci_low, "ci_high": fit.ci_high, "q": fit.q,
            "q_pval": fit.q_pval, "tau2": fit.tau2, "i2": fit.i2, "h2": fit.h2,
            "pi_low": fit.pi_low, "pi_high": fit.pi_high}


def leave1out(result: Fit) -> pd.DataFrame:
    """Leave-one-out analysis: the model refitted once without each study.

    Parameters
    ----------
    result : RMAResult or PooledTablesResult
        A model without moderators from :func:`metakit.rma`, or a Mantel-Haenszel or Peto
        fit (:func:`metakit.rma_mh`, :func:`metakit.rma_peto`; metafor's
        ``leave1out.rma.mh``/``.rma.peto``: ``tau2`` is 0 and there is no prediction
        interval, except for RevMan's random MH model), with at least 2 studies.

    Returns
    -------
    pandas.DataFrame
        One row per omitted study (index ``omitted``: the study label), columns ``k``,
        ``estimate``, ``se``, ``zval`` (``tval`` with Hartung-Knapp), ``pval``, ``ci_low``,
        ``ci_high``, ``q``, ``q_pval``, ``tau2``, ``i2`` (percent), ``h2``, ``pi_low``,
        ``pi_high`` (prediction interval; NaN for equal-effects models), all on the model
        scale. With two studies and Hartung-Knapp, the one study left is fitted with a z-test
        (as metafor).

    Raises
    ------
    ValueError
        For models with moderators or with one study.

    Notes
    -----
    As metafor's ``leave1out``, except that ``tau2`` (0) is kept for equal-effects models and
    the prediction interval is added.

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Research Synthesis Methods, 1(2), 112-125.
    """
    result = check_result("leave1out", result, intercept_only=True, min_k=2, tables=True)
    rows = []
    for i in range(result.k):
        keep = np.ones(result.k, bool)
        keep[i] = False
        rows.append(_summary_row(_refit(result, keep), result.test))
    frame = pd.DataFrame(rows, index=pd.Index(list(result.slab), name="omitted"))
    frame["k"] = frame["k"].astype("Int64")
    return frame


def cumul(result: Fit, order: ArrayLike | None = None, *,
          decreasing: bool = False) -> pd.DataFrame:
    """Cumulative meta-analysis: the model refitted to the first 1, 2, ..., k studies.

    Parameters
    ----------
    result : RMAResult or PooledTablesResult
        A model without moderators from :func:`metakit.rma`, or a Mantel-Haenszel or Peto
        fit (metafor's ``cumul.rma.mh``/``.rma.peto``).
    order : array_like, optional
        One sort key per study (e.g. publication year or sample size); studies are added in
        increasing order of the key (ties keep their original order), as metafor's
        ``cumul(res, order=...)``. Default: the order of the data.
    decreasing : bool
        Add studies in decreasing order of the key.

    Returns
    -------
    pandas.DataFrame
        One row per step (index ``study``: the label of the study added at that step), columns
        as :func:`leave1out`. The first step (one study) of a Hartung-Knapp model uses a z-test,
        as metafor.

    Raises
    ------
    ValueError
        For models with moderators or an ``order`` of the wrong length or with missing values.

    References
    ----------
    Lau, J., et al. (1992). NEJM, 327(4), 248-254.
    """
    result = check_result("cumul", result, intercept_only=True, tables=True)
    if order is None:
        idx = np.arange(result.k)
    else:
        keys = np.asarray(order)
        if keys.ndim != 1 or len(keys) != result.k:
            raise ValueError(f"order: expected one key per study ({result.k}), got shape "
                             f"{keys.shape}")
        if keys.dtype.kind in "fc" and np.isnan(keys).any():
            raise ValueError("order: missing value at "
                             f"{v._where(int(np.flatnonzero(np.isnan(keys))[0]), result.slab)}")
        if keys.dtype.kind == "O" and any(key is None for key in keys):
            raise ValueError("order: missing value")
        idx = np.argsort(keys, kind="stable")
        if decreasing:
            # R's order(decreasing=TRUE) is also stable: reverse ranks, not positions
            idx = np.lexsort((np.arange(result.k), -stats.rankdata(keys, method="dense")))
    rows = []
    for step in range(1, result.k + 1):
        rows.append(_summary_row(_refit_ordered(result, idx[:step]), result.test))
    frame = pd.DataFrame(rows, index=pd.Index([result.slab[i] for i in idx], name="study"))
    frame["k"] = frame["k"].astype("Int64")
    return frame


def _refit_ordered(result: Fit, idx: NDArray[np.intp]) -> Fit | None:
    # the fit does not depend on the order of the studies, only on which are included
    keep = np.zeros(result.k, bool)
    keep[idx] = True
    return _refit(result, keep)


def _deletion(result: Fit) -> list[Any]:
    fits = []
    for i in range(result.k):
        keep = np.ones(result.k, bool)
        keep[i] = False
        fits.append(_refit(result, keep))
    return fits


def _s2w(fit: RMAResult) -> float:
    """Hartung-Knapp scale factor of a fit (1 for z-tests), as metafor's ``s2w``: from the
    inverse-variance fit, whatever weights the coefficients use."""
    if fit.test != "knha":
        return 1.0
    w = 1 / (fit.vi + fit.tau2)
    beta = np.linalg.solve(fit.X.T @ (fit.X * w[:, None]), fit.X.T @ (w * fit.yi))
    rss = float(np.sum(w * (fit.yi - fit.X @ beta) ** 2))
    return rss / (fit.k - fit.p) if rss > _EPS else 0.0


def _hat_matrix(result: RMAResult) -> NDArray[np.float64]:
    """``H = X (X'AX)⁻¹ X'A`` with the fit's weights ``A`` (metafor's ``hatvalues``)."""
    a = result.model_weights()
    X = result.X
    return X @ np.linalg.solve(X.T @ (X * a[:, None]), (X * a[:, None]).T)


def influence(result: Fit) -> pd.DataFrame:
    """Outlier and influence diagnostics (metafor's ``influence(res)$inf`` and ``$dfbs``).

    Parameters
    ----------
    result : RMAResult or PooledTablesResult
        A model from :func:`metakit.rma` (moderators allowed) with at least 2 studies, or a
        Mantel-Haenszel or Peto fit (see Notes).

    Returns
    -------
    pandas.DataFrame
        One row per study (index ``study``) with

        ``rstudent``
            externally studentized residual: ``(yi - ŷ(-i)) / sqrt(vi + var ŷ(-i) + τ²(-i))``
            (``vi`` and ``τ²(-i)`` scaled by the Hartung-Knapp factor for ``knha`` models);
        ``dffits``
            change in the fitted value when study i is deleted, in standard deviations;
        ``cook_d``
            Cook's distance, ``(β - β(-i))' Var(β)⁻¹ (β - β(-i))`` over all coefficients;
        ``cov_r``
            covariance ratio ``det Var(β(-i)) / det Var(β)`` (< 1: study i reduces precision);
        ``tau2_del``, ``q_del``
            τ² and Cochran's Q without study i;
        ``hat``
            leverage, diagonal of ``X (X'WX)⁻¹ X'W``;
        ``weight``
            weight in percent;
        ``dfbs_<coef>``
            DFBETAS for each coefficient (``dfbs_intrcpt`` without moderators);
        ``influential``
            metafor's rule: ``|dffits| > 3 sqrt(p/(k-p))``, or ``P(χ²_p ≤ cook_d) > 0.5``, or
        ``hat > 3p/k``, or any ``|dfbs| > 1``.

    Raises
    ------
    ValueError
        If ``result`` is not a fitted model or has one study.

    Notes
    -----
    Deletions that cannot be fitted (e.g. a moderator becomes constant, or Hartung-Knapp with
    too few studies) give NaN for that study, and it is not flagged. With user weights or an
    unweighted model, ``hat``, ``dffits`` and the deleted variances use those weights, as
    metafor.

    For a Mantel-Haenszel or Peto fit metafor defines only the externally studentized
    residuals and the weights (``rstudent.rma.mh``, ``weights.rma.mh``): the frame has
    ``rstudent`` (``(yi - β(-i)) / sqrt(vi + τ²(-i) + Var β(-i))``, ``yi`` the study's
    inverse-variance estimate, NaN for double-zero tables; τ² is 0 but for RevMan's random MH
    model), ``estimate_del``, ``tau2_del``, ``q_del`` and ``weight`` (MH or Peto weights in
    percent).

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Research Synthesis Methods, 1(2), 112-125.
    Belsley, D. A., Kuh, E., & Welsch, R. E. (1980). Regression Diagnostics. Wiley.
    """
    result = check_result("influence", result, min_k=2, tables=True)
    if isinstance(result, PooledTablesResult):
        return _influence_tables(result)
    k, p, X = result.k, result.p, result.X
    beta, vb = result.beta, result.vb
    pred_full = X @ beta
    H = _hat_matrix(result)
    hat = np.diag(H).copy()
    hat[hat > 1 - 10 * _EPS] = 1.0
    vb_inv = np.linalg.inv(vb)
    det_full = np.linalg.det(vb)
    cols = {name: np.full(k, np.nan) for name in
            ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "q_del")}
    dfbs = np.full((k, p), np.nan)
    for i, fit in enumerate(_deletion(result)):
        if fit is None:
            continue
        s2w = _s2w(fit)
        tau2_del = fit.tau2
        delpred = float(X[i] @ fit.beta)
        vdelpred = float(X[i] @ fit.vb @ X[i])
        cols["tau2_del"][i] = tau2_del
        cols["q_del"][i] = fit.q
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = (hat[i] * (tau2_del + result.vi[i]) if result.standard_weights
                      else float(np.sum(H[i] ** 2 * (tau2_del + result.vi))))
            cols["dffits"][i] = (pred_full[i] - delpred) / np.sqrt(s2w * spread)
            vb_del = sandwich(X, result.model_weights(tau2_del), result.vi + tau2_del)
            dfb = beta - fit.beta
            dfbs[i] = dfb / np.sqrt(s2w * np.diag(vb_del))
            cols["cook_d"][i] = float(dfb @ vb_inv @ dfb)
            cols["cov_r"][i] = np.linalg.det(fit.vb) / det_full
            resid = result.yi[i] - delpred
            if abs(resid) < 100 * _EPS:
                resid = 0.0
            cols["rstudent"][i] = resid / np.sqrt(result.vi[i] * s2w + vdelpred
                                                  + tau2_del * s2w)
    frame = pd.DataFrame(cols, index=pd.Index(list(result.slab), name="study"))
    frame["hat"] = hat
    frame["weight"] = result.weights
    for j, name in enumerate(result.mod_names):
        frame[f"dfbs_{name}"] = dfbs[:, j]
    with np.errstate(invalid="ignore"):
        flagged = ((np.abs(frame["dffits"]) > 3 * np.sqrt(p / (k - p)))
                   | (stats.chi2.cdf(frame["cook_d"], df=p) > 0.5)
                   | (frame["hat"] > 3 * p / k)
                   | (np.abs(dfbs) > 1).any(axis=1))
    frame["influential"] = flagged.fillna(False).astype(bool)
    return frame


def _influence_tables(result: PooledTablesResult) -> pd.DataFrame:
    """rstudent and weights of a Mantel-Haenszel or Peto fit (metafor's ``rstudent.rma.mh``,
    ``rstudent.rma.peto``)."""
    measure = "PETO" if result.method == "Peto" else result.measure
    yi_kept, vi_kept, informative = study_estimates(measure, *result.tables.T)
    yi, vi = np.full(result.k, np.nan), np.full(result.k, np.nan)
    yi[informative], vi[informative] = yi_kept, vi_kept
    cols = {name: np.full(result.k, np.nan) for name in
            ("rstudent", "estimate_del", "tau2_del", "q_del")}
    for i, fit in enumerate(_deletion(result)):
        if fit is None:
            continue
        resid = yi[i] - fit.estimate
        if abs(resid) < 100 * _EPS:
            resid = 0.0
        cols["rstudent"][i] = resid / np.sqrt(vi[i] + fit.tau2 + fit.se**2)
        cols["estimate_del"][i] = fit.estimate
        cols["tau2_del"][i] = fit.tau2
        cols["q_del"][i] = fit.q
    frame = pd.DataFrame(cols, index=pd.Index(list(result.slab), name="study"))
    frame["weight"] = result.weights
    return frame


def baujat(result: RMAResult) -> pd.DataFrame:
    """Coordinates of the Baujat plot (metafor's ``baujat(res, plot=FALSE)``).

    Parameters
    ----------
    result : RMAResult
        A model from :func:`metakit.rma` (moderators allowed) with at least 2 studies.

    Returns
    -------
    pandas.DataFrame
        One row per study (index ``study``): ``x``, the study's contribution to the
        (residual) heterogeneity, ``(yi - ŷi)² / (vi + τ²)`` (its term in Cochran's Q for an
        equal-effects model); ``y``, its influence on the overall result,
        ``(ŷ(-i) - ŷi)² / Var ŷ(-i)``, where ``ŷ(-i)`` is the fitted value for study i from the
        model without it. Studies whose deletion cannot be fitted get ``y = NaN``.

    Raises
    ------
    ValueError
        If ``result`` is not a fitted model or has one study.

    References
    ----------
    Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). Statistics in Medicine, 21(18),
    2641-2652.
    """
    result = check_result("baujat", result, min_k=2)
    pred_full = result.X @ result.beta
    y = np.full(result.k, np.nan)
    for i, fit in enumerate(_deletion(result)):
        if fit is None:
            continue
        xi = result.X[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            y[i] = (float(xi @ fit.beta) - pred_full[i]) ** 2 / float(xi @ fit.vb @ xi)
    x = (result.yi - pred_full) ** 2 / (result.tau2 + result.vi)
    return pd.DataFrame({"x": x, "y": y}, index=pd.Index(list(result.slab), name="study"))


def exclude(result: RMAResult,
            drop: ArrayLike | Sequence[Any] | Callable[[str], bool]) -> RMAResult:
    """Re-run a model without the studies that a rule excludes.

    For sensitivity analyses such as "excluding studies at high risk of bias": the same
    τ² estimator, test, level, measure and moderators, fitted to the remaining studies.

    Parameters
    ----------
    result : RMAResult
        A model from :func:`metakit.rma`.
    drop : boolean mask, sequence of labels, or callable
        Which studies to exclude: a boolean array with one entry per study (True = exclude);
        a list of study labels (each must be in ``result.slab``); or a function called with
        each study label that returns True for studies to exclude.

    Returns
    -------
    RMAResult
        The refitted model (the same object when nothing is excluded).

    Raises
    ------
    ValueError
        If a label is unknown, the mask has the wrong length, no study remains, or the model
        cannot be fitted to what remains (e.g. a moderator becomes constant).

    Examples
    --------
    >>> low_risk = exclude(res, lambda study: rob[study] == "high")   # doctest: +SKIP
    >>> exclude(res, ["Smith 2010", "Lee 2015"])                      # doctest: +SKIP
    """
    result = check_result("exclude", result)
    labels = list(result.slab)
    if callable(drop):
        mask = np.array([_as_bool(drop(label), label) for label in labels], dtype=bool)
    else:
        if isinstance(drop, (str, bytes)):
            drop = [drop]
        values = np.asarray(drop, dtype=object)
        if values.ndim != 1:
            raise ValueError(f"drop: expected a 1-D mask or list of labels, got shape "
                             f"{values.shape}")
        if values.size and all(isinstance(x, (bool, np.bool_)) for x in values):
            if len(values) != result.k:
                raise ValueError(f"drop: a mask needs one entry per study ({result.k}), got "
                                 f"{len(values)}")
            mask = values.astype(bool)
        else:
            wanted = [str(x) for x in values]
            unknown = [x for x in wanted if x not in labels]
            if unknown:
                raise ValueError(f"drop: unknown study label {unknown[0]!r}; labels are "
                                 f"{', '.join(labels[:10])}{' ...' if len(labels) > 10 else ''}")
            mask = np.array([label in set(wanted) for label in labels], dtype=bool)
    if not mask.any():
        return result
    if mask.all():
        raise ValueError(f"exclude: no studies left after excluding all {result.k}")
    try:
        return result.refit(~mask)
    except ValueError as err:
        raise ValueError(f"exclude: the model cannot be refitted to the {int((~mask).sum())} "
                         f"remaining studies: {err}") from None


def _as_bool(value: Any, label: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"drop: the function must return True or False, got {value!r} for "
                     f"study {label!r}")
