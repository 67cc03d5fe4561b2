"""Tests of metakit.audit: hand-made cases both ways, seed cases, and no-false-alarm properties."""

from __future__ import annotations

import doctest
import importlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from metakit import audit
from metakit.audit.battery import I2_FROM_Q
from metakit.audit import Printed
from metakit.audit._core import weighted_mean_range
from metakit.audit.pooling import _q_max, _q_min

Z95 = stats.norm.ppf(0.975)


def verdicts(*checks: audit.Check) -> list[str]:
    return [c.verdict for c in checks]


# --- Printed -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, low, high", [
    ("2.28", 2.275, 2.285),
    ("−0.27", -0.275, -0.265),
    ("-0.27", -0.275, -0.265),
    (".041", 0.0405, 0.0415),
    ("44.0%", 43.95, 44.05),
    ("12", 11.5, 12.5),
    ("0.000", -0.0005, 0.0005),
    ("1.2e-5", 1.15e-5, 1.25e-5),
    ("1.2 × 10^-5", 1.15e-5, 1.25e-5),
    ("p = 0.041", 0.0405, 0.0415),
])
def test_printed_interval_is_half_a_unit_either_side(text: str, low: float, high: float) -> None:
    printed = Printed.parse(text)
    assert printed.low <= low and printed.high >= high
    assert printed.low == pytest.approx(low, rel=1e-12, abs=1e-15)
    assert printed.high == pytest.approx(high, rel=1e-12, abs=1e-15)


def test_printed_bounds_and_percent() -> None:
    below = Printed.parse("<0.001")
    assert below.low == -math.inf and below.high == pytest.approx(0.001)
    assert Printed.parse("p < 0.00001").high == pytest.approx(1e-5)
    above = Printed.parse("≥ 0.05")
    assert above.low == pytest.approx(0.05) and above.high == math.inf
    assert Printed.parse("44.0%").percent and not Printed.parse("44.0").percent


@pytest.mark.parametrize("bad", ["abc", "1.2.3", "", None, True, [1]])
def test_printed_rejects_non_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match="^x: "):
        Printed.parse(bad, name="x")  # type: ignore[arg-type]


@given(st.floats(-1e4, 1e4, allow_nan=False), st.integers(0, 5))
def test_printed_interval_contains_the_rounded_value(x: float, decimals: int) -> None:
    printed = Printed.parse(f"{x:.{decimals}f}")
    assert printed.low <= x <= printed.high
    assert printed.high - printed.low <= 1.0001 * 10.0**-decimals


# --- ci_symmetry ---------------------------------------------------------------------------------

def test_ci_symmetry_linear_both_ways() -> None:
    assert audit.ci_symmetry("0.50", "0.30", "0.70").verdict == "consistent"
    # centre in [0.500, 0.510]: touches the estimate's interval [0.495, 0.505]
    assert audit.ci_symmetry("0.50", "0.32", "0.70").verdict == "consistent"
    # centre in [0.510, 0.520]: no rounding reaches 0.505
    check = audit.ci_symmetry("0.50", "0.33", "0.70")
    assert check.verdict == "inconsistent"
    assert check.recomputed == pytest.approx((0.51, 0.52))
    assert "not symmetric" in check.explanation and "0.50" in check.explanation


def test_ci_symmetry_log_scale_both_ways() -> None:
    # OR 0.41 (0.22, 0.78): sqrt(0.22 * 0.78) = 0.414
    assert audit.ci_symmetry("0.41", "0.22", "0.78", scale="log").verdict == "consistent"
    assert audit.ci_symmetry("0.50", "0.22", "0.78", scale="log").verdict == "inconsistent"
    # symmetric on the linear scale, not on the log scale
    assert audit.ci_symmetry("0.50", "0.22", "0.78").verdict == "consistent"


def test_ci_symmetry_logit_scale() -> None:
    p, se = 0.3, 0.2
    logit = math.log(p / (1 - p))
    lo, hi = (1 / (1 + math.exp(-(logit + s * Z95 * se))) for s in (-1, 1))
    assert audit.ci_symmetry(f"{p:.3f}", f"{lo:.3f}", f"{hi:.3f}",
                             scale="logit").verdict == "consistent"
    assert audit.ci_symmetry(f"{100 * p:.1f}%", f"{100 * lo:.1f}%", f"{100 * hi:.1f}%",
                             scale="logit").verdict == "consistent"
    assert audit.ci_symmetry("0.300", "0.250", "0.400", scale="logit").verdict == "inconsistent"


