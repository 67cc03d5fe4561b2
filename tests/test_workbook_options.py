"""Dossier options beyond the BCG basics: joined tables, paired means, moderators, small-study
tests, which rows a new analysis gives, rules in checks.yaml, PRISMA sources.
Re-derived values are held against metafor (tests/fixtures/make_iua_fixtures.R, run on the iua
dossier's own rows)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from matplotlib.text import Text

from metafor_reference import close, reference
from metakit.workbook import load_dossier, run
from metakit.workbook.crosschecks import min_k
from metakit.workbook.dossier import DossierError

BCG = Path(__file__).parent / "fixtures" / "bcg"
IUA = json.loads((Path(__file__).parent / "fixtures" / "iua_reference.json").read_text())


@pytest.fixture(scope="module")
def iua():
    return run("iua")


@pytest.fixture(scope="module")
def rows(iua):
    return iua.frame().set_index("analysis_id")


@pytest.fixture
def dossier(tmp_path):
    target = tmp_path / "bcg"
    shutil.copytree(BCG, target)
    return target


def _append(dossier: Path, text: str) -> None:
    path = dossier / "analyses.yaml"
    path.write_text(path.read_text() + text)


def _triple(row):
    return [row["estimate"], row["ci_low"], row["ci_high"]]


def test_joined_study_columns_label_and_group_the_rows(iua):
    fitted = iua.fit("emt_recovered_sub_source")
    assert list(fitted.rows["label"])[:2] == ["Arikan 2023", "Lee 2020"]
    assert list(fitted.groups.groups) == ["bone marrow", "adipose", "menstrual blood",
                                          "umbilical cord"]
    assert fitted.rows.index.equals(iua.dossier.select("emt", {
        "values_reported": "before_after", "timepoint_position": ["first", "only"]}).index)


def test_recovered_emt_agrees_with_metafor(rows):
    close(_triple(rows.loc["emt_recovered_6"]),
          [IUA["emt_dl"][k] for k in ("estimate", "ci_low", "ci_high")])
    robust = rows.loc["emt_recovered_6_robust"]
    close(_triple(robust), [IUA["emt_reml_knha"][k] for k in ("estimate", "ci_low", "ci_high")],
          rtol=1e-4)
    pi = IUA["emt_reml_knha"]
    assert robust["note"].startswith(f"prediction interval {pi['pi_low']:.2f} to "
                                     f"{pi['pi_high']:.2f}")


def test_a_paired_analysis_uses_the_assumed_correlation_as_metafors_mc(rows):
    row = rows.loc["emt_recovered_paired"]
    close(_triple(row), [IUA["emt_paired_r05"][k] for k in ("estimate", "ci_low", "ci_high")],
          rtol=1e-4)
    assert "assumed within-patient correlation r = 0.5 (an assumption)" in row["note"]


def test_the_correlation_is_an_option_a_notebook_may_override():
    paired = run("iua", options={"assumed_correlation": 0}).frame().set_index("analysis_id")
    independent = run("iua").frame().set_index("analysis_id")
    # r = 0 is the independent-groups variance, so the REML fits of the two rows coincide
    assert paired.loc["emt_recovered_paired", "ci_low"] != pytest.approx(
        independent.loc["emt_recovered_paired", "ci_low"])
    assert paired.loc["emt_recovered_paired", "ci_low"] == pytest.approx(
        independent.loc["emt_recovered_6_robust", "ci_low"], rel=1e-9)


def test_a_paired_analysis_needs_the_correlation_and_one_group_of_patients(dossier):
    _append(dossier, """\
  - id: paired
    title: paired
    data: studies
    effect: {measure: MD, source: means, paired: true,
             columns: {m1i: ai, sd1i: bi, n1i: ci, m2i: di, sd2i: bi, n2i: ci}}
""")
    with pytest.raises(DossierError, match="paired: effect.paired needs options.assumed_corr"):
        run(dossier)
    path = dossier / "analyses.yaml"
    path.write_text(path.read_text().replace("n2i: ci}", "n2i: di}"))
    with pytest.raises(DossierError, match="paired: effect.paired needs means of the same"):
        run(dossier, options={"assumed_correlation": 0.5})


def test_a_meta_regression_row_per_moderator_against_metafor(rows, iua):
    row = rows.loc["emt_recovered_metareg_dose"]
    expected = IUA["emt_metareg"]
    close([row["estimate"], row["ci_low"], row["ci_high"], row["p_value"]],
          [expected[k] for k in ("slope", "ci_low", "ci_high", "pval")], rtol=1e-4)
    assert row["measure"] == "MD per log10 cells"
    assert "R² = 0%" in row["note"]
    assert "slope = -0.192" in iua.figure("emt_recovered_metareg_dose").alt


def test_moderators_of_bcg_and_a_log_of_a_negative_value(dossier):
    _append(dossier, """\
  - id: latitude
    title: RR on absolute latitude
    data: studies
    effect: {measure: RR, source: counts}
    model: {method: REML}
    moderators: [{column: ablat}]
