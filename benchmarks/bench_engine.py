"""Speed of the pooling engine against statsmodels' ``combine_effects`` (issue targets).

Run: ``.venv/bin/python benchmarks/bench_engine.py``. Prints medians of repeated timings and the
ratios the targets are stated in:

* one ``rma`` REML fit with k = 12: at most 4x ``combine_effects`` on the same data;
* ``rma_batch`` on 10,000 meta-analyses (k = 12, REML): at most 0.5x a loop of
  ``combine_effects``, all converged and equal to single ``rma`` fits to 1e-6;
* ``import metakit``: under 0.3 s (timed in a fresh interpreter).

statsmodels has no REML in ``combine_effects``; its iterated (Paule-Mandel) estimator is the
closest iterative peer, and its DL estimator the closed-form one.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np
from statsmodels.stats.meta_analysis import combine_effects

import metakit as mk


def median_time(func, repeat: int = 7, number: int = 1) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def simulate(m: int, k: int = 12, seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.5, size=(m, k))
    tau2 = rng.choice([0.0, 0.05, 0.3], size=(m, 1))
    return rng.normal(0.2, np.sqrt(vi + tau2)), vi


def main() -> None:
    yi, vi = simulate(1)
    y, v = yi[0], vi[0]
    single = median_time(lambda: mk.rma(y, v, method="REML"), number=500)
    peer = median_time(lambda: combine_effects(y, v, method_re="iterated"), number=500)
    print(f"single fit k=12: rma REML {single * 1e3:.3f} ms, combine_effects "
          f"{peer * 1e3:.3f} ms, ratio {single / peer:.2f} (target <= 4)")

    yi, vi = simulate(10_000)
    batch = median_time(lambda: mk.rma_batch(yi, vi, method="REML"), repeat=5)
    loop = median_time(lambda: [combine_effects(a, b, method_re="iterated")
                                for a, b in zip(yi, vi)], repeat=3)
    res = mk.rma_batch(yi, vi, method="REML")
    worst = max(abs(res.estimate[i] - mk.rma(yi[i], vi[i]).estimate) for i in range(0, 10_000, 50))
    print(f"10,000 fits k=12: rma_batch REML {batch:.3f} s, combine_effects loop {loop:.3f} s, "
          f"ratio {batch / loop:.4f} (target <= 0.5); converged {res.converged.mean():.2%}; "
          f"max |batch - rma| over 200 rows {worst:.1e}")

    code = "import time; t = time.perf_counter(); import metakit; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout) for _ in range(5)]
    print(f"import metakit: {statistics.median(imports):.3f} s (target < 0.3)")


if __name__ == "__main__":
    main()