def test_ci_that_does_not_contain_its_estimate() -> None:
    check = audit.ci_symmetry("1.50", "0.20", "0.80")
    assert check.verdict == "inconsistent" and "outside its own confidence interval" in (
        check.explanation)
    reversed_ci = audit.ci_symmetry("0.50", "0.80", "0.20")
    assert reversed_ci.verdict == "inconsistent" and "above the upper" in reversed_ci.explanation


def test_ci_symmetry_not_checkable() -> None:
    assert audit.ci_symmetry("0.00", "0.00", "0.43", scale="log").verdict == "not_checkable"
    assert audit.ci_symmetry("0.5", "", "0.7").verdict == "not_checkable"


# --- p_from_ci and z_from_ci ---------------------------------------------------------------------

def test_cirrhosis_meld_two_weeks_is_inconsistent() -> None:
    """Cirrhosis seed, MELD at 2 weeks: SMD −0.27 [−0.59, −0.05], p = 0.10."""
    check = audit.p_from_ci("−0.27", "−0.59", "−0.05", "0.10", label="MELD 2 weeks")
    assert check.verdict == "inconsistent"
    assert check.recomputed is not None and check.recomputed[1] < 0.095
    assert "0.10" in check.explanation and "excludes 0" in check.explanation
    assert check.label == "MELD 2 weeks"
    assert audit.ci_symmetry("−0.27", "−0.59", "−0.05").verdict == "inconsistent"


def test_cirrhosis_pooled_meld_is_consistent() -> None:
    """Cirrhosis seed, MELD overall: SMD −0.62 [−0.82, −0.42], p < 0.00001."""
    assert audit.p_from_ci("−0.62", "−0.82", "−0.42", "<0.00001").verdict == "consistent"
    assert audit.p_from_ci("-0.57", "-0.86", "-0.28", "0.0001").verdict == "consistent"
    assert audit.p_from_ci("-0.05", "-0.38", "0.28", "0.75").verdict == "consistent"


def test_p_from_ci_both_ways() -> None:
    # est 0.5, se 0.2: CI 0.108 to 0.892, z 2.5, p 0.0124
    assert audit.p_from_ci("0.50", "0.11", "0.89", "0.012").verdict == "consistent"
    assert audit.p_from_ci("0.50", "0.11", "0.89", "0.05").verdict == "inconsistent"
    assert audit.p_from_ci("0.50", "0.11", "0.89", "0.000").verdict == "inconsistent"
    # OR 0.41 (0.22, 0.78): p about 0.006
    assert audit.p_from_ci("0.41", "0.22", "0.78", "0.006", scale="log").verdict == "consistent"
    assert audit.p_from_ci("0.41", "0.22", "0.78", "0.06", scale="log").verdict == "inconsistent"
    assert audit.p_from_ci("0.41", "0.22", "0.78", "", scale="log").verdict == "not_checkable"


def test_p_from_ci_t_distribution() -> None:
    df, est, se = 5, 1.0, 0.4
    crit = stats.t.ppf(0.975, df)
    p = 2 * stats.t.sf(est / se, df)
    args = (f"{est:.2f}", f"{est - crit * se:.2f}", f"{est + crit * se:.2f}", f"{p:.3f}")
    assert audit.p_from_ci(*args, dist="t", df=df).verdict == "consistent"
    assert audit.p_from_ci(*args).verdict == "inconsistent"  # the z test gives p = 0.01


def test_z_from_ci_both_ways() -> None:
    assert audit.z_from_ci("-0.62", "-0.82", "-0.42", "6.07").verdict == "consistent"
    assert audit.z_from_ci("-0.62", "-0.82", "-0.42", "-6.07").verdict == "consistent"
    assert audit.z_from_ci("-0.62", "-0.82", "-0.42", "3.07").verdict == "inconsistent"


# --- heterogeneity -------------------------------------------------------------------------------

def test_i2_from_q_both_ways() -> None:
    assert audit.i2_from_q("12.00", 4, "67%").verdict == "consistent"
    assert audit.i2_from_q("12.00", 4, "66.7%").verdict == "consistent"
    assert audit.i2_from_q("12.00", 4, "75%").verdict == "inconsistent"
    assert audit.i2_from_q("3.1", 4, "0%").verdict == "consistent"
    assert audit.i2_from_q("3.1", 4, "10%").verdict == "inconsistent"
    assert audit.i2_from_q(None, 4, "10%").verdict == "not_checkable"


def test_i2_from_pval_nonunion_subgroup() -> None:
    """Non-union seed, Fig. 4A MSC/scaffolds: 3 studies, I² = 77.4%, p = 0.012."""
    assert audit.i2_from_pval("0.012", 2, "77.4%").verdict == "consistent"
    assert audit.i2_from_pval("0.012", 2, "60.0%").verdict == "inconsistent"
    assert audit.i2_from_pval("0.000", 7, "99.6%").verdict == "consistent"


