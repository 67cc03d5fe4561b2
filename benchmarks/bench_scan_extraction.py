"""Extraction validity of ``metakit scan`` on the five seed papers (issue target: recall and
precision of the pooled results >= 95% each).

Run: ``.venv/bin/python benchmarks/bench_scan_extraction.py [SEEDS_DIR]`` (default
``../shared/seeds`` next to the checkout).

How results are matched (see :mod:`metakit.scan.compare`): the reference is each review's
hand-made ``data/<review>/published.csv``; its pooled results are the rows printing an estimate
with both CI bounds (or a chi-squared statistic with its p), except intervals the note calls an
IQR or range. A scanned row matches when estimate and both bounds are the same printed text
(and p where both print one); a chi-squared test matches on statistic and p. Recall counts the
published results whose numbers stand in the seed's text; precision counts every row the scan
read (rows it left unread are listed apart, they are never checked). A result printed twice
(abstract and results) is one published row and two correct scanned rows.

Also printed: for matched rows, how often the statistics read beside the result (p, I²,
heterogeneity p, k) agree with the hand-made row where both have them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from metakit.scan import scan_text
from metakit.scan.compare import compare, matches, read_published
from metakit.scan.extract import number
from metakit.scan.text import prepare

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = ("iua", "por", "nonunion", "cirrhosis", "ovarian")


def main(seeds: Path) -> None:
    total = {"results": 0, "found": 0, "missed": 0, "scanned": 0, "correct": 0, "unread": 0,
             "not_in_text": 0}
    agree: dict[str, list[int]] = {f: [0, 0] for f in ("p_value", "i2", "q_pval", "k")}
    print(f"{'review':10} {'pooled':>6} {'in text':>7} {'found':>5} {'recall':>7} "
          f"{'read':>5} {'correct':>7} {'precision':>9} {'unread':>6}")
    for review in REVIEWS:
        seed = yaml.safe_load((ROOT / "data" / review / "review.yaml").read_text())["seed"]
        text = (seeds / seed).read_text(encoding="utf-8")
        rows = scan_text(text, file=seed)
        published = read_published(ROOT / "data" / review / "published.csv")
        result = compare(rows, published, prepare(text).text)
        printed = len(result.found) + len(result.missed)
        print(f"{review:10} {len(result.results):6d} {printed:7d} {len(result.found):5d} "
              f"{result.recall:7.1%} {result.scanned:5d} {result.correct:7d} "
              f"{result.precision:9.1%} {result.unread:6d}")
        for row in result.missed:
            print(f"    missed: {row['analysis_id']} {row['estimate']} [{row['ci_low']}, "
                  f"{row['ci_high']}] ({row['source'][:60]})")
        for row in result.not_in_text:
            print(f"    not in the text: {row['analysis_id']} ({row['source'][:60]})")
        for row in result.wrong:
            print(f"    wrong: offset {row['offset']} {row['measure']} {row['estimate']} "
                  f"[{row['ci_low']}, {row['ci_high']}]: {row['quote'][:80]}")
        for pub in result.found:
            for scanned in (r for r in rows if r["verdict"] != "unread" and matches(r, pub)):
                for name in agree:
                    theirs, mine = number(pub.get(name, "")), number(scanned.get(name, ""))
                    if theirs and mine:
                        agree[name][0] += theirs == mine
                        agree[name][1] += 1
        total["results"] += len(result.results)
        total["found"] += len(result.found)
        total["missed"] += len(result.missed)
        total["scanned"] += result.scanned
        total["correct"] += result.correct
        total["unread"] += result.unread
        total["not_in_text"] += len(result.not_in_text)
    printed = total["found"] + total["missed"]
    print(f"{'all five':10} {total['results']:6d} {printed:7d} {total['found']:5d} "
          f"{total['found'] / printed:7.1%} {total['scanned']:5d} {total['correct']:7d} "
          f"{total['correct'] / total['scanned']:9.1%} {total['unread']:6d}")
    print("targets: recall >= 95%, precision >= 95%")
    print("statistics read beside matched results, agreeing with the hand-made row: " +
          ", ".join(f"{name} {a}/{n}" for name, (a, n) in agree.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "seeds")