""")
    review = run(dossier)
    row = review.frame().set_index("analysis_id").loc["latitude"]
    metafor = reference()["metareg"]["bcg_ablat|REML|z"]
    close([row["estimate"], row["ci_low"], row["ci_high"]],
          [metafor["beta"][1], metafor["ci_lb"][1], metafor["ci_ub"][1]], rtol=1e-4)
    assert row["measure"] == "log RR per ablat"
    assert len(review.forests()) == 1      # a meta-regression has no forest plot
    path = dossier / "analyses.yaml"
    path.write_text(path.read_text().replace("[{column: ablat}]",
                                             "[{column: ablat, transform: log10}]"))
    studies = dossier / "studies.csv"
    studies.write_text(studies.read_text().replace("Aronson,1948,4,119,11,128,44,",
                                                   "Aronson,1948,4,119,11,128,0,"))
    with pytest.raises(DossierError, match="moderator 'ablat' must be positive for its log10"):
        run(dossier)


def test_small_study_tests_agree_with_metafor(rows, iua):
    egger, filled = rows.loc["emt_recovered_egger"], rows.loc["emt_recovered_trimfill"]
    close([egger["estimate"], egger["p_value"]],
          [IUA["emt_egger"]["stat"], IUA["emt_egger"]["pval"]])
    close(_triple(filled), [IUA["emt_trimfill"][k] for k in ("estimate", "ci_low", "ci_high")])
    assert filled["k"] == IUA["emt_trimfill"]["k"] and filled["note"] == "1 study filled on the left"
    assert "emt_recovered" not in set(rows.index)          # options.rows: [] (no overall row)
    assert "1 studies imputed by trim-and-fill" in iua.funnel("emt_recovered").alt


def test_rows_option_leaves_out_the_overall_row_of_shared_patients(rows):
    assert "emt_recovered_fu" not in set(rows.index)        # rows: [groups]
    assert {"emt_recovered_fu_3_months", "emt_recovered_fu_9_months"} <= set(rows.index)
    assert "emt_recovered_sub_source" not in set(rows.index)
    assert "emt_recovered_sub_source_bone_marrow" in set(rows.index)


def test_a_pooled_share_is_in_percent_and_metafors(rows):
    row = rows.loc["pregnancy_recovered_prop"]
    close(_triple(row), [100 * IUA["pregnancy_prop"][k] for k in ("prop", "ci_low", "ci_high")],
          rtol=1e-4)
    assert row["measure"] == "proportion (%)"


def test_a_stated_rule_is_an_argument_of_a_check(rows, iua):
    (spec, check), = [(s, c) for s, c in iua.cross if c.name == "min_k"]
    assert check.inputs == {"k": "10", "minimum": "11"} and check.kind == "rule"
    assert rows.loc["egger_miscarriage", "verdict"] == "deviates"
    assert min_k("11", 11).verdict == "consistent"
    with pytest.raises(ValueError, match="k: must be a whole number"):
        min_k("ten", 11)


def test_a_rule_review_yaml_does_not_state_is_refused(dossier):
    path = dossier / "checks.yaml"
    path.write_text(path.read_text().replace('total: "@rr_overall.k"',
                                             'total: "@rules.bias_min_k"'))
    with pytest.raises(DossierError, match="refers to the rule 'bias_min_k', which review.yaml"):
        load_dossier(dossier)


def test_a_join_needs_a_unique_key(dossier):
    _append(dossier, """\
  - id: joined
    title: joined
    data: studies
    join: {studies: latitude}
    effect: {measure: RR, source: counts}
""")
    with pytest.raises(DossierError, match="studies.csv: column 'latitude' repeats"):
        run(dossier)
    path = dossier / "analyses.yaml"
    path.write_text(path.read_text().replace("join: {studies: latitude}", "join: {studies: x}"))
    with pytest.raises(DossierError, match="studies.csv: no column 'x' to join on"):
        run(dossier)


def test_prisma_lists_the_records_per_database(iua):
    figure = iua.prisma()
    texts = " ".join(t.get_text() for t in figure.findobj(Text))
    assert "MEDLINE Ovid (2025-01-23) (n = 308)" in texts
    assert "participants in the included studies 233" in figure.alt


@pytest.mark.parametrize("extra, message", [
    ("    options: {rows: [between]}\n", r"options.rows must list some of overall, groups, got"),
    ("    moderators: [{column: ablat}]\n    robustness: true\n",
     r"a meta-regression \(moderators\) has no answers, subgroups, robustness or bias rows"),
])
def test_options_a_pool_cannot_honour_are_refused(dossier, extra, message):
    _append(dossier, "  - id: other\n    title: other\n    data: studies\n"
                     "    effect: {measure: RR, source: counts}\n" + extra)
    with pytest.raises(DossierError, match=message):
        run(dossier)
