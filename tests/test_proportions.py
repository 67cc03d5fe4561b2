import pytest

from metakit import metaprop, subgroup
from metafor_reference import RTOL_ITERATIVE, close, reference

REF = reference()


@pytest.mark.parametrize("key", sorted(REF["metaprop"]))
def test_metaprop_back_transform_matches_metafor(key):
    measure, method = key.split("|")
    data = REF["datasets"]["pritz"]
    res = metaprop(data["xi"], data["ni"], measure=measure, method=method)
    expected = REF["metaprop"][key]
    rtol = RTOL_ITERATIVE if method == "REML" else 1e-6
    close(res.prop, expected["pred"], rtol)
    close(res.prop_low, expected["ci_lb"], rtol)
    close(res.prop_high, expected["ci_ub"], rtol)
    close(res.tau2, expected["tau2"], rtol, atol=1e-9)


def test_study_intervals_are_wilson_by_default():
    res = metaprop([3, 10], [10, 20], slab=["A", "B"])
    table = res.studies()
    # R: prop.test(3, 10, correct = FALSE)$conf.int -> 0.1077913 0.6032219
    assert table.loc["A", ["ci_low", "ci_high"]].to_list() == pytest.approx(
        [0.1077913, 0.6032219], abs=1e-6)
    exact = metaprop([3, 10], [10, 20], study_interval="exact").studies()
    # R: binom.test(3, 10)$conf.int -> 0.06673951 0.65245285
    assert exact.iloc[0][["ci_low", "ci_high"]].to_list() == pytest.approx(
        [0.06673951, 0.65245285], abs=1e-7)
    assert table["weight"].sum() == pytest.approx(100)


def test_q_between_two_subgroups_by_hand():
    # two single-study subgroups 0 (SE 1) and 1 (SE 1): Q = 0.5 on 1 df, p = 0.4795
    res = subgroup([0.0, 1.0], [1.0, 1.0], groups=["a", "b"], method="EE")
    assert res.q_between == pytest.approx(0.5)
    assert res.q_between_df == 1
    assert res.q_between_pval == pytest.approx(0.47950012, abs=1e-8)


def test_subgroup_levels_and_overall():
    es = REF["escalc"]["RR_bcg"]
    groups = ["early" if y < 1960 else "late" for y in REF["datasets"]["bcg"]["year"]]
    res = subgroup(es["yi"], es["vi"], groups, method="DL", measure="RR")
    assert list(res.groups) == ["early", "late"] or list(res.groups) == ["late", "early"]
    assert sum(f.k for f in res.groups.values()) == res.overall.k == 13
    assert "Test for subgroup differences" in str(res)


def test_subgroup_needs_two_levels():
    with pytest.raises(ValueError, match="groups: need at least 2 subgroups"):
        subgroup([0.1, 0.2], [0.1, 0.1], ["a", "a"])