def test_q_pval_both_ways() -> None:
    assert audit.q_pval("12.00", 4, "0.017").verdict == "consistent"
    assert audit.q_pval("12.00", 4, "0.17").verdict == "inconsistent"
    assert audit.q_pval("30.5", 4, "<0.001").verdict == "consistent"


# --- subgroups and pooling -----------------------------------------------------------------------

NONUNION = {"estimates": ["6.36", "5.85"], "ci_lows": ["6.20", "5.39"],
            "ci_highs": ["6.51", "6.31"]}
MSC_ROWS = {  # non-union seed, Fig. 4A, subgroup "MSC"
    "estimates": ["6.50", "8.00", "3.92", "10.40", "4.00", "3.30", "3.30", "10.80"],
    "ci_lows": ["3.46", "4.98", "3.31", "10.14", "3.74", "2.88", "2.22", "8.52"],
    "ci_highs": ["9.53", "11.01", "4.52", "10.65", "4.25", "3.71", "4.37", "13.07"],
}
MSC_WEIGHTS = ["0.24", "0.24", "6.03", "33.97", "33.97", "12.83", "1.91", "0.43"]


def test_nonunion_time_to_union_subgroup_difference_is_consistent() -> None:
    check = audit.subgroup_difference(**NONUNION, p="0.041")
    assert check.verdict == "consistent"
    assert check.recomputed is not None
    assert check.recomputed[0] <= 0.0415 and check.recomputed[1] >= 0.0405
    assert audit.subgroup_difference(**NONUNION, p="0.41").verdict == "inconsistent"
    # Fig. 4B: −0.53 (−0.75, −0.30) vs −0.60 (−1.18, −0.02), p = 0.821
    assert audit.subgroup_difference(["-0.53", "-0.60"], ["-0.75", "-1.18"],
                                     ["-0.30", "-0.02"], "0.821").verdict == "consistent"


def test_subgroups_pool_to_overall_both_ways() -> None:
    args = NONUNION.values()
    check = audit.subgroups_pool_to_overall(*args, "6.30", "6.15", "6.45")
    assert check.verdict == "consistent" and "assuming" in check.explanation
    assert audit.subgroups_pool_to_overall(*args, "6.50", "6.35", "6.65").verdict == (
        "inconsistent")
    assert audit.subgroups_pool_to_overall(*args, "6.30", "5.90", "6.70").verdict == (
        "inconsistent")  # right centre, CI too wide


def test_rows_pool_to_summary_nonunion_msc() -> None:
    summary = ("6.36", "6.20", "6.51")
    assert audit.rows_pool_to_summary(**MSC_ROWS, summary=summary,
                                      weights=MSC_WEIGHTS).verdict == "consistent"
    assert audit.rows_pool_to_summary(**MSC_ROWS, summary=("6.80", "6.64", "6.95")).verdict == (
        "inconsistent")
    # a wrong random-effects claim: DL spreads the weight, the pooled mean moves far away
    assert audit.rows_pool_to_summary(**MSC_ROWS, summary=summary,
                                      model="random-DL").verdict == "inconsistent"


def test_row_weights_and_weights_sum_nonunion_msc() -> None:
    assert audit.row_weights(**MSC_ROWS, weights=MSC_WEIGHTS, total="89.62").verdict == (
        "consistent")
    swapped = MSC_WEIGHTS.copy()
    swapped[2], swapped[5] = swapped[5], swapped[2]
    check = audit.row_weights(**MSC_ROWS, weights=swapped, total="89.62")
    assert check.verdict == "inconsistent" and "row 3" in check.explanation
    assert audit.weights_sum(MSC_WEIGHTS, total="89.62").verdict == "consistent"
    assert audit.weights_sum(MSC_WEIGHTS).verdict == "inconsistent"


def test_weights_sum_both_ways() -> None:
    assert audit.weights_sum(["33.3", "33.3", "33.4"]).verdict == "consistent"
    assert audit.weights_sum(["33.3", "33.3", "33.3"]).verdict == "consistent"  # 99.75-100.05
    assert audit.weights_sum(["30.0", "30.0", "30.0"]).verdict == "inconsistent"
    assert audit.weights_sum([".", ""]).verdict == "not_checkable"


def test_rows_not_checkable_when_a_row_is_missing() -> None:
    check = audit.rows_pool_to_summary(["1.0", None], ["0.5", "0.1"], ["1.5", "0.9"],
                                       summary=("0.8", "0.5", "1.1"))
    assert check.verdict == "not_checkable" and "row 2" in check.explanation


