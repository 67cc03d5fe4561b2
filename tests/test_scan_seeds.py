"""The scan on the five seed papers, against the workbook's hand-made published.csv files.

The seeds live outside the repository (``../shared/seeds/`` next to the checkout); without them
these tests are skipped. ``benchmarks/bench_scan_extraction.py`` prints the same figures per
review.
"""

from __future__ import annotations


import pytest
import yaml

from conftest import REPO
from metakit.scan import scan_text
from metakit.scan.compare import compare, read_published
from metakit.scan.text import prepare

SEEDS = REPO.parent / "shared" / "seeds"
REVIEWS = ("iua", "por", "nonunion", "cirrhosis", "ovarian")

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="seed texts not available")


def _seed(review: str) -> str:
    seed = yaml.safe_load((REPO / "data" / review / "review.yaml").read_text())["seed"]
    return (SEEDS / seed).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def scans() -> dict[str, list[dict[str, str]]]:
    return {review: scan_text(_seed(review), file=review) for review in REVIEWS}


def test_recall_and_precision_meet_the_targets(scans):
    found = missed = scanned = correct = 0
    for review in REVIEWS:
        result = compare(scans[review], read_published(REPO / "data" / review /
                                                      "published.csv"),
                         prepare(_seed(review)).text)
        found, missed = found + len(result.found), missed + len(result.missed)
        scanned, correct = scanned + result.scanned, correct + result.correct
        assert not result.not_in_text, review  # every pooled result is printed in the text
    assert found / (found + missed) >= 0.95
    assert correct / scanned >= 0.95


def _row(rows, estimate, low, high):
    [row] = [r for r in rows if (r["estimate"], r["ci_low"], r["ci_high"]) == (estimate, low,
                                                                             high)]
    return row


def test_known_contradictions_are_found(scans):
    two_weeks = _row(scans["cirrhosis"], "-0.27", "-0.59", "-0.05")  # CI excludes 0, p = 0.10
    assert two_weeks["verdict"] == "inconsistent" and not two_weeks["assumption"]
    assert "p_from_ci: inconsistent" in two_weeks["checks"]
    one_week = _row(scans["cirrhosis"], "-0.02", "-0.30", "-0.26")  # estimate outside its CI
    assert one_week["verdict"] == "inconsistent"
    union = _row(scans["nonunion"], "6.30", "86", "96")  # months against a CI in percent
    assert union["verdict"] == "inconsistent" and "percent" in union["note"]


def test_conditional_contradiction_names_its_assumption(scans):
    local = _row(scans["iua"], "2.70", "2.15", "3.25")  # 7 studies, I² 67%, p = 0.0005
    assert (local["k"], local["i2"], local["q_pval"]) == ("7", "67", "0.0005")
    assert local["verdict"] == "inconsistent"
    assert local["assumption"].startswith("df = k − 1 = 6, with k = 7 as printed")


def test_draft_published_csv_loads_as_a_dossier_table(scans, tmp_path):
    from metakit.scan.report import write_published_csv
    from metakit.scan.runner import FileScan
    from metakit.workbook.data import read_table

    for review in REVIEWS:
        path = tmp_path / review / "published.csv"
        write_published_csv(FileScan(review, scans[review]), path)
        table = read_table(path)
        assert len(table) > 0 and table["analysis_id"].is_unique


def test_garbled_figure_rows_are_unread_not_guessed(scans):
    garbled = [r for r in scans["nonunion"] if r["note"].startswith("garbled forest-plot row")]
    assert len(garbled) == 3
    assert all(r["verdict"] == "unread" and r["estimate"] == "" for r in garbled)
    assert {r["i2"] for r in garbled} == {"47.72", "29.49", "41.85"}
