"""The generated parts of ``README.md`` and ``CONTRACTS.md``.

``python -m metakit docs [--results DIR]`` rewrites, between HTML-comment markers,

- ``<!-- metakit:status -->``: README's "where each review stands" table, from
  ``DIR/<review>/results.csv`` (default ``reports/``, the build's output) and each review's
  ``data/<review>/review.yaml``. The counts are :func:`metakit.workbook.contract.tally`'s, the
  function the reports and the index count with, so the three tables cannot disagree;
- ``<!-- metakit:verdicts -->``: the verdict vocabulary, from
  :data:`metakit.workbook.contract.VERDICTS`, in README and CONTRACTS.

Tests fail when either file is stale.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from metakit.workbook.contract import TALLY, VERDICTS, tally
from metakit.workbook.yamlfile import load_yaml

DOCUMENTS = ("README.md", "CONTRACTS.md")
"""Files whose marked blocks are generated (a file without a block is left alone)."""


class DocsError(ValueError):
    """A document or a review's results cannot be read; the message names the file."""


def _results(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            return list(csv.DictReader(stream))
    except OSError as error:
        raise DocsError(f"{path}: cannot read the results ({error.strerror}); build the "
                          f"reports first (python -m metakit build)") from None


def _title(review_yaml: Path, review: str) -> str:
    try:
        meta = load_yaml(review_yaml.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return review
    doi = meta.get("doi")
    title = str(meta.get("title") or review)
    return f"{title} ([doi:{doi}](https://doi.org/{doi}))" if doi else title


def status_table(root: Path, reviews: Sequence[str], results_dir: Path) -> str:
    """The Markdown table: one row per review, counts per :data:`TALLY` key."""
    head = ["review", "paper", *TALLY.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for review in reviews:
        counts = tally(_results(results_dir / review / "results.csv"))
        cells = [f"`{review}`", _title(root / "data" / review / "review.yaml", review),
                 *(str(counts[key]) for key in TALLY)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict_list() -> str:
    """The verdict vocabulary as a Markdown list, in the order of :data:`VERDICTS`."""
    return "\n".join(f"- `{verdict}`: {definition}." for verdict, definition in VERDICTS.items())


def replace_block(text: str, name: str, body: str, *, where: str = "README.md") -> str:
    """``text`` with the block between ``<!-- metakit:NAME -->`` markers replaced by ``body``."""
    start, end = f"<!-- metakit:{name} -->", f"<!-- /metakit:{name} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), flags=re.DOTALL)
    if not pattern.search(text):
        raise DocsError(f"{where}: no {start} ... {end} markers")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text, count=1)


def generated(root: Path, reviews: Sequence[str], results_dir: Path) -> dict[Path, str]:
    """What every document should read, keyed by its path (documents as they are now, with
    their generated blocks rewritten)."""
    blocks = {"status": lambda: status_table(root, reviews, results_dir),
              "verdicts": verdict_list}
    documents = {}
    for name in DOCUMENTS:
        path = root / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise DocsError(f"{path}: cannot read it ({error.strerror})") from None
        for block, body in blocks.items():
            if f"<!-- metakit:{block} -->" in text:
                text = replace_block(text, block, body(), where=name)
        documents[path] = text
    return documents


def update_docs(root: Path, reviews: Sequence[str], results_dir: Path) -> list[Path]:
    """Rewrite the generated blocks of :data:`DOCUMENTS`; return the files that changed."""
    changed = []
    for path, text in generated(root, reviews, results_dir).items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
