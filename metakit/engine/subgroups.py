"""Subgroup analysis with the test for subgroup differences (as RevMan and R's ``meta``).

References
----------
Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009). Introduction to
Meta-Analysis, chapter 19. Wiley.
Deeks, J. J., Higgins, J. P. T., & Altman, D. G. (2023). Analysing data and undertaking
meta-analyses. Cochrane Handbook, chapter 10.11.3.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from metakit.engine import _validation as v
from metakit.engine.heterogeneity import FIXED_METHODS
from metakit.engine.models import RMAResult, rma


@dataclass(frozen=True)
class SubgroupResult:
    """Per-level fits, the fit of all studies, and the test for subgroup differences."""

    groups: dict[str, Any]
    overall: Any
    q_between: float
    q_between_df: int
    q_between_pval: float
    tau2_common: float = np.nan

    def summary_frame(self) -> pd.DataFrame:
        """One row per subgroup (model scale), then the overall fit."""
        rows = {name: fit.to_record() for name, fit in self.groups.items()}
        rows["Overall"] = self.overall.to_record()
        return pd.DataFrame.from_dict(rows, orient="index")

    def __str__(self) -> str:
        table = self.summary_frame()[["k", "estimate", "ci_low", "ci_high", "i2", "tau2"]]
        return (f"{table.round(4).to_string()}\n\nTest for subgroup differences: "
                f"Q = {self.q_between:.2f}, df = {self.q_between_df}, "
                f"p = {self.q_between_pval:.4g}")


def q_between(estimates: ArrayLike, ses: ArrayLike) -> tuple[float, int, float]:
    """Cochran's Q of subgroup summaries around their inverse-variance mean, df and p-value."""
    est = np.asarray(estimates, dtype=float)
    w = 1 / np.asarray(ses, dtype=float) ** 2
    pooled = np.sum(w * est) / w.sum()
    q = float(np.sum(w * (est - pooled) ** 2))
    df = len(est) - 1
    return q, df, float(stats.chi2.sf(q, df)) if df > 0 else np.nan


def subgroup(yi: ArrayLike, vi: ArrayLike, groups: Sequence[Any], method: str = "REML",
             test: str = "z", level: float = 95, *, measure: str | None = None,
             slab: Sequence[Any] | None = None, ni: ArrayLike | None = None,
             tau2: str = "separate") -> SubgroupResult:
    """Fit the model within each level of ``groups`` and test for subgroup differences.

    The test compares the subgroup summaries by Cochran's Q on ``G - 1`` degrees of freedom,
    which is what RevMan and ``meta`` report.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    groups : sequence
        Subgroup label of each study (levels keep their first-seen order).
    method, test, level, measure, slab, ni
        Passed to :func:`metakit.rma` (``measure="PFT"`` with ``ni`` pools proportions whose
        subgroup summaries back-transform with each subgroup's harmonic mean size).
    tau2 : {"separate", "common"}
        ``"separate"``: each subgroup has its own τ² (RevMan, ``meta``'s default).
        ``"common"``: one τ² for all subgroups, the residual τ² of a meta-regression on the
        subgroup (``rma(yi, vi, mods=groups, method=method)``), with which every subgroup is
        then pooled, as R meta's ``tau.common=TRUE``; it is ``tau2_common`` in the result.
        The overall fit keeps its own τ².

    References
    ----------
    Borenstein et al. (2009), chapter 19; Cochrane Handbook, section 10.11.3.1; Schwarzer, G.,
    Carpenter, J. R., & Rücker, G. (2015). Meta-Analysis with R, section 3.3. Springer.
    """
    y = v.as_float_array("yi", yi)
    var = v.as_float_array("vi", vi)
    labels = [str(g) for g in groups]
    v.same_length(yi=y, vi=var, groups=np.asarray(labels))
    tau2 = v.check_choice("tau2", tau2, ("separate", "common"))
    names = list(slab) if slab is not None else [str(i + 1) for i in range(len(y))]
    sizes = None if ni is None else np.asarray(ni, dtype=float)
    levels = list(dict.fromkeys(labels))
    if len(levels) < 2:
        raise ValueError(f"groups: need at least 2 subgroups, got {levels}")
    common = None
    if tau2 == "common" and method not in FIXED_METHODS:
        common = rma(y, var, method=method, mods=labels, level=level).tau2

    def run(mask: np.ndarray, fixed: float | None) -> RMAResult:
        return rma(y[mask], var[mask], method=method, test=test if mask.sum() > 1 else "z",
                   level=level, measure=measure, slab=[n for n, m in zip(names, mask) if m],
                   ni=None if sizes is None else sizes[mask], tau2=fixed)

    fits = {name: run(np.array([g == name for g in labels]), common) for name in levels}
    overall = run(np.ones(len(y), dtype=bool), None)
    qb, df, p = q_between([f.estimate for f in fits.values()], [f.se for f in fits.values()])
    return SubgroupResult(fits, overall, qb, df, p,
                          tau2_common=np.nan if common is None else common)
