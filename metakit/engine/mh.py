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

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
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

    ``q``, ``i2`` and ``h2`` come from the inverse-variance study estimates (0.5 added to
    tables with a zero cell, double-zero tables left out), around the pooled estimate, as in
    metafor. For the MH odds ratio, ``cmh`` (Cochran-Mantel-Haenszel test of OR = 1),
    ``cochran`` (Cochran's version of it, variance with ``N`` for ``N - 1``), ``breslow_day``
    and ``tarone`` (tests of a common OR, on ``k_tarone - 1`` df) are set as ``rma.mh`` reports
    them; they are NaN for other measures. ``random`` marks RevMan's "M-H, Random" model
    (see :func:`rma_mh`), with its DerSimonian-Laird ``tau2``.
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
    tables: NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 4)))
    add: float = 0.0
    correct: bool = True
    random: bool = False
    tau2: float = 0.0
    cmh: float = np.nan
    cmh_pval: float = np.nan
    cochran: float = np.nan
    cochran_pval: float = np.nan
    breslow_day: float = np.nan
    tarone: float = np.nan
    tarone_pval: float = np.nan
    k_tarone: int = 0
    weights: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    test = "z"
    is_regression = False
    pi_low = pi_high = np.nan
    ni = None

    @property
    def is_fixed(self) -> bool:
        """Fixed effect (MH or Peto), not RevMan's "M-H, Random"."""
        return not self.random

    @property
    def yi(self) -> NDArray[np.float64]:
        """Study estimates on the model scale, as :func:`study_estimates` makes them (NaN for a
        table left out, which a forest plot shows as not estimable, as RevMan does)."""
        return self._studies[0]

    @property
    def vi(self) -> NDArray[np.float64]:
        """Sampling variances of :attr:`yi` (NaN where it is)."""
        return self._studies[1]

    @functools.cached_property
    def _studies(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(yi, vi)`` of every table, computed once per result."""
        yi, vi = np.full(self.k, np.nan), np.full(self.k, np.nan)
        estimates, variances, keep = study_estimates(self.measure, *self.tables.T)
        yi[keep], vi[keep] = estimates, variances
        return yi, vi

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
    def breslow_day_pval(self) -> float:
        return float(stats.chi2.sf(self.breslow_day, self.k_tarone - 1)) \
            if self.k_tarone > 1 else np.nan

    def back_transform(self) -> dict[str, float]:
        """Estimate and CI on the ratio scale (``OR``, ``RR``) or as printed (``RD``)."""
        f = np.exp if self.measure in ("OR", "RR", "PETO") else float
        return {"estimate": float(f(self.estimate)), "ci_low": float(f(self.ci_low)),
                "ci_high": float(f(self.ci_high)), "pi_low": np.nan, "pi_high": np.nan}

    def to_record(self) -> dict[str, Any]:
        return {"measure": self.measure, "model": self.method, "k": self.k,
                "estimate": self.estimate, "se": self.se, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "p_value": self.pval, "tau2": self.tau2,
                "i2": self.i2, "q": self.q, "q_df": self.q_df, "q_pval": self.q_pval}

    def refit(self, keep: NDArray[np.bool_]) -> "PooledTablesResult":
        """The same pooling (measure, corrections, level, model) of the tables where ``keep``
        is true (what :func:`metakit.leave1out` and :func:`metakit.cumul` refit)."""
        a, b, c, d = self.tables[keep].T
        labels = [s for s, k in zip(self.slab, keep) if k]
        if self.method == "Peto":
            return rma_peto(ai=a, bi=b, ci=c, di=d, level=self.level, slab=labels)
        return rma_mh(ai=a, bi=b, ci=c, di=d, measure=self.measure, level=self.level,
                      add=self.add, correct=self.correct, random=self.random, slab=labels)


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


def study_estimates(measure: str, a: NDArray, b: NDArray, c: NDArray,
                    d: NDArray) -> tuple[NDArray, NDArray, NDArray[np.bool_]]:
    """Study estimates as ``rma.mh`` and ``rma.peto`` keep them (for Q and residuals): 0.5
    added to tables with a zero cell, double-zero tables left out (``keep`` says which)."""
    keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
    es = escalc(measure, ai=a[keep], bi=b[keep], ci=c[keep], di=d[keep])
    return es["yi"].to_numpy(), es["vi"].to_numpy(), keep


def _cochran_q(yi: NDArray, vi: NDArray, estimate: float) -> tuple[float, int]:
    """Cochran's Q of the study estimates around the pooled one, and its df."""
    if len(yi) < 2:
        return 0.0, 0
    return max(0.0, float(np.sum((yi - estimate) ** 2 / vi))), len(yi) - 1


def _or_tests(a: NDArray, b: NDArray, c: NDArray, d: NDArray, odds_ratio: float,
              correct: bool, table: StratifiedTable) -> dict[str, float]:
    """Tests that accompany the MH odds ratio in ``rma.mh``.

    The Cochran-Mantel-Haenszel statistic is statsmodels' ``test_null_odds`` (p-value from the
    upper tail, which keeps its precision); Cochran's variant divides by ``N`` instead of
    ``N - 1``. Breslow-Day and Tarone's correction are computed here rather than with
    ``test_equal_odds``, which returns NaN when the pooled OR is exactly 1 and counts tables
    without events (or non-events) in its degrees of freedom; metafor, as here, leaves those
    out (Breslow & Day 1980, eq. 4.30; Tarone 1985).
    """
    n1, n2 = a + b, c + d
    n = n1 + n2
    events, non_events = a + c, b + d
    if events.sum() == 0 or non_events.sum() == 0:
        return {}
    cmh = float(table.test_null_odds(correction=correct).statistic)
    shift = np.abs(np.sum(a - n1 * events / n)) - (0.5 if correct else 0.0)
    cochran = float(shift**2 / np.sum(n1 * n2 * events * non_events / n**3))
    if odds_ratio == 1:
        expected = n1 * events / n
    else:
        A = odds_ratio * (n1 + events) + (n2 - events)
        B = np.sqrt(A**2 - 4 * n1 * events * odds_ratio * (odds_ratio - 1))
        expected = (A - B) / (2 * (odds_ratio - 1))
    pos = (expected > 0) & (events > 0) & (non_events > 0)
    e11 = expected[pos]
    cells = (e11, n1[pos] - e11, events[pos] - e11, e11 - n1[pos] - events[pos] + n[pos])
    variance = 1 / sum(1 / cell for cell in cells)
    breslow_day = max(0.0, float(np.sum((a[pos] - e11) ** 2 / variance)))
    tarone = max(0.0, breslow_day - float(np.sum(a[pos] - e11) ** 2 / np.sum(variance)))
    k_pos = int(pos.sum())
    return {"cmh": cmh, "cmh_pval": float(stats.chi2.sf(cmh, 1)), "cochran": cochran,
            "cochran_pval": float(stats.chi2.sf(cochran, 1)), "breslow_day": breslow_day,
            "tarone": tarone,
            "tarone_pval": float(stats.chi2.sf(tarone, k_pos - 1)) if k_pos > 1 else np.nan,
            "k_tarone": k_pos}


def rma_mh(*args: Any, ai: ArrayLike | None = None, bi: ArrayLike | None = None,
           ci: ArrayLike | None = None, di: ArrayLike | None = None,
           n1i: ArrayLike | None = None, n2i: ArrayLike | None = None, measure: str = "OR",
           level: float = 95, add: float = 0.0, drop00: bool = False, correct: bool = True,
           random: bool = False, slab: Sequence[Any] | None = None) -> PooledTablesResult:
    """Mantel-Haenszel pooled OR, RR or RD (metafor's ``rma.mh`` defaults).

    The counts are keyword-only (``ai=, bi=, ci=, di=`` or ``ai=, n1i=, ci=, n2i=``): metafor's
    positional order differs from what one would guess, so metakit does not accept one.

    By default the MH estimate uses the observed counts without continuity correction (metafor);
    ``add=0.5, drop00=True`` reproduces RevMan 5, which adds 0.5 to every cell of a table with a
    zero cell and leaves out tables with no events (or no non-events) in both arms (metafor's
    ``add=c(1/2, 1/2), drop00=c(TRUE, TRUE)``). The OR variance is
    Robins-Breslow-Greenland, the RR variance Greenland-Robins, the RD variance Sato-Greenland-
    Robins. The OR point estimate and its variance come from statsmodels' ``StratifiedTable``,
    which gives the same numbers. Q (and I²) use the inverse-variance study estimates with 0.5
    added to tables with a zero cell and double-zero tables dropped.

    Parameters
    ----------
    ai, bi, ci, di, n1i, n2i : array_like
        Events and non-events (or totals) in the treatment and control arms, by keyword.
    measure : {"OR", "RR", "RD"}
    level : float
        Confidence level (percent, or a proportion below 1).
    add, drop00 : float, bool
        Continuity correction of the MH estimate (see above).
    correct : bool
        Continuity correction (0.5) of the Cochran-Mantel-Haenszel and Cochran tests (OR).
    random : bool
        RevMan 5's "M-H, Random" model: DerSimonian-Laird τ² from Cochran's Q around the MH
        estimate, ``τ² = max(0, (Q - df) / (Σw - Σw²/Σw))`` with ``w = 1/vi`` of the study
        estimates above, then the inverse-variance mean with weights ``1/(vi + τ²)`` (Deeks &
        Higgins 2010; R meta's ``metabin(method="MH", method.tau="DL", Q.Cochrane=TRUE)``).
        For RD, RevMan and meta keep double-zero tables (RD = 0) in Q and the weights, where
        metafor's Q (and so this model) leaves them out.
    slab : sequence, optional
        Study labels.

    Returns
    -------
    PooledTablesResult
        With the Cochran-Mantel-Haenszel, Cochran, Breslow-Day and Tarone tests for OR.

    Raises
    ------
    ValueError
        Positional counts, invalid counts or options, or an estimate that is not estimable
        (no events, or for RD no variance, in every table).

    References
    ----------
    Mantel & Haenszel (1959); Robins, Breslow & Greenland (1986); Greenland & Robins (1985);
    Sato, Greenland & Robins (1989); Breslow, N. E., & Day, N. E. (1980). Statistical Methods
    in Cancer Research, Vol. 1. IARC; Tarone, R. E. (1985). On heterogeneity tests based on
    efficient scores. Biometrika, 72(1), 91-95; Deeks, J. J., & Higgins, J. P. T. (2010).
    Statistical algorithms in Review Manager 5. The Cochrane Collaboration.
    """
    v.keyword_only("rma_mh", args, "ai=, bi= or n1i=, ci=, di= or n2i=")
    v.check_choice("measure", measure, ("OR", "RR", "RD"))
    level = v.check_level(level)
    add = v.check_number("add", add, minimum=0)
    for name, flag in (("drop00", drop00), ("correct", correct), ("random", random)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{name}: must be True or False, got {v.quote(flag)}")
    a, b, c, d, labels = _tables(ai, bi, ci, di, n1i, n2i, slab)
    if drop00:
        keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
        if not keep.any():
            raise ValueError("ai, ci: every table has no events (or no non-events) in both arms")
        a, b, c, d = a[keep], b[keep], c[keep], d[keep]
        labels = [label for label, k in zip(labels, keep) if k]
    observed = np.column_stack([a, b, c, d])
    if add > 0:
        shift = np.where((a == 0) | (b == 0) | (c == 0) | (d == 0), add, 0.0)
        a, b, c, d = a + shift, b + shift, c + shift, d + shift
    n1, n2 = a + b, c + d
    n = n1 + n2
    tests: dict[str, float] = {}
    if measure == "OR":
        if a.sum() == 0 and c.sum() == 0 or (a * d / n).sum() == 0 or (b * c / n).sum() == 0:
            raise ValueError("ai, ci: the MH odds ratio is not estimable (no informative tables)")
        table = StratifiedTable(np.stack([np.stack([a, b], -1), np.stack([c, d], -1)], 1)
                                .transpose(1, 2, 0))
        estimate, se = float(table.logodds_pooled), float(table.logodds_pooled_se)
        tests = _or_tests(a, b, c, d, float(np.exp(estimate)), correct, table)
        weights = b * c / n
    elif measure == "RR":
        r, s = np.sum(a * n2 / n), np.sum(c * n1 / n)
        if r == 0 or s == 0:
            raise ValueError("ai, ci: the MH risk ratio is not estimable (no events in one arm)")
        estimate = float(np.log(r / s))
        se = float(np.sqrt(np.sum(n1 * n2 * (a + c) / n**2 - a * c / n) / (r * s)))
        weights = c * n1 / n
    else:
        weights = n1 * n2 / n
        estimate = float(np.sum(a * n2 / n - c * n1 / n) / weights.sum())
        se = float(np.sqrt((estimate * np.sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2
                                               + (n1 / n) * (n2 / n) * (n2 - n1) / 2)
                            + np.sum(a * (n2 - c) / n + c * (n1 - a) / n) / 2)
                           / weights.sum() ** 2))
        if not se > 0:
            raise ValueError("ai, ci: the MH risk difference has no variance (no events, or "
                             "only events, in every table); it is not estimable")
    yi, vi, informative = study_estimates(measure, *observed.T)
    q, q_df = _cochran_q(yi, vi, estimate)
    tau2 = 0.0
    method = "MH"
    if random:
        estimate, se, tau2 = _revman_random(yi, vi, q, q_df, estimate)
        method = "MH-DL"
        weights = np.zeros(len(a))
        weights[informative] = 1 / (vi + tau2)
    return PooledTablesResult(measure, method, estimate, se, level, len(a), q, q_df, labels,
                              tables=observed, add=add, correct=bool(correct),
                              random=bool(random), tau2=tau2, weights=100 * weights / weights.sum(),
                              **tests)


def _revman_random(yi: NDArray, vi: NDArray, q: float, q_df: int,
                   estimate: float) -> tuple[float, float, float]:
    """RevMan's "M-H, Random": DerSimonian-Laird τ² from Q around the MH estimate, then the
    inverse-variance random-effects mean and its standard error."""
    if q_df < 1:
        return estimate, np.nan, 0.0
    w = 1 / vi
    tau2 = max(0.0, (q - q_df) / (w.sum() - np.sum(w**2) / w.sum()))
    w_re = 1 / (vi + tau2)
    return float(np.sum(w_re * yi) / w_re.sum()), float(1 / np.sqrt(w_re.sum())), float(tau2)


def rma_peto(*args: Any, ai: ArrayLike | None = None, bi: ArrayLike | None = None,
             ci: ArrayLike | None = None, di: ArrayLike | None = None,
             n1i: ArrayLike | None = None, n2i: ArrayLike | None = None, level: float = 95,
             slab: Sequence[Any] | None = None) -> PooledTablesResult:
    """Peto's one-step pooled log odds ratio (metafor's ``rma.peto``).

    The counts are keyword-only, as for :func:`rma_mh`. Q (and I²) come from the observed
    counts, ``Σ(O - E)²/V - (Σ(O - E))²/ΣV``, on one df less than the tables that are not
    double-zero, as metafor.

    References
    ----------
    Yusuf et al. (1985).
    """
    v.keyword_only("rma_peto", args, "ai=, bi= or n1i=, ci=, di= or n2i=")
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
    # metafor's Q for Peto: from the observed counts, sum (O-E)²/V - (sum O-E)² / sum V
    informative = variance > 0
    excess = (a - n1 * events / n)[informative]
    kept = int(study_estimates("PETO", a, b, c, d)[2].sum())
    q = max(0.0, float(np.sum(excess**2 / variance[informative])
                       - excess.sum() ** 2 / variance.sum()))
    q_df = kept - 1 if informative.sum() > 1 else 0
    return PooledTablesResult("PETO", "Peto", estimate, se, level, len(a), q, q_df, labels,
                              tables=np.column_stack([a, b, c, d]),
                              weights=100 * variance / variance.sum())
