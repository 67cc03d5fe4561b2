"""The formatting layer and the tables every notebook shows: sources, verdicts, provenance."""

import html
import math
import re

import numpy as np
import pandas as pd
import pytest

from metakit import audit
from metakit.workbook import format as fmt
from metakit.workbook.data import load_review, review_dir
from metakit.publish.provenance import relative_to
from metakit.workbook.report import checks_table, sources, verdict_counts, verdict_table
from metakit.workbook.results import ResultsTable

RAW = ("NaN", "nan", "None", "<NA>", "NaT", "True", "False", "dtype:", "e-0", "e+0", "['")


def visible(markup: str) -> str:
    """The text a reader sees: tags and the style sheet removed."""
    markup = re.sub(r"<style>.*?</style>", "", markup, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _table() -> ResultsTable:
    table = ResultsTable("demo")
    table.add(analysis_id="a", outcome="<b>x</b>", verdict="reproduced", estimate=1.23456,
              ci_low=1.0, ci_high=1.5, published_estimate="1.23", published_ci_low="1.00",
              published_ci_high="1.50", k=12.0)
    table.add(analysis_id="b", outcome="y", verdict="inconsistent", note="CI excludes 0")
    table.add(analysis_id="c", outcome="<b>x</b>", verdict="inconsistent",
              assumption="df = k - 1 with k as printed")
    table.add(analysis_id="d", outcome="y", verdict="new", estimate=0.1234567, p_value=1e-9,
              note="word " * 80)
    return table


@pytest.mark.parametrize("value,kind,expected", [
    (None, "", ""), (math.nan, "", ""), (pd.NA, "", ""), (pd.NaT, "", ""), ("", "", ""),
    (True, "", "yes"), (np.bool_(False), "", "no"), (12, "", "12"), (np.int64(7), "", "7"),
    (12.0, "int", "12"), (["a", "b"], "", "a, b"), (2.530100e-09, "p", "< 0.0001"),
    (0.00042, "p", "0.0004"), (0.0431, "p", "0.043"), (1.728239e-11, "tau2", "0.0000"),
    (0.01234, "tau2", "0.0123"), (-0.0001, "", "\u22120.0001"), (-0.00001, "", "0.0000"), (-1.2345, "", "\u22121.23"),
    (1234.5, "", "1234"), (0.001234, "", "0.0012"), (math.inf, "", "\u221e"),
])
def test_cell_text(value, kind, expected):
    assert fmt.text(value, kind=kind) == expected


def test_decimals_of_printed_text():
    assert fmt.decimals_of("0.40") == 2
    assert fmt.decimals_of("−1.8") == 1
    assert fmt.decimals_of("44.0%") == 1
    assert fmt.decimals_of("233") == 0
    assert fmt.decimals_of("<0.001") is None
    assert fmt.decimals_of("") is None and fmt.decimals_of(None) is None
    assert fmt.decimals_of("n/a") is None


def test_table_of_a_raw_frame_has_no_raw_values():
    frame = pd.DataFrame({"study": ["A", None], "k": [3.0, np.nan], "p": [2.5e-9, 0.2],
                          "tau2": [1.7e-11, 0.05], "flag": [True, False],
                          "arms": [["MSC", "control"], []], "est": [0.123456, np.nan]},
                         index=[5, 9])
    out = fmt.table(frame)
    text = visible(out.html)
    for raw in RAW:
        assert raw not in text, raw
    assert "< 0.0001" in text and "0.0000" in text and "yes" in text and "MSC, control" in text
    assert ">3<" in out.html                       # k as an integer
    assert ">5<" not in out.html and ">9<" not in out.html   # no row index
    assert 'class="mk-num"' in out.html
    # a meaningful index becomes a column; a Series is a one-column table
    series = pd.Series([2, 3], index=pd.Index(["a", "b"], name="verdict_word"), name="count")
    assert "verdict word" in fmt.table(series).html and "dtype" not in fmt.table(series).html


def test_table_is_deterministic_and_escaped():
    frame = pd.DataFrame({"name": ["<script>x</script>"], "value": [1.5]})
    first, second = fmt.table(frame).html, fmt.table(frame.copy()).html
    assert first == second
    assert "<script>x" not in first and "&lt;script&gt;x" in first
    assert ' id="' not in first                    # no generated element ids at all


def test_groups_row_ids_and_folded_notes():
    frame = pd.DataFrame({"section": ["S1", "S1", "S2"], "verdict": ["new", "reproduced", "new"],
                          "note": ["short", "long " * 60, ""]})
    out = fmt.table(frame, group="section", row_ids=["r1", "r2", "r3"])
    assert out.html.count('class="mk-group"') == 2
    assert '<tr id="r2">' in out.html
    assert out.html.count("<details>") == 1
    # verdict first
    assert re.search(r"<thead><tr><th>verdict</th><th[^>]*>note</th>", out.html)
    with pytest.raises(ValueError, match="row_ids"):
        fmt.table(frame, row_ids=["x"])
    with pytest.raises(ValueError, match="frame"):
        fmt.table([1, 2])


def test_one_colour_and_word_per_verdict():
    firm = fmt.verdict_badge("inconsistent")
    conditional = fmt.verdict_badge("inconsistent", "a shared control arm")
    assert "mk-v-inconsistent" in firm and "inconsistent (firm)" in firm
    assert "inconsistent (conditional)" in conditional
    assert 'title="assumes: a shared control arm"' in conditional
    assert "not reproducible" in fmt.verdict_badge("not_reproducible")
    backgrounds = [bg for bg, _ in fmt.VERDICT_COLOURS.values()]
    assert len(set(backgrounds)) == len(backgrounds) - 1   # not_checkable shares a grey
    for verdict, (bg, _ink) in fmt.VERDICT_COLOURS.items():
        assert f".mk-v-{verdict} {{ background: {bg};" in fmt.CSS


def test_verdict_counts_in_fixed_order_firm_and_conditional_apart():
    counts = verdict_counts(_table())
    assert list(counts.frame["results"]) == [1, 0, 0, 1, 1, 0, 0, 1]
    words = re.findall(r'mk-verdict[^"]*">([^<]+)<', counts.html)
    assert words == ["reproduced", "discrepant", "consistent", "inconsistent (firm)",
                     "inconsistent (conditional)", "deviates", "not reproducible", "new"]


def test_verdict_table_escapes_groups_and_links():
    out = verdict_table(_table())
    markup = out.html
    assert "&lt;b&gt;x&lt;/b&gt;" in markup and "<b>x</b>" not in markup
    for row in "abcd":
        assert f'<tr id="result-{row}">' in markup
    # grouped by outcome in order of first appearance: x (a, c) then y (b, d)
    assert markup.index('id="result-c"') < markup.index('id="result-b"')
    assert markup.count('class="mk-group"') == 2
    # re-derived at the printed precision (2 decimals), published as printed
    assert "1.23 [1.00, 1.50]" in markup
    assert "(assumes: df = k - 1 with k as printed)" in markup
    assert "<details>" in markup
    text = visible(markup)
    for raw in RAW:
        assert raw not in text, raw
    assert ">12<" in markup
    # chosen columns keep the same formatting and row ids
    picked = verdict_table(_table(), columns=("analysis_id", "p_value")).html
    assert "&lt; 0.0001" in picked and '<tr id="result-d">' in picked


def test_audit_and_grade_tables_go_through_the_layer():
    checks = [audit.p_from_ci("−0.27", "−0.59", "−0.05", "0.10", label="L1"),
              audit.i2_from_pval("0.20", 5, "29.49", label="L2")]
    markup = checks_table(checks).to_html()
    assert markup.index("inconsistent") < markup.index("L2")   # contradictions first
    assert "mk-v-inconsistent" in markup and "mk-v-consistent" in markup
    assert "NaN" not in visible(markup)


def test_sources_and_provenance_of_a_review():
    tables = load_review("por")
    out = sources(tables)
    row = out.frame.set_index("file").loc["published.csv"]
    assert row["rows"] == len(tables["published"])
    assert "published.csv" in out.html
    root = review_dir("por").parents[1]
    assert relative_to(str(review_dir("por")), root) == "data/por"
    assert relative_to("/elsewhere/data", root) == "/elsewhere/data"
    assert relative_to(95, root) == 95


def test_install_outside_ipython_is_harmless():
    assert fmt.install() is None


# ------------------------------------------------------------------------------ findings summary
REVIEW = {"title": "A review", "citation": "Doe J. A paper. J 2025.", "doi": "10.1/x<y",
          "design": "meta-analysis", "studies": "5 trials", "software": "RevMan 5.4",
          "seed": "seed.txt"}


def _findings_results() -> pd.DataFrame:
    table = ResultsTable("demo")
    table.add(analysis_id="ok", outcome="pain", verdict="reproduced", estimate=1.0)
    table.add(analysis_id="flip", outcome="pain", verdict="new", estimate=0.5, ci_low=0.2,
              ci_high=1.3, note="REML-HK; statistical significance changes from the authors' model")
    table.add(analysis_id="dev", outcome="pain", verdict="deviates", note="rule picks fixed")
    table.add(analysis_id="cond", outcome="MELD", subgroup="2 weeks", verdict="inconsistent",
              published_estimate="-0.27", published_ci_low="-0.59", published_ci_high="-0.05",
              assumption="df = k - 1", note="I2 needs 11 df")
    table.add(analysis_id="disc", outcome="ALT", verdict="discrepant", estimate=2.345,
              ci_low=1.0, ci_high=3.0, published_estimate="2.1", published_ci_low="1.0",
              published_ci_high="3.0", note="a study entered twice")
    table.add(analysis_id="firm", outcome="AST", verdict="inconsistent", note="CI not symmetric")
    return table.frame()


def test_findings_order_numbers_and_links():
    from metakit.workbook.summary import findings

    out = findings(_findings_results(), REVIEW).html
    order = [out.index(f'href="#result-{a}"') for a in ("firm", "cond", "disc", "dev", "flip")]
    assert order == sorted(order)
    assert 'href="#result-ok"' not in out
    assert 'href="https://doi.org/10.1/x&lt;y"' in out
    assert "printed 2.1 (1.0 to 3.0); re-derived 2.3 (1.0 to 3.0)" in out
    assert "printed -0.27 (-0.59 to -0.05)" in out and "Assumes: df = k - 1." in out
    assert "estimate 0.50 (0.20 to 1.30)" in out
    assert "Of <strong>5</strong> printed results, <strong>2</strong> could be re-derived" in out
    assert "<strong>3</strong> could only be audited" in out and "adds 1 analyses" in out
    assert out.index('id="findings-summary"') < out.index("<svg")
    # the chart: one bar per tally key, with the words a reader sees
    assert out.count("<rect") == 8 and "inconsistent (conditional) 1" in out
    # the links land on the results table's rows
    table_html = verdict_table(_findings_results()).html
    for anchor in re.findall(r'href="#(result-[^"]+)"', out):
        assert f'<tr id="{anchor}">' in table_html


def test_findings_limit_and_nothing_found():
    from metakit.workbook.summary import findings

    frame = _findings_results()
    out = findings(frame, REVIEW, limit=2).html
    assert out.count("<li>") == 2 and "… and 3 more in the results table." in out
    calm = findings(frame[frame["verdict"] == "reproduced"], REVIEW).html
    assert "No contradiction, discrepancy or deviation was found." in calm


def test_findings_read_the_dossier_and_reject_bad_input(tmp_path):
    from metakit.workbook.summary import findings, load_review_yaml

    assert load_review_yaml("por")["doi"] == "10.1186/s13287-025-04278-6"
    assert "Intra-ovarian menstrual-blood MSCs" in findings(_findings_results(), "por").html
    with pytest.raises(ValueError, match="lacks 'citation'"):
        findings(_findings_results(), {k: v for k, v in REVIEW.items() if k != "citation"})
    no_doi = findings(_findings_results(), {k: v for k, v in REVIEW.items() if k != "doi"}).html
    assert "doi.org" not in no_doi
    bad = tmp_path / "review.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="not a mapping"):
        load_review_yaml(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_review_yaml(tmp_path / "none.yaml")
    with pytest.raises(ValueError, match="verdict"):
        findings(pd.DataFrame({"analysis_id": ["a"]}), REVIEW)
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        findings(pd.DataFrame({"analysis_id": ["a"], "verdict": ["maybe"]}), REVIEW)


def test_page_title_is_plain_text():
    from nbformat.v4 import new_markdown_cell, new_notebook

    from metakit.publish.report_html import title_of

    notebook = new_notebook(cells=[new_markdown_cell("# MSCs for *non-union* (`nonunion`)")])
    assert title_of(notebook, "nonunion") == "MSCs for non-union (nonunion)"
    assert title_of(new_notebook(), "x") == "metakit: x"


# ------------------------------------------------------------------------------ the index
def test_index_front_page(tmp_path):
    import subprocess
    import sys

    from metakit.publish.build import Outcome
    from metakit.publish.index import index_html
    from metakit.workbook.contract import VERDICTS

    root, out = tmp_path / "project", tmp_path / "out"
    (root / "data" / "iua").mkdir(parents=True)
    (root / "data" / "iua" / "review.yaml").write_text(
        "title: MSCs for <adhesions>\ncitation: c\ndoi: d\ndesign: meta-analysis\n"
        "studies: s\nsoftware: RevMan\nseed: x\n")
    _findings_results().assign(review="iua").to_csv(tmp_path / "r.csv", index=False)
    (out / "iua").mkdir(parents=True)
    (out / "iua" / "results.csv").write_text((tmp_path / "r.csv").read_text())
    (out / "iua" / "iua.html").write_text("<html></html>")
    record = Outcome("iua", "ok", 12.5, "2026-12-01T09:13:00+00:00", counts={})
    page = index_html(("iua", "por"), {"iua": record}, out, "abc", "today", root=root)
    row = re.search(r'<tr id="review-iua">(.*?)</tr>', page, flags=re.S).group(1)
    assert "MSCs for &lt;adhesions&gt;" in row                      # the title, escaped
    assert re.findall(r'<td class="n">(\d*)</td>', row) == ["1", "1", "0", "1", "1", "1", "0",
                                                             "1"]
    assert 'href="iua/iua.html#result-firm"' in row                 # the top finding
    assert 'href="iua/results.csv"' in row and 'href="../project/data/iua/"' in row
    assert page.count("not built") == 1                             # por
    for definition in VERDICTS.values():
        assert html.escape(definition) in page
    assert "CONTRACTS.md" not in page and "DESIGN.md" not in page
    (root / "CONTRACTS.md").write_text("# contracts\n")
    assert 'href="../project/CONTRACTS.md"' in index_html(("iua",), {}, out, None, "t", root=root)
    assert page.count("abc") == 1                                   # the commit, once
    code = "import sys, metakit.publish.index; print('pandas' in sys.modules, 'scipy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_fit_table_has_no_raw_values():
    from metakit import rma

    fit = rma([0.1, 0.9, -0.4, 1.6, 0.2], [0.02, 0.03, 0.02, 0.05, 0.04], method="DL")
    out = fmt.fit_table(fit)
    text = visible(out.html)
    for raw in RAW:
        assert raw not in text, raw
    assert "Random-effects model (k = 5; method: DL; test: z)" in text
    assert re.search(r"Q\(4 df\) = \d+\.\d\d, p (< 0\.0001|= 0\.\d+)", text)
    assert "coefficient" in text and "intrcpt" in text
