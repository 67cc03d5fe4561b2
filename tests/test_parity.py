"""metafor parity for issue 19: weights, unweighted models, factor moderators, fixed τ²,
permutation tests, rma.mh tests and methods, RevMan's random MH, regtest(model="rma"),
fsn(type="General"), subgroups with one τ², the new escalc measures (values from
tests/fixtures/make_parity_fixtures.R)."""

import numpy as np
import pandas as pd
import pytest

import metakit as mk
from metafor_reference import RTOL_ITERATIVE, close, close_fields, parity

REF = parity()
DATA = REF["datasets"]
BCG = DATA["bcg"]
TABLES = {"bcg": {k: BCG[k] for k in ("ai", "bi", "ci", "di")}, "zeros": DATA["zeros"]}


def _bcg_fit(**kwargs):
    return mk.rma(BCG["yi"], BCG["vi"], **kwargs)


def _check_fit(res, expected, rtol=1e-6):
    close(res.beta, expected["beta"], rtol=rtol)
    close(np.atleast_1d(res.se), expected["se"], rtol=rtol)
    close(np.atleast_1d(res.pval), expected["pval"], rtol=rtol)
    close(np.atleast_1d(res.ci_low), expected["ci_lb"], rtol=rtol)
    close(np.atleast_1d(res.ci_high), expected["ci_ub"], rtol=rtol)
    close(res.tau2, expected["tau2"], rtol=rtol)
    close(res.i2, expected["I2"], rtol=rtol)
    close(res.q, expected["QE"])
    close(res.weights, expected["weights"], rtol=rtol)
    if "pi_lb" in expected:
        close(res.pi_low, expected["pi_lb"], rtol=rtol)
        close(res.pi_high, expected["pi_ub"], rtol=rtol)
    if "QM" in expected:
        close(res.qm, expected["QM"], rtol=rtol)
        close(res.qm_pval, expected["QMp"], rtol=rtol)
    if "R2" in expected:
        close(res.r2, expected["R2"], rtol=rtol, atol=1e-6)


# ---------------------------------------------------------------------------- rma
def _weights_case(key):
    kind, mods, method, test = key.split("|")
    kwargs = dict(method=method, test=test)
    if mods == "ablat":
        kwargs["mods"] = np.array(BCG["ablat"], float)
    if kind == "weights":
        kwargs["weights"] = BCG["ni"]
    else:
        kwargs["weighted"] = False
    return _bcg_fit(**kwargs)


@pytest.mark.parametrize("key", sorted(REF["rma_weights"]))
def test_weights_and_unweighted_match_metafor(key):
    res = _weights_case(key)
    expected = REF["rma_weights"][key]
    _check_fit(res, expected, rtol=RTOL_ITERATIVE if "REML" in key else 1e-6)
    if "leave1out" in expected:
        l1 = mk.leave1out(res)
        close(l1["estimate"], expected["leave1out"]["estimate"], rtol=RTOL_ITERATIVE)
        close(l1["se"], expected["leave1out"]["se"], rtol=RTOL_ITERATIVE)
        if expected["leave1out"]["tau2"]:  # metafor gives none for equal-effects models
            close(l1["tau2"], expected["leave1out"]["tau2"], rtol=RTOL_ITERATIVE, atol=1e-8)


@pytest.mark.parametrize("key", sorted(REF["influence_weights"]))
def test_influence_with_weights_matches_metafor(key):
    inf = mk.influence(_weights_case(key))
    expected = REF["influence_weights"][key]
    names = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "q_del", "hat", "weight")
    close_fields(inf, expected, {n: n for n in names}, rtol=RTOL_ITERATIVE, atol=1e-8)
    dfbs = [c for c in inf.columns if c.startswith("dfbs_")]
    for column, values in zip(dfbs, expected["dfbs"].values()):
        close(inf[column], values, rtol=RTOL_ITERATIVE, atol=1e-8)


