"""Mantel-Haenszel and Peto pooling of 2x2 tables (metafor's ``rma.mh`` and ``rma.peto``).

References
----------
Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
retrospective studies of disease. JNCI, 22(4), 719-748.
Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel variance
consistent in both sparse data and large-strata limiting models. Biometrics, 42(2), 311-323.
Greenland, S., & Robins, J. M. (1985). Estimation of a common effect parameter from sparse
follow-up data. Biometrics, 41(1), 55-68.
Sato, T., Greenland, S., & Robins, J. M. (1989). On the variance estimator for the
Mantel-Haenszel risk difference. Biometrics, 45(4), 1323-1324.
Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during and
after myocardial infarction. Progress in Cardiovascular Diseases, 27(5), 335-371.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable

from metakit.engine import _validation as v
from metakit.engine.effect_sizes import escalc


@dataclass(frozen=True)
class PooledTablesResult:
    """Result of Mantel-Haenszel or Peto pooling (model scale: log for OR and RR).

    ``q``, ``i2`` and ``h2`` come from the inverse-variance study estimates, as in metafor.
    """

    measure: str
    method: str
    estimate: float
    se: float
    level: float
    k: int
    q: float
    q_df: int
    slab: list[str]

    @property
    def zval(self) -> float:
        return self.estimate / self.se

    @property
    def pval(self) -> float:
        return float(2 * stats.norm.sf(abs(self.zval)))

    @property
    def ci_low(self) -> float:
        return self.estimate - stats.norm.isf((1 - self.level / 100) / 2) * self.se

    @property
    def ci_high(self) -> float:
        return self.estimate + stats.norm.isf((1 - self.level / 100) / 2) * self.se

    @property
    def q_pval(self) -> float:
        return float(stats.chi2.sf(self.q, self.q_df)) if self.q_df > 0 else 1.0

    @property
    def i2(self) -> float:
        return max(0.0, 100 * (self.q - self.q_df) / self.q) if self.q > 0 else 0.0

    @property
    def h2(self) -> float:
        return self.q / self.q_df if self.q_df > 0 else 1.0

    @property
    def tau2(self) -> float:
        return 0.0

    def back_transform(self) -> dict[str, float]:
        """Estimate and CI on the ratio scale (``OR``, ``RR``) or as printed (``RD``)."""
        f = np.exp if self.measure in ("OR", "RR", "PETO") else float
        return {"estimate": float(f(self.estimate)), "ci_low": float(f(self.ci_low)),
                "ci_high": float(f(self.ci_high))}

    def to_record(self) -> dict[str, Any]:
        return {"measure": self.measure, "model": self.method, "k": self.k,
                "estimate": self.estimate, "se": self.se, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "p_value": self.pval, "tau2": 0.0, "i2": self.i2,
                "q": self.q, "q_df": self.q_df, "q_pval": self.q_pval}


def _tables(ai: ArrayLike, bi: ArrayLike | None, ci: ArrayLike, di: ArrayLike | None,
            n1i: ArrayLike | None, n2i: ArrayLike | None,
            slab: Sequence[Any] | None) -> tuple[NDArray, NDArray, NDArray, NDArray, list[str]]:
    frame = escalc("OR", ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i)  # validates counts
    a = v.as_float_array("ai", ai)
    c = v.as_float_array("ci", ci)
    b = v.as_float_array("bi", bi) if bi is not None else v.as_float_array("n1i", n1i) - a
    d = v.as_float_array("di", di) if di is not None else v.as_float_array("n2i", n2i) - c
    labels = v.labels_or_none(slab, len(frame)) or [str(i + 1) for i in range(len(frame))]
    return a, b, c, d, labels


def _heterogeneity(measure: str, a: NDArray, b: NDArray, c: NDArray, d: NDArray,
                   estimate: float) -> tuple[float, int]:
    """Cochran's Q of the study estimates around the pooled one, double-zero studies dropped."""
    keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
    if keep.sum() < 2:
        return 0.0, 0
    a, b, c, d = a[keep], b[keep], c[keep], d[keep]
    if measure == "PETO":
        n1, n2 = a + b, c + d
        n = n1 + n2
        events = a + c
        variance = events * (n - events) * n1 * n2 / (n**2 * (n - 1))
        yi, vi = (a - n1 * events / n) / variance, 1 / variance
    else:
        es = escalc(measure, ai=a, bi=b, ci=c, di=d)
        yi, vi = es["yi"].to_numpy(), es["vi"].to_numpy()
    return max(0.0, float(np.sum((yi - estimate) ** 2 / vi))), int(keep.sum()) - 1


