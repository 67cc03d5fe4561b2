"""The dossier schema and the generic runner, on the BCG vaccine trials printed as a paper would."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from metafor_reference import reference
from metakit import audit
from metakit.workbook import load_dossier, run, summary
from metakit.workbook.dossier import DossierError

BCG = Path(__file__).parent / "fixtures" / "bcg"


@pytest.fixture(scope="module")
def bcg():
    return run(BCG)


@pytest.fixture
def dossier(tmp_path):
    """A copy of the BCG dossier to break."""
    target = tmp_path / "bcg"
    shutil.copytree(BCG, target)
    return target


def test_every_published_row_once_then_the_new_rows(bcg):
    frame = bcg.frame()
    published = list(bcg.dossier.published.index)
    assert list(frame["analysis_id"][:len(published)]) == published
    assert frame["analysis_id"].is_unique
    assert set(frame["verdict"][len(published):]) == {"new"}


def test_re_derived_rows_are_reproduced_at_the_printed_precision(bcg):
    frame = bcg.frame().set_index("analysis_id")
    assert frame.loc["rr_overall", "verdict"] == "reproduced"
    metafor = reference()["rma"]["bcg_RR|REML|z"]
    assert frame.loc["rr_overall", "estimate"] == pytest.approx(math.exp(metafor["beta"]),
                                                                rel=1e-6)
    assert frame.loc["rr_overall", "ci_low"] == pytest.approx(math.exp(metafor["ci_lb"]),
                                                              rel=1e-6)
    for pid in ("rr_high_latitude", "rr_low_latitude", "rr_latitude_difference"):
        assert frame.loc[pid, "verdict"] == "reproduced", pid


def test_robustness_rerun_is_reml_with_hartung_knapp(bcg):
    frame = bcg.frame().set_index("analysis_id")
    metafor = reference()["rma"]["bcg_RR|REML|knha"]
    assert frame.loc["rr_robust", "ci_low"] == pytest.approx(math.exp(metafor["ci_lb"]),
                                                             rel=1e-6)
    assert frame.loc["rr_robust", "ci_high"] == pytest.approx(math.exp(metafor["ci_ub"]),
                                                              rel=1e-6)
    low = f"{math.exp(metafor['pi_lb']):.2f}"
    assert frame.loc["rr_robust", "note"].startswith(f"prediction interval {low} to ")
    table = bcg.robustness_table().set_index("group")
    assert table.loc["latitude < 34", "conclusion changes"]
    assert not table.loc["overall", "conclusion changes"]


def test_findings_list_the_conclusion_that_changes(bcg):
    records = bcg.frame().to_dict("records")
    flagged = [r["analysis_id"] for r in records if summary.kind(r)]
    assert flagged == ["rr_robust_latitude_lt_34"]
    page = bcg.findings().html
    assert "Conclusions that change under modern methods" in page
    assert 'href="#result-rr_robust_latitude_lt_34"' in page


def test_cross_checks_resolve_published_references(bcg):
    (spec, check), = bcg.cross
    assert check.name == "parts_sum" and check.verdict == "consistent"
    assert check.inputs == {"parts": "7, 6", "total": "13"}


def test_audited_rows_get_the_automatic_battery(dossier):
    published = dossier / "published.csv"
    published.write_text(published.read_text() + "extra,Results,tuberculosis,RR,0.50,0.31,0.81,,,"
                         "Abstract,,,0.005,,,,,\n")
    review = run(dossier)
    row = review.frame().set_index("analysis_id").loc["extra"]
    assert row["verdict"] == "consistent"
    assert [c.name for c in review.checks["extra"]] == ["ci_symmetry", "p_from_ci"]


def test_options_override_the_dossier_and_are_validated():
    review = run(BCG, options={"robust_method": "PM"})
    robust = review.frame().set_index("analysis_id").loc["rr_robust"]
    metafor = reference()["rma"]["bcg_RR|PM|knha"]
    assert robust["ci_low"] == pytest.approx(math.exp(metafor["ci_lb"]), rel=1e-6)
    with pytest.raises(DossierError, match=r"options, key pi_dist: input should be 't' or 'z'"):
        run(BCG, options={"pi_dist": "normal"})


@pytest.mark.parametrize("file, old, new, message", [
    ("analyses.yaml", "    robustness: true", "    robustnes: true",
     r"analyses.yaml, entry 1 \('rr'\), key robustnes: extra inputs are not permitted"),
    ("analyses.yaml", "overall: rr_overall", "overall: rr_overal",
     r"analyses.yaml, rr: answers 'rr_overal', which is not in published.csv"),
    ("analyses.yaml", "data: studies", "data: trials", r"bcg: no data file trials.csv"),
    ("checks.yaml", "total: \"@rr_overall.k\"", "total: 13.0",
     r"checks.yaml, entry 1 .*key args.total: the number 13.0 must be quoted"),
    ("checks.yaml", "check: parts_sum", "check: part_sum", r"unknown check 'part_sum'"),
    ("review.yaml", "design: meta-analysis", "design: survey", r"review.yaml, key design"),
    ("review.yaml", "id: bcg", "id: BCG 1", r"review.yaml, key id: string should match"),
])
def test_a_broken_dossier_is_named_by_file_entry_and_key(dossier, file, old, new, message):
    path = dossier / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(DossierError, match=message):
        run(load_dossier(dossier))


def test_a_published_row_answered_twice_is_refused(dossier):
    path = dossier / "analyses.yaml"
    path.write_text(path.read_text() + """\
  - id: rr_again
    title: the same row again
    data: studies
    effect: {measure: RR, source: counts}
    answers: {overall: rr_overall}
""")
    with pytest.raises(DossierError, match="'rr_overall' is already answered by rr"):
        load_dossier(dossier)


def test_missing_and_unreadable_dossier_files(dossier, tmp_path):
    with pytest.raises(DossierError, match="no dossier folder"):
        load_dossier(tmp_path / "nowhere")
    (dossier / "analyses.yaml").write_text("analyses: [\n")
    with pytest.raises(DossierError, match=r"analyses.yaml, line \d+: not readable YAML"):
        load_dossier(dossier)
    (dossier / "review.yaml").unlink()
    with pytest.raises(DossierError, match="review.yaml: missing"):
        load_dossier(dossier)


def test_the_stated_rule_picks_the_model_from_the_fit(dossier):
    path = dossier / "analyses.yaml"
    path.write_text(path.read_text().replace("model: {method: REML}", "model: {method: rule}"))
    review = run(dossier)
    fit = review.fit("rr").fit
    assert fit.method == "DL"   # I² = 92% > 50%: the rule picks random effects (DerSimonian-Laird)
    assert audit.rule_choice("random if I2 > 50%", i2=fit.i2, q_pval=fit.q_pval) == "random"


def test_the_rule_picks_the_analysis_s_own_random_effects_method(dossier):
    path = dossier / "analyses.yaml"
    path.write_text(path.read_text().replace("model: {method: REML}",
                                             "model: {method: rule, random: PM}"))
    assert run(dossier).fit("rr").fit.method == "PM"
