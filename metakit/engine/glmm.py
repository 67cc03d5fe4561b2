"""Random-intercept logistic model for single proportions (metafor's ``rma.glmm(measure="PLO")``).

Each study's events follow ``x_i ~ Binomial(n_i, expit(β + τ u_i))`` with ``u_i ~ N(0, 1)``; β
(the pooled logit) and τ² are found by maximum likelihood, each study's marginal likelihood
approximated by adaptive Gauss-Hermite quadrature (AGQ) centred at the mode of its integrand and
scaled by the curvature there, as ``lme4::glmer`` does for metafor (``nAGQ = 7`` by default;
``nagq=1`` is the Laplace approximation). Studies with 0 or ``n`` events enter with their exact
binomial likelihood, with no continuity correction (Stijnen et al., 2010; Schwarzer et al., 2019).

Why a dedicated implementation: statsmodels' ``BinomialBayesMixedGLM`` fits a variational or
Laplace posterior, not the AGQ maximum likelihood that metafor and R's meta report, so this module
implements the one-dimensional quadrature (exact gradient, maximised with scipy's TNC and a Newton
polish) and nothing else.

References
----------
Stijnen, T., Hamza, T. H., & Özdemir, P. (2010). Random effects meta-analysis of event outcome in
the framework of the generalized linear mixed model with applications in sparse data. Statistics
in Medicine, 29(29), 3046-3067. doi:10.1002/sim.4040
Schwarzer, G., Chemaitelly, H., Abu-Raddad, L. J., & Rücker, G. (2019). Seriously misleading
results using inverse of Freeman-Tukey double arcsine transformation in meta-analysis of single
proportions. Research Synthesis Methods, 10(3), 476-483. doi:10.1002/jrsm.1348
Liu, Q., & Pierce, D. A. (1994). A note on Gauss-Hermite quadrature. Biometrika, 81(3), 624-629.
Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models
using lme4. Journal of Statistical Software, 67(1), 1-48. doi:10.18637/jss.v067.i01
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. doi:10.18637/jss.v036.i03
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from metakit.engine import _validation as v
from metakit.engine.effect_sizes import escalc
from metakit.engine.heterogeneity import cochran_q
from metakit.engine.transforms import back_transform

NAGQ = 7
"""Quadrature points per study, metafor's ``rma.glmm`` default (``nAGQ = 7``)."""


@dataclass(frozen=True)
class ScalarInference:
    """z- or t-based inference for one pooled coefficient (shared by the GLMM and ``rma_mv``).

    Besides ``beta`` (the estimate), ``vb`` (its variance), ``level``, ``test`` (``"z"`` or
    ``"t"`` on ``k - 1`` df) and ``measure``, subclasses provide ``k`` (number of estimates),
    ``tau2`` (the heterogeneity added in the prediction interval) and ``q`` (a heterogeneity
    statistic on ``k - 1`` df).
    """

    beta: float
    vb: float
    level: float
    test: str
    measure: str | None

    @property
    def dfs(self) -> int | None:
        """Degrees of freedom of the t-distribution (``test="t"``), else ``None``."""
        return self.k - 1 if self.test == "t" else None  # type: ignore[attr-defined]

    @property
    def q_df(self) -> int:
        return self.k - 1  # type: ignore[attr-defined]

    @property
    def q_pval(self) -> float:
        return float(stats.chi2.sf(self.q, self.q_df))  # type: ignore[attr-defined]

    @property
    def estimate(self) -> float:
        return self.beta

    @property
    def se(self) -> float:
        return float(np.sqrt(self.vb))

    @property
    def zval(self) -> float:
        return self.beta / self.se

    @property
    def pval(self) -> float:
        z = abs(self.zval)
        return float(2 * (stats.norm.sf(z) if self.dfs is None else stats.t.sf(z, self.dfs)))

    def _crit(self) -> float:
        alpha = 1 - self.level / 100
        return float(stats.norm.isf(alpha / 2) if self.dfs is None
                     else stats.t.isf(alpha / 2, self.dfs))

    @property
    def ci_low(self) -> float:
        return self.beta - self._crit() * self.se

    @property
    def ci_high(self) -> float:
        return self.beta + self._crit() * self.se

    @property
    def pi_low(self) -> float:
        """Prediction interval for the true effect in a new study (metafor's ``predict``)."""
        return self.beta - self._crit() * self._pi_se

    @property
    def pi_high(self) -> float:
        return self.beta + self._crit() * self._pi_se

    @property
    def _pi_se(self) -> float:
        return float(np.sqrt(self.vb + self.tau2))  # type: ignore[attr-defined]

    def back_transform(self) -> dict[str, float]:
        """Summary on the natural scale of ``measure`` (``expit`` for ``PLO``)."""
        values = {"estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high,
                  "pi_low": self.pi_low, "pi_high": self.pi_high}
        return {name: back_transform(self.measure, value) for name, value in values.items()}

    def summary_frame(self) -> pd.DataFrame:
        """One-row coefficient table: estimate, se, zval/tval, pval, ci_low, ci_high."""
        return pd.DataFrame({"estimate": [self.estimate], "se": [self.se],
                             "zval" if self.dfs is None else "tval": [self.zval],
                             "pval": [self.pval], "ci_low": [self.ci_low],
                             "ci_high": [self.ci_high]}, index=["intrcpt"])

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