def rma_mh(ai: ArrayLike, ci: ArrayLike, bi: ArrayLike | None = None,
           di: ArrayLike | None = None, *, n1i: ArrayLike | None = None,
           n2i: ArrayLike | None = None, measure: str = "OR", level: float = 95,
           add: float = 0.0, drop00: bool = False,
           slab: Sequence[Any] | None = None) -> PooledTablesResult:
    """Mantel-Haenszel pooled OR, RR or RD (metafor's ``rma.mh`` defaults).

    By default the MH estimate uses the observed counts without continuity correction (metafor);
    ``add=0.5, drop00=True`` reproduces RevMan 5, which adds 0.5 to every cell of a table with a
    zero cell and leaves out tables with no events (or no non-events) in both arms (metafor's
    ``add=c(1/2, 1/2), drop00=c(TRUE, TRUE)``). The OR variance is
    Robins-Breslow-Greenland, the RR variance Greenland-Robins, the RD variance Sato-Greenland-
    Robins. The OR point estimate and its variance come from statsmodels' ``StratifiedTable``,
    which gives the same numbers. Q (and I²) use the inverse-variance study estimates with 0.5
    added to tables with a zero cell and double-zero tables dropped.

    References
    ----------
    Mantel & Haenszel (1959); Robins, Breslow & Greenland (1986); Greenland & Robins (1985);
    Sato, Greenland & Robins (1989).
    """
    v.check_choice("measure", measure, ("OR", "RR", "RD"))
    level = v.check_level(level)
    if not np.isfinite(add) or add < 0:
        raise ValueError(f"add: must be a non-negative number, got {add!r}")
    a, b, c, d, labels = _tables(ai, bi, ci, di, n1i, n2i, slab)
    if drop00:
        keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
        if not keep.any():
            raise ValueError("ai, ci: every table has no events (or no non-events) in both arms")
        a, b, c, d = a[keep], b[keep], c[keep], d[keep]
        labels = [label for label, k in zip(labels, keep) if k]
    observed = a, b, c, d
    if add > 0:
        shift = np.where((a == 0) | (b == 0) | (c == 0) | (d == 0), add, 0.0)
        a, b, c, d = a + shift, b + shift, c + shift, d + shift
    n1, n2 = a + b, c + d
    n = n1 + n2
    if measure == "OR":
        if a.sum() == 0 and c.sum() == 0 or (a * d / n).sum() == 0 or (b * c / n).sum() == 0:
            raise ValueError("ai, ci: the MH odds ratio is not estimable (no informative tables)")
        table = StratifiedTable(np.stack([np.stack([a, b], -1), np.stack([c, d], -1)], 1)
                                .transpose(1, 2, 0))
        estimate, se = float(table.logodds_pooled), float(table.logodds_pooled_se)
    elif measure == "RR":
        r, s = np.sum(a * n2 / n), np.sum(c * n1 / n)
        if r == 0 or s == 0:
            raise ValueError("ai, ci: the MH risk ratio is not estimable (no events in one arm)")
        estimate = float(np.log(r / s))
        se = float(np.sqrt(np.sum(n1 * n2 * (a + c) / n**2 - a * c / n) / (r * s)))
    else:
        weight = np.sum(n1 * n2 / n)
        estimate = float(np.sum(a * n2 / n - c * n1 / n) / weight)
        se = float(np.sqrt((estimate * np.sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2
                                               + (n1 / n) * (n2 / n) * (n2 - n1) / 2)
                            + np.sum(a * (n2 - c) / n + c * (n1 - a) / n) / 2) / weight**2))
    q, q_df = _heterogeneity(measure, *observed, estimate)
    return PooledTablesResult(measure, "MH", estimate, se, level, len(a), q, q_df, labels)


def rma_peto(ai: ArrayLike, ci: ArrayLike, bi: ArrayLike | None = None,
             di: ArrayLike | None = None, *, n1i: ArrayLike | None = None,
             n2i: ArrayLike | None = None, level: float = 95,
             slab: Sequence[Any] | None = None) -> PooledTablesResult:
    """Peto's one-step pooled log odds ratio (metafor's ``rma.peto``).

    References
    ----------
    Yusuf et al. (1985).
    """
    level = v.check_level(level)
    a, b, c, d, labels = _tables(ai, bi, ci, di, n1i, n2i, slab)
    n1, n2 = a + b, c + d
    n = n1 + n2
    events = a + c
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(n > 1, events * (n - events) * n1 * n2 / (n**2 * (n - 1)), 0.0)
    if variance.sum() == 0:
        raise ValueError("ai, ci: Peto's odds ratio is not estimable (no informative tables)")
    estimate = float(np.sum(a - n1 * events / n) / variance.sum())
    se = float(1 / np.sqrt(variance.sum()))
    q, q_df = _heterogeneity("PETO", a, b, c, d, estimate)
    return PooledTablesResult("PETO", "Peto", estimate, se, level, len(a), q, q_df, labels)
