"""Cohort statistics against values published or computed by hand (R outputs noted)."""

import pytest

from metakit import cohort


def test_yates_chi2_reproduces_por_age_test():
    # POR paper (Results, Impact of Age): chi2 = 2.4321, p = 0.1189 for 12/23 vs 26/82
    res = cohort.chi2(12, 23, 26, 82)
    assert res.statistic == pytest.approx(2.432096977, abs=1e-8)  # R: chisq.test(...)
    assert res.pvalue == pytest.approx(0.1189, abs=5e-5)


def test_uncorrected_chi2_is_larger():
    assert cohort.chi2(12, 23, 26, 82, correction=False).statistic > 2.4321


def test_wilson_and_exact_intervals():
    # R 4: prop.test(38, 105, correct=FALSE)$conf.int -> 0.2763673896 0.4571900221 (Wilson)
    wilson = cohort.proportion(38, 105)
    assert wilson.estimate == pytest.approx(38 / 105)
    assert (wilson.low, wilson.high) == pytest.approx((0.2763673896, 0.4571900221), abs=1e-9)
    # R 4: binom.test(38, 105)$conf.int -> 0.2703649211 0.4614514455
    exact = cohort.proportion(38, 105, method="exact")
    assert (exact.low, exact.high) == pytest.approx((0.2703649211, 0.4614514455), abs=1e-9)


def test_fisher_and_odds_ratio():
    res = cohort.fisher(12, 23, 26, 82)
    assert res.statistic == pytest.approx((12 * 56) / (11 * 26))
    assert res.pvalue == pytest.approx(0.0878770471, abs=1e-9)  # R: fisher.test(...)$p.value
    orr = cohort.odds_ratio(12, 23, 26, 82)
    assert orr.low < orr.estimate < orr.high


def test_risk_difference_contains_estimate():
    rd = cohort.risk_difference(29, 70, 9, 35)
    assert rd.estimate == pytest.approx(29 / 70 - 9 / 35)
    assert rd.low < rd.estimate < rd.high


@pytest.mark.parametrize("call, message", [
    (lambda: cohort.proportion(12, 10), "events: 12 events exceed n = 10"),
    (lambda: cohort.chi2(-1, 10, 2, 10), "events1: must be >= 0"),
    (lambda: cohort.proportion(1, 10, method="agresti"), "method: unknown value 'agresti'"),
    (lambda: cohort.binomial_vs_rate(5, 10, 7), "rate: must be a proportion"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