def test_level_below_one_is_a_proportion():
    res = _bcg_fit(level=0.95)
    expected = REF["rma_misc"]["level_095"]
    assert res.level == 95
    close(res.ci_low, expected["ci_lb"], rtol=RTOL_ITERATIVE)
    close(res.pi_high, expected["pi_ub"], rtol=RTOL_ITERATIVE)
    close(_bcg_fit(level=90).ci_low, REF["rma_misc"]["level_90"]["ci_lb"], rtol=RTOL_ITERATIVE)


@pytest.mark.parametrize("level", [True, False, 0, 100, 150, -5, float("nan"), "95"])
def test_level_rejects_booleans_and_out_of_range(level):
    with pytest.raises(ValueError, match="level: must be a percentage"):
        _bcg_fit(level=level)


def test_fixed_tau2_matches_metafor():
    _check_fit(_bcg_fit(tau2=0.1), REF["rma_misc"]["tau2_fixed"])
    res = _bcg_fit(tau2=0.1, mods=np.array(BCG["ablat"], float))
    _check_fit(res, REF["rma_misc"]["tau2_fixed_mods"], rtol=RTOL_ITERATIVE)
    assert res.tau2_fixed and np.isnan(res.tau2_se)


def test_text_moderator_makes_dummies_as_r():
    res = _bcg_fit(mods=pd.DataFrame({"alloc": BCG["alloc"]}))
    assert res.mod_names == ("intrcpt", "allocrandom", "allocsystematic")
    _check_fit(res, REF["rma_misc"]["factor_alloc"], rtol=RTOL_ITERATIVE)
    both = _bcg_fit(mods=pd.DataFrame({"ablat": BCG["ablat"], "alloc": BCG["alloc"]}))
    assert both.mod_names == ("intrcpt", "ablat", "allocrandom", "allocsystematic")
    _check_fit(both, REF["rma_misc"]["factor_alloc_ablat"], rtol=RTOL_ITERATIVE)
    plain = _bcg_fit(mods=BCG["alloc"], mod_names=["alloc"])
    np.testing.assert_allclose(plain.beta, res.beta)


def test_categorical_keeps_its_level_order():
    order = ["systematic", "alternate", "random"]
    res = _bcg_fit(mods=pd.DataFrame({"alloc": pd.Categorical(BCG["alloc"], categories=order)}))
    assert res.mod_names == ("intrcpt", "allocalternate", "allocrandom")


@pytest.mark.parametrize("mods, message", [
    (["a"] * 13, "has one level"),
    (["a", 1.0] * 6 + ["b"], "mixes text and numbers"),
    (pd.DataFrame({"g": ["a", None] * 6 + ["b"]}), "missing value in moderator 'g'"),
])
def test_bad_text_moderators(mods, message):
    with pytest.raises(ValueError, match=message):
        _bcg_fit(mods=mods)


