import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from metakit import rma
from metafor_reference import RTOL, RTOL_ITERATIVE, close, reference

REF = reference()
ITERATIVE = {"REML", "ML", "EB", "PM"}


def _check(res, expected, method):
    rtol = RTOL_ITERATIVE if method in ITERATIVE else RTOL
    close(np.atleast_1d(res.beta), expected["beta"], rtol)
    close(np.atleast_1d(res.se), expected["se"], rtol)
    close(np.atleast_1d(res.pval), expected["pval"], rtol)
    close(np.atleast_1d(res.ci_low), expected["ci_lb"], rtol)
    close(np.atleast_1d(res.ci_high), expected["ci_ub"], rtol)
    close(res.tau2, expected["tau2"], rtol, atol=1e-8)
    close(res.i2, expected["I2"], rtol, atol=1e-6)
    close(res.h2, expected["H2"], rtol)
    close(res.q, expected["QE"], RTOL)
    close(res.q_pval, expected["QEp"], RTOL)
    assert res.k == expected["k"]
    if "pi_lb" in expected:
        close(res.pi_low, expected["pi_lb"], rtol)
        close(res.pi_high, expected["pi_ub"], rtol)
    if "tau2_ci" in expected:
        lower, upper = expected["tau2_ci"]
        if upper == max(100.0, 10 * expected["tau2"]):
            # metafor stops its search at tau2.max and prints ">100"; metakit finds the root
            assert res.tau2_ci[1] >= upper
            close(res.tau2_ci[0], lower, RTOL_ITERATIVE, atol=1e-7)
        else:
            close(res.tau2_ci, expected["tau2_ci"], RTOL_ITERATIVE, atol=1e-7)
            close(res.i2_ci, expected["I2_ci"], RTOL_ITERATIVE, atol=1e-5)
    if "se_tau2" in expected:
        close(res.tau2_se, expected["se_tau2"], RTOL_ITERATIVE)
    if "QM" in expected:
        close(res.qm, expected["QM"], rtol)
        close(res.qm_pval, expected["QMp"], rtol)
        if expected.get("R2") is not None:
            close(res.r2, expected["R2"], RTOL_ITERATIVE, atol=1e-6)


@pytest.mark.parametrize("key", sorted(REF["rma"]))
def test_rma_matches_metafor(key):
    name, method, test = key.split("|")
    data = REF["rma_inputs"][name]
    res = rma(data["yi"], data["vi"], method=method, test=test)
    assert res.converged
    _check(res, REF["rma"][key], method)


@pytest.mark.parametrize("key", sorted(REF["metareg"]))
def test_metaregression_matches_metafor(key):
    name, method, test = key.split("|")
    bcg = REF["datasets"]["bcg"]
    mods = np.column_stack([bcg["ablat"], bcg["year"]]) if name.endswith("year") else bcg["ablat"]
    es = REF["escalc"]["RR_bcg"]
    res = rma(es["yi"], es["vi"], method=method, test=test, mods=mods)
    _check(res, REF["metareg"][key], method)


def test_back_transform_ratio():
    es = REF["escalc"]["RR_bcg"]
    res = rma(es["yi"], es["vi"], measure="RR")
    bt = res.back_transform()
    assert bt["estimate"] == pytest.approx(np.exp(res.estimate))
    assert bt["ci_low"] < bt["estimate"] < bt["ci_high"]


def test_summary_mentions_model():
    es = REF["escalc"]["RR_bcg"]
    text = str(rma(es["yi"], es["vi"], measure="RR", slab=[f"s{i}" for i in range(13)]))
    assert "Random-Effects Model (k = 13; method: REML" in text
    assert "Back-transformed (RR)" in text


@pytest.mark.parametrize("kwargs, message", [
    (dict(yi=[0.1, 0.2], vi=[0.1, 0.0]), "vi: must be > 0, got 0 at study index 1"),
    (dict(yi=[0.1, np.nan], vi=[0.1, 0.1]), "yi: missing or infinite value at study index 1"),
    (dict(yi=[0.1, 0.2], vi=[0.1]), "arguments differ in length"),
    (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], method="XYZ"), "method: unknown value 'XYZ'"),
    (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], test="t"), "test: unknown value 't'"),
    (dict(yi=[0.1], vi=[0.1], test="knha"), "test: 'knha' needs more studies"),
    (dict(yi=[0.1, 0.2, 0.3], vi=[0.1, 0.1, 0.1], mods=[1, 1, 1]), "mods: the moderators are collinear"),
    (dict(yi=[0.1, 0.2], vi=[0.1, 0.1], level=120), "level: must be a percentage"),
])
def test_rma_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rma(**kwargs)


effects = st.lists(st.tuples(st.floats(-3, 3), st.floats(0.005, 2.0)), min_size=2, max_size=15)


@settings(max_examples=60, deadline=None)
@given(effects, st.sampled_from(["DL", "REML", "PM", "ML", "EB", "SJ", "HE", "HS"]))
def test_properties(studies, method):
    y = np.array([s[0] for s in studies])
    v = np.array([s[1] for s in studies])
    res = rma(y, v, method=method)
    assert res.converged
    assert res.ci_low <= res.estimate <= res.ci_high
    assert 0 <= res.i2 <= 100
    assert res.tau2 >= 0
    order = np.random.default_rng(0).permutation(len(y))
    shuffled = rma(y[order], v[order], method=method)
    assert shuffled.estimate == pytest.approx(res.estimate, rel=1e-6, abs=1e-9)
    assert shuffled.tau2 == pytest.approx(res.tau2, rel=1e-6, abs=1e-9)
    if res.tau2 == 0:
        fixed = rma(y, v, method="EE")
        assert res.estimate == pytest.approx(fixed.estimate, rel=1e-9, abs=1e-12)


def test_one_row_record():
    es = REF["escalc"]["RR_bcg"]
    frame = rma(es["yi"], es["vi"], measure="RR").to_frame()
    assert frame.shape[0] == 1
    assert frame.loc[0, "estimate_bt"] == pytest.approx(np.exp(frame.loc[0, "estimate"]))
