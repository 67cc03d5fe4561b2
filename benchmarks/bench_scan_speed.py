"""Speed of ``metakit scan`` (issue targets: one seed paper in under 1 s; a folder of 1,000
papers at 20 papers per second or better on 2 cores).

Run: ``.venv/bin/python benchmarks/bench_scan_speed.py [SEEDS_DIR] [--papers 1000]``.

Prints, for the whole command (a fresh interpreter, so imports included) the median wall and
CPU seconds of scanning the largest seed; the import floor (``import metakit.audit`` alone, which
the battery needs); the warm in-process time per seed; and the wall time of ``metakit scan DIR
--jobs 2`` over a folder of the five seeds repeated with edits (each copy has a line of its
own and one word changed), as papers per second.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_run(args: list[str], repeat: int) -> tuple[float, float]:
    runs = [run(args) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def edited_copy(text: str, i: int) -> str:
    """A seed with a first line of its own and one word changed (its printed numbers, and so
    its findings, stay those of a real paper)."""
    return f"Copy {i} of this paper.\n" + re.sub(r"\bstudies\b", "trials", text, count=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("seeds", nargs="?", type=Path, default=ROOT.parent / "shared" / "seeds")
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    seeds = sorted(args.seeds.glob("0*.txt"))
    largest = max(seeds, key=lambda p: p.stat().st_size)
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = median_run([python, "-m", "metakit", "scan", str(largest), "--out",
                                f"{tmp}/one", "--quiet"], args.repeat)
        print(f"one seed ({largest.name}, {largest.stat().st_size // 1000} kB), whole "
              f"command: wall {wall:.2f} s, CPU {cpu:.2f} s (target < 1 s)")
        wall, cpu = median_run([python, "-c", "import metakit.audit"], args.repeat)
        print(f"  of which the import floor 'import metakit.audit' (scipy.special): "
              f"wall {wall:.2f} s, CPU {cpu:.2f} s")
        from metakit.scan import scan_text
        texts = [p.read_text(encoding="utf-8") for p in seeds]
        scan_text(texts[0])
        for path, text in zip(seeds, texts):
            start = time.process_time()
            for _ in range(3):
                scan_text(text)
            print(f"  warm, in process: {path.name} {1000 * (time.process_time() - start) / 3:.0f}"
                  f" ms CPU")
        folder = Path(tmp) / "papers"
        folder.mkdir()
        for i in range(args.papers):
            (folder / f"paper{i:04d}.txt").write_text(edited_copy(texts[i % len(texts)], i),
                                                     encoding="utf-8")
        wall, cpu = run([python, "-m", "metakit", "scan", str(folder), "--jobs", "2", "--out",
                         f"{tmp}/many", "--quiet"])
        print(f"{args.papers} papers, --jobs 2 on {os.cpu_count()} CPUs: wall {wall:.1f} s = "
              f"{args.papers / wall:.1f} papers/s (target >= 20); CPU {cpu:.1f} s = "
              f"{args.papers / cpu:.1f} papers per CPU-second")
        rows = sum(1 for _ in open(f"{tmp}/many/scan.csv", encoding="utf-8")) - 1
        print(f"  {rows} rows written to scan.csv")


if __name__ == "__main__":
    main()