@lru_cache(maxsize=16)
def _rule(nagq: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Probabilists' Gauss-Hermite nodes and ``log(weight) + z²/2`` (weights summing to 1)."""
    nodes, weights = hermegauss(nagq)
    return nodes, np.log(weights / np.sqrt(2 * np.pi)) + nodes**2 / 2


def _modes(beta: float, tau: float, x: NDArray, n: NDArray,
           start: NDArray) -> NDArray[np.float64]:
    """Mode of ``u ↦ x η - n log(1 + e^η) - u²/2`` with ``η = β + τu``, for every study.

    The derivative is decreasing and its root lies between ``τ(x - n)`` and ``τx``: Newton steps
    from ``start`` (the modes at the previous parameters), bisecting whenever a step leaves that
    bracket.
    """
    lo, hi = np.minimum(tau * (x - n), tau * x), np.maximum(tau * (x - n), tau * x)
    u = np.clip(start, lo, hi)
    for _ in range(200):
        p = special.expit(beta + tau * u)
        slope = tau * (x - n * p) - u
        step = slope / (tau**2 * n * p * (1 - p) + 1)
        if np.max(np.abs(step) / (1 + np.abs(u))) <= 1e-11:
            return u + step
        lo = np.where(slope > 0, u, lo)
        hi = np.where(slope < 0, u, hi)
        new = u + step
        u = np.where((new < lo) | (new > hi), (lo + hi) / 2, new)
    return u


def _loglik(theta: NDArray, x: NDArray, n: NDArray, nagq: int,
            modes: NDArray) -> tuple[float, NDArray[np.float64]]:
    """AGQ log-likelihood (without the binomial coefficients) and its exact gradient.

    The gradient follows the mode ``û`` and the scale ``σ = h^(-1/2)`` through β and τ by
    implicit differentiation of the mode equation. ``modes`` holds the last modes found (the
    start of the next search) and is updated in place.
    """
    beta, tau = float(theta[0]), float(theta[1])
    z, logw = _rule(nagq)
    u_hat = modes[:] = _modes(beta, tau, x, n, modes)
    p_hat = special.expit(beta + tau * u_hat)
    s = n * p_hat * (1 - p_hat)
    h = tau**2 * s + 1
    sigma = 1 / np.sqrt(h)
    u = u_hat[:, None] + sigma[:, None] * z
    eta = beta + tau * u
    a = logw + x[:, None] * eta - n[:, None] * np.logaddexp(0, eta) - u**2 / 2
    top = a.max(axis=1, keepdims=True)
    e = np.exp(a - top)
    total = e.sum(axis=1, keepdims=True)
    ll = float(np.sum(np.log(sigma) + np.log(total[:, 0]) + top[:, 0]))
    pi = e / total
    r = x[:, None] - n[:, None] * special.expit(eta)
    q = tau * r - u
    # derivatives of the mode û, the curvature h and the scale σ in β and τ
    du = np.stack([-tau * s, (x - n * p_hat) - tau * s * u_hat]) / h
    deta = np.stack([1 + tau * du[0], u_hat + tau * du[1]])
    dh = tau**2 * s * (1 - 2 * p_hat) * deta + np.stack([np.zeros_like(s), 2 * tau * s])
    dsigma = -0.5 * sigma * dh / h
    direct = np.stack([np.sum(pi * r, axis=1), np.sum(pi * r * u, axis=1)])
    via_mode = np.sum(pi * q, axis=1) * du + np.sum(pi * q * z, axis=1) * dsigma
    grad = np.sum(-0.5 * dh / h + direct + via_mode, axis=1)
    return ll, grad


def gradient_hessian(gradient: Callable[[NDArray], NDArray], theta: NDArray,
                     lower: NDArray) -> NDArray[np.float64]:
    """Hessian from differences of an exact ``gradient`` (central; forward at a lower bound)."""
    p = len(theta)
    hess = np.empty((p, p))
    for j in range(p):
        step = 1e-5 * max(abs(theta[j]), 1e-2)
        shift = np.zeros(p)
        shift[j] = step
        if theta[j] - step >= lower[j]:
            hess[:, j] = (gradient(theta + shift) - gradient(theta - shift)) / (2 * step)
        else:
            hess[:, j] = (gradient(theta + shift) - gradient(theta)) / step
    return (hess + hess.T) / 2


def maximise(loglik: Callable[[NDArray], tuple[float, NDArray]], start: NDArray,
             lower: NDArray) -> tuple[NDArray, NDArray, bool]:
    """Maximise a smooth log-likelihood with exact gradient subject to ``θ >= lower``.

    scipy's truncated Newton (TNC, which unlike L-BFGS-B calls no threaded BLAS on these tiny
    problems) brings θ near the optimum, then Newton steps (Hessian from
    :func:`gradient_hessian`) polish it to about 1e-10; a coordinate at its bound whose gradient
    points below it is held there. Returns θ, the Hessian there and whether Newton converged
    (it stops, unconverged, where the likelihood is not concave or a step would lower it).
    """
    bounds = [(None if np.isinf(b) else float(b), None) for b in lower]
    fit = optimize.minimize(lambda t: tuple(-g for g in loglik(t)), start, jac=True,
                            method="TNC", bounds=bounds, options={"maxfun": 1000})
    theta = np.maximum(fit.x, lower)

    def gradient(t: NDArray) -> NDArray:
        return loglik(t)[1]

    ll, grad = loglik(theta)
    for _ in range(20):
        held = (theta - lower <= 1e-12) & (grad <= 0)
        theta = np.where(held, lower, theta)
        free = ~held
        if not free.any():
            return theta, gradient_hessian(gradient, theta, lower), True
        block = gradient_hessian(gradient, theta, lower)[np.ix_(free, free)]
        if np.max(np.linalg.eigvalsh(block)) >= 0:
            break
        step = np.zeros_like(theta)
        step[free] = -np.linalg.solve(block, grad[free])
        new = np.maximum(theta + step, lower)
        ll_new, grad_new = loglik(new)
        if ll_new < ll - 1e-9 * (1 + abs(ll)):
            break
        done = bool(np.all(np.abs(new - theta) <= 1e-10 * (1 + np.abs(theta))))
        theta, ll, grad = new, ll_new, grad_new
        if done:
            return theta, gradient_hessian(gradient, theta, lower), True
    return theta, gradient_hessian(gradient, theta, lower), False


def _log_choose(x: NDArray, n: NDArray) -> NDArray[np.float64]:
    return special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)


