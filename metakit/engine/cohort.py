"""Descriptive and comparative statistics for single cohorts (the POR study).

Thin, validated wrappers around scipy and statsmodels so that notebooks state each test once.

References
----------
Yates, F. (1934). Contingency tables involving small numbers and the χ² test. Supplement to
the Journal of the Royal Statistical Society, 1(2), 217-235.
Fisher, R. A. (1935). The logic of inductive inference. JRSS, 98(1), 39-82.
Newcombe, R. G. (1998). Interval estimation for the difference between independent
proportions: comparison of eleven methods. Statistics in Medicine, 17(8), 873-890.
Woolf, B. (1955). On estimating the relation between blood group and disease. Annals of Human
Genetics, 19(4), 251-253.
Wilson (1927); Clopper & Pearson (1934): see :mod:`metakit.engine.proportions`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from metakit.engine import _validation as v

INTERVALS = {"wilson": "wilson", "exact": "beta"}


class Interval(NamedTuple):
    estimate: float
    low: float
    high: float


class TestResult(NamedTuple):
    statistic: float
    pvalue: float


def _counts(events: int, n: int, name: str = "events") -> None:
    v.check_counts(name, np.array([events], dtype=float), "n", np.array([n], dtype=float))


def proportion(events: int, n: int, method: str = "wilson", level: float = 95) -> Interval:
    """Proportion ``events / n`` with a Wilson or exact (Clopper-Pearson) interval."""
    _counts(events, n)
    v.check_choice("method", method, tuple(INTERVALS))
    low, high = proportion_confint(events, n, alpha=1 - v.check_level(level) / 100,
                                   method=INTERVALS[method])
    return Interval(events / n, float(low), float(high))


def table(events1: int, n1: int, events2: int, n2: int) -> np.ndarray:
    """2x2 table ``[[events1, n1 - events1], [events2, n2 - events2]]`` (validated)."""
    _counts(events1, n1, "events1")
    _counts(events2, n2, "events2")
    return np.array([[events1, n1 - events1], [events2, n2 - events2]])


def chi2(events1: int, n1: int, events2: int, n2: int, correction: bool = True) -> TestResult:
    """Pearson's χ² test of a 2x2 table, with Yates' continuity correction by default (as R)."""
    result = stats.chi2_contingency(table(events1, n1, events2, n2), correction=correction)
    return TestResult(float(result.statistic), float(result.pvalue))


def fisher(events1: int, n1: int, events2: int, n2: int) -> TestResult:
    """Fisher's exact test (two-sided); ``statistic`` is the sample odds ratio."""
    result = stats.fisher_exact(table(events1, n1, events2, n2))
    return TestResult(float(result.statistic), float(result.pvalue))


def odds_ratio(events1: int, n1: int, events2: int, n2: int, level: float = 95) -> Interval:
    """Odds ratio of group 1 versus group 2 with Woolf's (log) interval."""
    t = Table2x2(table(events1, n1, events2, n2))
    low, high = t.oddsratio_confint(alpha=1 - v.check_level(level) / 100)
    return Interval(float(t.oddsratio), float(low), float(high))


def risk_difference(events1: int, n1: int, events2: int, n2: int,
                    level: float = 95) -> Interval:
    """Difference of proportions (group 1 minus group 2) with Newcombe's hybrid score interval."""
    table(events1, n1, events2, n2)
    low, high = confint_proportions_2indep(events1, n1, events2, n2, method="newcomb",
                                           compare="diff",
                                           alpha=1 - v.check_level(level) / 100)
    return Interval(events1 / n1 - events2 / n2, float(low), float(high))


def binomial_vs_rate(events: int, n: int, rate: float) -> TestResult:
    """Exact binomial test of ``events / n`` against a fixed reference ``rate`` (two-sided).

    A cited rate without its denominator can only be treated as known without error, which
    makes this test anti-conservative; say so wherever it is used.
    """
    _counts(events, n)
    if not 0 < rate < 1:
        raise ValueError(f"rate: must be a proportion strictly between 0 and 1, got {rate!r}")
    result = stats.binomtest(events, n, rate)
    return TestResult(events / n, float(result.pvalue))
