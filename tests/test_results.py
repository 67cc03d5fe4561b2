import math

import pandas as pd
import pytest

from metakit import audit, rma
from metakit.workbook.contract import COLUMNS, tally
from metakit.workbook.results import ResultsTable, audit_verdict, fit_summary, rounds_to, verdict

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
    checks = [audit.p_from_ci("-0.27", "-0.59", "-0.05", "0.10")]
    assert table.audited({**PUB, "analysis_id": "a3"}, checks, analysis="audit") == "inconsistent"
    path = table.write(tmp_path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["verdict"].to_list() == ["discrepant", "not_reproducible", "inconsistent"]
    assert frame.loc[2, "note"] == "p_from_ci: " + checks[0].explanation
    assert frame["assumption"].isna().all()
    assert not list(tmp_path.glob(".results-*"))


def test_bad_rows():
    table = ResultsTable("demo")
    with pytest.raises(ValueError, match="verdict 'maybe' is not one of"):
        table.add(analysis_id="x", verdict="maybe")
    with pytest.raises(ValueError, match="unknown column"):
        table.add(analysis_id="x", verdict="new", colour="red")


FIRM = audit.p_from_ci("-0.27", "-0.59", "-0.05", "0.10")                 # CI excludes 0, p = 0.10
CONDITIONAL = audit.battery({"i2": "45", "q_pval": "0.09", "k": "6"})[0]   # fits df 6, not k - 1
RULE = audit.model_rule("45", "0.09", "random", "random if p < 0.05")      # rule picks fixed
PASSED = audit.ci_symmetry("0.41", "0.22", "0.78", scale="log")
VACUOUS = audit.i2_from_pval("0", 1, "50")   # p in [0, 0.5] on 1 df allows any I² from 0 to 100


def test_audit_verdict_orders_firm_conditional_rule_and_passes():
    assert CONDITIONAL.verdict == "inconsistent" and CONDITIONAL.assumption.startswith("df = k")
    assert audit_verdict([PASSED, RULE, CONDITIONAL, FIRM]) == ("inconsistent", "")
    assert audit_verdict([PASSED, RULE, CONDITIONAL]) == ("inconsistent", CONDITIONAL.assumption)
    assert audit_verdict([PASSED, RULE]) == ("deviates", "")
    assert audit_verdict([PASSED]) == ("consistent", "")
    assert audit_verdict([]) == ("not_reproducible", "")


def test_a_check_that_cannot_fail_does_not_make_a_result_consistent():
    assert VACUOUS.verdict == "not_checkable" and VACUOUS.recomputed == (0.0, 100.0)
    assert audit_verdict([VACUOUS]) == ("not_reproducible", "")


def test_reproduced_result_that_breaks_the_stated_rule_deviates():
    table = ResultsTable("r")
    values = {"estimate": 0.41, "ci_low": 0.22, "ci_high": 0.78}
    assert table.compare(PUB, analysis="x", checks=[RULE], **values) == "deviates"
    assert "model_rule" in table.rows[-1]["note"]
    assert table.compare({**PUB, "analysis_id": "b"}, analysis="x", checks=[PASSED],
                         **values) == "reproduced"


def test_tally_counts_firm_and_conditional_contradictions_apart():
    table = ResultsTable("r")
    for name, check in (("a", FIRM), ("b", CONDITIONAL), ("c", RULE), ("d", PASSED)):
        table.audited({**PUB, "analysis_id": name}, [check], analysis="audit")
    counts = tally(table.rows)
    assert (counts["firm"], counts["conditional"], counts["deviates"], counts["consistent"]) \
        == (1, 1, 1, 1)


def test_assumption_only_with_an_inconsistent_verdict():
    table = ResultsTable("r")
    with pytest.raises(ValueError, match="only recorded for an inconsistent"):
        table.add(analysis_id="x", verdict="consistent", assumption="df = k - 1")
