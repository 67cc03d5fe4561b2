"""GRADE summary-of-findings table."""

from __future__ import annotations

import pandas as pd
import pytest

from metakit.workbook.grade import CERTAINTY, COLUMNS, grade_frame, grade_table


def row(**over):
    base = dict(outcome="Union at 6 months", studies=5, design="RCT", risk_of_bias="serious",  # noqa: C408
                inconsistency="not serious", indirectness="not serious",
                imprecision="serious", publication_bias="undetected",
                effect="RR 1.30 (1.10 to 1.60)", certainty="Low")
    base.update(over)
    return base


def test_symbols_for_every_level():
    rows = [row(certainty=w) for w in ("high", "Moderate", "LOW", "very_low")]
    frame = grade_frame(rows)
    col = frame[COLUMNS["certainty"]]
    assert list(col) == ["⊕⊕⊕⊕ High", "⊕⊕⊕◯ Moderate", "⊕⊕◯◯ Low", "⊕◯◯◯ Very low"]
    assert set(CERTAINTY) == {"high", "moderate", "low", "very low"}


def test_styler_html_escaped_and_ordered():
    html = grade_table([row(outcome="<b>pain</b> & union", effect="SMD < 0")],
                       caption="SoF <1>").to_html()
    assert "&lt;b&gt;pain&lt;/b&gt; &amp; union" in html
    assert "<b>pain" not in html
    assert "SMD &lt; 0" in html and "SoF &lt;1&gt;" in html
    heads = [html.index(h) for h in COLUMNS.values()]
    assert heads == sorted(heads)


def test_dataframe_input_and_extra_columns():
    frame = pd.DataFrame([row(importance="CRITICAL")])
    out = grade_frame(frame)
    assert list(out.columns)[-1] == "importance"
    assert "⊕⊕◯◯ Low" in grade_table(frame).to_html()


def test_unknown_certainty():
    with pytest.raises(ValueError, match="certainty.*'medium'"):
        grade_table([row(certainty="medium")])


def test_missing_column():
    bad = row()
    del bad["imprecision"]
    with pytest.raises(ValueError, match="imprecision"):
        grade_table([bad])


def test_empty():
    with pytest.raises(ValueError, match="rows"):
        grade_table([])
    with pytest.raises(ValueError, match="rows"):
        grade_table(pd.DataFrame())
