"""Sensitivity analyses against R metafor 3.8-1 (tests/fixtures/metafor_reference.json, keys
"bias" and "bias_more"), bad input, and properties."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metafor_reference import RTOL, RTOL_ITERATIVE, close, reference

from metakit import baujat, cumul, exclude, influence, leave1out, rma

REF = reference()
INPUTS = REF["rma_inputs"]
BCG = REF["datasets"]["bcg"]
BIAS_KEYS = sorted(k for k in REF["bias"] if not k.endswith("|fsn"))
MORE_KEYS = sorted(k for k in REF["bias_more"] if k.count("|") == 2)
SUMMARY_COLUMNS = [("estimate", "estimate"), ("se", "se"), ("pval", "pval"),
                   ("ci_low", "ci_lb"), ("ci_high", "ci_ub"), ("q", "QE"), ("q_pval", "QEp"),
                   ("tau2", "tau2"), ("i2", "I2"), ("h2", "H2")]
INFLUENCE_COLUMNS = [("rstudent", "rstudent"), ("dffits", "dffits"), ("cook_d", "cook_d"),
                     ("cov_r", "cov_r"), ("tau2_del", "tau2_del"), ("q_del", "QE_del"),
                     ("hat", "hat"), ("weight", "weight")]


def _fit(name, method, test="z", **kwargs):
    data = INPUTS[name]
    return rma(data["yi"], data["vi"], method=method, test=test, **kwargs)


def _rtol(method):
    return RTOL_ITERATIVE if method == "REML" else RTOL


def _check_frame(frame, expected, columns, method, test="z"):
    rtol = _rtol(method)
    for ours, theirs in columns:
        if theirs not in expected or (theirs == "tau2" and method == "EE"):
            continue  # metafor drops tau2 for equal-effects models (metakit keeps 0)
        close(frame[ours].to_numpy(dtype=float), expected[theirs], rtol, atol=1e-8)
    if "zval" in expected:
        stat = "tval" if test == "knha" else "zval"
        close(frame[stat].to_numpy(dtype=float), expected["zval"], rtol)


# --------------------------------------------------------------------------- leave1out
@pytest.mark.parametrize("key", BIAS_KEYS)
def test_leave1out_matches_metafor(key):
    name, method = key.split("|")
    fit = _fit(name, method)
    frame = leave1out(fit)
    _check_frame(frame, REF["bias"][key]["leave1out"], SUMMARY_COLUMNS, method)
    if method == "EE":
        assert (frame["tau2"] == 0).all()


@pytest.mark.parametrize("key", MORE_KEYS)
def test_leave1out_all_columns_and_knha_match_metafor(key):
    name, method, test = key.split("|")
    frame = leave1out(_fit(name, method, test))
    _check_frame(frame, REF["bias_more"][key]["leave1out"], SUMMARY_COLUMNS, method, test)


def test_leave1out_shape_and_labels():
    fit = _fit("bcg_RR", "DL", slab=[f"Trial {i}" for i in range(13)])
    frame = leave1out(fit)
    assert frame.shape[0] == 13 and list(frame.index) == fit.slab
    assert frame.index.name == "omitted"
    assert (frame["k"] == 12).all()
    assert {"estimate", "ci_low", "ci_high", "i2", "tau2", "pi_low", "pi_high"} <= set(frame)
    # each row is the model refitted without that study
    keep = np.ones(13, bool)
    keep[3] = False
    assert frame.iloc[3]["estimate"] == pytest.approx(fit.refit(keep).estimate, rel=1e-12)


def test_leave1out_two_studies_knha_falls_back_to_z_as_metafor():
    fit = rma([0.2, 0.9], [0.04, 0.09], method="DL", test="knha")
    frame = leave1out(fit)
    close(frame["estimate"], [0.9, 0.2])
    close(frame["ci_low"], [0.9 - 1.959963984540054 * 0.3, 0.2 - 1.959963984540054 * 0.2])


def test_leave1out_bad_input():
    with pytest.raises(ValueError, match="leave1out: needs at least 2 studies, got k = 1"):
        leave1out(rma([0.3], [0.02], method="EE"))
    data = INPUTS["bcg_RR"]
    with pytest.raises(ValueError, match="leave1out: only for models without moderators"):
        leave1out(rma(data["yi"], data["vi"], mods=BCG["ablat"]))
    with pytest.raises(ValueError, match="leave1out: result must be a fitted model"):
        leave1out({"yi": [1, 2]})


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.01, 1)), min_size=2, max_size=12),
       st.sampled_from(["EE", "DL", "REML"]))
def test_leave1out_has_one_row_per_study(studies, method):
    yi, vi = zip(*studies, strict=True)
    fit = rma(yi, vi, method=method)
    frame = leave1out(fit)
    assert len(frame) == fit.k
    assert (frame["k"] == fit.k - 1).all()
    assert np.all(frame["ci_low"] <= frame["estimate"])
    assert np.all(frame["estimate"] <= frame["ci_high"])


# --------------------------------------------------------------------------- cumul
@pytest.mark.parametrize("key", BIAS_KEYS)
def test_cumul_matches_metafor(key):
    name, method = key.split("|")
    frame = cumul(_fit(name, method))
    _check_frame(frame, REF["bias"][key]["cumul"], SUMMARY_COLUMNS, method)
    assert list(frame["k"]) == list(range(1, len(frame) + 1))


@pytest.mark.parametrize("key", MORE_KEYS)
def test_cumul_ordered_and_knha_match_metafor(key):
    name, method, test = key.split("|")
    fit = _fit(name, method, test)
    expected = REF["bias_more"][key]
    _check_frame(cumul(fit), expected["cumul"], SUMMARY_COLUMNS, method, test)
    order = BCG["year"] if name == "bcg_RR" else INPUTS[name]["vi"]
    frame = cumul(fit, order=order)
    _check_frame(frame, expected["cumul_ordered"], SUMMARY_COLUMNS, method, test)
    assert list(frame.index) == expected["cumul_ordered"]["slab"]


def test_cumul_last_row_is_the_full_model_and_decreasing_reverses():
    fit = _fit("bcg_RR", "REML")
    frame = cumul(fit, order=BCG["year"])
    assert frame.iloc[-1]["estimate"] == pytest.approx(fit.estimate, rel=1e-10)
    down = cumul(fit, order=BCG["year"], decreasing=True)
    assert down.index[0] == fit.slab[int(np.argmax(BCG["year"]))]
    assert down.iloc[-1]["estimate"] == pytest.approx(fit.estimate, rel=1e-10)


def test_cumul_bad_input():
    fit = _fit("bcg_RR", "DL")
    with pytest.raises(ValueError, match=r"order: expected one key per study \(13\)"):
        cumul(fit, order=[1, 2, 3])
    with pytest.raises(ValueError, match="order: missing value at study '2'"):
        cumul(fit, order=[1.0, np.nan] + [3.0] * 11)
    with pytest.raises(ValueError, match="cumul: result must be a fitted model"):
        cumul("bcg")


# --------------------------------------------------------------------------- influence
@pytest.mark.parametrize("key", BIAS_KEYS)
def test_influence_matches_metafor(key):
    name, method = key.split("|")
    frame = influence(_fit(name, method))
    _check_frame(frame, REF["bias"][key]["influence"], INFLUENCE_COLUMNS, method)


@pytest.mark.parametrize("key", MORE_KEYS)
def test_influence_dfbetas_flags_and_knha_match_metafor(key):
    name, method, test = key.split("|")
    frame = influence(_fit(name, method, test))
    expected = REF["bias_more"][key]["influence"]
    _check_frame(frame, expected, INFLUENCE_COLUMNS, method, test)
    close(frame["dfbs_intrcpt"], expected["dfbs"][0], _rtol(method))
    assert frame["influential"].tolist() == expected["is_infl"]


@pytest.mark.parametrize("method", ["EE", "REML"])
def test_influence_and_baujat_with_moderator_match_metafor(method):
    data = INPUTS["bcg_RR"]
    fit = rma(data["yi"], data["vi"], method=method, mods=BCG["ablat"], mod_names=["ablat"])
    expected = REF["bias_more"][f"bcg_ablat|{method}"]
    frame = influence(fit)
    _check_frame(frame, expected["influence"], INFLUENCE_COLUMNS, method)
    close(frame["dfbs_intrcpt"], expected["influence"]["dfbs"][0], _rtol(method))
    close(frame["dfbs_ablat"], expected["influence"]["dfbs"][1], _rtol(method))
    assert frame["influential"].tolist() == expected["influence"]["is_infl"]
    b = baujat(fit)
    close(b["x"], expected["baujat"]["x"], _rtol(method))
    close(b["y"], expected["baujat"]["y"], _rtol(method))


def test_influence_flags_a_planted_outlier():
    # (R, metafor 3.8-1: which(influence(rma(yi, vi, method="REML"))$is.infl) is 7)
    yi = [0.10, 0.12, 0.08, 0.11, 0.09, 0.10, 2.5, 0.13, 0.07, 0.1]
    vi = [0.01, 0.02, 0.01, 0.015, 0.02, 0.01, 0.01, 0.02, 0.01, 0.015]
    frame = influence(rma(yi, vi, method="REML", slab=list("ABCDEFGHIJ")))
    assert frame.index[frame["influential"]].tolist() == ["G"]
    assert frame["rstudent"].abs().idxmax() == "G"
    assert frame["weight"].sum() == pytest.approx(100)


def test_influence_bad_input():
    with pytest.raises(ValueError, match="influence: needs at least 2 studies, got k = 1"):
        influence(rma([0.3], [0.02], method="EE"))
    with pytest.raises(ValueError, match="influence: result must be a fitted model"):
        influence(np.array([1.0, 2.0]))


# --------------------------------------------------------------------------- baujat
@pytest.mark.parametrize("key", BIAS_KEYS)
def test_baujat_matches_metafor(key):
    name, method = key.split("|")
    frame = baujat(_fit(name, method))
    e = REF["bias"][key]["baujat"]
    close(frame["x"], e["x"], _rtol(method))
    close(frame["y"], e["y"], _rtol(method))


@pytest.mark.parametrize("key", MORE_KEYS)
def test_baujat_knha_matches_metafor(key):
    name, method, test = key.split("|")
    frame = baujat(_fit(name, method, test))
    e = REF["bias_more"][key]["baujat"]
    close(frame["x"], e["x"], _rtol(method))
    close(frame["y"], e["y"], _rtol(method))


def test_baujat_x_sums_to_q_for_equal_effects():
    fit = _fit("normand_SMD", "EE")
    assert baujat(fit)["x"].sum() == pytest.approx(fit.q, rel=1e-12)


def test_baujat_bad_input():
    with pytest.raises(ValueError, match="baujat: needs at least 2 studies, got k = 1"):
        baujat(rma([0.3], [0.02], method="EE"))


# --------------------------------------------------------------------------- exclude
LABELS = [f"S{i}" for i in range(13)]


def test_exclude_by_labels_mask_and_callable_agree():
    fit = _fit("bcg_RR", "REML", slab=LABELS)
    high_risk = {"S3", "S7"}
    by_labels = exclude(fit, sorted(high_risk))
    by_mask = exclude(fit, [label in high_risk for label in LABELS])
    by_rule = exclude(fit, lambda study: study in high_risk)
    assert by_labels.k == by_mask.k == by_rule.k == 11
    assert by_labels.slab == [s for s in LABELS if s not in high_risk]
    assert by_labels.estimate == by_mask.estimate == by_rule.estimate
    data = INPUTS["bcg_RR"]
    keep = [i for i, s in enumerate(LABELS) if s not in high_risk]
    direct = rma(np.array(data["yi"])[keep], np.array(data["vi"])[keep], method="REML")
    assert by_labels.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert by_labels.method == "REML" and by_labels.test == fit.test


def test_exclude_keeps_model_options_and_moderators():
    data = INPUTS["bcg_RR"]
    fit = rma(data["yi"], data["vi"], method="DL", test="knha", level=90, mods=BCG["ablat"],
              mod_names=["ablat"], slab=LABELS, measure="RR")
    out = exclude(fit, ["S0"])
    assert (out.method, out.test, out.level, out.measure) == ("DL", "knha", 90, "RR")
    assert out.mod_names == ("intrcpt", "ablat") and out.k == 12


def test_exclude_nothing_returns_the_same_model():
    fit = _fit("bcg_RR", "DL", slab=LABELS)
    assert exclude(fit, []) is fit
    assert exclude(fit, lambda s: False) is fit


def test_exclude_bad_input():
    fit = _fit("bcg_RR", "DL", slab=LABELS)
    with pytest.raises(ValueError, match="drop: unknown study label 'S99'"):
        exclude(fit, ["S1", "S99"])
    with pytest.raises(ValueError, match=r"drop: a mask needs one entry per study \(13\), got 2"):
        exclude(fit, [True, False])
    with pytest.raises(ValueError, match="exclude: no studies left after excluding all 13"):
        exclude(fit, lambda s: True)
    with pytest.raises(ValueError, match="drop: the function must return True or False, "
                                         "got 'yes' for study 'S0'"):
        exclude(fit, lambda s: "yes")
    with pytest.raises(ValueError, match="exclude: result must be a fitted model"):
        exclude(pd.DataFrame(), ["S1"])
    knha = _fit("bcg_RR", "DL", test="knha", slab=LABELS)
    with pytest.raises(ValueError, match="exclude: the model cannot be refitted to the 1 "
                                         "remaining studies"):
        exclude(knha, LABELS[1:])


def test_exclude_a_single_label_string():
    fit = _fit("bcg_RR", "DL", slab=LABELS)
    assert exclude(fit, "S4").slab == [s for s in LABELS if s != "S4"]
