"""The notations the scan reads, one invented sentence each (written for these tests).

The notations come from the five seed papers and from a survey of the results sections of 32
published meta-analyses in medicine, nursing, nutrition, psychology and sports science; every
sentence here is our own wording of a notation met there, not a quotation.
"""

from __future__ import annotations

import pytest

from metakit.scan.extract import Finding, extract
from metakit.scan.text import prepare

FIELDS = ("measure", "estimate", "ci_low", "ci_high", "ci_level", "p_value", "z", "i2", "q",
          "q_df", "q_pval", "tau2", "k", "n", "model")


def findings(text: str) -> list[Finding]:
    return extract(prepare(text))


def read(text: str) -> list[dict[str, str]]:
    """The read (not unread) results of ``text``, non-empty fields only."""
    return [{f: getattr(x, f) for f in FIELDS if getattr(x, f)}
            for x in findings(text) if not x.unread]


def only(text: str) -> dict[str, str]:
    results = read(text)
    assert len(results) == 1, results
    return results[0]


ONE_RESULT = [
    # --- the five seed papers' notations -------------------------------------------------
    ("Pooling eleven cohorts, the response rose (RR = 12.40, 95%CI: [5.10–30.20]) against "
     "baseline.",
     dict(measure="RR", estimate="12.40", ci_low="5.10", ci_high="30.20", ci_level="95")),
    ("Serum sodium fell in the treated arm (SMD: -0.41 ; 95% CI $[-0.70, -0.12]$; "
     "$p=0.006$).",
     dict(measure="SMD", estimate="-0.41", ci_low="-0.70", ci_high="-0.12", p_value="0.006")),
    ("The composite outcome was rarer after surgery, RR 3.21 (1.45–7.11).",
     dict(measure="RR", estimate="3.21", ci_low="1.45", ci_high="7.11")),
    ("The pooled remission rate was 52% (95% CI: 41–63%) across the trials.",
     dict(measure="proportion_pct", estimate="52", ci_low="41", ci_high="63")),
    ("Between-trial variation was large ($I^2=71\\%$), so the random-effects estimate was "
     "reported (MD = 1.75, 95% CI: [0.62, 2.88]).",
     dict(measure="MD", estimate="1.75", i2="71", model="random")),
    ("Mortality changed little (MD \u22120.32, 95% CI \u22120.95 to 0.31; P = 0.32).",
     dict(measure="MD", estimate="-0.32", ci_low="-0.95", ci_high="0.31", p_value="0.32")),
    ("Drainage dropped (WMD = \u221241.2 ml, 95% CI \u221255.0 to \u221227.4, p<0.00001).",
     dict(measure="WMD", estimate="-41.2", ci_low="-55.0", ci_high="-27.4",
          p_value="<0.00001")),
    ("Relapse was less likely (OR 0.62; 95% CI 0.48, 0.80).",
     dict(measure="OR", estimate="0.62", ci_low="0.48", ci_high="0.80")),
    ("The odds of relapse were higher (odds ratio 1.69, 95% CI 1.02 to 2.81).",
     dict(measure="OR", estimate="1.69", ci_low="1.02", ci_high="2.81")),
    ("Odds of union rose, OR 1.69 (1.02, 2.81), with scaffolds.",
     dict(measure="OR", estimate="1.69", ci_low="1.02", ci_high="2.81")),
    ("The hazard of death was lower, HR 0.81, CI: 0.70-0.94.",
     dict(measure="HR", estimate="0.81", ci_low="0.70", ci_high="0.94")),
    ("Because heterogeneity was absent (P = 0.71; I2 = 0%), a fixed-effect model was used "
     "(RR = 1.10, 95% CI: [0.91, 1.33]).",
     dict(measure="RR", estimate="1.10", q_pval="0.71", i2="0", model="fixed")),
    ("Scores rose (SMD = 0.35; 95% CI [0.12, 0.58]; p = 0.003; heterogeneity test p = 0.04; "
     "I\u00b2 = 52%).",
     dict(measure="SMD", p_value="0.003", q_pval="0.04", i2="52")),
    ("Sustained response was 61.0% after 12 weeks (95% CI: 55.0 \u2013 67.0%).",
     dict(measure="proportion_pct", estimate="61.0", ci_low="55.0", ci_high="67.0")),
    ("The time to healing was 5.10 weeks (95%CI: 80-90%).",
     dict(measure="mean", estimate="5.10", ci_low="80", ci_high="90")),
    ("Scores improved (SMD = 0.27; 95%\n\n**Fig. 3** Forest plot of scores\n\n"
     "CI [0.05, 0.49]; p = 0.02).",
     dict(measure="SMD", estimate="0.27", ci_low="0.05", ci_high="0.49", p_value="0.02")),
    ("Nine trials reported the outcome (RR = 0.80, 95% CI 0.65 to 0.98).",
     dict(measure="RR", k="9")),
    ("Across 4 studies with 512 patients, pain fell (MD = -3.1, 95% CI -5.0 to -1.2).",
     dict(measure="MD", estimate="-3.1", k="4", n="512")),
    ("Delirium was rarer (OR = 0.70, 95% CI 0.55\u20130.89; P = 0.004; I2 = 23%; "
     "Chi\u00b2 = 9.10, df = 7 (P = 0.25)).",
     dict(p_value="0.004", i2="23", q="9.10", q_df="7", q_pval="0.25")),
    ("The combined risk ratio is 2.40 with a 95% confidence interval from 1.30 to 4.43.",
     dict(measure="RR", estimate="2.40", ci_low="1.30", ci_high="4.43")),
    # --- notations of the survey ---------------------------------------------------------
    ("Recurrence fell (HR 0\u00b779, 95% CI 0\u00b770\u20130\u00b789; p=0\u00b70002).",
     dict(measure="HR", estimate="0.79", ci_low="0.70", ci_high="0.89", p_value="0.0002")),
    ("Falls were fewer (OR 1.5, 99% CI 1.1 to 2.0).",
     dict(ci_level="99", estimate="1.5")),
    ("The average effect was moderate (g = 0.45, 95% CI [0.30, 0.60], 95% PI [-0.10, 1.00]).",
     dict(measure="SMD", estimate="0.45", ci_low="0.30", ci_high="0.60")),
    ("Readmission fell (hazard ratio [HR], 0.85; 95% CI, 0.77-0.94).",
     dict(measure="HR", estimate="0.85", ci_low="0.77", ci_high="0.94")),
    ("Systolic pressure fell (WMD - 4.20 mmHg; 95% CI - 6.10 to - 2.30, P < 0.001).",
     dict(measure="WMD", estimate="-4.20", ci_low="-6.10", ci_high="-2.30", p_value="<0.001")),
    ("Weight fell (WMD: -2.10; %95CI: -3.40, -0.80; I2: 40.5 %).",
     dict(measure="WMD", ci_level="95", ci_low="-3.40", ci_high="-0.80", i2="40.5")),
    ("Knowledge grew (SMD = 1.20, 95% CI = 0.60, 1.80, P = 0.0002) with large variation "
     "(I-2 = 64.0%; P = 0.01).",
     dict(ci_low="0.60", ci_high="1.80", p_value="0.0002", i2="64.0", q_pval="0.01")),
    ("Prevalence was 31.5% (95% CI: 27.0\u221236.2) with I (2) = 88%.",
     dict(measure="proportion_pct", estimate="31.5", ci_low="27.0", ci_high="36.2", i2="88")),
    ("Girls were more often affected (odds ratio 1.33, 95 %CI: 1.07-1.65, P < 0.011).",
     dict(measure="OR", ci_level="95", p_value="<0.011")),
    ("Anxiety eased (d = .30, 95% CI [.12, .48]).",
     dict(measure="SMD", estimate=".30", ci_low=".12", ci_high=".48")),
    ("The mean effect was moderate (Hedges' g \u00bc .52, 95% CI \u00bc .40, .64).",
     dict(measure="SMD", estimate=".52", ci_low=".40", ci_high=".64")),
    ("1.2 Pain at 6 months 5 410 Mean Difference (IV, Random, 95% CI) -1.30 [-2.10, -0.50]",
     dict(measure="MD", estimate="-1.30", ci_low="-2.10", ci_high="-0.50")),
    ("The estimated average effect was \\hat{\\mu} = -0.93 (95% CI: -1.87 to 0.01) for the "
     "standardized mean difference.",
     dict(estimate="-0.93", ci_low="-1.87", ci_high="0.01")),
    ("<p>Confidence rose (SMD=0.40, 95% CI [0.16, 0.63], <em>P</em>&lt;0.001).</p>",
     dict(measure="SMD", estimate="0.40")),
]