@dataclass(frozen=True)
class GLMMResult(ScalarInference):
    """A fitted random-intercept logistic model (metafor's ``rma.glmm`` object, ``PLO``).

    ``estimate, se, ci_low, ci_high, pval, pi_low, pi_high`` are on the logit scale;
    :meth:`back_transform` gives proportions. ``q, q_df, q_pval`` are metafor's Wald-type test of
    heterogeneity (``QE.Wld``), ``qe_lrt, qe_lrt_pval`` its likelihood-ratio test (``QE.LRT``):
    both compare the fixed-effect logistic model with the saturated one.
    """

    xi: NDArray[np.float64]
    ni: NDArray[np.float64]
    slab: list[str]
    tau2: float
    nagq: int
    ll: float
    q: float
    qe_lrt: float
    i2: float
    h2: float
    method: str = "ML"

    @property
    def k(self) -> int:
        return len(self.xi)

    @property
    def qe_lrt_pval(self) -> float:
        return float(stats.chi2.sf(self.qe_lrt, self.q_df))

    @property
    def weights(self) -> NDArray[np.float64]:
        """Not defined for a GLMM (metafor has none either): NaN for every study."""
        return np.full(self.k, np.nan)

    @property
    def model_label(self) -> str:
        approx = "Laplace" if self.nagq == 1 else f"AGQ {self.nagq}"
        return f"GLMM (ML, {approx})" + (", t" if self.test == "t" else "")

    def to_record(self) -> dict[str, Any]:
        """One row for a results table (logit scale, plus back-transformed values)."""
        record: dict[str, Any] = {
            "measure": self.measure, "model": self.model_label, "k": self.k, "tau2": self.tau2,
            "i2": self.i2, "h2": self.h2, "q": self.q, "q_df": self.q_df, "q_pval": self.q_pval,
            "qe_lrt": self.qe_lrt, "qe_lrt_pval": self.qe_lrt_pval, "estimate": self.estimate,
            "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.pval,
            "pi_low": self.pi_low, "pi_high": self.pi_high}
        record.update({f"{name}_bt": value for name, value in self.back_transform().items()})
        return record

    def __str__(self) -> str:
        approx = "Laplace approximation" if self.nagq == 1 else f"{self.nagq}-point AGQ"
        bt = self.back_transform()
        return "\n".join([
            f"Random-Effects Model (k = {self.k}; tau^2 estimator: ML; logistic GLMM, {approx})",
            "",
            f"tau^2 = {self.tau2:.4f}   I^2 = {self.i2:.2f}%   H^2 = {self.h2:.2f}",
            f"Wld(df = {self.q_df}) = {self.q:.4f}, p = {self.q_pval:.4g}",
            f"LRT(df = {self.q_df}) = {self.qe_lrt:.4f}, p = {self.qe_lrt_pval:.4g}",
            "", self.summary_frame().round(4).to_string(),
            f"\nBack-transformed (PLO): {bt['estimate']:.4f} "
            f"[{bt['ci_low']:.4f}, {bt['ci_high']:.4f}]"])


