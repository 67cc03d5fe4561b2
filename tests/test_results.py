import math
from types import SimpleNamespace

import pandas as pd
import pytest

from metakit import rma
from metakit.workbook.results import COLUMNS, ResultsTable, fit_summary, rounds_to, verdict

PUB = {"analysis_id": "a1", "outcome": "healing", "measure": "OR", "estimate": "0.41",
       "ci_low": "0.22", "ci_high": "0.78", "source": "Fig. 6"}


@pytest.mark.parametrize("value, printed, expected", [
    (0.4049, "0.40", True), (0.4051, "0.40", False), (12.4, "12", True), (-0.054, "-0.05", True),
    (44.04, "44.0%", True), (44.06, "44.0%", False), (0.0004, "<0.001", True),
    (0.0012, "<0.001", False), (-0.2749, "−0.27", True), (1.0, "", False), (1.0, None, False),
])
def test_rounds_to_reads_printed_formats(value, printed, expected):
    assert rounds_to(value, printed) is expected


def test_rounds_to_accepts_both_rounding_rules():
    assert rounds_to(0.125, "0.13")   # half up (Stata, RevMan)
    assert rounds_to(0.125, "0.12")   # half even (R)
    assert not rounds_to(0.126, "0.12")
    assert not rounds_to(math.nan, "0.12")


def test_verdict():
    assert verdict(0.4149, 0.2151, 0.7849, ("0.41", "0.22", "0.78")) == "reproduced"
    assert verdict(0.4149, 0.2149, 0.7849, ("0.41", "0.22", "0.78")) == "discrepant"
    assert verdict(36.19, math.nan, math.nan, ("36.19", None, None)) == "reproduced"


def test_compare_and_write(tmp_path):
    table = ResultsTable("demo")
    fit = rma([0.1, 0.5, -0.2], [0.04, 0.05, 0.06], method="EE", measure="OR")
    values = fit_summary(fit)
    assert values["estimate"] == pytest.approx(math.exp(fit.estimate))
    outcome = table.compare(PUB, analysis="IV fixed", **values)
    assert outcome == "discrepant"
    table.missing({**PUB, "analysis_id": "a2"}, analysis="-", note="no data")
    checks = [SimpleNamespace(verdict="inconsistent", explanation="CI excludes p")]
    assert table.audited({**PUB, "analysis_id": "a3"}, checks, analysis="audit") == "inconsistent"
    path = table.write(tmp_path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["verdict"].to_list() == ["discrepant", "not_reproducible", "inconsistent"]
    assert frame.loc[2, "note"] == "CI excludes p"
    assert not list(tmp_path.glob(".results-*"))


def test_bad_rows():
    table = ResultsTable("demo")
    with pytest.raises(ValueError, match="verdict 'maybe' is not one of"):
        table.add(analysis_id="x", verdict="maybe")
    with pytest.raises(ValueError, match="unknown column"):
        table.add(analysis_id="x", verdict="new", colour="red")
