"""Small-study effects and publication bias (metafor's ``regtest``, ``ranktest``, ``trimfill``,
``fsn``) and Peters' regression test for binary outcomes.

Every function takes a fitted model from :func:`metakit.rma` (``fsn`` and ``peters`` also take
raw data), validates it, and follows metafor 3.8-1 so that the numbers agree with R; where
metakit departs from metafor the function's Notes say so.

References
----------
Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis detected
by a simple, graphical test. BMJ, 315(7109), 629-634. doi:10.1136/bmj.315.7109.629
Begg, C. B., & Mazumdar, M. (1994). Operating characteristics of a rank correlation test for
publication bias. Biometrics, 50(4), 1088-1101. doi:10.2307/2533446
Peters, J. L., Sutton, A. J., Jones, D. R., Abrams, K. R., & Rushton, L. (2006). Comparison of
two methods to detect publication bias in meta-analysis. JAMA, 295(6), 676-680.
doi:10.1001/jama.295.6.676
Duval, S., & Tweedie, R. (2000). Trim and fill: A simple funnel-plot-based method of testing
and adjusting for publication bias in meta-analysis. Biometrics, 56(2), 455-463.
doi:10.1111/j.0006-341X.2000.00455.x
Duval, S., & Tweedie, R. (2000). A nonparametric "trim and fill" method of accounting for
publication bias in meta-analysis. JASA, 95(449), 89-98. doi:10.1080/01621459.2000.10473905
Rosenthal, R. (1979). The file drawer problem and tolerance for null results. Psychological
Bulletin, 86(3), 638-641. doi:10.1037/0033-2909.86.3.638
Orwin, R. G. (1983). A fail-safe N for effect size in meta-analysis. Journal of Educational
Statistics, 8(2), 157-159. doi:10.3102/10769986008002157
Rosenberg, M. S. (2005). The file-drawer problem revisited: A general weighted method for
calculating fail-safe numbers in meta-analysis. Evolution, 59(2), 464-468.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. doi:10.18637/jss.v036.i03
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from metakit.engine import _validation as v
from metakit.engine.mh import PooledTablesResult
from metakit.engine.models import RMAResult, rma

__all__ = [
    "FsnResult",
    "PetersResult",
    "RanktestResult",
    "RegtestResult",
    "TrimfillResult",
    "fsn",
    "peters",
    "ranktest",
    "regtest",
    "trimfill",
]

PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
_LIMIT_PREDICTORS = ("sei", "vi", "ninv", "sqrtninv")


# ---------------------------------------------------------------------------- helpers
def check_result(func: str, result: Any, *, intercept_only: bool = False,
                 min_k: int = 1, tables: bool = False) -> Any:
    """Check that ``result`` is a fitted :class:`RMAResult` fit for ``func`` (or, with
    ``tables``, a Mantel-Haenszel or Peto fit, :class:`PooledTablesResult`).

    Raises ``ValueError`` naming ``func`` and the argument (the project convention).
    """
    kinds: tuple[type, ...] = (RMAResult, PooledTablesResult) if tables else (RMAResult,)
    if not isinstance(result, kinds):
        # ValueError, not TypeError: the project's contract for every input check
        what = "metakit.rma, rma_mh or rma_peto" if tables else "metakit.rma (RMAResult)"
        raise ValueError(f"{func}: result must be a fitted model from {what}, "  # noqa: TRY004
                         f"got {type(result).__name__}")
    if intercept_only and result.is_regression:
        raise ValueError(f"{func}: only for models without moderators (result has "
                         f"{result.p - 1} moderator(s))")
    if result.k < min_k:
        raise ValueError(f"{func}: needs at least {min_k} studies, got k = {result.k}")
    return result


def _wls(y: NDArray, X: NDArray, w: NDArray) -> tuple[NDArray, NDArray, int]:
    """Weighted least squares as R's ``lm(y ~ 0 + X, weights = w)``: coefficients, their
    standard errors (residual variance estimated) and residual degrees of freedom."""
    k, p = X.shape
    sw = np.sqrt(w)
    Xw, yw = X * sw[:, None], y * sw
    coef, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    df = k - p
    sigma2 = float(np.sum((yw - Xw @ coef) ** 2)) / df
    cov = sigma2 * np.linalg.inv(Xw.T @ Xw)
    return coef, np.sqrt(np.diag(cov)), df


def _full_rank(X: NDArray) -> bool:
    return np.linalg.matrix_rank(X) == X.shape[1]


# ---------------------------------------------------------------------------- regtest
@dataclass(frozen=True)
class RegtestResult:
    """Regression test for funnel-plot asymmetry (metafor's ``regtest``).

    Attributes
    ----------
    stat : float
        Test statistic of the coefficient of the predictor (``zval`` in metafor): t for
        ``model="lm"`` and Hartung-Knapp fits, z otherwise.
    pval : float
        Two-sided p-value (t-distribution with ``df`` degrees of freedom, or normal).
    df : int or None
        Residual degrees of freedom, ``k - p - 1``, of a t-test; ``None`` for a z-test.
    slope : float
        Coefficient of the predictor (the asymmetry term).
    estimate, ci_low, ci_high : float
        "Limit estimate": the intercept, i.e. the effect expected in a study with infinite
        precision, with its CI at the model's level (NaN with moderators or with a
        predictor that does not go to 0 with precision, ``ni``/``sqrtni``).
    predictor : str
        The predictor used (``"sei"`` is Egger's classic test).
    k : int
        Number of studies.
    model : {"lm", "rma"}
        Weighted regression with a multiplicative error (Egger), or meta-regression with the
        fit's τ² estimator (metafor's default).
    """

    stat: float
    pval: float
    df: int | None
    slope: float
    estimate: float
    ci_low: float
    ci_high: float
    predictor: str
    k: int
    model: str = "lm"

    @property
    def intercept(self) -> float:
        """Alias of :attr:`estimate` (the regression intercept)."""
        return self.estimate

    @property
    def statistic(self) -> float:
        """Alias of :attr:`stat` (statsmodels naming)."""
        return self.stat

    @property
    def pvalue(self) -> float:
        """Alias of :attr:`pval` (statsmodels naming)."""
        return self.pval

    def __str__(self) -> str:
        kind = "weighted regression" if self.model == "lm" else "meta-regression"
        stat = "z" if self.df is None else "t"
        df = "" if self.df is None else f", df = {self.df}"
        text = (f"Regression test for funnel plot asymmetry ({kind}, predictor "
                f"{self.predictor}): {stat} = {self.stat:.4f}{df}, p = {self.pval:.4f}")
        if np.isfinite(self.estimate):
            text += (f"\nLimit estimate (as {self.predictor} -> 0): {self.estimate:.4f} "
                     f"[{self.ci_low:.4f}, {self.ci_high:.4f}]")
        return text


def _predictor_column(func: str, predictor: str, result: RMAResult,
                      ni: ArrayLike | None) -> NDArray:
    predictor = v.check_choice("predictor", predictor, PREDICTORS)
    if predictor == "sei":
        return np.sqrt(result.vi)
    if predictor == "vi":
        return result.vi
    sizes = result.ni if ni is None else v.as_float_array("ni", ni, labels=result.slab)
    if sizes is None:
        raise ValueError(f"{func}: predictor {predictor!r} needs the sample sizes 'ni'")
    if len(sizes) != result.k:
        raise ValueError(f"ni: {len(sizes)} sample sizes for {result.k} studies")
    v.check_positive("ni", sizes, labels=result.slab)
    return {"ni": sizes, "ninv": 1 / sizes, "sqrtni": np.sqrt(sizes),
            "sqrtninv": 1 / np.sqrt(sizes)}[predictor]


def regtest(result: RMAResult, predictor: str = "sei", *, model: str = "lm",
            ni: ArrayLike | None = None) -> RegtestResult:
    """Regression test for funnel-plot asymmetry (small-study effects; metafor's ``regtest``).

    ``model="lm"`` (default) is the classic test of Egger et al. (1997), metafor's
    ``regtest(res, model="lm")``: a weighted least-squares regression of the effect sizes on
    their standard errors (plus any moderators of the model) with weights ``1/vi`` and a
    multiplicative residual variance; the t-test of the slope on ``k - p - 1`` degrees of
    freedom tests asymmetry, and the τ² of the fit plays no part. ``model="rma"`` (metafor's
    default) adds the predictor as a moderator to a meta-regression fitted like the model (τ²
    estimator, test, weights, level) and tests its coefficient with the model's z- or t-test.

    Parameters
    ----------
    result : RMAResult
        A model from :func:`metakit.rma` (moderators, if any, are kept in the regression).
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}
        ``"sei"`` (default) is Egger's test; ``"vi"`` the variance version; the others use
        the study sizes ``ni`` (``"ninv"``: regression on ``1/n``; see also :func:`peters`).
    model : {"lm", "rma"}
        Weighted regression (Egger's test) or meta-regression (see above).
    ni : array_like, optional
        Study sizes for the size-based predictors (default: ``result.ni``).

    Returns
    -------
    RegtestResult
        ``stat``, ``pval``, ``df``, ``slope`` and the limit estimate ``estimate`` (intercept)
        with ``ci_low``, ``ci_high``.

    Raises
    ------
    ValueError
        If ``result`` is not a fitted model, if there are fewer than ``p + 2`` studies (Egger's
        test needs at least 3), or if the predictor is collinear with the model's design.

    Notes
    -----
    With ``k < 10`` studies the test has little power (Sterne et al., 2011, BMJ 343:d4002).
    The default stays ``model="lm"``, the test papers cite as Egger's; metafor's default is
    ``"rma"``.

    References
    ----------
    Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). BMJ, 315, 629-634.
    Sterne, J. A. C., et al. (2011). Recommendations for examining and interpreting funnel
    plot asymmetry in meta-analyses of randomised controlled trials. BMJ, 343, d4002.
    Sterne, J. A. C., & Egger, M. (2005). Regression methods to detect publication and other
    bias in meta-analysis. In Publication Bias in Meta-Analysis (pp. 99-110). Wiley.
    """
    result = check_result("regtest", result)
    model = v.check_choice("model", model, ("lm", "rma"))
    if result.k < 3:
        raise ValueError(f"regtest: Egger's test needs at least 3 studies, got k = {result.k}")
    if result.k < result.p + 2:
        raise ValueError(f"regtest: with {result.p - 1} moderator(s) the test needs at least "
                         f"{result.p + 2} studies, got k = {result.k}")
    column = _predictor_column("regtest", predictor, result, ni)
    X = np.column_stack([result.X, column])
    if not _full_rank(X):
        raise ValueError(f"regtest: the predictor {predictor!r} is collinear with the model "
                         "(e.g. all studies have the same variance); the test is not estimable")
    p = result.p
    limit = predictor in _LIMIT_PREDICTORS and p == 1
    est = lo = hi = np.nan
    if model == "rma":
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = rma(result.yi, result.vi, method=result.method, test=result.test,
                      mods=X[:, 1:], level=result.level, weights=result.custom_weights,
                      weighted=result.weighted,
                      tau2=result.tau2 if result.tau2_fixed else None)
        stat, pval = float(fit.zval[p]), float(fit.pval[p])
        df = result.k - p - 1 if result.test == "knha" else None
        slope = float(fit.beta[p])
        if limit:
            est, lo, hi = float(fit.beta[0]), float(fit.ci_low[0]), float(fit.ci_high[0])
    else:
        coef, se, df = _wls(result.yi, X, 1 / result.vi)
        stat = float(coef[p] / se[p])
        pval = float(2 * stats.t.sf(abs(stat), df))
        slope = float(coef[p])
        if limit:
            crit = float(stats.t.isf((1 - result.level / 100) / 2, df))
            est = float(coef[0])
            lo, hi = est - crit * float(se[0]), est + crit * float(se[0])
    return RegtestResult(stat=stat, pval=pval, df=None if df is None else int(df),
                         slope=slope, estimate=est, ci_low=lo, ci_high=hi,
                         predictor=predictor, k=result.k, model=model)


# ---------------------------------------------------------------------------- ranktest
class RanktestResult(NamedTuple):
    """Begg and Mazumdar's rank correlation test: Kendall's ``tau`` and its ``pval``."""

    tau: float
    pval: float


def ranktest(result: RMAResult) -> RanktestResult:
    """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry.

    Kendall's τ (τ_b) between the standardized deviates ``(yi - θ) / sqrt(vi - 1/Σwi)`` (θ the
    inverse-variance weighted mean) and the sampling variances ``vi``, as metafor's
    ``ranktest``.

    Parameters
    ----------
    result : RMAResult
        A model without moderators from :func:`metakit.rma` (only ``yi`` and ``vi`` are used).

    Returns
    -------
    RanktestResult
        Named tuple ``(tau, pval)``; ``pval`` is two-sided.

    Raises
    ------
    ValueError
        If ``result`` is not a model without moderators or has fewer than 3 studies.

    Notes
    -----
    As R's ``cor.test(..., method="kendall", exact=TRUE)``: the exact null distribution when
    there are no ties, the normal approximation (no continuity correction, variance corrected
    for ties) otherwise. R's exact distribution overflows beyond 170 studies, where metafor
    3.8-1 returns NaN and recent metafor falls back to the normal approximation; metakit does
    the latter (``k > 170``).

    References
    ----------
    Begg, C. B., & Mazumdar, M. (1994). Biometrics, 50(4), 1088-1101.
    """
    result = check_result("ranktest", result, intercept_only=True)
    if result.k < 3:
        raise ValueError(f"ranktest: the rank correlation test needs at least 3 studies, "
                         f"got k = {result.k}")
    yi, vi = result.yi, result.vi
    wi = 1 / vi
    theta = np.sum(wi * yi) / np.sum(wi)
    with np.errstate(invalid="ignore", divide="ignore"):
        ystar = (yi - theta) / np.sqrt(vi - 1 / np.sum(wi))
    ties = len(np.unique(ystar)) < len(ystar) or len(np.unique(vi)) < len(vi)
    method = "exact" if not ties and result.k <= 170 else "asymptotic"
    res = stats.kendalltau(ystar, vi, method=method)
    return RanktestResult(tau=float(res.statistic), pval=float(res.pvalue))


# ---------------------------------------------------------------------------- Peters
@dataclass(frozen=True)
class PetersResult:
    """Peters' regression test for small-study effects with binary outcomes.

    Attributes
    ----------
    stat, pval, df : float, float, int
        t statistic of the slope on ``1/N``, its two-sided p-value and ``k - 2`` df.
    slope : float
        Coefficient of ``1/N``.
    estimate, se : float
        Intercept (log OR expected in an infinitely large study) and its standard error.
    weights : str
        ``"peters"`` (``S·F/N``) or ``"inverse-variance"`` (see :func:`peters`).
    k : int
        Number of studies.
    """

    stat: float
    pval: float
    df: int
    slope: float
    estimate: float
    se: float
    weights: str
    k: int

    def __str__(self) -> str:
        return (f"Peters' regression test (log OR on 1/N, {self.weights} weights): "
                f"t = {self.stat:.4f}, df = {self.df}, p = {self.pval:.4f}")


def peters(ai: ArrayLike | RMAResult, n1i: ArrayLike | None = None,
           ci: ArrayLike | None = None, n2i: ArrayLike | None = None, *,
           n: ArrayLike | None = None, slab: Any = None) -> PetersResult:
    """Peters' test for funnel-plot asymmetry in meta-analyses of odds ratios.

    Two ways to call it:

    ``peters(ai, n1i, ci, n2i)``
        From the 2x2 counts (events and totals per arm), as Peters et al. (2006): weighted
        linear regression of the log odds ratio (metafor's ``escalc("OR")``, 0.5 added to
        tables with a zero cell) on ``1/N`` (``N`` the total sample size) with weights
        ``S·F/N``, where ``S`` and ``F`` are the total numbers with and without the event; the
        t-test of the slope (``k - 2`` df) is the test.
    ``peters(result, n=N)``
        From a fitted model and total sample sizes, when counts are not at hand: the same
        regression on ``1/N`` but with inverse-variance weights ``1/vi`` (metafor's
        ``regtest(res, model="lm", predictor="ninv")``). Documented as an approximation to
        Peters' weights; ``weights`` in the result says which was used.

    Parameters
    ----------
    ai, ci : array_like
        Events in the experimental and control arm (or ``ai`` a fitted model, see above).
    n1i, n2i : array_like
        Arm sizes.
    n : array_like, optional
        Total sample sizes (only with a fitted model).
    slab : sequence, optional
        Study labels for error messages.

    Returns
    -------
    PetersResult

    Raises
    ------
    ValueError
        With fewer than 3 studies, invalid counts, or a study with no events (or no
        non-events) in both arms, for which Peters' weight ``S·F/N`` is 0.

    References
    ----------
    Peters, J. L., Sutton, A. J., Jones, D. R., Abrams, K. R., & Rushton, L. (2006). JAMA,
    295(6), 676-680.
    Moreno, S. G., et al. (2009). Assessment of regression-based methods to adjust for
    publication bias through a comprehensive simulation study. BMC Med Res Methodol, 9, 2.
    """
    if isinstance(ai, RMAResult):
        if n is None:
            raise ValueError("peters: with a fitted model pass the total sample sizes as n=")
        if any(x is not None for x in (n1i, ci, n2i)):
            raise ValueError("peters: pass either a fitted model with n=, or ai, n1i, ci, n2i")
        result = check_result("peters", ai, intercept_only=True)
        if result.k < 3:
            raise ValueError(f"peters: the test needs at least 3 studies, got k = {result.k}")
        sizes = v.as_float_array("n", n, labels=result.slab)
        if len(sizes) != result.k:
            raise ValueError(f"n: {len(sizes)} sample sizes for {result.k} studies")
        v.check_positive("n", sizes, labels=result.slab)
        yi, weights, N, kind = result.yi, 1 / result.vi, sizes, "inverse-variance"
    else:
        if n is not None:
            raise ValueError("peters: n= is only used with a fitted model; pass ai, n1i, ci, n2i")
        if n1i is None or ci is None or n2i is None:
            raise ValueError("peters: needs ai, n1i, ci and n2i (events and arm sizes)")
        a = v.as_float_array("ai", ai)
        labels = v.labels_or_none(slab, len(a))
        n1 = v.as_float_array("n1i", n1i, labels=labels)
        c = v.as_float_array("ci", ci, labels=labels)
        n2 = v.as_float_array("n2i", n2i, labels=labels)
        k = v.same_length(labels, ai=a, n1i=n1, ci=c, n2i=n2)
        v.check_counts("ai", a, "n1i", n1, labels=labels)
        v.check_counts("ci", c, "n2i", n2, labels=labels)
        if k < 3:
            raise ValueError(f"peters: the test needs at least 3 studies, got k = {k}")
        from metakit.engine.effect_sizes import escalc

        yi = escalc("OR", ai=a, n1i=n1, ci=c, n2i=n2)["yi"].to_numpy(dtype=float)
        N = n1 + n2
        S = a + c
        F = N - S
        bad = np.flatnonzero((S == 0) | (F == 0))
        if bad.size:
            where = v._where(int(bad[0]), labels)
            what = "events" if S[bad[0]] == 0 else "non-events"
            raise ValueError(f"peters: {where} has no {what} in either arm, so its weight "
                             "S*F/N is 0; drop it or use peters(result, n=...)")
        weights, kind = S * F / N, "peters"
    X = np.column_stack([np.ones(len(yi)), 1 / N])
    if not _full_rank(X):
        raise ValueError("peters: all studies have the same total sample size; "
                         "the test is not estimable")
    coef, se, df = _wls(yi, X, weights)
    stat = float(coef[1] / se[1])
    return PetersResult(stat=stat, pval=float(2 * stats.t.sf(abs(stat), df)), df=int(df),
                        slope=float(coef[1]), estimate=float(coef[0]), se=float(se[0]),
                        weights=kind, k=len(yi))


# ---------------------------------------------------------------------------- trim and fill
@dataclass(frozen=True, eq=False)
class TrimfillResult:
    """Trim-and-fill analysis (Duval & Tweedie, 2000).

    Attributes
    ----------
    k0 : int
        Estimated number of missing studies.
    se_k0 : float
        Standard error of ``k0`` (as metafor).
    side : {"left", "right"}
        Side of the funnel plot on which studies were imputed.
    estimator : {"L0", "R0"}
    estimate, se, ci_low, ci_high, pval, tau2 : float
        Summary of the model fitted to the observed plus filled studies (the original model
        when ``k0 == 0``).
    filled : pandas.DataFrame
        The imputed studies: ``yi``, ``vi`` (indexed ``Filled 1`` ... ``Filled k0``; empty when
        ``k0 == 0``), each the mirror image ``2·β - yi`` of an observed study about the
        estimate ``β`` of the trimmed data; ``mirrors`` names that study.
    result : RMAResult
        The fit of the augmented data (same method, test and level as the input model).
    p_k0 : float
        For ``R0``, the p-value of the test ``k0 = 0`` (Duval & Tweedie 2000, JASA); NaN for
        ``L0``.
    """

    k0: int
    se_k0: float
    side: str
    estimator: str
    filled: pd.DataFrame
    result: RMAResult
    p_k0: float

    @property
    def estimate(self) -> float:
        return float(self.result.estimate)

    @property
    def se(self) -> float:
        return float(self.result.se)

    @property
    def ci_low(self) -> float:
        return float(self.result.ci_low)

    @property
    def ci_high(self) -> float:
        return float(self.result.ci_high)

    @property
    def pval(self) -> float:
        return float(self.result.pval)

    @property
    def tau2(self) -> float:
        return float(self.result.tau2)

    @property
    def fill(self) -> NDArray[np.bool_]:
        """Mask over ``result.yi``: True for the filled studies (metafor's ``$fill``)."""
        return np.r_[np.zeros(self.result.k - self.k0, bool), np.ones(self.k0, bool)]

    def __str__(self) -> str:
        return (f"Trim-and-fill ({self.estimator}): estimated missing studies on the "
                f"{self.side} side: {self.k0} (SE = {self.se_k0:.4f})\n{self.result}")

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"


def _auto_side(result: RMAResult) -> str:
    """metafor's rule: fit ``yi ~ sqrt(vi)`` with the model's τ² estimator; a negative slope
    (small studies lean left, towards smaller effects) puts the missing studies on the right."""
    sei = np.sqrt(result.vi)
    if np.ptp(sei) == 0:
        raise ValueError("trimfill: all studies have the same variance, so the side cannot be "
                         "chosen automatically; pass side='left' or side='right'")
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = rma(result.yi, result.vi, method=result.method, mods=sei,
                  weights=result.custom_weights, weighted=result.weighted)
    return "right" if fit.beta[1] < 0 else "left"


def _trimmed_estimate(yi: NDArray, vi: NDArray, result: RMAResult,
                      weights: NDArray | None) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(rma(yi, vi, method=result.method, weights=weights,
                         weighted=result.weighted).beta[0])


def trimfill(result: RMAResult, estimator: str = "L0", side: str | None = None, *,
             maxiter: int = 100) -> TrimfillResult:
    """Duval and Tweedie's trim-and-fill method (metafor's ``trimfill``).

    Iteratively trims the ``k0`` most extreme studies from the side of the funnel plot with
    the excess, re-estimates the centre from the rest (same τ² estimator as the model),
    re-estimates ``k0`` with the ``L0`` or ``R0`` rank estimator until it no longer changes,
    then adds the mirror images of the trimmed studies and refits the model.

    Parameters
    ----------
    result : RMAResult
        A model without moderators from :func:`metakit.rma`.
    estimator : {"L0", "R0"}
        Estimator of the number of missing studies (``L0`` is metafor's default).
    side : {"left", "right"}, optional
        Side on which studies are missing. By default chosen as metafor does: from the sign of
        the slope of a meta-regression of ``yi`` on ``sqrt(vi)`` with the model's τ² estimator
        (a negative slope puts the missing studies on the right).
    maxiter : int
        Maximum number of iterations.

    Returns
    -------
    TrimfillResult
        ``k0``, ``side``, ``estimate``, ``ci_low``, ``ci_high``, ``tau2``, the ``filled``
        studies and the augmented fit ``result``.

    Raises
    ------
    ValueError
        For models with moderators, ``k < 3``, an unknown ``estimator``/``side``, or when
        the algorithm does not converge within ``maxiter`` iterations.

    Notes
    -----
    Deviations from metafor 3.8-1: the augmented model keeps the input model's ``test`` and
    ``level`` (metafor refits it with its defaults, ``test="z"``, ``level=95``, so that a
    Hartung-Knapp model got z-based intervals after filling but not when ``k0 = 0``). ``R0``
    when no study lies below the centre (all effects equal): metafor fails; metakit returns
    ``k0 = 0``.

    References
    ----------
    Duval, S., & Tweedie, R. (2000). Biometrics, 56(2), 455-463.
    Duval, S., & Tweedie, R. (2000). JASA, 95(449), 89-98.
    """
    result = check_result("trimfill", result, intercept_only=True)
    if result.k < 3:
        raise ValueError(f"trimfill: needs at least 3 studies, got k = {result.k}")
    estimator = v.check_choice("estimator", estimator, ("L0", "R0"))
    if side is None:
        side = _auto_side(result)
    else:
        side = v.check_choice("side", side, ("left", "right"))
    if not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise ValueError(f"maxiter: must be a positive integer, got {maxiter!r}")

    sign = -1.0 if side == "right" else 1.0
    flipped = sign * result.yi
    order = np.argsort(flipped, kind="stable")
    yi, vi = flipped[order], result.vi[order]
    wi = None if result.custom_weights is None else result.custom_weights[order]
    k = len(yi)

    k0, k0_prev, iteration = 0, -1, 0
    beta = np.nan
    se_k0 = np.nan
    while k0 != k0_prev:
        k0_prev = k0
        iteration += 1
        if iteration > maxiter:
            raise ValueError(f"trimfill: the algorithm did not converge in maxiter = {maxiter} "
                             "iterations")
        beta = _trimmed_estimate(yi[:k - k0], vi[:k - k0], result,
                                 None if wi is None else wi[:k - k0])
        centred = yi - beta
        ranks = stats.rankdata(np.abs(centred), method="ordinal")
        signed = np.sign(centred) * ranks
        if estimator == "R0":
            negative = -signed[signed < 0]
            if negative.size == 0 and not np.any(signed > 0):
                raw = 0.0
            else:
                raw = (k - (negative.max() if negative.size else 0)) - 1
            se_k0 = float(np.sqrt(2 * max(0.0, raw) + 2))
        else:
            Sr = float(signed[signed > 0].sum())
            raw = (4 * Sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * raw**3 + 27 * raw**2 + 17 * raw
                      - 18 * k * raw**2 - 18 * k * raw + 6 * k**2 * raw) / 24
            se_k0 = float(4 * np.sqrt(var_sr) / (2 * k - 1)) if var_sr >= 0 else np.nan
        k0 = int(max(0, _round_half_even(raw)))
        se_k0 = max(0.0, se_k0) if np.isfinite(se_k0) else se_k0
        k0 = min(k0, k - 1)

    if estimator == "R0":
        m = np.arange(-1, k0)
        from scipy.special import comb

        p_k0 = float(1 - np.sum(comb(m + 1, m + 1) * 0.5 ** (m + 2)))
    else:
        p_k0 = np.nan

    if k0 > 0:
        # mirror the k0 most extreme studies about the trimmed estimate, back on the data scale
        source = order[k - k0:]
        fill_yi = sign * (2 * beta - yi[k - k0:])
        fill_vi = vi[k - k0:]
        labels = [f"Filled {i + 1}" for i in range(k0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            augmented = rma(np.r_[result.yi, fill_yi], np.r_[result.vi, fill_vi],
                            method=result.method, test=result.test, level=result.level,
                            measure=result.measure, slab=list(result.slab) + labels,
                            ni=None if result.ni is None else np.r_[result.ni, result.ni[source]],
                            weights=None if wi is None else np.r_[result.custom_weights,
                                                                  wi[k - k0:]],
                            weighted=result.weighted)
        filled = pd.DataFrame({"yi": fill_yi, "vi": fill_vi,
                               "mirrors": [result.slab[i] for i in source]},
                              index=pd.Index(labels, name="study"))
    else:
        augmented = result
        filled = pd.DataFrame({"yi": np.empty(0), "vi": np.empty(0),
                               "mirrors": np.empty(0, dtype=object)},
                              index=pd.Index([], name="study", dtype=object))
    return TrimfillResult(k0=k0, se_k0=float(se_k0), side=side, estimator=estimator,
                          filled=filled, result=augmented, p_k0=p_k0)


def _round_half_even(x: float) -> float:
    """R's ``round`` (IEC 60559: halves to even), which is also numpy's."""
    return float(np.round(x))


# ---------------------------------------------------------------------------- fail-safe N
@dataclass(frozen=True)
class FsnResult:
    """Fail-safe N.

    Attributes
    ----------
    type : {"Rosenthal", "Orwin", "Rosenberg", "General"}
        The approach that was computed.
    fsnum : int
        Number of unpublished null studies that would bring the result to the threshold
        (rounded up as metafor).
    alpha : float
        Significance level (Rosenthal: one-sided; Rosenberg, General: two-sided).
    pval : float
        p-value of the observed combined test (Rosenthal, Rosenberg) or model (General), NaN
        for Orwin.
    meanes : float
        Mean effect size (Orwin: unweighted unless ``weighted``; Rosenberg: weighted; General:
        the model's estimate), NaN for Rosenthal.
    target : float
        Target effect size (Orwin; General when given), NaN otherwise.
    method : str or None
        General: the τ² estimator of the model.
    tau2 : float
        General: τ² of the model (NaN otherwise).
    estimate_fsn, tau2_fsn, pval_fsn : float
        General: estimate, τ² and p-value with the ``fsnum`` null studies added (NaN
        otherwise).
    """

    type: str
    fsnum: float
    alpha: float
    pval: float
    meanes: float
    target: float
    method: str | None = None
    tau2: float = np.nan
    estimate_fsn: float = np.nan
    tau2_fsn: float = np.nan
    pval_fsn: float = np.nan

    def __str__(self) -> str:
        text = f"Fail-safe N calculation using the {self.type} approach: {self.fsnum:g}"
        if self.type == "General" and self.fsnum > 0:
            text += (f" (with the file drawer: estimate {self.estimate_fsn:.4f}, tau^2 "
                     f"{self.tau2_fsn:.4f}, p = {self.pval_fsn:.4g})")
        return text


FSN_TYPES = ("Rosenthal", "Orwin", "Rosenberg", "General")
MAX_FSN = 10**7
"""Largest fail-safe N searched for (metafor's ``maxint``)."""


def fsn(yi: ArrayLike | RMAResult, vi: ArrayLike | None = None, type: str | None = None,
        target: float | None = None, alpha: float = 0.05, *, weighted: bool | None = None,
        method: str | None = None) -> FsnResult:
    """Fail-safe N (file-drawer analysis), as metafor's ``fsn``.

    Parameters
    ----------
    yi : array_like or RMAResult
        Effect sizes, or a fitted model without moderators (its ``yi`` and ``vi`` are used).
    vi : array_like
        Sampling variances (not with a model; not needed for unweighted Orwin).
    type : {"Rosenthal", "Orwin", "Rosenberg", "General"}, optional
        ``Rosenthal`` (1979): number of studies averaging ``z = 0`` needed to make Stouffer's
        combined one-sided test non-significant at ``alpha``. ``Orwin`` (1983): number of
        studies with effect 0 that would reduce the (unweighted, or with ``weighted=True``
        inverse-variance weighted) mean effect to ``target``. ``Rosenberg`` (2005): number of
        null studies (with the average weight) that make the weighted fixed-effect estimate
        non-significant (two-sided ``alpha``). ``General`` (metafor 4): number of studies with
        effect 0 and the harmonic mean of the sampling variances that, added to the model
        (its τ² estimator and weighting), make its estimate non-significant (two-sided
        ``alpha``) or, with ``target``, bring it down to ``target``. Default: ``"General"``
        for a fitted model (as metafor 4, which computes only that for a model), else
        ``"Rosenthal"``; ``type`` in the result says which was computed.
    target : float, optional
        Target effect (Orwin: default half the mean effect; General: none, i.e. the
        significance criterion). Its sign is matched to the mean.
    alpha : float
        Significance level, strictly between 0 and 1.
    weighted : bool, optional
        Orwin: inverse-variance weighted mean effect (default False). General: weighted model
        (default: as the fit, else True).
    method : str, optional
        General: τ² estimator (default: the fit's method, else ``"REML"``).

    Returns
    -------
    FsnResult
        ``fsnum`` (non-integer solutions are rounded up), plus ``pval``, ``meanes``, ``target``
        and, for General, the model with the file drawer added.

    Raises
    ------
    ValueError
        On invalid data or options; for General, on Hartung-Knapp fits or user weights (see
        Notes).

    Notes
    -----
    The fail-safe N is reported for completeness; it says nothing about bias itself and its
    use is discouraged (Cochrane Handbook, section 13.3.5.2). With a target of 0, Orwin's and
    the General N are infinite.

    General follows metafor 4's default (``exact=FALSE``): with ``n`` null studies of variance
    ``vt = 1/mean(1/vi)`` added, τ² is updated by pooling the model's τ² with the spread the
    added studies create, ``τ²(n) = [(k - 1 + max(0, n - 1)) τ² + k (μ - μn)² + n μn²] /
    (k + n - 1)``, ``μn = kμ / (k + n)`` (τ² kept when it was fixed, 0 for equal-effects
    models), and the estimate and its z-test are recomputed with weights ``1/(vi + τ²(n))``
    (or without weights); ``fsnum`` is the smallest ``n`` that meets the criterion (metafor 4
    searches for it with ``uniroot``; the values its test suite asserts are reproduced).
    metafor's exact variant (a refit on simulated studies, which it uses for Hartung-Knapp
    models) is random and not offered: for those, refit with ``test="z"``. metafor 4 also
    refuses models with user weights.

    References
    ----------
    Rosenthal, R. (1979). Psychological Bulletin, 86(3), 638-641.
    Orwin, R. G. (1983). Journal of Educational Statistics, 8(2), 157-159.
    Rosenberg, M. S. (2005). Evolution, 59(2), 464-468.
    Viechtbauer, W. (2024). metafor 4.6: fsn(type = "General"). https://www.metafor-project.org
    """
    fit = None
    if isinstance(yi, RMAResult):
        if vi is not None:
            raise ValueError("vi: not used when yi is a fitted model")
        fit = check_result("fsn", yi, intercept_only=True)
    kind = v.check_choice("type", type if type is not None else
                          ("General" if fit is not None else "Rosenthal"), FSN_TYPES)
    if target is not None and kind not in ("Orwin", "General"):
        raise ValueError(f"target: only used with type='Orwin' or 'General', not {kind!r}")
    if method is not None and kind != "General":
        raise ValueError(f"method: only used with type='General', not {kind!r}")
    if weighted is not None and kind not in ("Orwin", "General"):
        raise ValueError(f"weighted: only used with type='Orwin' or 'General', not {kind!r}")
    if weighted is not None and not isinstance(weighted, (bool, np.bool_)):
        raise ValueError(f"weighted: must be True or False, got {v.quote(weighted)}")
    if fit is not None:
        y, var = fit.yi, fit.vi
    else:
        if isinstance(yi, (str, bytes)):
            raise ValueError(f"yi: values must be numbers, got {yi!r}")  # noqa: TRY004
        y = v.as_float_array("yi", yi)
        if vi is None:
            if kind == "Orwin" and not weighted:
                var = np.ones_like(y)
            else:
                raise ValueError(f"vi: the sampling variances are needed for type {kind!r}")
        else:
            var = v.as_float_array("vi", vi)
            v.same_length(yi=y, vi=var)
            v.check_positive("vi", var)
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise ValueError(f"alpha: must be between 0 and 1, got {alpha!r}")
    if kind == "General":
        return _fsn_general(y, var, fit, target, float(alpha), weighted, method)
    k = len(y)
    pval = meanes = np.nan
    tgt = np.nan
    if kind == "Rosenthal":
        z_avg = abs(np.sum(y / np.sqrt(var)) / np.sqrt(k))
        pval = float(stats.norm.sf(z_avg))
        number = max(0.0, k * (z_avg / stats.norm.isf(alpha)) ** 2 - k)
    elif kind == "Orwin":
        meanes = float(np.sum(y / var) / np.sum(1 / var)) if weighted else float(np.mean(y))
        tgt = meanes / 2 if target is None else target
        if not isinstance(tgt, (int, float, np.floating)) or not np.isfinite(tgt):
            raise ValueError(f"target: must be a number, got {target!r}")
        tgt = float(tgt)
        if tgt == 0:
            number = np.inf
        else:
            if np.sign(tgt) != np.sign(meanes):
                tgt = -tgt
            number = max(0.0, k * (meanes - tgt) / tgt)
    else:
        wi = 1 / var
        meanes = float(np.sum(wi * y) / np.sum(wi))
        zval = meanes / np.sqrt(1 / np.sum(wi))
        wp = (np.sum(wi * y) / stats.norm.isf(alpha / 2)) ** 2 - np.sum(wi)
        pval = float(2 * stats.norm.sf(abs(zval)))
        number = max(0.0, k * wp / np.sum(wi))
    return FsnResult(type=kind, fsnum=_round_fsn(number), alpha=float(alpha), pval=pval,
                     meanes=meanes, target=tgt)


def _round_fsn(number: float) -> float:
    """Round up a non-integer solution (metafor's ``.rnd.fsn``)."""
    if np.isfinite(number) and abs(number - round(number)) >= np.sqrt(np.finfo(float).eps):
        return float(np.ceil(number))
    return float(round(number)) if np.isfinite(number) else number


def _fsn_general(y: NDArray, var: NDArray, fit: RMAResult | None, target: float | None,
                 alpha: float, weighted: bool | None, method: str | None) -> FsnResult:
    """metafor 4's ``fsn(type="General")`` with its default ``exact=FALSE`` (see :func:`fsn`)."""
    if fit is not None:
        if fit.test != "z":
            raise ValueError("fsn: type 'General' for a Hartung-Knapp fit needs metafor's "
                             "simulated file drawer; refit with test='z'")
        if fit.custom_weights is not None:
            raise ValueError("fsn: type 'General' is not defined for models with user weights")
    k = len(y)
    if k < 2:
        raise ValueError("fsn: type 'General' needs at least 2 studies")
    method = method if method is not None else (fit.method if fit is not None else "REML")
    weighted = weighted if weighted is not None else (fit.weighted if fit is not None else True)
    fixed = fit.tau2 if fit is not None and fit.tau2_fixed else None
    model = rma(y, var, method=method, weighted=weighted, tau2=fixed)
    est, tau2, pval = float(model.estimate), float(model.tau2), float(model.pval)
    vt = 1 / np.mean(1 / var)

    def with_drawer(n: int) -> tuple[float, float, float]:
        if model.is_fixed:
            tau2_n = 0.0
        elif fixed is not None:
            tau2_n = tau2
        else:
            mu_n = k * est / (k + n)
            tau2_n = max(0.0, ((k - 1 + max(0, n - 1)) * tau2 + k * (est - mu_n) ** 2
                               + n * mu_n**2) / (k + n - 1))
        if weighted:
            w_sum = np.sum(1 / (var + tau2_n)) + n / (vt + tau2_n)
            est_n = float(np.sum(y / (var + tau2_n)) / w_sum)
            z = est_n * np.sqrt(w_sum)
        else:
            est_n = float(np.sum(y) / (k + n))
            z = (k + n) * est_n / np.sqrt(np.sum(var + tau2_n) + n * (vt + tau2_n))
        return est_n, tau2_n, float(2 * stats.norm.sf(abs(z)))

    tgt = np.nan
    if target is None:
        def met(n: int) -> bool:
            return with_drawer(n)[2] >= alpha
        number = 0 if pval >= alpha else _smallest(met)
    else:
        tgt = v.check_number("target", target)
        if np.sign(tgt) != np.sign(est):
            tgt = -tgt
        if tgt == 0:
            number = np.inf
        elif abs(tgt) >= abs(est):
            number = 0
        else:
            def met(n: int) -> bool:
                return abs(with_drawer(n)[0]) <= abs(tgt)
            number = _smallest(met)
    est_n, tau2_n, pval_n = with_drawer(int(number)) if np.isfinite(number) else \
        (0.0, np.nan, 1.0)
    return FsnResult(type="General", fsnum=float(number), alpha=alpha, pval=pval, meanes=est,
                     target=tgt, method=method, tau2=tau2, estimate_fsn=est_n,
                     tau2_fsn=tau2_n, pval_fsn=pval_n)


def _smallest(met: Any) -> int:
    """Smallest ``n >= 1`` with ``met(n)`` (doubling, then bisection), at most :data:`MAX_FSN`."""
    high = 1
    while not met(high):
        if high >= MAX_FSN:
            return MAX_FSN
        high = min(2 * high, MAX_FSN)
    low = high // 2  # met(low) is false (or low == 0)
    while high - low > 1:
        mid = (low + high) // 2
        if met(mid):
            high = mid
        else:
            low = mid
    return high
