"""The cohort kinds (share, chi2, versus_cited, composition) on the POR dossier, against R."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from metakit.workbook import run
from metakit.workbook.dossier import DossierError
from metakit.workbook.kinds.cohort import truncated

POR = REPO / "data" / "por"


@pytest.fixture(scope="module")
def por():
    return run(POR)


@pytest.fixture(scope="module")
def rows(por):
    return por.frame().set_index("analysis_id")


@pytest.fixture
def dossier(tmp_path: Path) -> Path:
    """A copy of the POR dossier to break."""
    target = tmp_path / "por"
    shutil.copytree(POR, target)
    return target


def _edit(folder: Path, change) -> None:
    path = folder / "analyses.yaml"
    spec = yaml.safe_load(path.read_text())
    change({a["id"]: a for a in spec["analyses"]})
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def test_printed_percentages_are_re_derived_from_their_data_rows(rows):
    assert rows.loc["pregnancy_overall", "verdict"] == "reproduced"
    assert rows.loc["pregnancy_overall", "estimate"] == pytest.approx(100 * 38 / 105)
    assert rows.loc["pregnancy_overall_discussion", "verdict"] == "discrepant"
    assert rows.loc["pregnancy_overall_discussion", "note"].startswith(
        "38/105 = 36.19%, printed 36.15%")
    note = rows.loc["pregnancy_regular_table2", "note"]
    assert "33/91 = 36.26%, printed 36.2% (cut, not rounded)" in note


def test_a_corrected_denominator_is_used_and_named(rows):
    row = rows.loc["menses_irregular_to_regular"]
    assert row["verdict"] == "discrepant"
    assert row["estimate"] == pytest.approx(100 * 6 / 14)
    assert row["note"].startswith("the paper divides by 24; the data give n = 14 (")
    assert "n = irregular-before count from Table 1" in row["note"]


def test_a_percentage_no_count_of_the_printed_n_gives_is_flagged(por, rows):
    (grim,) = por.checks["menses_regular_to_menopause"]
    assert grim.name == "percent_of_n" and grim.verdict == "inconsistent"
    assert "No whole count out of 91 gives 1.9%" in rows.loc["menses_regular_to_menopause",
                                                            "note"]
    (fine,) = por.checks["menses_irregular_to_regular"]
    assert fine.verdict == "consistent"    # 25% of the printed 24 is 6/24


def test_new_rows_hold_wilson_intervals(rows):
    # R 4: prop.test(38, 105, correct=FALSE)$conf.int -> 0.2763673896 0.4571900221
    row = rows.loc["women_pregnant_all"]
    assert row["verdict"] == "new"
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((27.63673896, 45.71900221),
                                                            abs=1e-7)
    # R 4: prop.test(6, 14, correct=FALSE)$conf.int -> 0.213807989045 0.674093554203
    row = rows.loc["menses_from_irregular_regular"]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((21.3807989045, 67.4093554203),
                                                            abs=1e-8)
    assert row["note"] == "exact (Clopper-Pearson) CI 17.7 to 71.1"


def test_printed_chi2_tests_are_reproduced_or_not_with_the_reason(por, rows):
    # R 4: chisq.test(matrix(c(12, 11, 26, 56), 2, byrow = TRUE)) -> 2.432096977, p 0.1188738
    text, table2 = rows.loc["chi2_age_text"], rows.loc["chi2_age_table2"]
    assert text["verdict"] == "reproduced"
    assert text["estimate"] == pytest.approx(2.432096977, abs=1e-8)
    assert text["p_value"] == pytest.approx(0.1188738, abs=1e-7)
    assert table2["verdict"] == "discrepant"
    assert table2["note"].startswith("p = 0.1189, printed 0.11 (cut, not rounded)")
    (check,) = por.checks["chi2_age_table2"]
    assert check.name == "q_pval" and check.verdict == "inconsistent"
    # R 4 prints 6.00619216012e-31 for chisq.test(matrix(c(33, 58, 5, 9), 2, byrow = TRUE)):
    # the paper's 6.0062e-31 is R's residue of an exact zero
    menstrual = rows.loc["chi2_menstrual"]
    assert menstrual["verdict"] == "discrepant"
    assert (menstrual["estimate"], menstrual["p_value"]) == (0.0, 1.0)


def test_each_pair_gets_odds_ratio_fisher_and_newcombe(por, rows):
    age = rows.loc["or_age"]
    odds = (12 * 56) / (11 * 26)
    half = 1.959963985 * math.sqrt(1 / 12 + 1 / 11 + 1 / 26 + 1 / 56)   # Woolf
    assert age["estimate"] == pytest.approx(odds)
    assert (age["ci_low"], age["ci_high"]) == pytest.approx(
        (odds * math.exp(-half), odds * math.exp(half)), rel=1e-8)
    assert age["p_value"] == pytest.approx(0.0878770471, abs=1e-9)   # R: fisher.test
    injections = rows.loc["or_injections"]
    assert injections["p_value"] == pytest.approx(0.135152219717, abs=1e-11)   # R: fisher.test
    # R 4: chisq.test(matrix(c(29, 41, 9, 26), 2, byrow = TRUE)) -> 1.86100746269, p 0.1725086
    assert injections["note"].startswith("Yates χ² = 1.861, p = 0.1725")
    table = por.table("or").set_index("comparison")
    assert list(table.index) == ["under 35 vs 35 or older", "regular vs irregular",
                                 "single vs double"]


def test_cited_rates_are_compared_as_the_data_allow(rows):
    # R 4: binom.test(27, 105, p = 0.07)$p.value -> 2.53009965061e-09
    elias = rows.loc["prp_spontaneous_elias_et_al"]
    assert elias["p_value"] == pytest.approx(2.53009965061e-09, rel=1e-9)
    assert elias["estimate"] == pytest.approx(100 * (27 / 105 - 0.07))
    # 17% of 510 is 86.7: the counts 86 and 87 both print as 17%
    # R 4: fisher.test(matrix(c(38, 67, 86, 424), 2, byrow = TRUE))$p.value -> 2.49346741955e-05;
    # Newcombe's hybrid score interval from prop.test(correct = FALSE) bounds: 0.1008768, 0.2931710
    low = rows.loc["prp_pregnancy_cakiroglu_et_al_86"]
    assert low["p_value"] == pytest.approx(2.49346741955e-05, rel=1e-9)
    assert (low["ci_low"], low["ci_high"]) == pytest.approx((10.0876776527, 29.3171035218),
                                                            abs=1e-8)
    assert "prp_pregnancy_cakiroglu_et_al_87" in rows.index
    assert "prp_pregnancy_cakiroglu_et_al_85" not in rows.index


def test_figures_carry_alt_text_and_the_composition_keeps_its_order(por):
    rates = por.figure("women_pregnant")
    assert "all 38/105 = 36.2 [27.6, 45.7]" in rates.alt
    assert not any(a.get_gid() == "null-line" for ax in rates.axes for a in ax.collections)
    bar = por.figure("pregnancy_outcomes")
    assert bar.alt.endswith("stacked bar of 43 pregnancies: singleton pregnancies with live "
                            "birth (30), twin pregnancies (1), abortions (12).")


def test_a_check_that_sets_two_rows_is_listed_once(por):
    labels = [c.label for c in por.all_checks()]
    assert labels.count("mean follow-up: Table 1 (3.14) vs Results and Discussion "
                        "(3.72 years)") == 1


@pytest.mark.parametrize("value, printed, expected", [
    (100 * 33 / 91, "36.2", True), (100 * 12 / 91, "13.1", True), (100 * 4 / 24, "16", True),
    (0.1188738, "0.11", True), (100 * 38 / 105, "36.15", False), (100 * 33 / 91, "36.26", False),
    (100 * 1 / 91, "1.9", False),
])
def test_truncated_tells_a_cut_from_a_rounding(value, printed, expected):
    assert truncated(value, printed) is expected


@pytest.mark.parametrize("change, message", [
    (lambda a: a["women_pregnant"].update(where={"factor": ["age", "route_exclusive"]}),
     "women_pregnant: answers 'all', which is none of"),
    (lambda a: a["women_pregnant"].update(label="factor"),
     "women_pregnant: label column 'factor' repeats a value"),
    (lambda a: a["or"].update(where={"factor": "route"}),
     "or: 'route' has 3 rows; a 2×2 table needs two"),
    (lambda a: a["prp_pregnancy"]["options"].pop("cohort"),
     "prp_pregnancy: options.cohort must name the data table"),
    (lambda a: a["prp_pregnancy"]["options"].update(cohort_where={"factor": "age"}),
     "prp_pregnancy: options.cohort_where selects 2 rows of pregnancies.csv"),
    (lambda a: a["menses_from_regular"]["answers"]["groups"].update(
        {"widowed": "livebirth_ivf"}), "menses_from_regular: answers 'widowed', which is none of"),
])
def test_bad_cohort_analyses_are_named(dossier, change, message):
    _edit(dossier, change)
    with pytest.raises(DossierError, match=message):
        run(dossier)


def test_a_new_row_that_takes_a_published_id_is_refused(dossier):
    def rename(analyses):
        analyses["women_pregnant"]["id"] = "pregnancy"   # pregnancy_irregular is published
    _edit(dossier, rename)
    with pytest.raises(DossierError, match="results row 'pregnancy_irregular' is made twice"):
        run(dossier)