@pytest.mark.parametrize(("text", "expected"), ONE_RESULT, ids=range(len(ONE_RESULT)))
def test_one_result(text, expected):
    if text.startswith("<p>"):
        from metakit.scan.readers import html_text
        text = html_text(text)
    if "\\hat" in text:  # the generic μ̂ names no measure: listed, not read
        found = findings(text)
        assert len(found) == 1 and found[0].unread
        got = {f: getattr(found[0], f) for f in FIELDS if getattr(found[0], f)}
    else:
        got = only(text)
    assert {k: got.get(k, "") for k in expected} == expected


def test_results_in_one_sentence_keep_their_own_statistics():
    text = ("Scores fell at 6 weeks (SMD: -0.44 ; 95% CI [-0.80, -0.08]; p=0.02), heterogeneity "
            "test p=0.11; I\u00b2=48%), at 12 weeks (SMD: -0.10 ; 95% CI [-0.40, 0.20]; p=0.51).")
    first, second = read(text)
    assert first == dict(measure="SMD", estimate="-0.44", ci_low="-0.80", ci_high="-0.08",
                         ci_level="95", p_value="0.02", q_pval="0.11", i2="48")
    assert second == dict(measure="SMD", estimate="-0.10", ci_low="-0.40", ci_high="0.20",
                          ci_level="95", p_value="0.51")