@pytest.mark.parametrize("kwargs, message", [
    (dict(weights=[1.0] * 12), "arguments differ in length"),
    (dict(weights=[-1.0] + [1.0] * 12), "weights: must be >= 0"),
    (dict(weights=[1.0] * 13, weighted=False), "not used with weighted=False"),
    (dict(weighted="no"), "weighted: must be True or False"),
    (dict(tau2=-0.1), "tau2: must be >= 0"),
    (dict(tau2=0.1, method="EE"), "equal-effects"),
])
def test_bad_weights_and_tau2(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _bcg_fit(**kwargs)


@pytest.mark.parametrize("yi, vi, name", [
    ([0.1, 0.2, 0.3], [1e300] * 3, "vi"),
    ([1e200, -1e200, 0.0], [1.0] * 3, "yi"),
    ([0.1, 0.2, 0.3], [1e-60] * 3, "vi"),
])
def test_absurd_magnitudes_are_rejected_not_hung(yi, vi, name):
    with pytest.raises(ValueError, match=f"{name}: .* outside the range metakit can fit"):
        mk.rma(yi, vi)


# ---------------------------------------------------------------------------- permutest
@pytest.mark.parametrize("key", sorted(REF["permutest"]))
def test_exact_permutation_test_matches_metafor(key):
    expected = REF["permutest"][key]
    if key.startswith("intercept"):
        method, test = key.split("_")[1], "knha" if key.endswith("knha") else "z"
        res = mk.rma(BCG["yi"][:9], BCG["vi"][:9], method=method, test=test)
    else:
        mod = expected.get("mod", BCG["ablat"][:7])
        res = mk.rma(BCG["yi"][:7], BCG["vi"][:7], method=key.split("_")[1],
                     mods=np.array(mod, float))
    p = mk.permutest(res, exact=True)
    assert p.exact and p.iter == expected["iter"]
    close(p.pval, expected["pval"])
    close(p.qm_pval, expected["QMp"])


def test_random_permutations_are_seeded_and_near_the_exact_test():
    res = mk.rma(BCG["yi"][:9], BCG["vi"][:9])
    a = mk.permutest(res, iter=300, seed=3)
    b = mk.permutest(res, iter=300, seed=3)
    assert not a.exact and a.iter == 300 and a.pval == b.pval
    assert abs(a.pval - REF["permutest"]["intercept_REML"]["pval"]) < 0.03
    assert mk.permutest(res, iter=600).exact  # 2^9 = 512 <= 600: exact, as metafor


@pytest.mark.parametrize("kwargs, message", [
    (dict(iter=1), "iter: must be an integer >= 2"),
    (dict(iter=True), "iter: must be an integer"),
    (dict(exact="yes"), "exact: must be True or False"),
])
def test_permutest_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mk.permutest(_bcg_fit(), **kwargs)


def test_permutest_refuses_huge_exact_tests():
    with pytest.raises(ValueError, match="too many for an exact test"):
        mk.permutest(_bcg_fit(mods=np.array(BCG["ablat"], float)), exact=True)


# ---------------------------------------------------------------------------- rma_mh
@pytest.mark.parametrize("key", [k for k in REF["mh"] if k.startswith("OR|")])
def test_mh_tests_match_metafor(key):
    _, dataset, correct = key.split("|")
    res = mk.rma_mh(**TABLES[dataset], correct=correct == "TRUE")
    close_fields(res, REF["mh"][key], {
        "cmh": "MH", "cmh_pval": "MHp", "cochran": "CO", "cochran_pval": "COp",
        "breslow_day": "BD", "breslow_day_pval": "BDp", "tarone": "TA", "tarone_pval": "TAp"})


def test_cmh_agrees_with_statsmodels_and_tests_are_nan_for_rr():
    from statsmodels.stats.contingency_tables import StratifiedTable

    t = TABLES["bcg"]
    tables = np.array([[[a, b], [c, d]] for a, b, c, d in zip(t["ai"], t["bi"], t["ci"], t["di"])],
                      float).transpose(1, 2, 0)
    res = mk.rma_mh(**t)
    assert res.cmh == pytest.approx(StratifiedTable(tables).test_null_odds(True).statistic)
    assert res.tarone == pytest.approx(
        StratifiedTable(tables).test_equal_odds(adjust=True).statistic, rel=1e-8)
    assert np.isnan(mk.rma_mh(**t, measure="RR").cmh)


def _pooled(measure, dataset, **kwargs):
    if measure == "PETO":
        return mk.rma_peto(**TABLES[dataset], **kwargs)
    return mk.rma_mh(**TABLES[dataset], measure=measure, **kwargs)


@pytest.mark.parametrize("key", [k for k in REF["mh"] if k.startswith("methods|")])
def test_leave1out_cumul_rstudent_of_mh_and_peto_fits(key):
    _, measure, dataset = key.split("|")
    res = _pooled(measure, dataset)
    e = REF["mh"][key]
    l1 = mk.leave1out(res)
    close_fields(l1, e["leave1out"], {
        "estimate": "estimate", "se": "se", "pval": "pval", "ci_low": "ci_lb",
        "ci_high": "ci_ub", "q": "Q", "q_pval": "Qp", "i2": "I2", "h2": "H2"}, atol=1e-8)
    assert (l1["tau2"] == 0).all()
    cu = mk.cumul(res)
    # where metafor's pooled estimate is NA (no events yet) it still prints Q = 0; metakit
    # leaves the whole row NaN
    estimable = ~np.isnan(np.array(e["cumul"]["estimate"], dtype=float))
    for ours, theirs in [("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                         ("ci_high", "ci_ub"), ("q", "Q"), ("i2", "I2")]:
        close(cu[ours][estimable], np.array(e["cumul"][theirs], dtype=float)[estimable],
              atol=1e-8)
    assert cu["estimate"][~estimable].isna().all()
    inf = mk.influence(res)
    rstudent = inf["rstudent"].dropna()  # metafor drops double-zero tables (no yi)
    close(rstudent, e["rstudent"]["z"], atol=1e-8)
    close(inf["weight"], e["weights"])
    close(inf["estimate_del"], e["leave1out"]["estimate"], atol=1e-8)


@pytest.mark.parametrize("key", sorted(REF["mh_random"]))
def test_revman_random_mh_matches_the_published_algorithm(key):
    measure, dataset = key.split("_")
    res = mk.rma_mh(**TABLES[dataset], measure=measure, random=True)
    assert res.method == "MH-DL" and res.random
    close_fields(res, REF["mh_random"][key], {
        "tau2": "tau2", "q": "QE_metafor", "estimate": "beta", "se": "se", "ci_low": "ci_lb",
        "pval": "pval"})
    fixed = mk.rma_mh(**TABLES[dataset], measure=measure)
    assert res.q == fixed.q and res.tau2 >= 0


def test_revman_random_leave1out_keeps_the_model():
    res = mk.rma_mh(**TABLES["bcg"], measure="RR", random=True)
    l1 = mk.leave1out(res)
    keep = np.ones(res.k, bool)
    keep[0] = False
    assert l1["estimate"].iloc[0] == pytest.approx(res.refit(keep).estimate)
    assert (l1["tau2"] > 0).all()


def test_counts_are_keyword_only():
    t = TABLES["bcg"]
    with pytest.raises(ValueError, match=r"rma_mh: pass the counts by name"):
        mk.rma_mh(t["ai"], t["bi"], t["ci"], t["di"], measure="RR")
    with pytest.raises(ValueError, match=r"rma_peto: pass the counts by name"):
        mk.rma_peto(t["ai"], t["bi"], t["ci"], t["di"])
    with pytest.raises(ValueError, match=r"needs argument\(s\) ai"):
        mk.rma_mh(bi=t["bi"], ci=t["ci"], di=t["di"])


def test_all_zero_tables_with_rd_raise_instead_of_dividing_by_zero():
    with pytest.raises(ValueError, match="risk difference has no variance"):
        mk.rma_mh(ai=[0, 0], bi=[10, 12], ci=[0, 0], di=[9, 11], measure="RD")


@pytest.mark.parametrize("kwargs, message", [
    (dict(add="0.5"), "add: must be a number"),
    (dict(correct=1), "correct: must be True or False"),
    (dict(random="yes"), "random: must be True or False"),
    (dict(level=True), "level: must be a percentage"),
])
def test_rma_mh_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mk.rma_mh(**TABLES["bcg"], **kwargs)


# ---------------------------------------------------------------------------- regtest
@pytest.mark.parametrize("key", sorted(REF["regtest_rma"]))
def test_regtest_rma_matches_metafor(key):
    method, test, predictor = key.split("|")
    kwargs = dict(method=method, test=test, ni=BCG["ni"])
    if predictor == "sei_ablat":
        kwargs["mods"] = np.array(BCG["ablat"], float)
    if predictor == "sei_weights":
        kwargs["weights"] = BCG["ni"]
    r = mk.regtest(_bcg_fit(**kwargs), predictor.split("_")[0], model="rma")
    e = REF["regtest_rma"][key]
    close(r.stat, e["zval"], rtol=RTOL_ITERATIVE)
    close(r.pval, e["pval"], rtol=RTOL_ITERATIVE)
    close(r.slope, e["slope"], rtol=RTOL_ITERATIVE)
    assert r.model == "rma"
    assert r.df == (e.get("dfs") if test == "knha" else None)
    if e.get("est") is not None:
        close(r.estimate, e["est"], rtol=RTOL_ITERATIVE)
        close(r.ci_low, e["ci_lb"], rtol=RTOL_ITERATIVE)
        close(r.ci_high, e["ci_ub"], rtol=RTOL_ITERATIVE)
    elif predictor in ("ni",):
        assert np.isnan(r.estimate)


@pytest.mark.parametrize("key", sorted(REF["bias_weights"]))
def test_trimfill_and_baujat_keep_the_weights(key):
    kind, method = key.split("|")
    kwargs = dict(weights=BCG["ni"]) if kind == "weights" else dict(weighted=False)
    fit = _bcg_fit(method=method, **kwargs)
    e = REF["bias_weights"][key]
    tf = mk.trimfill(fit)
    assert (tf.k0, tf.side) == (e["k0"], e["side"])
    close(tf.estimate, e["beta"], rtol=RTOL_ITERATIVE)
    close(tf.se, e["se"], rtol=RTOL_ITERATIVE)
    close(tf.tau2, e["tau2"], rtol=RTOL_ITERATIVE)
    bj = mk.baujat(fit)
    close(bj["x"], e["baujat_x"], rtol=RTOL_ITERATIVE)
    close(bj["y"], e["baujat_y"], rtol=RTOL_ITERATIVE)


def test_regtest_rejects_unknown_model():
    with pytest.raises(ValueError, match="model: unknown value 'glm'"):
        mk.regtest(_bcg_fit(), model="glm")


# ---------------------------------------------------------------------------- fsn General
@pytest.mark.parametrize("key", sorted(REF["fsn_general"]))
def test_fsn_general_matches_the_metafor4_formula(key):
    method, weighted, target = key.split("|")
    res = mk.fsn(BCG["yi"], BCG["vi"], type="General", method=method,
                 weighted=weighted == "TRUE", target=None if target == "none" else float(target))
    e = REF["fsn_general"][key]
    assert res.type == "General" and res.method == method
    assert res.fsnum == e["fsnum"]
    close(res.meanes, e["est"], rtol=RTOL_ITERATIVE)
    close(res.pval, e["pval"], rtol=RTOL_ITERATIVE)
    close(res.estimate_fsn, e["est_fsn"], rtol=RTOL_ITERATIVE)
    close(res.tau2_fsn, e["tau2_fsn"], rtol=RTOL_ITERATIVE, atol=1e-10)
    close(res.pval_fsn, e["pval_fsn"], rtol=RTOL_ITERATIVE)


@pytest.mark.parametrize("name", sorted(REF["fsn_general_metafor4"]))
def test_fsn_general_reproduces_metafor4s_own_tests(name):
    e = REF["fsn_general_metafor4"][name]
    fit = mk.rma(e["yi"], e["vi"])
    res = mk.fsn(fit, target=e.get("target"))
    assert res.type == "General"
    assert res.fsnum == e["metafor4"] == e["fsnum"]


def test_fsn_of_a_fit_says_what_it_computed():
    fit = _bcg_fit()
    assert mk.fsn(fit).type == "General"
    rosenthal = mk.fsn(fit, type="Rosenthal")
    assert rosenthal.type == "Rosenthal"
    assert rosenthal.fsnum == mk.fsn(BCG["yi"], BCG["vi"]).fsnum
    with pytest.raises(ValueError, match="Hartung-Knapp"):
        mk.fsn(_bcg_fit(test="knha"))
    with pytest.raises(ValueError, match="user weights"):
        mk.fsn(_bcg_fit(weights=BCG["ni"]))
    with pytest.raises(ValueError, match="method: only used with type='General'"):
        mk.fsn(BCG["yi"], BCG["vi"], method="DL")


# ---------------------------------------------------------------------------- subgroups
@pytest.mark.parametrize("method", sorted(REF["subgroup_common"]))
def test_common_tau2_across_subgroups_as_meta(method):
    res = mk.subgroup(BCG["yi"], BCG["vi"], BCG["alloc"], method=method, tau2="common")
    e = REF["subgroup_common"][method]
    close(res.tau2_common, e["tau2"], rtol=RTOL_ITERATIVE)
    for group in e["groups"]:
        fit = res.groups[group["level"]]
        close(fit.tau2, e["tau2"], rtol=RTOL_ITERATIVE)
        close(fit.estimate, group["beta"], rtol=RTOL_ITERATIVE)
        close(fit.se, group["se"], rtol=RTOL_ITERATIVE)
        close(fit.ci_low, group["ci_lb"], rtol=RTOL_ITERATIVE)
    close(res.q_between, e["Q_between"], rtol=RTOL_ITERATIVE)
    close(res.q_between_pval, e["Q_between_p"], rtol=RTOL_ITERATIVE)
    separate = mk.subgroup(BCG["yi"], BCG["vi"], BCG["alloc"], method=method)
    assert np.isnan(separate.tau2_common)
    assert separate.overall.tau2 == res.overall.tau2


def test_subgroup_tau2_option_is_checked():
    with pytest.raises(ValueError, match="tau2: unknown value 'pooled'"):
        mk.subgroup(BCG["yi"], BCG["vi"], BCG["alloc"], tau2="pooled")


# ---------------------------------------------------------------------------- escalc
def _escalc_case(key):
    parts = key.split("_")
    measure, dataset, drop00 = parts[0], "_".join(p for p in parts[1:] if p != "drop00"), \
        key.endswith("drop00")
    if dataset == "pval":
        return mk.escalc(measure, **REF["pval_entry"])
    data = TABLES[dataset] if dataset in TABLES else DATA[dataset]
    return mk.escalc(measure, **data, drop00=drop00) if drop00 else mk.escalc(measure, **data)


@pytest.mark.parametrize("key", sorted(REF["escalc"]))
def test_new_escalc_measures_match_metafor(key):
    out = _escalc_case(key)
    close(out["yi"], REF["escalc"][key]["yi"])
    close(out["vi"], REF["escalc"][key]["vi"])


def test_undefined_effect_sizes_warn_naming_the_study():
    with pytest.warns(mk.DataWarning, match=r"OR is undefined at study 'B'"):
        out = mk.escalc("OR", ai=[3, 0], bi=[7, 10], ci=[1, 2], di=[9, 8], to="none",
                        slab=["A", "B"])
    assert np.isnan(out["yi"][1]) and np.isfinite(out["yi"][0])
    with pytest.warns(mk.DataWarning, match="PLO is undefined at study index 0"):
        mk.escalc("PLO", xi=[0, 4], ni=[10, 10], to="none")


@pytest.mark.parametrize("kwargs, message", [
    (dict(measure="OR", ai=[1], bi=[2], ci=[1], di=[2], add="0.5"), "add: must be a number"),
    (dict(measure="OR", ai=[1], bi=[2], ci=[1], di=[2], drop00="yes"), "drop00: must be True"),
    (dict(measure="ROM", m1i=[-1], sd1i=[1], n1i=[5], m2i=[2], sd2i=[1], n2i=[5]), "m1i: must be > 0"),
    (dict(measure="ZCOR", ri=[0.3], ni=[3]), "ni: each study needs n >= 4"),
    (dict(measure="COR", ri=[1.3], ni=[30]), "ri: a correlation must lie in"),
    (dict(measure="IRR", x1i=[1], t1i=[0], x2i=[1], t2i=[10]), "t1i: must be > 0"),
    (dict(measure="RR", estimate=[0.8], pval=[0]), "pval: must be strictly between 0 and 1"),
    (dict(measure="RR", estimate=[1.0], pval=[0.3]), "estimate: an estimate at the null"),
    (dict(measure="MD", estimate=[1.0], pval=[0.3], ci_low=[0.1], ci_high=[2]), "not both"),
    (dict(measure="GEN"), "needs arguments estimate"),
])
def test_new_measures_reject_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mk.escalc(**kwargs)


def test_peto_is_a_measure_and_its_log_scale_back_transforms():
    out = mk.escalc("PETO", **TABLES["bcg"])
    res = mk.rma(out["yi"], out["vi"], method="EE", measure="PETO")
    assert res.back_transform()["estimate"] == pytest.approx(np.exp(res.estimate))
