"""Three-level meta-analysis, estimates nested in studies (metafor ``rma.mv``, ``~ 1 | study/es``).

Estimate ``j`` of study ``i`` is ``y_ij = μ + u_i + w_ij + e_ij`` with ``u_i ~ N(0, σ₁²)``
(between studies), ``w_ij ~ N(0, σ₂²)`` (between estimates within a study) and
``e_ij ~ N(0, v_ij)`` (sampling error, known). Repeated time points or outcomes of the same
patients are thus not counted as independent studies. ``V`` is block-diagonal by study and each
block is ``diag(v + σ₂²) + σ₁² 11'``, so every quantity comes from the Sherman-Morrison identity in
``O(k)`` operations; the (restricted) likelihood is maximised with its exact gradient (scipy's
TNC, then Newton steps).

References
----------
Konstantopoulos, S. (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods, 2(1), 61-76. doi:10.1002/jrsm.35
Van den Noortgate, W., López-López, J. A., Marín-Martínez, F., & Sánchez-Meca, J. (2013).
Three-level meta-analysis of dependent effect sizes. Behavior Research Methods, 45(2), 576-594.
doi:10.3758/s13428-012-0261-6
Cheung, M. W.-L. (2014). Modeling dependent effect sizes with three-level meta-analyses: a
structural equation modeling approach. Psychological Methods, 19(2), 211-229.
Hardy, R. J., & Thompson, S. G. (1996). A likelihood approach to meta-analysis with random
effects. Statistics in Medicine, 15(6), 619-629.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. doi:10.18637/jss.v036.i03
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from metakit.engine import _validation as v
from metakit.engine.glmm import ScalarInference, maximise
from metakit.engine.heterogeneity import cochran_q

MV_METHODS = ("REML", "ML")
COMPONENTS = ("between-study", "within-study")


@dataclass(frozen=True)
class _Blocks:
    """The data, grouped by study (``group[j]`` is the study index of estimate ``j``)."""

    y: NDArray[np.float64]
    v: NDArray[np.float64]
    group: NDArray[np.intp]
    m: int

    def sums(self, values: NDArray) -> NDArray[np.float64]:
        """Per-study sums of ``values`` (length ``k``)."""
        return np.bincount(self.group, weights=values, minlength=self.m)


def _loglik(sigma2: NDArray, b: _Blocks, reml: bool) -> tuple[float, NDArray, float, float]:
    """(Restricted) log-likelihood with μ profiled out, its gradient in (σ₁², σ₂²), μ and var(μ)."""
    s1, s2 = float(sigma2[0]), float(sigma2[1])
    k = len(b.y)
    a = 1 / (b.v + s2)                        # D⁻¹, D = diag(v + σ₂²)
    s = b.sums(a)                             # 1ᵢ'D⁻¹1ᵢ
    c = s1 / (1 + s1 * s)                     # Vᵢ⁻¹ = D⁻¹ - c D⁻¹11'D⁻¹

    def vinv(z: NDArray) -> NDArray:
        az = a * z
        return az - a * (c * b.sums(az))[b.group]

    e = s / (1 + s1 * s)                      # 1ᵢ'Vᵢ⁻¹1ᵢ
    t = float(e.sum())                        # 1'V⁻¹1
    mu = float(vinv(b.y).sum()) / t
    vr = vinv(b.y - mu)                       # V⁻¹(y - μ) = P y
    logdet = float(np.sum(np.log(b.v + s2)) + np.sum(np.log1p(s1 * s)))
    rss = float((b.y - mu) @ vr)
    zvr = b.sums(vr)
    # traces of V⁻¹ (or P) times ZZ' and I; y'P A P y as squared norms
    tr_between = t
    tr_within = float(a.sum() - np.sum(c * b.sums(a**2)))
    if reml:
        v1 = vinv(np.ones(k))
        tr_between -= float(np.sum(e**2)) / t
        tr_within -= float(v1 @ v1) / t
        ll = (-0.5 * (k - 1) * np.log(2 * np.pi) + 0.5 * np.log(k) - 0.5 * logdet
              - 0.5 * np.log(t) - 0.5 * rss)
    else:
        ll = -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet - 0.5 * rss
    grad = 0.5 * np.array([zvr @ zvr - tr_between, vr @ vr - tr_within])
    return ll, grad, mu, 1 / t


def _maximise(b: _Blocks, reml: bool, fixed: tuple[int, float] | None = None,
              start: NDArray | None = None) -> tuple[NDArray, bool]:
    """(σ₁², σ₂²) maximising the (restricted) likelihood; with ``fixed``, one held at a value."""
    if start is None:
        start = np.full(2, max(float(np.var(b.y)) / 2, 0.01))
    free = [0, 1] if fixed is None else [1 - fixed[0]]

    def full(x: NDArray) -> NDArray:
        sigma2 = np.empty(2)
        sigma2[free] = x
        if fixed is not None:
            sigma2[fixed[0]] = fixed[1]
        return sigma2

    def loglik(x: NDArray) -> tuple[float, NDArray]:
        ll, grad, _, _ = _loglik(full(x), b, reml)
        return ll, grad[free]

    x, _, converged = maximise(loglik, start[free], np.zeros(len(free)))
    return full(x), converged


@dataclass(frozen=True)
class MVResult(ScalarInference):
    """A fitted three-level model (metafor's ``rma.mv`` with ``random = ~ 1 | study/es``).

    ``sigma2`` is (between-study σ₁², within-study σ₂²); ``sigma2_ci`` their profile-likelihood
    confidence intervals, computed on first use. ``q, q_df, q_pval`` is the test for residual
    heterogeneity ``QE``; ``tau2`` the total heterogeneity σ₁² + σ₂² and ``i2`` its share of the
    total variance (Cheung, 2014), both for results tables made for :func:`metakit.rma` fits.
    """

    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    study: list[str]
    slab: list[str]
    method: str
    sigma2: tuple[float, float]
    ll: float
    converged: bool

    @property
    def k(self) -> int:
        """Number of estimates."""
        return len(self.yi)

    @property
    def n_studies(self) -> int:
        return len(set(self.study))

    @property
    def tau2(self) -> float:
        return float(sum(self.sigma2))

    @cached_property
    def _typical_variance(self) -> float:
        return cochran_q(self.yi, self.vi, np.ones((self.k, 1)))[1]

    @property
    def i2(self) -> float:
        """Total I² (percent): σ₁² + σ₂² against the typical sampling variance (Cheung, 2014)."""
        return 100 * self.tau2 / (self.tau2 + self._typical_variance)

    @property
    def i2_levels(self) -> tuple[float, float]:
        """I² (percent) of each level: between studies, within studies."""
        total = self.tau2 + self._typical_variance
        return (100 * self.sigma2[0] / total, 100 * self.sigma2[1] / total)

    @cached_property
    def q(self) -> float:
        return cochran_q(self.yi, self.vi, np.ones((self.k, 1)))[0]

    @cached_property
    def sigma2_ci(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Profile-likelihood CIs of (σ₁², σ₂²) at ``level`` (metafor's ``confint``).

        A bound is where twice the drop in the (restricted) log-likelihood, maximised over the
        other component, reaches the χ²₁ quantile (Hardy & Thompson, 1996); a lower bound whose
        profile at 0 stays below it is 0, an upper bound beyond 1e8 is ``inf``. metafor's
        ``confint`` searches only up to ``max(10, 100 σ²)`` and, with its default ``tol``, to
        about 1e-4; its bound is then reported as missing or as that search limit.
        """
        return tuple(_profile_ci(self, r) for r in (0, 1))  # type: ignore[return-value]

    @property
    def model_label(self) -> str:
        return f"3-level RE ({self.method})" + (", t" if self.test == "t" else "")

    def to_record(self) -> dict[str, Any]:
        """One row for a results table."""
        return {"measure": self.measure, "model": self.model_label, "k": self.k,
                "n_studies": self.n_studies, "sigma2_between": self.sigma2[0],
                "sigma2_within": self.sigma2[1], "tau2": self.tau2, "i2": self.i2,
                "q": self.q, "q_df": self.q_df, "q_pval": self.q_pval,
                "estimate": self.estimate, "se": self.se, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "p_value": self.pval, "pi_low": self.pi_low,
                "pi_high": self.pi_high}

    def variance_frame(self) -> pd.DataFrame:
        """σ², σ and the profile-likelihood CI of each component, one row a level."""
        rows = [{"sigma2": s, "sigma": np.sqrt(s), "ci_low": lo, "ci_high": hi}
                for s, (lo, hi) in zip(self.sigma2, self.sigma2_ci)]
        return pd.DataFrame(rows, index=list(COMPONENTS))

    def __str__(self) -> str:
        s1, s2 = self.sigma2
        return "\n".join([
            f"Multivariate Meta-Analysis Model (k = {self.k} estimates in {self.n_studies} "
            f"studies; method: {self.method}; test: {self.test})", "",
            f"sigma^2.1 = {s1:.4f} (between studies)   sigma^2.2 = {s2:.4f} (within studies)",
            f"Q(df = {self.q_df}) = {self.q:.4f}, p = {self.q_pval:.4g}", "",
            self.summary_frame().round(4).to_string()])


def _profile_ci(res: MVResult, r: int) -> tuple[float, float]:
    b = _blocks(res.yi, res.vi, res.study)
    reml = res.method == "REML"
    crit = float(stats.chi2.isf(1 - res.level / 100, 1))
    estimate = res.sigma2[r]

    def excess(value: float) -> float:
        sigma2, _ = _maximise(b, reml, fixed=(r, value), start=np.asarray(res.sigma2))
        return 2 * (res.ll - _loglik(sigma2, b, reml)[0]) - crit

    lower = 0.0 if excess(0.0) <= 0 else optimize.brentq(excess, 0.0, estimate, xtol=1e-12,
                                                         rtol=1e-12)
    upper = max(10 * estimate, 1e-4)
    while excess(upper) < 0:
        if upper > 1e8:
            return (float(lower), np.inf)
        upper *= 10
    high = optimize.brentq(excess, estimate, upper, xtol=1e-12, rtol=1e-12)
    return (float(lower), float(high))


def _blocks(y: NDArray, v: NDArray, study: Sequence[str]) -> _Blocks:
    codes, uniques = pd.factorize(pd.Series(study), sort=False)
    return _Blocks(y, v, codes.astype(np.intp), len(uniques))


def rma_mv(yi: ArrayLike, vi: ArrayLike, study: Sequence[Any], method: str = "REML",
           test: str = "z", level: float = 95, *, measure: str | None = None,
           slab: Sequence[Any] | None = None) -> MVResult:
    """Three-level random-effects model: estimates nested in studies (metafor's ``rma.mv``).

    The same as ``rma.mv(yi, vi, random = ~ 1 | study/es)`` with ``es`` numbering the estimates.

    Parameters
    ----------
    yi, vi : array_like
        Estimates (model scale) and their sampling variances (> 0), one per row.
    study : sequence
        The study of each row; rows of one study share the between-study random effect.
    method : {"REML", "ML"}
        Restricted or full maximum likelihood for (σ₁², σ₂²).
    test : {"z", "t"}
        Normal, or t with ``k - 1`` df (metafor's ``test="t"``, ``dfs="residual"``).
    level : float
        Confidence level in percent (CIs, prediction interval and profile CIs).
    measure : str, optional
        The effect measure, for :meth:`~metakit.engine.glmm.ScalarInference.back_transform`.
    slab : sequence, optional
        Labels of the rows.

    Returns
    -------
    MVResult
        ``estimate, se, zval, pval, ci_low, ci_high, pi_low, pi_high``, ``sigma2`` (between,
        within), ``sigma2_ci`` (profile likelihood, lazy), ``q, q_df, q_pval`` (``QE``), ``k``,
        ``n_studies``, ``ll``, ``i2`` and ``i2_levels``.

    Notes
    -----
    The REML log-likelihood includes metafor's ``+ log|X'X| / 2`` term, so ``ll`` equals
    ``logLik(res)``. A variance component at the boundary is exactly 0 here, where metafor's
    log-scale optimiser stops at a tiny positive value.

    References
    ----------
    Konstantopoulos (2011), doi:10.1002/jrsm.35; Van den Noortgate et al. (2013),
    doi:10.3758/s13428-012-0261-6; Cheung (2014); Hardy & Thompson (1996).
    """
    method = v.check_choice("method", method, MV_METHODS)
    test = v.check_choice("test", test, ("z", "t"))
    level = v.check_level(level)
    y, var, labels = v.effects_and_variances(yi, vi, slab)
    if study is None or isinstance(study, str) or not np.iterable(study):
        raise ValueError(f"study: a label for every row is required, got {study!r}")
    groups = list(study)
    k = v.same_length(labels, yi=y, vi=var, study=np.asarray(groups, dtype=object))
    missing = [i for i, g in enumerate(groups) if g is None or (isinstance(g, float)
                                                                 and np.isnan(g))]
    if missing:
        where = f"row {labels[missing[0]]!r}" if labels else f"row index {missing[0]}"
        raise ValueError(f"study: missing study label at {where}")
    groups = [str(g) for g in groups]
    b = _blocks(y, var, groups)
    if b.m == k:
        raise ValueError("study: every study has one estimate, so the between- and within-study "
                         "variances cannot be told apart; use rma() for one estimate per study")
    if k < 3:
        raise ValueError(f"yi: {k} estimates cannot identify a mean and two variance components")

    sigma2, converged = _maximise(b, method == "REML")
    ll, _, mu, var_mu = _loglik(sigma2, b, method == "REML")
    return MVResult(beta=mu, vb=var_mu, level=level, test=test, measure=measure, yi=y, vi=var,
                    study=groups, slab=labels or [str(i + 1) for i in range(k)], method=method,
                    sigma2=(float(sigma2[0]), float(sigma2[1])), ll=ll, converged=converged)
