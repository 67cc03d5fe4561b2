"""Publication-bias functions against R metafor 3.8-1 (tests/fixtures/metafor_reference.json,
keys "bias" and "bias_more"), bad input, and properties."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metafor_reference import RTOL, RTOL_ITERATIVE, close, reference

from metakit import fsn, peters, ranktest, regtest, rma, trimfill
from metakit.engine.bias import (
    FsnResult,
    PetersResult,
    RanktestResult,
    RegtestResult,
    TrimfillResult,
)

REF = reference()
INPUTS = REF["rma_inputs"]
BCG = REF["datasets"]["bcg"]
BIAS_KEYS = sorted(k for k in REF["bias"] if not k.endswith("|fsn"))
MORE_KEYS = sorted(k for k in REF["bias_more"] if k.count("|") == 2)


def _fit(name, method, test="z"):
    data = INPUTS[name]
    return rma(data["yi"], data["vi"], method=method, test=test)


def _rtol(method):
    return RTOL_ITERATIVE if method == "REML" else RTOL


# --------------------------------------------------------------------------- regtest
@pytest.mark.parametrize("key", BIAS_KEYS)
def test_regtest_matches_metafor(key):
    name, method = key.split("|")
    expected = REF["bias"][key]["regtest"]
    res = regtest(_fit(name, method))
    assert isinstance(res, RegtestResult)
    close(res.stat, expected["zval"])
    close(res.pval, expected["pval"])
    assert res.df == expected["dfs"]


@pytest.mark.parametrize("key", MORE_KEYS)
def test_regtest_limit_estimate_and_vi_predictor(key):
    name, method, test = key.split("|")
    expected = REF["bias_more"][key]
    res = regtest(_fit(name, method, test))
    e = expected["regtest"]
    close([res.stat, res.pval, res.df], [e["zval"], e["pval"], e["dfs"]])
    close([res.estimate, res.ci_low, res.ci_high], [e["est"], e["ci_lb"], e["ci_ub"]])
    assert res.intercept == res.estimate and res.statistic == res.stat
    res_vi = regtest(_fit(name, method, test), predictor="vi")
    e = expected["regtest_vi"]
    close([res_vi.stat, res_vi.pval, res_vi.estimate, res_vi.ci_low, res_vi.ci_high],
          [e["zval"], e["pval"], e["est"], e["ci_lb"], e["ci_ub"]])


@pytest.mark.parametrize("method", ["EE", "REML"])
def test_regtest_with_moderator_matches_metafor(method):
    e = REF["bias_more"][f"bcg_ablat|{method}"]["regtest"]
    data = INPUTS["bcg_RR"]
    res = regtest(rma(data["yi"], data["vi"], method=method, mods=BCG["ablat"]))
    close([res.stat, res.pval, res.df], [e["zval"], e["pval"], e["dfs"]])
    assert np.isnan(res.estimate)  # no limit estimate with moderators, as metafor


def test_regtest_does_not_depend_on_tau2_method():
    stats = {m: regtest(_fit("normand_SMD", m)).stat for m in ("EE", "DL", "REML", "PM")}
    assert np.ptp(list(stats.values())) < 1e-12


def test_regtest_needs_three_studies():
    res = rma([0.2, 0.9], [0.04, 0.09], method="EE")
    with pytest.raises(ValueError, match=r"^regtest: Egger's test needs at least 3 studies, "
                                         r"got k = 2$"):
        regtest(res)


def test_regtest_rejects_bad_input():
    with pytest.raises(ValueError, match="regtest: result must be a fitted model"):
        regtest([0.1, 0.2, 0.3])
    res = _fit("bcg_RR", "DL")
    with pytest.raises(ValueError, match="predictor: unknown value 'se'"):
        regtest(res, predictor="se")
    with pytest.raises(ValueError, match="needs the sample sizes 'ni'"):
        regtest(res, predictor="ninv")
    with pytest.raises(ValueError, match="ni: 3 sample sizes for 13 studies"):
        regtest(res, predictor="ninv", ni=[10, 20, 30])
    equal = rma([0.1, 0.4, 0.3, 0.2], [0.05] * 4, method="EE")
    with pytest.raises(ValueError, match="collinear"):
        regtest(equal)


def test_regtest_ninv_matches_metafor_regtest():
    e = REF["bias_more"]["peters_ninv_bcg"]
    es = REF["escalc"]["OR_bcg"]
    n = np.sum([BCG[c] for c in ("ai", "bi", "ci", "di")], axis=0)
    res = regtest(rma(es["yi"], es["vi"]), predictor="ninv", ni=n)
    close([res.stat, res.pval, res.estimate], [e["zval"], e["pval"], e["est"]])


# --------------------------------------------------------------------------- ranktest
@pytest.mark.parametrize("key", BIAS_KEYS)
def test_ranktest_matches_metafor(key):
    name, method = key.split("|")
    expected = REF["bias"][key]["ranktest"]
    res = ranktest(_fit(name, method))
    assert isinstance(res, RanktestResult)
    tau, pval = res  # a named tuple
    close([tau, pval], [expected["tau"], expected["pval"]])


@pytest.mark.parametrize("case", ["ties", "k60", "k120"])
def test_ranktest_ties_and_large_k_match_cor_test(case):
    e = REF["bias_more"]["ranktest"][case]
    res = ranktest(rma(e["yi"], e["vi"], method="EE"))
    close([res.tau, res.pval], [e["tau"], e["pval"]])


def test_ranktest_bad_input():
    with pytest.raises(ValueError, match="ranktest: the rank correlation test needs at least 3"):
        ranktest(rma([0.2, 0.9], [0.04, 0.09]))
    data = INPUTS["bcg_RR"]
    with pytest.raises(ValueError, match="ranktest: only for models without moderators"):
        ranktest(rma(data["yi"], data["vi"], mods=BCG["ablat"]))
    with pytest.raises(ValueError, match="ranktest: result must be a fitted model"):
        ranktest(None)


def test_ranktest_very_large_k_uses_normal_approximation():
    rng = np.random.default_rng(3)
    yi, vi = rng.normal(size=400), rng.uniform(0.01, 0.2, 400)
    res = ranktest(rma(yi, vi, method="EE"))
    assert np.isfinite(res.pval) and 0 <= res.pval <= 1


# --------------------------------------------------------------------------- Peters
def test_peters_from_counts_matches_weighted_lm():
    e = REF["bias_more"]["peters_bcg"]
    res = peters(BCG["ai"], np.add(BCG["ai"], BCG["bi"]), BCG["ci"],
                 np.add(BCG["ci"], BCG["di"]))
    assert isinstance(res, PetersResult) and res.weights == "peters"
    close([res.stat, res.pval, res.slope, res.estimate, res.se, res.df],
          [e["t"], e["pval"], e["slope"], e["intercept"], e["intercept_se"], e["df"]])


def test_peters_from_result_uses_inverse_variance_weights():
    e = REF["bias_more"]["peters_ninv_bcg"]
    es = REF["escalc"]["OR_bcg"]
    n = np.sum([BCG[c] for c in ("ai", "bi", "ci", "di")], axis=0)
    res = peters(rma(es["yi"], es["vi"]), n=n)
    assert res.weights == "inverse-variance"
    close([res.stat, res.pval, res.estimate], [e["zval"], e["pval"], e["est"]])


def test_peters_bad_input():
    with pytest.raises(ValueError, match="peters: needs ai, n1i, ci and n2i"):
        peters([1, 2, 3], [10, 10, 10])
    with pytest.raises(ValueError, match="ai: 12 events exceed n1i = 10 at study 'B'"):
        peters([1, 12, 3], [10, 10, 10], [2, 2, 2], [10, 10, 10], slab=["A", "B", "C"])
    with pytest.raises(ValueError, match="peters: the test needs at least 3 studies, got k = 2"):
        peters([1, 2], [10, 12], [2, 3], [10, 12])
    with pytest.raises(ValueError, match="peters: study 'C' has no events in either arm"):
        peters([1, 2, 0], [10, 12, 15], [2, 3, 0], [10, 12, 15], slab=["A", "B", "C"])
    with pytest.raises(ValueError, match="peters: with a fitted model pass the total sample"):
        peters(_fit("bcg_RR", "DL"))
    with pytest.raises(ValueError, match="peters: all studies have the same total sample size"):
        peters([1, 2, 3], [10, 10, 10], [2, 2, 5], [10, 10, 10])


# --------------------------------------------------------------------------- trim and fill
TRIMFILL_CASES = [(key, variant) for key in BIAS_KEYS
                  for variant in REF["bias"][key]["trimfill"]]


@pytest.mark.parametrize("key,variant", TRIMFILL_CASES)
def test_trimfill_matches_metafor(key, variant):
    name, method = key.split("|")
    estimator, side = variant.split("|")
    e = REF["bias"][key]["trimfill"][variant]
    res = trimfill(_fit(name, method), estimator=estimator,
                   side=None if side == "auto" else side)
    assert isinstance(res, TrimfillResult)
    assert res.k0 == e["k0"] and res.side == e["side"]
    rtol = _rtol(method)
    close([res.estimate, res.ci_low, res.ci_high], [e["beta"], e["ci_lb"], e["ci_ub"]], rtol)
    close(res.tau2, e["tau2"], rtol, atol=1e-8)
    assert len(res.filled) == res.k0
    close(res.filled["yi"].to_numpy(), e["fill_yi"], rtol)
    close(res.filled["vi"].to_numpy(), e["fill_vi"], rtol)
    assert res.result.k == _fit(name, method).k + res.k0
    assert res.fill.sum() == res.k0


@pytest.mark.parametrize("key", MORE_KEYS)
@pytest.mark.parametrize("estimator", ["L0", "R0"])
def test_trimfill_filled_model_matches_metafor(key, estimator):
    name, method, test = key.split("|")
    e = REF["bias_more"][key]["trimfill"][estimator]
    fit = _fit(name, method, test)
    res = trimfill(fit, estimator=estimator)
    assert (res.k0, res.side) == (e["k0"], e["side"])
    rtol = _rtol(method)
    close([res.se_k0, res.estimate, res.result.q, res.result.i2, res.result.k],
          [e["se_k0"], e["beta"], e["QE"], e["I2"], e["k"]], rtol)
    close(res.tau2, e["tau2"], rtol, atol=1e-8)
    if test == "z" or res.k0 == 0:
        close([res.se, res.ci_low, res.ci_high, res.pval],
              [e["se"], e["ci_lb"], e["ci_ub"], e["pval"]], rtol)
    else:
        # deviation (documented): the filled model keeps Hartung-Knapp; metafor refits with z
        assert res.result.test == "knha"
        assert res.ci_high - res.ci_low > e["ci_ub"] - e["ci_lb"]


def test_trimfill_filled_studies_mirror_observed_ones():
    fit = _fit("bcg_RR", "EE")
    res = trimfill(fit)
    mirrored = fit.yi[[fit.slab.index(s) for s in res.filled["mirrors"]]]
    centre = (res.filled["yi"].to_numpy() + mirrored) / 2
    assert np.ptp(centre) < 1e-12  # all mirrored about the same trimmed estimate
    assert list(res.filled.index) == [f"Filled {i + 1}" for i in range(res.k0)]
    assert res.result.slab[-res.k0:] == list(res.filled.index)


def test_trimfill_without_missing_studies_returns_the_model():
    fit = _fit("bcg_RR", "EE")
    res = trimfill(fit, side="left")
    assert res.k0 == 0 and res.result is fit and res.filled.empty
    assert res.estimate == fit.estimate


def test_trimfill_exact_ties_follow_metafor():
    # exactly mirrored pairs: metafor's rank(ties="first") gives L0 = 1 (R: k0 = 1, "left")
    yi, vi = [-0.5, 0.5, -1, 1, -0.25, 0.25], [0.25, 0.25, 0.5, 0.5, 1, 1]
    fit = rma(yi, vi, method="EE")
    assert (trimfill(fit, "L0").k0, trimfill(fit, "R0").k0) == (1, 0)


@settings(max_examples=40, deadline=None)
@given(centre=st.integers(-8, 8),
       pairs=st.lists(st.tuples(st.integers(1, 40), st.sampled_from([0.25, 0.5, 1.0, 2.0])),
                      min_size=1, max_size=8, unique_by=lambda t: t[0]),
       estimator=st.sampled_from(["L0", "R0"]), side=st.sampled_from([None, "left", "right"]))
def test_trimfill_symmetric_funnel_has_no_missing_studies(centre, pairs, estimator, side):
    # a study at the centre plus mirror-image pairs, in dyadic numbers so sums are exact
    mu = centre / 4
    yi = [mu] + [mu + s * d / 8 for d, _ in pairs for s in (-1, 1)]
    vi = [0.5] + [v for _, v in pairs for _ in (0, 1)]
    fit = rma(yi, vi, method="EE")
    if side is None and np.ptp(vi) == 0:
        return
    res = trimfill(fit, estimator=estimator, side=side)
    assert res.k0 == 0
    assert res.estimate == pytest.approx(mu)


def test_trimfill_bad_input():
    data = INPUTS["bcg_RR"]
    with pytest.raises(ValueError, match="trimfill: only for models without moderators"):
        trimfill(rma(data["yi"], data["vi"], mods=BCG["ablat"]))
    fit = _fit("bcg_RR", "DL")
    with pytest.raises(ValueError, match="estimator: unknown value 'Q0'"):
        trimfill(fit, estimator="Q0")
    with pytest.raises(ValueError, match="side: unknown value 'up'"):
        trimfill(fit, side="up")
    with pytest.raises(ValueError, match="trimfill: needs at least 3 studies, got k = 2"):
        trimfill(rma([0.2, 0.9], [0.04, 0.09]))
    with pytest.raises(ValueError, match="same variance"):
        trimfill(rma([0.1, 0.4, 0.3, 0.2], [0.05] * 4))
    with pytest.raises(ValueError, match="trimfill: result must be a fitted model"):
        trimfill(pd.DataFrame({"yi": [1.0]}))


# --------------------------------------------------------------------------- fail-safe N
@pytest.mark.parametrize("name", ["bcg_RR", "normand_SMD"])
def test_fsn_matches_metafor(name):
    data = INPUTS[name]
    e = REF["bias"][f"{name}|fsn"]
    assert fsn(data["yi"], data["vi"]).fsnum == e["rosenthal"]
    assert fsn(data["yi"], data["vi"], type="Orwin", target=0.05).fsnum == e["orwin"]
    more = REF["bias_more"][f"{name}|fsn"]
    r = fsn(data["yi"], data["vi"], type="Rosenthal")
    assert isinstance(r, FsnResult)
    assert r.fsnum == more["rosenthal"]["fsnum"]
    close(r.pval, more["rosenthal"]["pval"])
    o = fsn(data["yi"], data["vi"], type="Orwin")
    assert o.fsnum == more["orwin_default"]["fsnum"]
    close([o.meanes, o.target], [more["orwin_default"]["meanes"], more["orwin_default"]["target"]])
    w = fsn(data["yi"], data["vi"], type="Orwin", target=0.1, weighted=True)
    assert w.fsnum == more["orwin_weighted"]["fsnum"]
    close(w.meanes, more["orwin_weighted"]["meanes"])
    b = fsn(data["yi"], data["vi"], type="Rosenberg")
    assert b.fsnum == more["rosenberg"]["fsnum"]
    close([b.pval, b.meanes], [more["rosenberg"]["pval"], more["rosenberg"]["meanes"]])


def test_fsn_accepts_a_fitted_model():
    data = INPUTS["bcg_RR"]
    fit = _fit("bcg_RR", "REML")
    assert fsn(fit, type="Rosenthal").fsnum == fsn(data["yi"], data["vi"]).fsnum
    assert fsn(fit).type == "General"  # as metafor 4 for a model, not Rosenthal silently
    # unweighted Orwin needs no variances
    assert fsn(data["yi"], type="Orwin", target=0.05).fsnum == REF["bias"]["bcg_RR|fsn"]["orwin"]


def test_fsn_orwin_target_zero_is_infinite():
    assert fsn([0.2, 0.4, 0.3], type="Orwin", target=0.0).fsnum == np.inf


def test_fsn_bad_input():
    with pytest.raises(ValueError, match="type: unknown value 'rosenthal'"):
        fsn([0.1, 0.2], [0.01, 0.02], type="rosenthal")
    with pytest.raises(ValueError, match="vi: the sampling variances are needed"):
        fsn([0.1, 0.2])
    with pytest.raises(ValueError, match="target: only used with type='Orwin'"):
        fsn([0.1, 0.2], [0.01, 0.02], target=0.1)
    with pytest.raises(ValueError, match="alpha: must be between 0 and 1"):
        fsn([0.1, 0.2], [0.01, 0.02], alpha=5)
    with pytest.raises(ValueError, match="vi: must be > 0, got -0.02 at study index 1"):
        fsn([0.1, 0.2], [0.01, -0.02])
    with pytest.raises(ValueError, match="yi: values must be numbers"):
        fsn(["a", "b"], [0.01, 0.02])
    with pytest.raises(ValueError, match="arguments differ in length"):
        fsn([0.1, 0.2, 0.3], [0.01, 0.02])
    with pytest.raises(ValueError, match="vi: not used when yi is a fitted model"):
        fsn(_fit("bcg_RR", "DL"), [0.1])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.05, 2.0), min_size=2, max_size=15))
def test_fsn_rosenthal_is_zero_exactly_when_not_significant(effects):
    vi = np.full(len(effects), 0.5)
    res = fsn(effects, vi)
    assert res.fsnum >= 0 and float(res.fsnum).is_integer()
    assert (res.fsnum == 0) == (res.pval >= 0.05)
