"""The self-controlled risk ratio (RevMan against a 0-event "before" arm) and the MH lattice check,
against metafor (tests/fixtures/make_iua_fixtures.R) and their own arithmetic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metafor_reference import close
from metakit.workbook import run
from metakit.workbook.crosschecks import CHECKS
from metakit.workbook.kinds.selfcontrol import ASSUMPTION, mh_lattice, selfcontrol_rr

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "iua_reference.json").read_text())


@pytest.fixture(scope="module")
def iua():
    return run("iua")


def test_livebirth_sensitivity_is_metafors_rma_mh_with_revmans_correction():
    fit = selfcontrol_rr([10, 0, 41], [21, 5, 72], slab=["HM", "Lee", "Zhu"])
    expected = REFERENCE["livebirth_sens"]
    values = fit.back_transform()
    close([values["estimate"], values["ci_low"], values["ci_high"], fit.q, fit.pval],
          [expected[k] for k in ("estimate", "ci_low", "ci_high", "q", "pval")])
    assert fit.k == expected["k"] and fit.dropped == ("Lee",)
    assert fit.model_label == "MH fixed, 0.5 added to tables with a zero cell"


@pytest.mark.parametrize("case, add", [("menstrual_recovered", 0.5),
                                       ("menstrual_recovered_c01", 0.1)])
def test_any_correction_agrees_with_metafor_and_gives_one_plus_s_over_kc(case, add):
    events, n = [5, 12, 6, 5], [5, 12, 7, 6]
    fit = selfcontrol_rr(events, n, add=add)
    values = fit.back_transform()
    close([values["estimate"], values["ci_low"], values["ci_high"]],
          [REFERENCE[case][k] for k in ("estimate", "ci_low", "ci_high")])
    assert values["estimate"] == pytest.approx(1 + sum(events) / (len(events) * add), rel=1e-12)


def test_every_study_weighs_the_same_and_draws_rr_2a_plus_1():
    fit = selfcontrol_rr([1, 10, 3], [12, 21, 16])
    np.testing.assert_allclose(fit.weights, 100 / 3)
    np.testing.assert_allclose(np.exp(fit.yi), [3, 21, 7])


def test_without_a_correction_the_ratio_is_not_defined():
    with pytest.raises(ValueError, match="not estimable"):
        selfcontrol_rr([5, 3], [10, 8], add=0)


def test_the_dossier_reproduces_the_printed_live_birth_sensitivity_result(iua):
    row = iua.frame().set_index("analysis_id").loc["livebirth_sens_excl_high_rob"]
    assert row["verdict"] == "reproduced"
    close([row["estimate"], row["ci_low"], row["ci_high"]],
          [REFERENCE["livebirth_sens"][k] for k in ("estimate", "ci_low", "ci_high")])
    assert "left out: Lee 2020" in row["note"]


def test_the_sweep_table_lists_each_correction(iua):
    sweep = iua.table("menstrual_recovered").set_index("correction c")
    assert list(sweep.index) == [0.5, 0.1, 0.01]
    assert sweep.loc[0.1, "RR"] == pytest.approx(REFERENCE["menstrual_recovered_c01"]["estimate"])
    np.testing.assert_allclose(sweep["RR"], sweep["1 + S/(k·c)"], rtol=1e-12)


def test_the_forest_rows_carry_both_arms(iua):
    rows = iua.fit("livebirth_sens").rows
    assert list(rows["label"]) == ["Hernandez-Melchor 2024", "Zhu 2024"]
    assert list(rows["self_control_events"]) == [0, 0]
    assert list(rows["self_control_n"]) == list(rows["n"])
    figure = iua.forest("livebirth_sens")
    assert "52.00 [7.33, 368.83]" in figure.alt


def test_the_stated_rule_picks_revmans_random_model_when_i2_exceeds_it(tmp_path):
    (tmp_path / "review.yaml").write_text(
        "id: sc\ntitle: t\ncitation: c\ndesign: meta-analysis\nsource: s\n"
        "rules: {model: {value: random if I2 > 50%, source: Methods}}\n")
    (tmp_path / "published.csv").write_text(
        "analysis_id,outcome,measure,estimate,ci_low,ci_high,i2,k,source\n"
        "k_total,studies,count,4,,,,,Results\n")
    (tmp_path / "trials.csv").write_text(
        "study,events,n,source\nA,1,400,x\nB,200,400,x\nC,1,400,x\nD,200,400,x\n")
    (tmp_path / "analyses.yaml").write_text(
        "analyses:\n  - id: rr\n    kind: selfcontrol\n    title: RR\n    data: trials\n"
        "    effect: {measure: RR, source: counts, columns: {ai: events, n1i: n}}\n"
        "    model: {method: rule}\n")
    fitted = run(tmp_path).fit("rr")
    fixed = selfcontrol_rr([1, 200, 1, 200], [400] * 4)
    assert fixed.i2 > 50 and fitted.fit.random and fitted.fit.tau2 > 0
    assert fitted.fit.model_label == "MH random (DL), 0.5 added to tables with a zero cell"
    assert fitted.results[0]["ci_high"] > math.exp(fixed.ci_high)


@pytest.mark.parametrize("rr, k, total, verdict, says", [
    ("34.54", "11", "195", "inconsistent", "1 + 2·195/11 = 36.45"),
    ("52.00", "2", "51", "consistent", "which matches"),
    ("21.86", "9", None, "inconsistent", "would give a whole number: 7."),
    ("53.80", "4", None, "inconsistent", "would give a whole number: 5, 10."),
    ("18.00", "8", None, "consistent", "S = 68 events"),
])
def test_the_lattice_of_the_printed_risk_ratios(rr, k, total, verdict, says):
    check = mh_lattice(rr, k, total, max_k="12")
    assert check.verdict == verdict and says in check.explanation
    assert check.assumption == ASSUMPTION


def test_the_lattice_is_registered_for_checks_yaml():
    assert CHECKS["mh_lattice"] is mh_lattice
    with pytest.raises(ValueError, match="k: must be a whole number"):
        mh_lattice("3.80", "ten")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(0, 400), st.sampled_from([1, 2]))
def test_a_rounded_revman_ratio_never_fails_the_lattice(k, events, decimals):
    printed = f"{1 + 2 * events / k:.{decimals}f}"
    assert mh_lattice(printed, k).verdict == "consistent"
    assert mh_lattice(printed, k, events).verdict == "consistent"


def test_the_iua_lattice_checks_set_no_verdict(iua):
    lattice = [(spec, c) for spec, c in iua.cross if c.name == "mh_lattice"]
    assert len(lattice) == 6 and not any(spec.result for spec, _ in lattice)
    assert iua.frame().set_index("analysis_id").loc["menstrual_main", "verdict"] == "consistent"
    assert math.isclose(lattice[0][1].recomputed[0], 1 + 2 * 195 / 11)
