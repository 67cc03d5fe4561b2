"""Estimators of the between-study variance τ² and its Q-profile confidence interval.

All functions work on one meta-analysis with effect sizes ``y``, sampling variances ``v`` and
design matrix ``X`` (first column the intercept), following the equations of R's
``metafor::rma.uni`` so that results agree with it.

References
----------
DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical
Trials, 7(3), 177-188.
Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors. Journal of Research
of the National Bureau of Standards, 87(5), 377-385.
Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
Sidik, K., & Jonkman, J. N. (2005). Simple heterogeneity variance estimation for meta-analysis.
JRSS C, 54(2), 367-384.
Morris, C. N. (1983). Parametric empirical Bayes inference. JASA, 78(381), 47-55.
Hunter, J. E., & Schmidt, F. L. (2004). Methods of Meta-Analysis. Sage.
Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
random-effects model. Journal of Educational and Behavioral Statistics, 30(3), 261-293.
Viechtbauer, W. (2007). Confidence intervals for the amount of heterogeneity in
meta-analysis. Statistics in Medicine, 26(1), 37-52.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

FIXED_METHODS = ("EE", "FE")
RANDOM_METHODS = ("DL", "REML", "ML", "PM", "HE", "SJ", "EB", "HS")
METHODS = FIXED_METHODS + RANDOM_METHODS
ITERATIVE = frozenset({"REML", "ML", "EB", "PM"})
THRESHOLD = 1e-10
MAXITER = 100  # as metafor; slower cases go to the bracketing root finder


@dataclass(frozen=True)
class Tau2Fit:
    """τ² estimate and how it was found (``solver`` names the algorithm that converged)."""

    tau2: float
    converged: bool
    solver: str
    iterations: int


def projection(v_total: NDArray[np.float64], X: NDArray[np.float64]) -> NDArray[np.float64]:
    """``P = W - W X (X'WX)⁻¹ X'W`` with ``W = diag(1 / v_total)``."""
    w = 1.0 / v_total
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


def generalized_q(tau2: float, y: NDArray, v: NDArray, X: NDArray) -> float:
    """Generalised Cochran's Q at ``tau2``: ``Y' P(τ²) Y``."""
    P = projection(v + tau2, X)
    return float(y @ P @ y)


def _score(tau2: float, method: str, y: NDArray, v: NDArray, X: NDArray) -> float:
    """Estimating equation whose root is the ML, REML, EB or PM estimate (decreasing in τ²)."""
    k, p = X.shape
    P = projection(v + tau2, X)
    Py = P @ y
    if method == "REML":
        return float(Py @ Py - np.trace(P))
    w = 1.0 / (v + tau2)
    if method == "ML":
        return float(Py @ Py - w.sum())
    if method == "EB":
        return float((y @ Py) * k / (k - p) - k)
    return float(y @ Py - (k - p))  # PM


def _fisher_scoring(method: str, start: float, y: NDArray, v: NDArray,
                    X: NDArray) -> Tau2Fit:
    k, p = X.shape
    tau2 = max(0.0, start)
    for iteration in range(1, MAXITER + 1):
        P = projection(v + tau2, X)
        Py = P @ y
        w = 1.0 / (v + tau2)
        if method == "REML":
            adj = (Py @ Py - np.trace(P)) / np.sum(P * P)
        elif method == "ML":
            adj = (Py @ Py - w.sum()) / np.sum(w**2)
        else:  # EB
            adj = ((y @ Py) * k / (k - p) - k) / w.sum()
        while tau2 + adj < 0:
            adj /= 2
        tau2 += adj
        if abs(adj) < THRESHOLD:
            return Tau2Fit(max(0.0, float(tau2)), True, "fisher-scoring", iteration)
    return Tau2Fit(float(tau2), False, "fisher-scoring", MAXITER)


def bracketing_root(method: str, y: NDArray, v: NDArray, X: NDArray) -> Tau2Fit:
    """Root of the estimating equation by Brent's method on ``[0, upper]``; 0 if none."""
    if _score(0.0, method, y, v, X) <= 0:
        return Tau2Fit(0.0, True, "brentq", 0)
    upper = max(1.0, 10 * float(np.var(y)))
    for _ in range(60):
        if _score(upper, method, y, v, X) < 0:
            break
        upper *= 10
    else:
        return Tau2Fit(np.nan, False, "brentq", 0)
    root, info = optimize.brentq(_score, 0.0, upper, args=(method, y, v, X), xtol=1e-14,
                                 rtol=1e-14, full_output=True, disp=False)
    return Tau2Fit(float(root), bool(info.converged), "brentq", int(info.iterations))


def _ll(method: str, tau2: float, y: NDArray, v: NDArray, X: NDArray) -> float:
    k, p = X.shape
    w = 1.0 / (v + tau2)
    XtWX = X.T @ (X * w[:, None])
    beta = np.linalg.solve(XtWX, X.T @ (w * y))
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    ll = -0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss
    if method == "REML":
        return ll - 0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(XtWX)[1]
    return ll - 0.5 * k * np.log(2 * np.pi)


def estimate_tau2(method: str, y: NDArray[np.float64], v: NDArray[np.float64],
                  X: NDArray[np.float64]) -> Tau2Fit:
    """Estimate τ² with ``method`` (one of :data:`RANDOM_METHODS`); 0 for fixed-effect methods.

    The iterative estimators (REML, ML, EB) use Fisher scoring started at the Hedges estimate, as
    metafor does; when scoring does not converge, the root of the estimating equation is found
    with a bracketing (Brent) root finder instead and ``solver`` says so. PM is always solved by
    bracketing. For ML and REML, τ² = 0 is taken when the likelihood is higher there.
    """
    k, p = X.shape
    if method in FIXED_METHODS or k == 1:
        return Tau2Fit(0.0, True, "closed-form", 0)
    if method in ("DL", "HS"):
        w = 1.0 / v
        P = projection(v, X)
        rss = float(y @ P @ y)
        tau2 = (rss - (k - p)) / np.trace(P) if method == "DL" else (rss - k) / w.sum()
        return Tau2Fit(max(0.0, tau2), True, "closed-form", 0)
    if method == "SJ":
        centred = y - y.mean()
        tau2_0 = float(centred @ centred / k)
        P = projection(v + tau2_0, X)
        tau2 = tau2_0 * float(y @ P @ y) / (k - p) if tau2_0 > 0 else 0.0
        return Tau2Fit(max(0.0, tau2), True, "closed-form", 0)
    hat = X @ np.linalg.solve(X.T @ X, X.T)
    resid_maker = np.eye(k) - hat
    hedges = (float(y @ resid_maker @ y) - float(np.trace(resid_maker * v))) / (k - p)
    if method == "HE":
        return Tau2Fit(max(0.0, hedges), True, "closed-form", 0)
    if method == "PM":
        return bracketing_root("PM", y, v, X)
    fit = _fisher_scoring(method, hedges, y, v, X)
    if not fit.converged or not np.isfinite(fit.tau2):
        fit = bracketing_root(method, y, v, X)
    if method in ("ML", "REML") and fit.converged and fit.tau2 > 0:
        if _ll(method, 0.0, y, v, X) - _ll(method, fit.tau2, y, v, X) > 1e-6:
            fit = Tau2Fit(0.0, True, fit.solver, fit.iterations)
    return fit


def qprofile_ci(y: NDArray[np.float64], v: NDArray[np.float64], X: NDArray[np.float64],
                level: float = 95) -> tuple[float, float]:
    """Q-profile confidence interval for τ² (Viechtbauer, 2007).

    The bounds solve ``Q(τ²) = χ²`` quantiles with ``k - p`` degrees of freedom; a bound whose
    equation has no non-negative root is 0 (the interval may be ``(0, 0)``).
    """
    k, p = X.shape
    if k - p < 1:
        return (np.nan, np.nan)
    alpha = 1 - level / 100
    crit_upper = stats.chi2.isf(alpha / 2, k - p)  # defines the lower bound
    crit_lower = stats.chi2.ppf(alpha / 2, k - p)  # defines the upper bound
    q0 = generalized_q(0.0, y, v, X)

    def bound(crit: float) -> float:
        if q0 <= crit:
            return 0.0
        upper = max(1.0, 10 * float(np.var(y)))
        while generalized_q(upper, y, v, X) > crit:
            upper *= 10
        return float(optimize.brentq(lambda t: generalized_q(t, y, v, X) - crit, 0.0, upper,
                                     xtol=1e-12, rtol=1e-12))

    return bound(crit_upper), bound(crit_lower)
