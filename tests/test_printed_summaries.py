"""The printed-summaries kinds, the subset search and the forest of printed summaries.

Reference values: ``fixtures/make_printed_summaries_fixtures.R`` (metafor) wrote
``fixtures/printed_summaries_reference.json``; the rest are exact arithmetic.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from metakit.audit.subsets import MAX_CHOICES, SubsetMatch, matching_subsets
from metakit.plots.summaries import summaries_forest
from metakit.workbook import run
from metakit.workbook.dossier import DossierError

REFERENCE = json.loads((Path(__file__).parent / "fixtures" /
                        "printed_summaries_reference.json").read_text())


# ---------------------------------------------------------------------- audit.subsets
def test_subsets_find_every_choice_smallest_first():
    ways = {"A": [(3, 4)], "B": [(5, 6)], "C": [(8, 10)], "D": [(1, 1), (2, 2)]}
    matches = matching_subsets(ways, (9, 11))
    assert matches == [SubsetMatch(("C", "D"), (0, 0)), SubsetMatch(("A", "B", "D"), (0, 0, 0))]
    assert matching_subsets(ways, (10, 12)) == [SubsetMatch(("C", "D"), (0, 1)),
                                                SubsetMatch(("A", "B", "D"), (0, 0, 1))]
    assert matching_subsets(ways, (100, 100)) == []


def test_subsets_agree_with_a_brute_force_loop():
    rng = np.random.default_rng(7)
    ways = {f"s{i}": [tuple(rng.integers(1, 30, 2)) for _ in range(rng.integers(1, 3))]
            for i in range(8)}
    picked = [ways["s0"][0], ways["s3"][0], ways["s5"][-1]]
    target = tuple(int(sum(w[i] for w in picked)) for i in range(2))
    expected = set()
    names = list(ways)

    def walk(i, chosen, total):
        if i == len(names):
            if total == target:
                expected.add(tuple(chosen))
            return
        walk(i + 1, chosen, total)
        for j, (a, b) in enumerate(ways[names[i]]):
            walk(i + 1, chosen + [(names[i], j)], (total[0] + a, total[1] + b))

    walk(0, [], (0, 0))
    found = {tuple(zip(m.studies, m.alternatives)) for m in matching_subsets(ways, target)}
    assert found == expected and expected


def test_cirrhosis_tbil_total_has_exactly_one_subset():
    studies = pd.read_csv(REPO / "data" / "cirrhosis" / "studies.csv")
    ways = {s: [(m, c)] for s, m, c in zip(studies.study, studies.n_msc, studies.n_control)}
    ways["Suk"] = [(37, 18), (37, 36), (18, 18), (18, 36), (19, 18), (19, 36)]
    assert matching_subsets(ways, (193, 234)) == [SubsetMatch(("Suk", "Li", "Shi", "Zhang"),
                                                              (5, 0, 0, 0))]
    assert matching_subsets(ways, (174, 232)) == []


@pytest.mark.parametrize("ways, target, message", [
    ({}, (1,), "no study"),
    ({"A": []}, (1,), "alternatives['A']"),
    ({"A": [(1.5,)]}, (1,), "whole numbers"),
    ({"A": [(-1,)]}, (1,), "whole numbers"),
    ({"A": [(1, 2)]}, (1,), "needs 1 counts"),
    ({"A": [("x",)]}, (1,), "numbers"),
    ({"A": [(1,)]}, ("y",), "target"),
])
def test_subsets_reject_bad_input_naming_it(ways, target, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        matching_subsets(ways, target)


def test_subsets_refuse_more_choices_than_the_bound():
    ways = {f"s{i}": [(1,)] for i in range(23)}
    assert 2 ** 23 > MAX_CHOICES
    with pytest.raises(ValueError, match="8,388,608 choices, more than max_choices"):
        matching_subsets(ways, (3,))
    assert len(matching_subsets({f"s{i}": [(1,)] for i in range(4)}, (2,), max_choices=16)) == 6
    with pytest.raises(ValueError, match="max_choices = 15"):
        matching_subsets({f"s{i}": [(1,)] for i in range(4)}, (2,), max_choices=15)


# ---------------------------------------------------------------------- the cirrhosis dossier
@pytest.fixture(scope="module")
def review():
    return run("cirrhosis")


def _row(review, rid):
    frame = review.frame().set_index("analysis_id")
    return frame.loc[rid]


@pytest.mark.parametrize("name", ["alb_route", "alb_time"])
def test_subgroup_differences_match_metafor(review, name):
    ref = REFERENCE[name]
    row = _row(review, f"{name}_difference")
    assert row["verdict"] == "new"
    assert row["q"] == pytest.approx(ref["q"], rel=1e-9)
    assert row["q_df"] == ref["q_df"]
    assert row["q_pval"] == pytest.approx(ref["q_pval"], rel=1e-9)
    if "difference" in ref:
        for column, key in (("estimate", "difference"), ("ci_low", "ci_low"),
                            ("ci_high", "ci_high")):
            assert row[column] == pytest.approx(ref[key], abs=1e-9)
    else:
        assert math.isnan(row["estimate"])


def test_subgroup_differences_leave_out_the_excluded_rows_and_say_so(review):
    row = _row(review, "meld_time_difference")
    assert row["k"] == 6 and row["q_df"] == 5
    assert row["note"].startswith("left out: meld_time_2w; time subgroups share patients")
    assert "left out" not in _row(review, "meld_route_difference")["note"]
    assert review.table("subgroup_differences").loc["alb_dose", "p"] < 0.001


def test_double_counting_reads_rows_from_the_printed_i2_and_p(review):
    table = review.table("time_totals_rows")
    assert table.loc["meld_time", "df compatible"] == "df >= 16"
    assert table.loc["tbil_time", "df compatible"] == "df 21-25"
    assert table.loc["tbil_time", "rows at least"] == 22
    assert table.loc["tbil_time", "studies (k printed)"] == 6
    # -0.36 [-0.49, -0.22]: half-width 0.135 x sqrt(22 / 6)
    half = 0.135 * math.sqrt(22 / 6)
    assert table.loc["tbil_time", "CI if fully correlated"] == \
        f"[{-0.36 - half:.2f}, {-0.36 + half:.2f}]"


def test_patient_totals_table(review):
    table = review.table("patient_totals")
    assert table.loc["tbil_overall", "matching subsets (any size)"] == (
        "Suk, Li, Shi, Zhang (Suk: one MSC arm (19), control counted twice (36))")
    assert (table["matching subsets of k studies"] == 0).all()
    assert table.loc["meld_overall", "their n_msc/n_control"] == "209/237"
    assert table.loc["alb_overall", "Table 1 lists"].startswith("6: ")


def test_significance_claims_against_printed_p(review):
    table = review.table("meld_time_claims")
    assert list(table["printed p < 0.05"]) == ["no", "yes", "yes", "yes", "yes", "yes", "no"]
    assert list(table.loc["9 months", ["Abstract says significant", "Results says significant",
                                       "Discussion says significant"]]) == ["no", "yes", "yes"]


def test_summaries_forest_marks_rows_that_fail_their_own_checks(review):
    fig = review.figure("time_subgroups_lower")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "Total as printed (meld_time_pooled)" in texts
    assert "MELD (meld_time)" in texts
    assert texts.count("fail") == 2  # meld_time_2w and tbil_time_1w
    assert "diamonds: printed totals, not re-pooled" in fig.alt
    assert "21 rows in 4 subgroups" in fig.alt


def test_prisma_lists_databases_and_screening_reasons(review):
    fig = review.prisma()
    shown = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "PubMed (n = 436)" in shown and "not in English (n = 58)" in shown
    assert "(n = 1,495)" in shown  # excluded at screening: the five reasons added


def test_summaries_forest_rejects_missing_columns():
    with pytest.raises(ValueError, match="column 'ci_low'"):
        summaries_forest(pd.DataFrame({"estimate": [1.0]}), group="g", label="l")


@pytest.mark.parametrize("old, new, message", [
    ("    subgroups: subgroup_set\n    label: subgroup\n    options:\n      sets:",
     "    label: subgroup\n    options:\n      sets:", "time_totals_rows: needs 'subgroups'"),
    ("meld_time: {total: meld_time_pooled, studies: meld_overall}",
     "meld_time: {total: meld_time_2w, studies: meld_overall}",
     "time_totals_rows: published row 'meld_time_2w' prints no 'i2'"),
    ("meld_time: {total: meld_time_pooled, studies: meld_overall}", "meld_time: meld_time_pooled",
     "options.sets.meld_time needs 'total' and 'studies'"),
    ("rows: {meld_overall: lists_meld,", "rows: {meld_overall: lists_nothing,",
     "patient_totals: studies.csv has no column 'lists_nothing'"),
    ("options: {claims: claims}", "options: {}", "meld_time_claims: needs options.claims"),
])
def test_kinds_name_what_the_dossier_lacks(tmp_path, old, new, message):
    folder = tmp_path / "cirrhosis"
    shutil.copytree(REPO / "data" / "cirrhosis", folder)
    text = (folder / "analyses.yaml").read_text()
    assert old in text
    (folder / "analyses.yaml").write_text(text.replace(old, new, 1))
    with pytest.raises(DossierError, match=message.replace("(", r"\(")):
        run(folder)


def test_subgroup_differences_of_ratios_are_ratios_of_ratios(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    (folder / "review.yaml").write_text(
        "id: hr\ntitle: Two printed hazard ratios\ncitation: A paper\ndesign: meta-analysis\n"
        "source: test\n")
    (folder / "published.csv").write_text(
        "analysis_id,outcome,measure,subgroup,subgroup_set,estimate,ci_low,ci_high,i2,k,source\n"
        "hr_a,OS,HR,A,os,0.50,0.25,1.00,,,test\n"
        "hr_b,OS,HR,B,os,0.80,0.64,1.00,,,test\n")
    (folder / "analyses.yaml").write_text(
        "analyses:\n  - id: diff\n    title: A against B\n    kind: subgroup_differences\n"
        "    data: published\n    subgroups: subgroup_set\n    label: subgroup\n"
        "    effect: {measure: HR, source: published}\n")
    row = run(folder).frame().set_index("analysis_id").loc["os_difference"]
    crit = 1.959963984540054
    se = [(math.log(1.00) - math.log(0.25)) / (2 * crit),
          (math.log(1.00) - math.log(0.64)) / (2 * crit)]
    d, half = math.log(0.50 / 0.80), crit * math.hypot(*se)
    assert row["estimate"] == pytest.approx(0.625, rel=1e-12)
    assert row["ci_low"] == pytest.approx(math.exp(d - half), rel=1e-9)
    assert row["ci_high"] == pytest.approx(math.exp(d + half), rel=1e-9)
    assert row["q"] == pytest.approx(d ** 2 / (se[0] ** 2 + se[1] ** 2), rel=1e-9)
    assert row["note"] == "ratio A over B"
