import numpy as np
import pytest

from metakit import rma_mh, rma_peto
from metafor_reference import close, reference

REF = reference()


def _counts(name):
    d = REF["datasets"][name]
    return dict(ai=d["ai"], bi=d["bi"], ci=d["ci"], di=d["di"])


@pytest.mark.parametrize("key", sorted(REF["mh"]))
def test_matches_metafor(key):
    measure, dataset = key.split("_", 1)
    res = (rma_peto(**_counts(dataset)) if measure == "PETO"
           else rma_mh(**_counts(dataset), measure=measure))
    expected = REF["mh"][key]
    close(res.estimate, expected["beta"])
    close(res.se, expected["se"])
    close(res.ci_low, expected["ci_lb"])
    close(res.ci_high, expected["ci_ub"])
    close(res.pval, expected["pval"])
    close(res.q, expected["QE"])
    close(res.q_pval, expected["QEp"])
    close(res.i2, expected["I2"], atol=1e-8)
    assert res.k == expected["k"]


def test_totals_instead_of_non_events():
    a = rma_mh(ai=[3, 5], bi=[7, 5], ci=[1, 2], di=[9, 8], measure="RR")
    b = rma_mh(ai=[3, 5], n1i=[10, 10], ci=[1, 2], n2i=[10, 10], measure="RR")
    assert a.estimate == pytest.approx(b.estimate)
    assert b.back_transform()["estimate"] == pytest.approx(np.exp(b.estimate))


def test_no_events_is_not_estimable():
    with pytest.raises(ValueError, match="not estimable"):
        rma_mh(ai=[0, 0], bi=[10, 10], ci=[0, 0], di=[10, 10], measure="OR")


def test_bad_measure():
    with pytest.raises(ValueError, match="measure: unknown value 'HR'"):
        rma_mh(ai=[1], bi=[2], ci=[1], di=[2], measure="HR")


@pytest.mark.parametrize("key", sorted(REF["mh_revman"]))
def test_revman_correction_matches_metafor(key):
    measure, dataset = key.split("_", 1)
    d = REF["mh_revman_data"][dataset]
    res = rma_mh(ai=d["ai"], bi=d["bi"], ci=d["ci"], di=d["di"], measure=measure, add=0.5,
                 drop00=True)
    expected = REF["mh_revman"][key]
    close(res.estimate, expected["beta"])
    close(res.se, expected["se"])
    close(res.ci_low, expected["ci_lb"])
    close(res.q, expected["QE"])
    close(res.i2, expected["I2"], atol=1e-8)
    assert res.k == expected["k"]


def test_self_control_rr_is_not_estimable_without_correction():
    with pytest.raises(ValueError, match="not estimable"):
        rma_mh(ai=[5, 3], bi=[7, 4], ci=[0, 0], di=[12, 7], measure="RR")
