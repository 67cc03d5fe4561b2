"""Wall time of the build against its floor, measured in one run (issue 17 targets: a cold build of
every review with ``--jobs 2`` at most 2.5x the floor; a no-op rebuild under 0.2 s).

The floor is the same command building, with the same number of jobs, one trivial notebook per
review (numpy, pandas and matplotlib imported, a table and a figure shown, a results table
written): kernel start, imports, papermill, nbconvert and the index, without the analyses.
Cold builds of the floor and of the real reviews alternate (``--rounds``), so that a drift in the
machine's speed shows in both; the medians and their ratio are printed, with each review's own
time from its build record.

Run: ``.venv/bin/python benchmarks/bench_build.py [--rounds N] [--compare DIR]``; ``--compare``
also checks that every ``results.csv`` is byte-identical to the one in ``DIR/<review>/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metakit.publish.build import RECORD_FILE, discover_reviews  # noqa: E402

REVIEWS = discover_reviews(ROOT)

TRIVIAL = [
    'review = ""\ndata_dir = ""\noutput_dir = ""',
    "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt",
    "frame = pd.DataFrame(np.random.default_rng(1).normal(size=(20, 3)), columns=list('abc'))\n"
    "frame.describe()",
    "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(frame['a'].cumsum())\nplt.show()",
    "from metakit.workbook.contract import COLUMNS\n"
    "row = {c: '' for c in COLUMNS} | {'review': review, 'analysis_id': 'a', 'verdict': 'new'}\n"
    "pd.DataFrame([row], columns=COLUMNS).to_csv(f'{output_dir}/results.csv', index=False)",
]


def floor_project(root: Path) -> Path:
    """A project with one trivial notebook per review id."""
    for review in REVIEWS:
        cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [],
                  "execution_count": None, "source": source} for i, source in enumerate(TRIVIAL)]
        cells[0]["metadata"]["tags"] = ["parameters"]
        notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
        (root / "notebooks").mkdir(parents=True, exist_ok=True)
        (root / "notebooks" / f"{review}.ipynb").write_text(json.dumps(notebook))
        (root / "params").mkdir(exist_ok=True)
        (root / "params" / f"{review}.yaml").write_text(f"review: {review}\n")
        (root / "data" / review).mkdir(parents=True, exist_ok=True)
    return root


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def build(root: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "metakit", "build", "--root", str(root), "--out", str(out),
            "--jobs", "2", *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="cold builds of each (default 1)")
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="reports of an earlier build whose results.csv must be identical")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        temp_dir = Path(temp)
        floor_root = floor_project(temp_dir / "floor")
        floors, colds = [], []
        for _ in range(args.rounds):
            floors.append(timed(build(floor_root, temp_dir / "floor-out", "--force"), temp_dir))
            colds.append(timed(build(ROOT, temp_dir / "out", "--force"), ROOT))
        noop = statistics.median(timed(build(ROOT, temp_dir / "out"), ROOT) for _ in range(5))
        per_review = {r: json.loads((temp_dir / "out" / r / RECORD_FILE).read_text())["seconds"]
                      for r in REVIEWS}
        floor_each = {r: json.loads((temp_dir / "floor-out" / r / RECORD_FILE).read_text())[
            "seconds"] for r in REVIEWS}
        same = None
        if args.compare:
            same = {r: (temp_dir / "out" / r / "results.csv").read_bytes()
                    == (args.compare / r / "results.csv").read_bytes() for r in REVIEWS}
    floor, cold = statistics.median(floors), statistics.median(colds)
    print(f"floor, {len(REVIEWS)} trivial notebooks, --jobs 2: {floor:.1f} s "
          f"(runs: {', '.join(f'{s:.1f}' for s in floors)})")
    print(f"cold build, {len(REVIEWS)} reviews, --jobs 2: {cold:.1f} s "
          f"(runs: {', '.join(f'{s:.1f}' for s in colds)})")
    print(f"ratio cold / floor: {cold / floor:.2f} (target <= 2.5)")
    print("per review (execution and rendering, s; floor in brackets): " + ", ".join(
        f"{r} {per_review[r]:.1f} [{floor_each[r]:.1f}]" for r in REVIEWS))
    print(f"no-op rebuild: {noop:.3f} s (target < 0.2 s)")
    if same is not None:
        print("results.csv identical to --compare: " + ", ".join(
            f"{r} {'yes' if ok else 'NO'}" for r, ok in same.items()))


if __name__ == "__main__":
    main()
