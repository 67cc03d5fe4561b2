import numpy as np
import pytest

from metakit import escalc
from metafor_reference import close, reference

REF = reference()


def _data(name):
    return {k: v for k, v in REF["datasets"][name].items() if k not in ("ablat", "year")}


@pytest.mark.parametrize("key", sorted(REF["escalc"]))
def test_escalc_matches_metafor(key):
    measure, dataset = key.split("_", 1)
    data = _data("generic_hr" if dataset == "generic" else dataset)
    out = escalc(measure, **data)
    close(out["yi"], REF["escalc"][key]["yi"])
    close(out["vi"], REF["escalc"][key]["vi"])
    assert out.attrs["measure"] == measure


def test_events_and_totals_equal_cell_counts():
    a = escalc("RR", ai=[3, 0], bi=[7, 10], ci=[1, 2], di=[9, 8])
    b = escalc("RR", ai=[3, 0], n1i=[10, 10], ci=[1, 2], n2i=[10, 10])
    np.testing.assert_allclose(a[["yi", "vi"]], b[["yi", "vi"]])


def test_zero_cell_gets_half_only_in_that_study():
    out = escalc("OR", ai=[0, 2], bi=[10, 8], ci=[3, 4], di=[7, 6])
    assert out.yi[0] == pytest.approx(np.log(0.5 * 7.5 / (10.5 * 3.5)))
    assert out.yi[1] == pytest.approx(np.log(2 * 6 / (8 * 4)))


def test_passthrough_and_labels():
    out = escalc("PR", xi=[1, 2], ni=[10, 20], slab=["A", "B"], dose=[1.0, 2.0])
    assert list(out.columns) == ["slab", "yi", "vi", "dose"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(measure="RR", ai=[5], n1i=[4], ci=[1], n2i=[10]), "ai: 5 events exceed n1i = 4 at study index 0"),
    (dict(measure="OR", ai=[-1], bi=[4], ci=[1], di=[3]), "ai: must be >= 0"),
    (dict(measure="OR", ai=[1.5], bi=[4], ci=[1], di=[3]), "ai: counts must be whole numbers"),
    (dict(measure="SMD", m1i=[1], sd1i=[0], n1i=[10], m2i=[1], sd2i=[1], n2i=[10]), "sd1i: must be > 0"),
    (dict(measure="MD", m1i=[1], sd1i=[1], n1i=[1], m2i=[1], sd2i=[1], n2i=[10]), "n1i: each arm needs n >= 2"),
    (dict(measure="PR", xi=[1, np.nan], ni=[10, 10]), "xi: missing or infinite value at study index 1"),
    (dict(measure="PR", xi=[1, 2], ni=[10]), "arguments differ in length"),
    (dict(measure="XX", xi=[1], ni=[10]), "measure: unknown value 'XX'"),
    (dict(measure="HR", estimate=[0.5], ci_low=[0.6], ci_high=[0.9]), "does not bracket the estimate"),
    (dict(measure="PLO", xi=[1]), "needs argument(s) ni"),
])
def test_bad_input_names_argument_and_study(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        escalc(**kwargs)


def test_error_names_study_label():
    with pytest.raises(ValueError, match="study 'Smith 2020'"):
        escalc("PR", xi=[1, 12], ni=[10, 10], slab=["Jones 2019", "Smith 2020"])