def test_number_of_studies_from_the_paragraphs_opening_sentence():
    text = ("Pain was reported in 6 studies of 400 patients. The data showed a fall "
            "(MD = -1.0, 95% CI -1.5 to -0.5). Without the largest trial it was smaller "
            "(MD = -0.8, 95% CI -1.4 to -0.2).")
    assert [r.get("k", "") for r in read(text)] == ["6", ""]
    text = "Twelve studies were included. Pain fell (MD = -1.0, 95% CI -1.5 to -0.5)."
    assert read(text)[0].get("k", "") == ""


def test_comparison_with_vs_gives_two_results():
    text = "Healing was faster with scaffolds (4.10 months, 95% CI: 3.80–4.40 vs. 6.20 months, " \
           "95% CI: 5.90–6.50)."
    assert [(r["measure"], r["estimate"], r["ci_low"]) for r in read(text)] == [
        ("mean", "4.10", "3.80"), ("mean", "6.20", "5.90")]


def test_bmj_shorthand_after_a_full_result():
    text = ("Treatment lowered all cause mortality (relative risk 0.88, 95% confidence interval "
            "0.79 to 0.98), stroke (0.71, 0.58 to 0.87) and heart failure (0.94, 0.80 to 1.10).")
    assert [(r["measure"], r["estimate"], r["ci_low"], r["ci_high"], r.get("ci_level"))
            for r in read(text)] == [("RR", "0.88", "0.79", "0.98", "95"),
                                     ("RR", "0.71", "0.58", "0.87", "95"),
                                     ("RR", "0.94", "0.80", "1.10", "95")]


def test_forest_plot_rows_pooled_only():
    text = ("Author (Year)\tOR (95% CI)\t% Weight\n"
            "Alpha (2019)\t1.20 (0.80, 1.80)\t40.10\n"
            "Beta (2021)\t2.10 (1.10, 4.00)\t59.90\n"
            "Overall, IV (I \u00b2 = 38.5%, p = 0.202)\t1.62 (1.14, 2.31)\t100.00\n")
    [row] = read(text)
    assert row == dict(measure="OR", estimate="1.62", ci_low="1.14", ci_high="2.31", i2="38.5",
                       q_pval="0.202", model="fixed")


def test_revman_total_with_its_footer():
    text = ("Study or Subgroup\tEvents\tTotal\tWeight\tRisk Ratio M-H, Random, 95% CI\n"
            "Gamma 2015\t4\t40\t30.0%\t0.50 [0.20, 1.25]\n"
            "Total (95% CI)\t\t\t100.0%\t0.72 [0.60, 0.86]\n"
            "Heterogeneity: Tau\u00b2 = 0.02; Chi\u00b2 = 14.20, df = 9 (P = 0.12); I\u00b2 = 37%\n"
            "Test for overall effect: Z = 3.62 (P = 0.0003)\n")
    [row] = read(text)
    assert row == dict(measure="RR", estimate="0.72", ci_low="0.60", ci_high="0.86",
                       tau2="0.02", q="14.20", q_df="9", q_pval="0.12", i2="37", z="3.62",
                       p_value="0.0003", model="random")


