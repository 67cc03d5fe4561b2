"""GLMM for proportions against metafor's rma.glmm (fixtures from make_glmm_mv_fixtures.R)."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

from metakit import metaprop, rma_glmm
from metakit.workbook.results import fit_summary
from metafor_reference import RTOL_ITERATIVE, close

REF = json.loads((Path(__file__).parent / "fixtures" / "glmm_mv_reference.json").read_text())
GLMM = REF["glmm"]


@pytest.mark.parametrize("name", sorted(GLMM))
def test_glmm_matches_metafor(name):
    case = GLMM[name]
    res = metaprop(case["xi"], case["ni"], method="GLMM", test=case["test"], slab=case["slab"])
    rtol = RTOL_ITERATIVE
    close(res.estimate, case["beta"], rtol)
    close(res.se, case["se"], rtol)
    close(res.zval, case["zval"], rtol)
    # p-values far in the tail are compared on the log scale (d log p / d log z ≈ z²)
    close(np.log(res.pval), np.log(case["pval"]), rtol)
    close([res.ci_low, res.ci_high], [case["ci_lb"], case["ci_ub"]], rtol)
    close([res.pi_low, res.pi_high], [case["pi_lb"], case["pi_ub"]], rtol)
    close(res.tau2, case["tau2"], rtol, atol=1e-9)
    close(res.i2, case["I2"], rtol, atol=1e-7)
    close(res.h2, case["H2"], rtol)
    # Wald test: R's glm stops 0/n and n/n logits at a finite value, adding ~1e-6 (see Notes)
    close(res.q, case["QE_Wld"], rtol, atol=1e-5)
    close(res.qe_lrt, case["QE_LRT"], 1e-6)
    close(res.qe_lrt_pval, case["QEp_LRT"], 1e-6)
    close(res.ll, case["ll_marginal"], 1e-6)
    close([res.prop, res.prop_low, res.prop_high],
          [case["prop"], case["prop_lb"], case["prop_ub"]], rtol)
    assert res.k == len(case["xi"])


@pytest.mark.parametrize("name", sorted(REF["glmm_laplace"]))
def test_laplace_matches_metafor_glmmtmb(name):
    case = REF["glmm_laplace"][name]
    res = rma_glmm(case["xi"], case["ni"], nagq=1)
    close([res.estimate, res.se, res.tau2], [case["beta"], case["se"], case["tau2"]],
          RTOL_ITERATIVE)
    close(res.ll, case["ll"], 1e-6)
    assert "Laplace" in res.model_label


def test_quadrature_converges_to_the_marginal_likelihood():
    # with 40 points the AGQ log-likelihood at the fit equals the integrals done by adaptive
    # quadrature (7 points, as metafor, are 3e-3 off here: τ² = 1.9 and fourteen 0/n studies)
    case = GLMM["nonunion_fig5"]
    res = rma_glmm(case["xi"], case["ni"], nagq=40)
    tau = np.sqrt(res.tau2)
    exact = 0.0
    for x, n in zip(case["xi"], case["ni"]):
        def density(u, x=x, n=n):
            return stats.binom.pmf(x, n, special.expit(res.estimate + tau * u)) * stats.norm.pdf(u)
        exact += np.log(integrate.quad(density, -12, 12, epsabs=0, epsrel=1e-12, limit=200)[0])
    assert res.ll == pytest.approx(exact, rel=1e-10)


def test_events_and_non_events_swap_the_sign_of_the_logit():
    x, n = np.array([0, 3, 5, 1, 12]), np.array([10, 20, 5, 8, 40])
    res, swapped = rma_glmm(x, n), rma_glmm(n - x, n)
    assert swapped.estimate == pytest.approx(-res.estimate, rel=1e-7)
    assert swapped.tau2 == pytest.approx(res.tau2, rel=1e-6)
    assert swapped.se == pytest.approx(res.se, rel=1e-6)


def test_glmm_feeds_the_results_table():
    case = GLMM["nonunion_fig5"]
    res = metaprop(case["xi"], case["ni"], method="GLMM", slab=case["slab"])
    row = fit_summary(res, scale=100)
    close([row["estimate"], row["ci_low"], row["ci_high"]],
          [100 * case["prop"], 100 * case["prop_lb"], 100 * case["prop_ub"]], RTOL_ITERATIVE)
    assert row["model"] == "GLMM (ML, AGQ 7)" and row["q_df"] == 20
    assert row["tau2"] == pytest.approx(case["tau2"], rel=RTOL_ITERATIVE)
    table = res.studies()
    assert table["weight"].isna().all() and list(table.index) == case["slab"]
    assert res.to_record()["prop"] == pytest.approx(case["prop"], rel=RTOL_ITERATIVE)
    assert "LRT(df = 20)" in str(res) and "Pooled proportion" in str(res)


@pytest.mark.parametrize("kwargs, message", [
    ({"xi": [0, 0, 0], "ni": [5, 8, 3]}, "xi: every study has no events"),
    ({"xi": [3, 3], "ni": [3, 3]}, "xi: every study has events in every participant"),
    ({"xi": [0, 5, 0], "ni": [4, 5, 9]}, "xi: every study has either no events or events in"),
    ({"xi": [2], "ni": [9]}, "at least 2 studies"),
    ({"xi": [2, 9], "ni": [9, 8]}, "xi: 9 events exceed ni = 8 at study index 1"),
    ({"xi": [2, 1.5], "ni": [9, 8]}, "xi: counts must be whole numbers"),
    ({"xi": [2, 3], "ni": [9, 8], "nagq": 0}, "nagq"),
    ({"xi": [2, 3], "ni": [9, 8], "nagq": True}, "nagq"),
    ({"xi": [2, 3], "ni": [9, 8], "test": "knha"}, "test: unknown value 'knha'"),
    ({"xi": [2, 3], "ni": [9, 8], "level": 100}, "level"),
])
def test_glmm_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rma_glmm(**kwargs)


def test_metaprop_glmm_takes_only_the_logit():
    with pytest.raises(ValueError, match="measure: the GLMM is a logistic model"):
        metaprop([1, 2], [10, 10], measure="PFT", method="GLMM")
    with pytest.raises(ValueError, match="method: unknown value 'glmm'"):
        metaprop([1, 2], [10, 10], method="glmm")
    assert metaprop([1, 2], [10, 10], measure="PLO", method="GLMM").measure == "PLO"