# --- counts --------------------------------------------------------------------------------------

def test_percent_of_n_grim_both_ways() -> None:
    assert audit.percent_of_n("44.0%", 25).verdict == "consistent"
    check = audit.percent_of_n("44.1%", 25)
    assert check.verdict == "inconsistent" and "11/25" in check.explanation
    assert audit.percent_of_n("44%", 866).verdict == "consistent"
    assert audit.percent_of_n("0.0%", 7).verdict == "consistent"
    assert audit.percent_of_n("100%", 7).verdict == "consistent"
    assert audit.percent_of_n("15.0%", 7).verdict == "inconsistent"  # 1/7 = 14.3, 2/7 = 28.6


def test_parts_sum_both_ways() -> None:
    assert audit.parts_sum(["12", "30"], "42").verdict == "consistent"
    assert audit.parts_sum(["12", "30"], "43").verdict == "inconsistent"
    assert audit.parts_sum(["33%", "33%", "33%"], "100%").verdict == "consistent"
    assert audit.parts_sum(["30%", "30%", "30%"], "100%").verdict == "inconsistent"
    assert audit.parts_sum(["12", "30"], "43", exact=False).verdict == "consistent"


# --- model rule ----------------------------------------------------------------------------------

@pytest.mark.parametrize("i2, p, used, rule, verdict", [
    ("65%", "0.01", "random", "random if I2 > 50%", "consistent"),
    ("65%", "0.01", "fixed", "random if I2 > 50%", "inconsistent"),
    ("20%", "0.30", "fixed", "random if I2 > 50%", "consistent"),
    ("50%", "0.01", "fixed", "random if I2 > 50%", "not_checkable"),  # rounding: undecided
    ("65%", "0.20", "fixed", "random if I² > 50% and p < 0.10", "consistent"),
    ("65%", "0.20", "random", "random if I² > 50% and p < 0.10", "inconsistent"),
    ("10%", "0.01", "random", "random if I2 > 50% or p < 0.10", "consistent"),
    ("10%", "0.03", "REML", "random if p < 0.05", "consistent"),
    ("10%", "0.30", "FE", "fixed if I2 <= 50%", "consistent"),
    (None, "0.30", "random", "random if I2 > 50%", "not_checkable"),
    (None, "0.30", "fixed", "random if I2 > 50% and p < 0.10", "consistent"),
    ("65%", "0.01", None, "random if I2 > 50%", "not_checkable"),  # no model named
    ("65%", "0.01", "fixed (IV, figure label)", "random if I2 > 50%", "inconsistent"),
])
def test_model_rule(i2: str | None, p: str, used: str, rule: str, verdict: str) -> None:
    check = audit.model_rule(i2, p, used, rule)
    assert check.verdict == verdict
    assert check.kind == "rule"


# --- table and styler ----------------------------------------------------------------------------

def test_audit_table_orders_contradictions_first() -> None:
    checks = [audit.percent_of_n("44.0%", 25, label="a"),
              audit.ci_symmetry("0.5", "", "0.7", label="b"),
              audit.p_from_ci("−0.27", "−0.59", "−0.05", "0.10", label="c"),
              audit.percent_of_n("44.1%", 25, label="d"),
              audit.percent_of_n("48.0%", 25, label="e")]
    table = audit.audit_table(checks)
    assert list(table.columns) == ["label", "name", "inputs", "recomputed", "verdict",
                                   "explanation"]
    assert list(table["label"]) == ["c", "d", "b", "a", "e"]
    assert "ci_low = −0.59" in table.loc[0, "inputs"]
    assert isinstance(audit.audit_table([]), pd.DataFrame)
    with pytest.raises(ValueError, match="checks: element 0"):
        audit.audit_table(["not a check"])  # type: ignore[list-item]


def test_checks_table_escapes_and_colours() -> None:
    from metakit.workbook.report import checks_table

    html = checks_table([audit.p_from_ci("1.0", "0.5", "1.5", "<0.001"),
                         audit.p_from_ci("−0.27", "−0.59", "−0.05", "0.10")]).to_html()
    assert "&lt;0.001" in html and "<0.001" not in html
    assert "mk-v-inconsistent" in html and "mk-v-consistent" in html   # one badge per verdict


@pytest.mark.parametrize("module", ["counts", "estimates", "heterogeneity", "pooling", "rules"])
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"metakit.audit.{module}"))
    assert result.attempted > 0 and result.failed == 0


