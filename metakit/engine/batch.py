"""Many random-effects meta-analyses at once (simulation and sensitivity sweeps).

Each row of the 2-D inputs is one meta-analysis; NaN marks an absent study. τ² comes from
:func:`metakit.engine.heterogeneity.fit_rows`, the same estimators a single
:func:`metakit.rma` fit without moderators runs, on all rows at once: the iterative ones take
vectorised Newton steps, and the rows those leave unconverged are solved by one vectorised
bracketing root finder, so every row with a solution converges.

References
----------
Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
random-effects model. Journal of Educational and Behavioral Statistics, 30(3), 261-293.
Hartung, J., & Knapp, G. (2001). A refined method for the meta-analysis of controlled clinical
trials with binary outcome. Statistics in Medicine, 20(24), 3875-3889.
Riley, R. D., Higgins, J. P. T., & Deeks, J. J. (2011). Interpretation of random effects
meta-analyses. BMJ, 342, d549.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from metakit.engine import _validation as v
from metakit.engine.heterogeneity import FIXED_METHODS, METHODS, fit_rows


@dataclass(frozen=True)
class BatchResult:
    """Arrays with one entry per meta-analysis (row).

    ``pi_low``, ``pi_high`` (prediction interval) are NaN for equal-effects methods, as in
    :class:`metakit.RMAResult`; ``tau2_se`` is NaN for them and for rows with one study.
    """

    estimate: NDArray[np.float64]
    se: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    pi_low: NDArray[np.float64]
    pi_high: NDArray[np.float64]
    tau2: NDArray[np.float64]
    tau2_se: NDArray[np.float64]
    i2: NDArray[np.float64]
    q: NDArray[np.float64]
    k: NDArray[np.int64]
    converged: NDArray[np.bool_]


def _first_row(mask: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask.any(axis=1))[0])


def rma_batch(yi: ArrayLike, vi: ArrayLike, method: str = "REML", test: str = "z",
              level: float = 95) -> BatchResult:
    """Fit an intercept-only model to every row of ``yi``/``vi``.

    Parameters
    ----------
    yi, vi : array_like, shape (m, k_max)
        Effect sizes and sampling variances; NaN (in both) where a row has fewer studies.
    method : str
        Any estimator of :func:`metakit.rma`.
    test : {"z", "knha"}
        ``knha``: Hartung-Knapp-Sidik-Jonkman standard errors with t-distributions on
        ``k - 1`` degrees of freedom for CIs and prediction intervals (every row needs k >= 2).
    level : float
        Confidence level in percent.

    Returns
    -------
    BatchResult
        ``estimate, se, ci_low, ci_high, pi_low, pi_high, tau2, tau2_se, i2, q, k, converged``
        arrays of length m. Agrees with single :func:`metakit.rma` fits to 1e-6.

    References
    ----------
    Viechtbauer (2005); Hartung & Knapp (2001); Riley et al. (2011).
    """
    from scipy import special

    method = v.check_choice("method", method, METHODS)
    test = v.check_choice("test", test, ("z", "knha"))
    level = v.check_level(level)
    y = v.as_float_array("yi", yi, allow_nan=True, ndim=2)
    var = v.as_float_array("vi", vi, allow_nan=True, ndim=2)
    if y.shape != var.shape:
        raise ValueError(f"yi, vi: shapes differ ({y.shape} and {var.shape})")
    finite = np.isfinite(y)
    padded = not finite.all()
    if padded or not np.isfinite(var).all():
        absent = np.isnan(y)
        if not np.array_equal(absent, np.isnan(var)):
            row = _first_row(absent != np.isnan(var))
            raise ValueError(f"yi, vi: missing values do not line up in row {row}")
        if not np.array_equal(absent, ~finite) or np.isinf(var).any():
            raise ValueError(f"yi, vi: infinite value in row {_first_row(np.isinf(y + var))}")
    if (var <= 0).any():  # NaN compares false
        raise ValueError(f"vi: must be > 0 (row {_first_row(var <= 0)})")
    k = np.count_nonzero(finite, axis=1) if padded else np.full(len(y), y.shape[1])
    if np.any(k < 1):
        raise ValueError(f"yi: row {int(np.flatnonzero(k < 1)[0])} has no studies")
    if test == "knha" and np.any(k < 2):
        raise ValueError(f"test: 'knha' needs at least 2 studies in every row "
                         f"(row {int(np.flatnonzero(k < 2)[0])} has 1)")

    y0 = np.where(finite, y, 0.0) if padded else y
    v0 = np.where(finite, var, 0.0) if padded else var
    fit = fit_rows(method, y0, v0, finite if padded else None, k, rss=test == "knha")
    alpha = 1 - level / 100
    vb = fit.variance
    if test == "knha":
        vb = vb * np.where(fit.rss > np.finfo(float).eps, fit.rss / (k - 1), 0.0)
        crit = -special.stdtrit(k - 1, alpha / 2)  # as scipy.stats.t.isf
    else:
        crit = -special.ndtri(alpha / 2)  # as scipy.stats.norm.isf
    se = np.sqrt(vb)
    fixed = method in FIXED_METHODS
    half_pi = np.full(len(y), np.nan) if fixed else crit * np.sqrt(vb + fit.tau2)
    if fixed:  # from Q, as metafor for equal-effects models
        excess = np.maximum(0.0, 100 * (fit.q - (k - 1)))
        i2 = np.divide(excess, fit.q, out=np.zeros(len(y)), where=fit.q > 0)
    else:
        i2 = np.divide(100 * fit.tau2, fit.typical + fit.tau2, out=np.zeros(len(y)),
                       where=k > 1)
    mu = fit.estimate
    return BatchResult(mu, se, mu - crit * se, mu + crit * se, mu - half_pi, mu + half_pi,
                       fit.tau2, fit.tau2_se, i2, fit.q, k, fit.converged)
