"""Every review's results against its golden file, row by row (see golden_results.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from golden_results import differences, golden_frame, read_golden, write_golden
from metakit.publish.build import discover_reviews

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("review", discover_reviews(REPO_ROOT))
def test_results_equal_the_golden_file(repo_build, review, request):
    out, _ = repo_build
    results = pd.read_csv(out / review / "results.csv", dtype=str, keep_default_na=False)
    if request.config.getoption("--update-golden"):
        write_golden(review, results)
    changed = differences(read_golden(review), golden_frame(results))
    assert not changed, f"{review}: {len(changed)} difference(s) from tests/golden/{review}.csv:\n" \
        + "\n".join(changed)


def test_a_verdict_changed_by_hand_is_named():
    golden = read_golden("cirrhosis")
    edited = golden.copy()
    row = edited.index[edited["analysis_id"] == "meld_time_2w"][0]
    edited.loc[row, "verdict"] = "consistent"
    edited.loc[row + 1, "estimate"] = "1.234"
    edited = edited.drop(index=row + 2)
    changed = differences(golden, edited)
    assert changed[0].endswith("row missing (was " + golden.loc[row + 2, "verdict"] + ")")
    assert "meld_time_2w: verdict 'inconsistent' -> 'consistent'" in changed
    assert f"{golden.loc[row + 1, 'analysis_id']}: estimate '' -> '1.234'" in changed
    assert differences(golden, golden) == []


def test_golden_numbers_have_four_significant_digits():
    frame = pd.DataFrame({"analysis_id": ["a"], "verdict": ["new"], "assumption": [None],
                          "estimate": [0.123456], "ci_low": [12345.6], "ci_high": [float("nan")]})
    assert golden_frame(frame).iloc[0].to_dict() == {
        "analysis_id": "a", "verdict": "new", "assumption": "", "estimate": "0.1235",
        "ci_low": "1.235e+04", "ci_high": ""}
