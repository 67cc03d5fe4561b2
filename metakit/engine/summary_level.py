"""What printed summary statistics imply when no study-level data exist.

Many meta-analyses print a pooled estimate, its CI, I² and the number of studies, and nothing
per study. Two questions can still be answered from those numbers:

- :func:`implied_heterogeneity`: the between-study variance and the prediction interval that the
  printed I² implies for an assumed typical within-study variance s² (I² = τ² / (τ² + s²),
  Higgins & Thompson 2002), and :func:`s2_for_excluding_null`, the largest s² for which that
  prediction interval still excludes the null;
- :func:`narrowest_pooled_se`: the smallest pooled standard error that studies of given sizes can
  produce under DerSimonian-Laird with the printed I², when every study carries its largest
  possible information (a CI narrower than that cannot come from those studies).

References
----------
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
Statistics in Medicine, 21(11), 1539-1558.
Higgins, J. P. T., Thompson, S. G., & Spiegelhalter, D. J. (2009). A re-evaluation of
random-effects meta-analysis. Journal of the Royal Statistical Society A, 172(1), 137-159.
DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical
Trials, 7(3), 177-188.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from metakit.engine import _validation as v


class NarrowestSE(NamedTuple):
    """Result of :func:`narrowest_pooled_se`."""

    se: float
    tau2: float
    at_floor: bool


def _i2(i2: float) -> float:
    if isinstance(i2, bool) or not isinstance(i2, (int, float)) or not 0 < i2 < 100:
        raise ValueError(f"i2: must be a percentage strictly between 0 and 100, got {i2!r}")
    return float(i2)


def _quantile(level: float, k: int, dist: str) -> float:
    from scipy import stats

    v.check_choice("dist", dist, ("t", "z"))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 3:
        raise ValueError(f"k: must be a whole number of studies >= 3, got {k!r}")
    upper = 1 - (1 - v.check_level(level) / 100) / 2
    return float(stats.t.ppf(upper, k - 2) if dist == "t" else stats.norm.ppf(upper))


def implied_heterogeneity(estimate: float, se: float, i2: float, k: int, s2: ArrayLike, *,
                          level: float = 95, dist: str = "t") -> pd.DataFrame:
    """τ² and the prediction interval implied by a printed I² for assumed within-study variances.

    τ² = s² · I² / (100 − I²) (Higgins & Thompson 2002), and the prediction interval for the
    effect in a new study is ``estimate ± c · sqrt(se² + τ²)`` with ``c`` the t quantile on
    ``k − 2`` degrees of freedom (``dist="t"``, Higgins, Thompson & Spiegelhalter 2009) or the
    normal quantile (``"z"``). Everything is on the model scale (log for ratios).

    Parameters
    ----------
    estimate, se : float
        The pooled estimate and its standard error on the model scale.
    i2 : float
        I² in percent, strictly between 0 and 100.
    k : int
        Number of studies (at least 3 for the t quantile on k − 2 df).
    s2 : float or array of float
        Assumed typical within-study variances (> 0).
    level : float
        Level of the prediction interval in percent.
    dist : {"t", "z"}
        Reference distribution of the interval.

    Returns
    -------
    DataFrame
        Columns ``s2, tau2, tau, pi_low, pi_high`` (model scale), one row per ``s2``.

    References
    ----------
    Higgins, J. P. T., Thompson, S. G., & Spiegelhalter, D. J. (2009). J R Stat Soc A, 172,
    137-159.
    """
    i2 = _i2(i2)
    s2 = np.atleast_1d(np.asarray(s2, dtype=float))
    if not np.all(np.isfinite(s2)) or np.any(s2 <= 0):
        raise ValueError("s2: every assumed within-study variance must be a positive number")
    c = _quantile(level, k, dist)
    tau2 = s2 * i2 / (100 - i2)
    half = c * np.sqrt(float(se) ** 2 + tau2)
    return pd.DataFrame({"s2": s2, "tau2": tau2, "tau": np.sqrt(tau2),
                         "pi_low": estimate - half, "pi_high": estimate + half})


def s2_for_excluding_null(estimate: float, se: float, i2: float, k: int, *, null: float = 0.0,
                          level: float = 95, dist: str = "t") -> float:
    """The largest typical within-study variance for which the implied prediction interval
    (:func:`implied_heterogeneity`) still excludes ``null``; 0 when no variance does."""
    i2 = _i2(i2)
    c = _quantile(level, k, dist)
    tau2 = ((estimate - null) / c) ** 2 - float(se) ** 2
    return max(tau2, 0.0) * (100 - i2) / i2


def dl_pooled_se(variances: ArrayLike, i2: float) -> tuple[float, float]:
    """SE of the DerSimonian-Laird pooled mean when Cochran's Q is the value that gives ``i2``.

    Q = (k − 1) / (1 − I²) and τ² = max(0, (Q − (k − 1)) / (Σw − Σw² / Σw)), w = 1/v.
    """
    w = 1 / np.asarray(variances, dtype=float)
    df = len(w) - 1
    q = df / (1 - i2 / 100)
    tau2 = max(0.0, (q - df) / (w.sum() - (w ** 2).sum() / w.sum()))
    return math.sqrt(1 / np.sum(1 / (1 / w + tau2))), tau2


def narrowest_pooled_se(floors: ArrayLike, i2: float, *, starts: int = 40,
                        seed: int = 20250812) -> NarrowestSE:
    """The smallest DerSimonian-Laird pooled SE over study variances at or above their floors.

    Each study's variance ``v_i >= floors[i]`` (e.g. ``4 / n_i`` for a log hazard ratio of a 1:1
    comparison, where every patient has an event); τ² follows from the printed I² as in
    :func:`dl_pooled_se`. The pooled SE is minimised over ``log(v_i / floor_i)`` in [0, 10] by
    L-BFGS-B from the floor and ``starts`` random points (a smaller τ² can outweigh a larger
    variance, so the floor need not be the minimum).

    Parameters
    ----------
    floors : array of float
        The smallest possible variance of each study (> 0), at least two studies.
    i2 : float
        I² in percent.
    starts : int
        Random starting points besides the floor.
    seed : int
        Seed of the starting points (the result is reproducible).

    Returns
    -------
    NarrowestSE
        ``se``, ``tau2`` at the minimum, and ``at_floor`` (whether every variance sits at its
        floor there).

    References
    ----------
    DerSimonian, R., & Laird, N. (1986). Controlled Clinical Trials, 7(3), 177-188.
    """
    from scipy import optimize

    floor = np.asarray(floors, dtype=float)
    if floor.ndim != 1 or len(floor) < 2 or not np.all(np.isfinite(floor)) or np.any(floor <= 0):
        raise ValueError("floors: need the positive variance floors of at least two studies")
    i2 = _i2(i2)
    rng = np.random.default_rng(seed)
    best = None
    for start in [np.zeros(len(floor))] + [rng.uniform(0, 4, len(floor)) for _ in range(starts)]:
        fit = optimize.minimize(lambda x: dl_pooled_se(floor * np.exp(x), i2)[0], start,
                                bounds=[(0, 10)] * len(floor), method="L-BFGS-B")
        if best is None or fit.fun < best.fun:
            best = fit
    assert best is not None
    se, tau2 = dl_pooled_se(floor * np.exp(best.x), i2)
    return NarrowestSE(se, tau2, bool(np.allclose(best.x, 0, atol=1e-6)))
