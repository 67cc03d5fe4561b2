"""Wall time of the build (issue targets: cold build of five reviews with --jobs 2 in <= 30 s,
no-op rebuild < 1 s), with the kernel start-up that bounds it from below.

Run: ``.venv/bin/python benchmarks/bench_build.py``. Uses a temporary output folder.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=False, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    kernel = statistics.median(timed([sys.executable, "-m", "ipykernel_launcher", "--version"])
                               for _ in range(3))
    with tempfile.TemporaryDirectory() as out:
        build = [sys.executable, "-m", "metakit", "build", "--jobs", "2", "--out", out]
        cold = timed([*build, "--force"])
        noop = statistics.median(timed(build) for _ in range(5))
        reports = sorted(p.name for p in Path(out).glob("*/*.html"))
    print(f"interpreter + ipykernel import (kernel start-up floor): {kernel:.2f} s")
    print(f"cold build, 5 reviews, --jobs 2: {cold:.1f} s (target <= 30 s); reports: {reports}")
    print(f"no-op rebuild: {noop:.2f} s (target < 1 s)")


if __name__ == "__main__":
    main()