def test_garbled_forest_line_reads_only_the_pinned_overall_row():
    line = ("Smith (2019) 0.10 (0.05, 0.18) 20.00 Jones (2020) 0.04 (0.01, 0.12) 30.00 "
            "Subtotal (l*2 = 12.50%, p = 0.31) 0.20 (0.10, 0.30) 15.00 Overall (l*2 = 33.30%, "
            "p = 0.11) Treatment 0.07 (0.04, 0.11) 100.00\n")
    found = findings("Study\tES (95% CI)\t% Weight\n" + line + "\nFig. 2 Pooled rate of "
                     "complications\n")
    subtotal, overall = found
    assert subtotal.unread.startswith("garbled forest-plot row") and subtotal.i2 == "12.50"
    assert not overall.unread
    assert (overall.measure, overall.estimate, overall.ci_low, overall.ci_high, overall.i2,
            overall.q_pval) == ("proportion", "0.07", "0.04", "0.11", "33.30", "0.11")


def test_table_with_bounds_in_columns():
    text = "Outcome\tPooled_OR\tCI_Lower\tCI_Upper\tI_squared\nRelapse\t0.64\t0.50\t0.82\t28\n"
    assert only(text) == dict(measure="OR", estimate="0.64", ci_low="0.50", ci_high="0.82",
                              i2="28")


def test_pipe_table_with_estimate_and_interval_columns():
    text = ("| Subgroup | Pooled prevalence | 95% CI | I2 | P value | Studies |\n"
            "|---|---|---|---|---|---|\n"
            "| Adults | 0.31 | [0.25;0.37] | 91.2% | <0.01 | 12 |\n")
    assert only(text) == dict(measure="proportion", estimate="0.31", ci_low="0.25",
                              ci_high="0.37", i2="91.2", q_pval="<0.01", k="12")


def test_table_cells_under_a_ci_header():
    text = "Outcome\tStudies\tRisk ratio (95% CI)\nReadmission\t6\t0.77 (0.64–0.93)\n"
    assert only(text) == dict(measure="RR", estimate="0.77", ci_low="0.64", ci_high="0.93", k="6")


@pytest.mark.parametrize(("text", "q", "df", "p"), [
    ("Uptake differed by region (\u03c7\u00b2(2) = 7.81, p = 0.020).", "7.81", "2", "0.020"),
    ("Effects differed between the subgroups (Q = 44.7, df = 5, p < 0.001).", "44.7", "5",
     "<0.001"),
    ("No difference by age ($\\chi^2=3.10$, $df=1$, $p\\text{-value}=0.078$).", "3.10", "1",
     "0.078"),
])
def test_chi_squared_tests(text, q, df, p):
    [test] = findings(text)
    assert (test.kind, test.measure, test.q, test.q_df, test.q_pval) == ("test", "chi2", q, df, p)


@pytest.mark.parametrize(("text", "reason"), [
    ("Compared with usual care the odds were higher (OR = 1.40).", "no confidence interval"),
    ("Falls were fewer (OR 1.32, 95% CrI 1.05 to 1.70).", "credible interval"),
    ("Sprint time improved (ES = -.31, 95%CI = -.55, -.07, p < .05).", "effect size"),
    ("Union time fell by 0.5 (95% CI 0.2 to 0.8).", "measure not named"),
])
def test_unread_results_are_listed_with_the_reason(text, reason):
    [found] = findings(text)
    assert reason in found.unread


@pytest.mark.parametrize("text", [
    "A random-effects model was used if I2 > 50% and a fixed-effect model otherwise.",
    "Odds ratios (ORs) with 95% confidence intervals (CIs) were calculated.",
    "Patients were aged 22\u201345 years and were followed between 2010 and 2020.",
    "In one trial the median change was \u22127 (\u22128 to \u22125) in 74 patients.",
    "Study\tYear\tAge, mean (range)\nLabibzadeh\t2016\t44.7 (26\u201361)\n",
    "Hernigou (2021)\t\u00f7\t1.62 (0.96, 2.73)\t94.41\n",
    "Overall, the healing rates were 44% at 3 months and 73% at 6 months.",
])
def test_text_without_pooled_results_gives_none(text):
    assert findings(text) == []


def test_reference_lists_are_not_scanned():
    text = ("Results\nRelapse fell (RR 0.80, 95% CI 0.70 to 0.91).\n\nReferences\n"
            "1. Smith J. Relapse (RR 0.50, 95% CI 0.30 to 0.90). J Trials. 2020;5(2):10-9.\n")
    assert [r["estimate"] for r in read(text)] == ["0.80"]