# --- validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: audit.p_from_ci("0.1", "abc", "0.3", "0.2"), "ci_low: 'abc' is not a number"),
    (lambda: audit.ci_symmetry("0.5", "0.3", "0.7", scale="probit"), "scale: unknown"),
    (lambda: audit.p_from_ci("0.5", "0.3", "0.7", "0.2", level=120), "level:"),
    (lambda: audit.p_from_ci("0.5", "0.3", "0.7", "0.2", dist="t"), "df: required"),
    (lambda: audit.i2_from_q("12", 0, "50%"), "df:"),
    (lambda: audit.subgroup_difference(["1"], ["0"], ["2"], "0.5"), "estimates: at least two"),
    (lambda: audit.rows_pool_to_summary(["1", "2"], ["0"], ["2", "3"], ("1", "0", "2")),
     "estimates: arguments differ"),
    (lambda: audit.rows_pool_to_summary(["1"], ["0"], ["2"], ("1", "0")), "summary:"),
    (lambda: audit.rows_pool_to_summary(["1"], ["0"], ["2"], ("1", "0", "2"), model="PM"),
     "model: unknown"),
    (lambda: audit.percent_of_n("44%", 2.5), "n:"),
    (lambda: audit.model_rule("60%", None, "bayes", "random if I2 > 50%"), "model_used:"),
    (lambda: audit.model_rule("60%", None, "fixed", "random sometimes"), "rule: cannot read"),
    (lambda: audit.model_rule("60%", "0.1", "fixed", "random if I2 > 50 and p < .1 or p < .05"),
     "rule:.*mixes"),
    (lambda: audit.weights_sum(["50", "50"], total="150"), "total:"),
])
def test_validation_names_the_argument(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call, explanation", [
    (lambda: audit.ci_symmetry("-0.5", "0.3", "0.7", scale="log"),
     "The printed estimate -0.5 is not above 0, as a ratio must be"),
    (lambda: audit.ci_symmetry("1.5", "0.3", "0.7", scale="logit"),
     "The printed estimate 1.5 is not a proportion between 0 and 1"),
    (lambda: audit.p_from_ci("0.5", "0.3", "0.7", "1.5"),
     "The printed p 1.5 is not a probability between 0 and 1"),
    (lambda: audit.i2_from_q("12", 4, "150%"), "The printed I² 150% is not a percentage"),
    (lambda: audit.q_pval("-2.0", 4, "0.5"), "The printed Q -2.0 is negative"),
    (lambda: audit.percent_of_n("104%", 25), "The printed percentage 104% is not between"),
])
def test_an_impossible_printed_number_is_a_contradiction(call, explanation: str) -> None:  # type: ignore[no-untyped-def]
    check = call()
    assert check.verdict == "inconsistent" and check.assumption == ""
    assert check.explanation.startswith(explanation)
    assert check.explanation.endswith("no true value can be printed so.")


