"""The tables every notebook shows: sources, verdict counts and colours, provenance."""

import pandas as pd

from metakit.workbook.data import load_review, review_dir
from metakit.workbook.report import provenance, sources, verdict_counts, verdict_table
from metakit.workbook.results import ResultsTable


def _table() -> ResultsTable:
    table = ResultsTable("demo")
    table.add(analysis_id="a", outcome="<b>x</b>", verdict="reproduced", estimate=1.23456)
    table.add(analysis_id="b", outcome="y", verdict="inconsistent", note="CI excludes 0")
    table.add(analysis_id="c", outcome="z", verdict="inconsistent")
    return table


def test_verdict_counts_in_fixed_order():
    counts = verdict_counts(_table())
    assert list(counts.index) == ["reproduced", "discrepant", "consistent",
                                  "inconsistent (firm)", "inconsistent (conditional)",
                                  "deviates", "not reproducible", "new"]
    assert counts.to_dict() == {"reproduced": 1, "discrepant": 0, "consistent": 0,
                                "inconsistent (firm)": 2, "inconsistent (conditional)": 0,
                                "deviates": 0, "not reproducible": 0, "new": 0}


def test_verdict_table_escapes_and_colours():
    html = verdict_table(_table()).to_html()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "#d9f2d9" in html and "#f8d0d0" in html
    assert "1.235" in html


def test_sources_and_provenance_of_a_review():
    tables = load_review("por")
    frame = sources(tables)
    assert "published.csv" in frame.index
    assert frame.loc["published.csv", "rows"] == len(tables["published"])
    prov = provenance(review_dir("por"), {"review": "por"})
    assert isinstance(prov, pd.DataFrame)
    assert prov.loc["parameter: review", "value"] == "'por'"
    assert len(prov.loc["sha256: published.csv", "value"]) == 64
