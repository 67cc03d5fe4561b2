"""Three-level models against metafor's rma.mv (fixtures from make_glmm_mv_fixtures.R)."""

import json
from pathlib import Path

import numpy as np
import pytest

from metakit import rma, rma_mv
from metakit.workbook.results import fit_summary
from metafor_reference import RTOL, RTOL_ITERATIVE, close

REF = json.loads((Path(__file__).parent / "fixtures" / "glmm_mv_reference.json").read_text())
MV = REF["mv"]


@pytest.mark.parametrize("name", sorted(MV))
def test_rma_mv_matches_metafor(name):
    case = MV[name]
    res = rma_mv(case["yi"], case["vi"], study=case["study"], method=case["method"],
                 test=case["test"])
    assert (res.k, res.n_studies) == (case["k"], case["n_studies"])
    close(res.sigma2, case["sigma2"], RTOL_ITERATIVE, atol=1e-9)
    close([res.estimate, res.se, res.zval], [case["beta"], case["se"], case["zval"]], RTOL)
    close(res.pval, case["pval"], RTOL)
    close([res.ci_low, res.ci_high], [case["ci_lb"], case["ci_ub"]], RTOL)
    close([res.pi_low, res.pi_high], [case["pi_lb"], case["pi_ub"]], RTOL)
    close([res.q, res.q_pval], [case["QE"], case["QEp"]], RTOL)
    close(res.ll, case["ll"], RTOL)
    close(res.i2, case["I2"], RTOL)
    close(res.i2_levels, case["I2_levels"], RTOL_ITERATIVE, atol=1e-7)
    close(res.sigma2_ci, case["sigma2_ci"], RTOL_ITERATIVE, atol=1e-9)
    assert res.converged


def test_iua_emt_time_points_nested_in_studies():
    case = MV["iua_emt_reml"]
    res = rma_mv(case["yi"], case["vi"], study=case["study"], measure="MD")
    assert res.n_studies == 6 and res.k == 10
    frame = res.variance_frame()
    assert list(frame.index) == ["between-study", "within-study"]
    close(frame["sigma2"], case["sigma2"], RTOL_ITERATIVE)
    row = fit_summary(res)
    close([row["estimate"], row["ci_low"], row["ci_high"]],
          [case["beta"], case["ci_lb"], case["ci_ub"]], RTOL)
    assert row["model"] == "3-level RE (REML)"
    assert row["tau2"] == pytest.approx(sum(case["sigma2"]), rel=RTOL_ITERATIVE)
    assert "10 estimates in 6 studies" in str(res)


def test_row_order_does_not_matter():
    case = MV["konstantopoulos2011_16_reml"]
    order = np.random.default_rng(1).permutation(len(case["yi"]))
    res = rma_mv(np.array(case["yi"])[order], np.array(case["vi"])[order],
                 study=list(np.array(case["study"])[order]))
    close([res.estimate, res.se, *res.sigma2], [case["beta"], case["se"], *case["sigma2"]],
          RTOL_ITERATIVE)


def test_no_spread_within_studies_puts_the_within_component_at_zero():
    # two identical estimates per study: the within-study variance is estimated at exactly 0,
    # and the pooled estimate is the same as a two-level model on one estimate per study with
    # the pair's variance halved
    y = np.array([0.1, 0.5, -0.2, 0.8, 0.3])
    v = np.array([0.04, 0.02, 0.05, 0.03, 0.02])
    res = rma_mv(np.repeat(y, 2), np.repeat(v, 2), study=list(np.repeat(list("abcde"), 2)))
    assert res.sigma2[1] == 0
    two_level = rma(y, v / 2, method="REML")
    assert res.sigma2[0] == pytest.approx(two_level.tau2, rel=1e-6)
    assert res.estimate == pytest.approx(two_level.estimate, rel=1e-8)
    assert res.se == pytest.approx(two_level.se, rel=1e-6)
    assert res.sigma2_ci[1][0] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"study": ["a", "a", "b"], "yi": [0.1, 0.2]}, "arguments differ in length"),
    ({"study": ["a", None, "b", "b"]}, "study: missing study label at row index 1"),
    ({"study": "abcd"}, "study: a label for every row"),
    ({"study": ["a", "b", "c", "d"]}, "every study has one estimate"),
    ({"vi": [0.1, 0.0, 0.1, 0.1]}, "vi: must be > 0, got 0 at study index 1"),
    ({"yi": [0.1, np.nan, 0.3, 0.4]}, "yi: missing or infinite value at study index 1"),
    ({"method": "DL"}, "method: unknown value 'DL'; choose one of REML, ML"),
    ({"test": "knha"}, "test: unknown value 'knha'"),
    ({"level": 0}, "level"),
    ({"yi": [1e200, -1e200, 0.0, 1.0]}, "yi: 1e\\+200 at study index 0 is outside the range"),
    ({"vi": [1e300] * 4}, "vi: 1e\\+300 at study index 0 is outside the range"),
])
def test_rma_mv_bad_input(kwargs, message):
    args = {"yi": [0.1, 0.2, 0.3, 0.4], "vi": [0.1, 0.1, 0.1, 0.1],
            "study": ["a", "a", "b", "b"]} | kwargs
    with pytest.raises(ValueError, match=message):
        rma_mv(**args)