def rma_glmm(xi: ArrayLike, ni: ArrayLike, level: float = 95, test: str = "z",
             nagq: int = NAGQ, *, slab: Sequence[Any] | None = None) -> GLMMResult:
    """Pool single proportions with a random-intercept logistic model, by ML (metafor ``PLO``).

    Parameters
    ----------
    xi, ni : array_like
        Events and sizes per study (whole numbers, ``0 <= xi <= ni``; 0/n and n/n allowed).
    level : float
        Confidence level in percent.
    test : {"z", "t"}
        Normal or t (``k - 1`` df) distribution for tests and intervals, as metafor's ``test``.
    nagq : int
        Quadrature points per study: 7 as metafor (``nAGQ``), 1 for the Laplace approximation.
    slab : sequence, optional
        Study labels.

    Returns
    -------
    GLMMResult
        ``estimate, se, ci_low, ci_high, pval, pi_low, pi_high`` (logit scale), ``tau2``, ``i2``
        and ``h2`` (metafor's definition: τ² against the typical variance of the ``PLO`` effect
        sizes with 0.5 added to 0/n and n/n studies), ``q, q_pval`` (Wald) and ``qe_lrt,
        qe_lrt_pval`` (likelihood ratio) tests of heterogeneity, ``ll`` (log-likelihood) and
        :meth:`~ScalarInference.back_transform` (proportions).

    Notes
    -----
    The Wald test uses the saturated model's study logits; a 0/n or n/n study has none (its logit
    is infinite and its weight zero), so it adds nothing, where ``glm`` in R stops its iterations
    at a large finite logit and adds about 1e-6. The variance of β is the inverse of the observed
    information in (β, τ), as ``lme4``'s default ``vcov``.

    References
    ----------
    Stijnen, Hamza & Özdemir (2010), doi:10.1002/sim.4040; Schwarzer et al. (2019),
    doi:10.1002/jrsm.1348; Liu & Pierce (1994); Bates et al. (2015), doi:10.18637/jss.v067.i01.
    """
    level = v.check_level(level)
    test = v.check_choice("test", test, ("z", "t"))
    if isinstance(nagq, bool) or not isinstance(nagq, (int, np.integer)) or not 1 <= nagq <= 50:
        raise ValueError(f"nagq: a whole number of quadrature points from 1 to 50, got {nagq!r}")
    x = v.as_float_array("xi", xi)
    labels = v.labels_or_none(slab, len(x))
    n = v.as_float_array("ni", ni, labels=labels)
    k = v.same_length(xi=x, ni=n)
    v.check_counts("xi", x, "ni", n, labels=labels)
    if k < 2:
        raise ValueError("xi: the GLMM estimates β and τ², which needs at least 2 studies")
    if x.sum() == 0 or x.sum() == n.sum():
        which = "no events" if x.sum() == 0 else "events in every participant"
        raise ValueError(f"xi: every study has {which}, so the ML estimate of the pooled logit "
                         "is infinite; report the counts instead of a pooled proportion")
    if not np.any((x > 0) & (x < n)):
        raise ValueError("xi: every study has either no events or events in every participant, "
                         "so τ² has no finite ML estimate; report the counts instead")

    modes = np.zeros_like(x)

    def loglik(t: NDArray) -> tuple[float, NDArray]:
        return _loglik(t, x, n, nagq, modes)

    # the likelihood is even in τ, so τ is free of sign: τ = 0 is then an interior point, where
    # a bound at 0 would stop the search at the saddle that τ = 0 is when τ̂ > 0
    theta, hess, converged = maximise(loglik, np.array([special.logit(x.sum() / n.sum()), 1.0]),
                                      np.full(2, -np.inf))
    beta, tau = float(theta[0]), abs(float(theta[1]))
    info = -hess
    if not converged or (tau > 0 and np.linalg.eigvalsh(info).min() <= 0):
        raise ValueError("xi, ni: the GLMM likelihood has no well-defined maximum for these "
                         "counts (ML did not converge); report the counts instead")
    # variance of β: the β element of the inverse information (its Schur complement); at τ = 0
    # the information is block-diagonal, as the likelihood is even in τ
    vb = 1 / (info[0, 0] - (info[0, 1] ** 2 / info[1, 1] if tau > 0 else 0.0))
    ll = loglik(theta)[0] + float(_log_choose(x, n).sum())

    ll_fe = float(stats.binom.logpmf(x, n, x.sum() / n.sum()).sum())
    ll_sat = float(stats.binom.logpmf(x, n, x / n).sum())
    inner = (x > 0) & (x < n)
    xs, ns = x[inner], n[inner]
    w = xs * (ns - xs) / ns
    logits = special.logit(xs / ns)
    wald = float(w @ logits**2 - (w @ logits) ** 2 / w.sum()) if inner.any() else 0.0

    es = escalc("PLO", xi=x, ni=n)
    typical = cochran_q(es["yi"].to_numpy(), es["vi"].to_numpy(), np.ones((k, 1)))[1]
    tau2 = tau**2
    return GLMMResult(
        beta=beta, vb=float(vb), level=level, test=test, measure="PLO", xi=x, ni=n,
        slab=labels or [str(i + 1) for i in range(k)], tau2=tau2, nagq=int(nagq), ll=ll,
        q=max(0.0, wald), qe_lrt=max(0.0, 2 * (ll_sat - ll_fe)),
        i2=100 * tau2 / (typical + tau2), h2=tau2 / typical + 1)
