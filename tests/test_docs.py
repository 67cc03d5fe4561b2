"""README.md and CONTRACTS.md: their generated blocks agree with the build and the vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from metakit.publish.build import discover_reviews
from metakit.publish.docs import DocsError, generated, replace_block, verdict_list
from metakit.workbook.contract import VERDICTS

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_readme_status_and_verdicts_are_up_to_date(repo_build):
    out, _ = repo_build
    for path, text in generated(REPO, discover_reviews(REPO), out).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: build, then run `python -m metakit docs`")


def test_every_verdict_is_defined_in_readme_and_contracts():
    for name in ("README.md", "CONTRACTS.md"):
        text = (REPO / name).read_text(encoding="utf-8")
        assert verdict_list() in text, name
    assert [line.split("`")[1] for line in verdict_list().splitlines()] == list(VERDICTS)


def test_links_in_the_documents_point_at_files_the_repository_has():
    for name in ("README.md", "CONTRACTS.md"):
        text = (REPO / name).read_text(encoding="utf-8")
        assert "DESIGN.md" not in text, f"{name} points at DESIGN.md, which the repository lacks"


def test_a_missing_marker_is_named():
    with pytest.raises(DocsError, match="README.md: no <!-- metakit:status -->"):
        replace_block("no markers here", "status", "table")
    assert replace_block("a <!-- metakit:x -->old<!-- /metakit:x --> b", "x", "new") \
        == "a <!-- metakit:x -->\nnew\n<!-- /metakit:x --> b"
