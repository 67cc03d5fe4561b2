"""Speed of the pooling engine against its peers, as ratios measured in one process (issue 17).

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (PyMARE from the ``bench`` extra:
``pip install -e ".[bench]"``; its rows are skipped without it). Every figure is a median of
repeated timings; the targets are stated as ratios to a peer timed in the same run:

* one ``rma`` REML fit, k = 12: no slower than statsmodels' ``combine_effects`` (iterated, i.e.
  Paule-Mandel, its only iterative estimator) on the same data (ratio <= 1);
* ``rma_batch``, 10,000 meta-analyses of k = 12, every method: at least 5x faster per fit than a
  loop of ``combine_effects`` (iterated for the iterative estimators, DL otherwise);
* ``rma_batch`` REML, DL and REML + Hartung-Knapp at k = 12 and k = 50: no slower than PyMARE's
  vectorised estimators on the same arrays (ratio <= 1), all rows converged and equal to single
  ``rma`` fits;
* ``qprofile_ci`` at k = 1,000: under 20 ms; ``import metakit.plots``: under 0.5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from statsmodels.stats.meta_analysis import combine_effects

import metakit as mk
from metakit.engine.heterogeneity import METHODS, qprofile_ci

ITERATIVE = ("REML", "ML", "PM", "EB")


def median_time(func: Callable[[], object], repeat: int = 7, number: int = 1) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls (seconds)."""
    func()
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


def single_fit() -> None:
    yi, vi = simulate(1)
    y, v = yi[0], vi[0]
    ours = median_time(lambda: mk.rma(y, v, method="REML"), number=300)
    peer = median_time(lambda: combine_effects(y, v, method_re="iterated"), number=300)
    print(f"single fit k=12: rma REML {ours * 1e6:.0f} us, combine_effects PM {peer * 1e6:.0f} us, "
          f"ratio {ours / peer:.2f} (target <= 1)")


def batch_vs_statsmodels() -> None:
    yi, vi = simulate(10_000)
    rows = range(0, len(yi), 10)  # the loop peer on 1,000 rows, per fit
    loop = {name: median_time(lambda: [combine_effects(a, b, method_re=name)
                                       for a, b in zip(yi[rows], vi[rows])], repeat=3) / len(rows)
            for name in ("iterated", "chi2")}
    print("rma_batch, 10,000 x 12, per fit, against a combine_effects loop (target ratio <= 0.2):")
    for method in METHODS:
        ours = median_time(lambda: mk.rma_batch(yi, vi, method=method), repeat=3) / len(yi)
        peer = loop["iterated" if method in ITERATIVE else "chi2"]
        print(f"  {method:4s} {ours * 1e6:7.2f} us vs {peer * 1e6:6.1f} us, ratio {ours / peer:.3f}; "
              f"{agreement(yi, vi, method)}")


def agreement(yi: np.ndarray, vi: np.ndarray, method: str, test: str = "z") -> str:
    """Converged share and the largest difference from single ``rma`` fits on 200 rows."""
    res = mk.rma_batch(yi, vi, method=method, **({} if test == "z" else {"test": test}))
    worst = 0.0
    for i in range(0, len(yi), max(1, len(yi) // 200)):
        single = mk.rma(yi[i], vi[i], method=method, test=test)
        worst = max(worst, abs(res.estimate[i] - single.estimate), abs(res.tau2[i] - single.tau2),
                    abs(res.ci_low[i] - single.ci_low), abs(res.ci_high[i] - single.ci_high))
    return f"converged {res.converged.mean():.2%}, max |batch - rma| {worst:.1e}"


def batch_vs_pymare() -> None:
    try:
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
    except ImportError:
        print("PyMARE not installed (pip install -e '.[bench]'): skipped")
        return
    print("rma_batch against PyMARE's vectorised estimators, 10,000 meta-analyses "
          "(target ratio <= 1):")
    for k in (12, 50):
        yi, vi = simulate(10_000, k=k)
        yt, vt, X = np.ascontiguousarray(yi.T), np.ascontiguousarray(vi.T), np.ones((k, 1))
        cases = [
            ("REML", "z", lambda: VarianceBasedLikelihoodEstimator(
                "REML", small_sample_correction="wald")),
            ("DL", "z", lambda: DerSimonianLaird(small_sample_correction="wald")),
            ("REML", "knha", lambda: VarianceBasedLikelihoodEstimator(
                "REML", small_sample_correction="knapp-hartung")),
        ]
        for method, test, make in cases:
            def peer() -> object:
                return make().fit(yt, vt, X).summary().get_fe_stats()
            kwargs = {} if test == "z" else {"test": test}
            try:
                ours = median_time(lambda: mk.rma_batch(yi, vi, method=method, **kwargs),
                                   repeat=3)
            except TypeError:
                print(f"  k={k} {method}+{test}: rma_batch has no test={test!r}")
                continue
            theirs = median_time(peer, repeat=3)
            print(f"  k={k:2d} {method:4s} {test:4s} {ours / len(yi) * 1e6:6.2f} us/fit vs "
                  f"{theirs / len(yi) * 1e6:6.2f} us/fit, ratio {ours / theirs:.2f}; "
                  f"{agreement(yi, vi, method, test)}")


def qprofile() -> None:
    yi, vi = simulate(1, k=1000)
    X = np.ones((1000, 1))
    took = median_time(lambda: qprofile_ci(yi[0], vi[0], X), repeat=5)
    print(f"qprofile_ci k=1000: {took * 1e3:.1f} ms (target < 20 ms)")


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout) for _ in range(5))


def main() -> None:
    single_fit()
    batch_vs_statsmodels()
    batch_vs_pymare()
    qprofile()
    print(f"import metakit: {import_time('metakit'):.3f} s; "
          f"import metakit.plots: {import_time('metakit.plots'):.3f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()
