"""Cohort figures: proportions without a null line, a composition bar, errors, a snapshot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from matplotlib.testing.compare import compare_images

from metakit.plots.cohort import composition, rates

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("METAKIT_UPDATE_SNAPSHOTS") == "1"
# Wilson 95% bounds, R 4: prop.test(x, n, correct = FALSE)$conf.int
LOWS, HIGHS = [0.3296273734, 0.2264806567], [0.7076284258, 0.4240378642]


def _age():
    return rates(["under 35", "35 or older"], [12, 26], [23, 82], LOWS, HIGHS,
                 groups=["age", "age"], title="Pregnant by age", xlabel="Women pregnant, %")


def test_rates_show_each_proportion_without_a_null_line():
    fig = _age()
    assert fig.alt == ("Pregnant by age: 2 proportions (%) with Wilson 95% intervals, no null "
                       "line: under 35 12/23 = 52.2 [33.0, 70.8]; 35 or older 26/82 = 31.7 "
                       "[22.6, 42.4].")
    ax = fig.axes[0]
    assert not [c for c in ax.collections if c.get_gid() == "null-line"]
    assert ax.get_xlim()[0] < 0 < 0.8 <= ax.get_xlim()[1]          # proportions from 0 up
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["0", "20", "40"]
    texts = {t.get_text() for t in fig.texts} | {t.get_text() for t in ax.texts}
    assert {"age", "12", "23", "52.2 [33.0, 70.8]"} <= texts


def test_composition_stacks_the_parts_of_one_total():
    fig = composition(["live birth", "abortion"], [31, 12], title="Pregnancies",
                      unit="pregnancies")
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [31, 12] and ax.get_xlim() == (0, 43)
    assert ax.get_xlabel() == "43 pregnancies"
    assert fig.alt == "Pregnancies: stacked bar of 43 pregnancies: live birth (31), abortion (12)."


@pytest.mark.parametrize("call, message", [
    (lambda: rates([], [], [], [], []), "labels: no proportions to plot"),
    (lambda: rates(["a"], [1, 2], [3], [0.1], [0.9]), "events, totals, lows, highs: need one"),
    (lambda: composition(["a", "b"], [3, -1]), "counts: need one non-negative count"),
    (lambda: composition(["a"], [0]), "counts: all parts are zero"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_snapshot_rates(tmp_path):
    fig = _age()
    expected = SNAPSHOTS / "cohort_rates.png"
    if UPDATE:
        fig.savefig(expected, dpi=80)
        pytest.skip(f"snapshot {expected.name} regenerated")
    assert expected.exists(), f"missing snapshot {expected}; run with METAKIT_UPDATE_SNAPSHOTS=1"
    actual = tmp_path / "cohort_rates.png"
    fig.savefig(actual, dpi=80)
    assert compare_images(str(expected), str(actual), tol=15) is None