# --- exactness of the interval helpers -----------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.data())
def test_q_and_mean_ranges_cover_every_point_of_the_box(data: st.DataObject) -> None:
    k = data.draw(st.integers(2, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    centre, half = rng.normal(0, 1, k), rng.uniform(0, 0.3, k)
    w_lo = rng.uniform(0.5, 20, k)
    w_hi = w_lo * rng.uniform(1, 1.5, k)
    q_low, q_high = _q_min(centre - half, centre + half, w_lo), _q_max(centre - half,
                                                                        centre + half, w_hi)
    m_low, m_high = weighted_mean_range(centre - half, centre + half, w_lo, w_hi)
    y = rng.uniform(centre - half, centre + half, (500, k))
    w = rng.uniform(w_lo, w_hi, (500, k))
    mean = np.sum(w * y, axis=1) / np.sum(w, axis=1)
    q = np.sum(w * (y - mean[:, None]) ** 2, axis=1)
    tol = 1e-9 * (1 + q_high)
    assert np.all(q >= q_low - tol) and np.all(q <= q_high + tol)
    assert np.all(mean >= m_low - 1e-9) and np.all(mean <= m_high + 1e-9)


# --- no false alarms on numbers produced by a meta-analysis and rounded --------------------------

@dataclass(frozen=True)
class Fit:
    est: float
    se: float
    q: float
    w: np.ndarray


def fixed_effect(y: np.ndarray, v: np.ndarray) -> Fit:
    w = 1 / v
    est = float(np.sum(w * y) / np.sum(w))
    return Fit(est, float(1 / math.sqrt(np.sum(w))), float(np.sum(w * (y - est) ** 2)), w)


def dersimonian_laird(y: np.ndarray, v: np.ndarray) -> Fit:
    fe = fixed_effect(y, v)
    c = np.sum(fe.w) - np.sum(fe.w**2) / np.sum(fe.w)
    tau2 = max(0.0, (fe.q - (len(y) - 1)) / c)
    ws = 1 / (v + tau2)
    return Fit(float(np.sum(ws * y) / np.sum(ws)), float(1 / math.sqrt(np.sum(ws))), fe.q, ws)


def shown(x: float, scale: str, decimals: int = 2) -> str:
    return f"{math.exp(x) if scale == 'log' else x:.{decimals}f}"


def summary_texts(fit: Fit, scale: str) -> tuple[str, str, str]:
    est, se = fit.est, fit.se
    return shown(est, scale), shown(est - Z95 * se, scale), shown(est + Z95 * se, scale)


studies = st.integers(2, 15).flatmap(lambda k: st.tuples(
    st.lists(st.floats(-3, 3), min_size=k, max_size=k),
    st.lists(st.floats(0.005, 1.0), min_size=k, max_size=k)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(studies, st.sampled_from(["linear", "log"]))
def test_no_false_alarms_on_rounded_meta_analyses(data: tuple[list[float], list[float]],
                                                 scale: str) -> None:
    y, v = np.array(data[0]), np.array(data[1])
    k = len(y)
    rows = {"estimates": [shown(x, scale) for x in y],
            "ci_lows": [shown(x - Z95 * math.sqrt(s), scale) for x, s in zip(y, v)],
            "ci_highs": [shown(x + Z95 * math.sqrt(s), scale) for x, s in zip(y, v)]}
    checks: list[audit.Check] = []
    for model, fit in (("fixed", fixed_effect(y, v)), ("random-DL", dersimonian_laird(y, v))):
        est, lo, hi = summary_texts(fit, scale)
        z = fit.est / fit.se
        p = 2 * stats.norm.sf(abs(z))
        weights = [f"{100 * w / np.sum(fit.w):.2f}" for w in fit.w]
        checks += [
            audit.ci_symmetry(est, lo, hi, scale=scale),
            audit.p_from_ci(est, lo, hi, f"{p:.3f}", scale=scale),
            audit.p_from_ci(est, lo, hi, f"{p:.2f}", scale=scale),
            audit.z_from_ci(est, lo, hi, f"{z:.2f}", scale=scale),
            audit.rows_pool_to_summary(**rows, summary=(est, lo, hi), weights=weights,
                                       model=model, scale=scale),
            audit.row_weights(**rows, weights=weights, model=model, scale=scale),
            audit.weights_sum(weights),
        ]
    q = fixed_effect(y, v).q
    q_p = stats.chi2.sf(q, k - 1)
    i2 = max(0.0, (q - (k - 1)) / q) * 100 if q > 0 else 0.0
    checks += [audit.i2_from_q(f"{q:.2f}", k - 1, f"{i2:.2f}%"),
               audit.i2_from_q(f"{q:.2f}", k - 1, f"{i2:.0f}%"),
               audit.q_pval(f"{q:.2f}", k - 1, f"{q_p:.3f}"),
               audit.i2_from_pval(f"{q_p:.3f}", k - 1, f"{i2:.1f}%"),
               audit.model_rule(f"{i2:.0f}%", f"{q_p:.2f}", "random" if i2 > 50 else "fixed",
                                "random if I2 > 50%"),
               audit.model_rule(f"{i2:.1f}%", f"{q_p:.3f}",
                                "random" if i2 > 50 and q_p < 0.10 else "fixed",
                                "random if I2 > 50% and p < 0.10")]
    if k >= 4:
        half = k // 2
        parts = [fixed_effect(y[:half], v[:half]), fixed_effect(y[half:], v[half:])]
        texts = [summary_texts(part, scale) for part in parts]
        ests, los, his = (list(t) for t in zip(*texts))
        w = np.array([1 / part.se**2 for part in parts])
        m = np.array([part.est for part in parts])
        q_b = float(np.sum(w * (m - np.sum(w * m) / np.sum(w)) ** 2))
        overall = summary_texts(fixed_effect(y, v), scale)
        checks += [audit.subgroup_difference(ests, los, his, f"{stats.chi2.sf(q_b, 1):.3f}",
                                             scale=scale),
                   audit.subgroups_pool_to_overall(ests, los, his, *overall, scale=scale)]
    alarms = [c for c in checks if c.verdict == "inconsistent"]
    assert not alarms, [(c.name, c.inputs, c.explanation) for c in alarms]


@settings(max_examples=300, deadline=None)
@given(st.floats(-4, 4), st.floats(0.02, 2), st.sampled_from(["linear", "log", "logit"]),
       st.integers(1, 3), st.sampled_from(["z", "t"]), st.integers(1, 30))
def test_no_false_alarms_on_one_rounded_estimate(est: float, se: float, scale: str,
                                                 decimals: int, dist: str, df: int) -> None:
    crit = Z95 if dist == "z" else stats.t.ppf(0.975, df)
    stat = est / se
    p = 2 * (stats.norm.sf(abs(stat)) if dist == "z" else stats.t.sf(abs(stat), df))
    inverse = {"linear": lambda x: x, "log": math.exp,
               "logit": lambda x: 1 / (1 + math.exp(-x))}[scale]
    texts = [f"{inverse(x):.{decimals}f}" for x in (est, est - crit * se, est + crit * se)]
    assume(scale == "linear" or float(texts[2]) > 0)
    assume(scale != "logit" or float(texts[0]) <= 1)
    options = {"scale": scale, "dist": dist, "df": df if dist == "t" else None}
    checks = [audit.ci_symmetry(*texts, scale=scale),
              audit.p_from_ci(*texts, f"{p:.3f}", **options),
              audit.p_from_ci(*texts, "<0.001" if p < 0.001 else f"{p:.2f}", **options),
              audit.z_from_ci(*texts, f"{stat:.2f}", **options)]
    alarms = [c for c in checks if c.verdict == "inconsistent"]
    assert not alarms, [(c.name, c.inputs, c.explanation) for c in alarms]


@pytest.mark.parametrize("values, verdict", [
    (["3.7", "3.72"], "consistent"),
    (["3.14", "3.72"], "inconsistent"),
    (["5.5", "5"], "consistent"),
    (["5.5", "5.0"], "inconsistent"),
    (["3", "2.5"], "consistent"),  # "3" may be 2.5 rounded half up
    (["12"], "not_checkable"),
])
def test_agree(values, verdict):
    assert audit.agree(values).verdict == verdict


@pytest.mark.parametrize("values, exact, verdict", [
    (["10", "9"], None, "inconsistent"),   # counts are exact
    (["10", "9"], False, "consistent"),    # as rounded measurements they meet at 9.5
    (["12", "12"], None, "consistent"),
])
def test_agree_counts_are_exact(values, exact, verdict):
    assert audit.agree(values, exact=exact).verdict == verdict


def test_freeman_tukey_scale_no_false_alarm_on_metaprop_output():
    from metakit import metaprop

    rng = np.random.default_rng(11)
    for _ in range(40):
        n = rng.integers(5, 60, size=rng.integers(2, 9))
        x = rng.binomial(n, rng.uniform(0.1, 0.9))
        fit = metaprop(x, n, method="DL")
        printed = [f"{100 * v:.1f}%" for v in (fit.prop, fit.prop_low, fit.prop_high)]
        harmonic = len(n) / np.sum(1 / n)
        check = audit.ci_symmetry(*printed, scale=audit.FreemanTukey(float(harmonic)))
        assert check.verdict != "inconsistent", (x, n, printed, check.explanation)


def test_freeman_tukey_scale_finds_asymmetric_interval():
    # non-union Fig. 2: the 9-month MSC/scaffold rate 87% (70-96%) of two studies (harmonic mean
    # size 60/11) is not a Freeman-Tukey interval
    check = audit.ci_symmetry("87%", "70%", "96%", scale=audit.FreemanTukey(60 / 11))
    assert check.verdict == "inconsistent"
    assert "Freeman-Tukey" in check.explanation


def test_freeman_tukey_subgroups_each_with_their_size():
    from metakit import metaprop
    from metakit.engine.subgroups import q_between

    a = metaprop([8, 12, 5], [10, 15, 9], method="DL")
    b = metaprop([3, 4], [12, 20], method="DL")
    _, _, p = q_between([a.estimate, b.estimate], [a.se, b.se])
    texts = [[f"{100 * v:.1f}%" for v in (f.prop, f.prop_low, f.prop_high)] for f in (a, b)]
    scales = [audit.FreemanTukey(float(3 / np.sum(1 / np.array([10, 15, 9])))),
              audit.FreemanTukey(float(2 / np.sum(1 / np.array([12, 20]))))]
    check = audit.subgroup_difference([t[0] for t in texts], [t[1] for t in texts],
                                      [t[2] for t in texts], f"{p:.3f}", scale=scales)
    assert check.verdict == "consistent", check.explanation
    with pytest.raises(ValueError, match="scale: 1 scales for 2 rows"):
        audit.subgroup_difference(["50%", "20%"], ["30%", "5%"], ["70%", "45%"], "0.05",
                                  scale=[audit.FreemanTukey(10)])
    with pytest.raises(ValueError, match="tests no null effect"):
        audit.p_from_ci("50%", "30%", "70%", "0.01", scale=audit.FreemanTukey(10))
    with pytest.raises(ValueError, match="n: the harmonic mean study size must be > 0"):
        audit.FreemanTukey(0)


# --- the automatic battery -------------------------------------------------------------------

def test_battery_derives_every_check_of_one_printed_row():
    row = {"analysis_id": "meld", "measure": "WMD", "estimate": "-1.12", "ci_low": "-1.84",
           "ci_high": "-0.40", "p_value": "0.002", "i2": "45", "q_pval": "0.09", "k": "6",
           "model": "random (text)"}
    checks = audit.battery(row, rule="random if p < 0.05")
    assert [(c.name, c.verdict, c.kind) for c in checks] == [
        ("ci_symmetry", "consistent", "arithmetic"), ("p_from_ci", "consistent", "arithmetic"),
        ("i2_from_pval", "inconsistent", "arithmetic"), ("model_rule", "inconsistent", "rule")]
    assert checks[2].assumption.startswith("df = k − 1 = 5, with k = 6 as printed")
    assert "fit df 6 (7 rows)" in checks[2].explanation
    assert all(c.label == "meld" for c in checks)


def test_battery_printed_df_is_firm_and_ratio_measures_use_the_log_scale():
    row = {"measure": "RR", "estimate": "3.80", "ci_low": "1.51", "ci_high": "9.56",
           "p_value": "0.005", "z": "2.84", "i2": "0", "q": "2.10", "q_df": "9", "q_pval": "0.99"}
    checks = audit.battery(row)
    assert [c.name for c in checks] == ["ci_symmetry", "p_from_ci", "z_from_ci", "i2_from_q",
                                        "i2_from_pval", "q_pval"]
    assert all(c.assumption == "" for c in checks)
    assert checks[0].inputs["scale"] == "log"


def test_battery_proportions_need_a_named_scale_and_never_test_p():
    row = {"measure": "proportion_pct", "estimate": "87", "ci_low": "70", "ci_high": "96",
           "p_value": "0.01"}
    assert audit.battery(row) == []
    checks = audit.battery(row, scale=audit.FreemanTukey(12.0), scale_assumption="FT (unnamed)")
    assert [c.name for c in checks] == ["ci_symmetry"] and checks[0].assumption == "FT (unnamed)"
    assert checks[0].inputs["estimate"] == "87%"


def test_battery_rule_without_a_named_model_is_not_checkable():
    row = {"measure": "SMD", "estimate": "0.55", "ci_low": "-0.08", "ci_high": "1.18",
           "i2": "79", "q_pval": "<0.0001"}
    (rule,) = [c for c in audit.battery(row, rule="random if p < 0.05") if c.kind == "rule"]
    assert rule.verdict == "not_checkable" and "names no model" in rule.explanation


def test_battery_rejects_a_row_that_is_not_a_mapping():
    with pytest.raises(ValueError, match="row: expected a mapping"):
        audit.battery(["0.5", "0.1", "0.9"])


def test_measure_scales():
    assert [audit.measure_scale(m) for m in ("OR", "hr", "SMD", "mean_months", "count", None)] \
        == ["log", "log", "linear", "linear", None, None]
    assert audit.is_proportion("proportion (%)") and not audit.is_proportion("OR")


def test_battery_names_how_i2_was_computed_when_the_software_is_unknown():
    # metafor's REML I² of the BCG trials is 92.2%; (Q - df)/Q with Q = 152.23 on 12 df is 92.1%
    row = {"measure": "RR", "estimate": "0.49", "ci_low": "0.34", "ci_high": "0.70",
           "i2": "92.2", "q": "152.23", "q_df": "12"}
    (check,) = [c for c in audit.battery(row, i2_assumption=I2_FROM_Q)
                if c.name == "i2_from_q"]
    assert check.verdict == "inconsistent" and check.assumption.startswith("I² = (Q − df)/Q")
    (firm,) = [c for c in audit.battery(row) if c.name == "i2_from_q"]
    assert firm.verdict == "inconsistent" and firm.assumption == ""


@pytest.mark.parametrize("i2", ["0", "25.5", "45", "67", "94", "99.4"])
@pytest.mark.parametrize("p", ["0.09", "0.0005", "<0.0001", "1.00", "0.02", "0.000"])
def test_df_range_equals_the_df_that_i2_from_pval_accepts(i2: str, p: str) -> None:
    fitting = [df for df in range(1, 121) if audit.i2_from_pval(p, df, i2).verdict == "consistent"]
    assert audit.df_range(i2, p, max_df=120) == ((fitting[0], fitting[-1]) if fitting else None)
