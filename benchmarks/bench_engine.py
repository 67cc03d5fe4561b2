"""Speed of the pooling engine against its peers, as ratios measured in one process (issue 17).

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (PyMARE comes with the ``bench`` extra,
``pip install -e ".[bench]"``; its rows are skipped without it). Each comparison times the two
sides in turn, several rounds, in CPU seconds of this process (steadier than wall time on a
shared machine); it prints the fastest round of each and the median of the round-by-round
ratios, which is what the targets are stated in:

* one ``rma`` REML fit, k = 12: no slower than statsmodels' ``combine_effects`` (iterated, i.e.
  Paule-Mandel, its only iterative estimator) on the same data (ratio <= 1);
* ``rma_batch``, 10,000 meta-analyses of k = 12, every method: at least 5x faster per fit than a
  loop of ``combine_effects`` (iterated for the iterative estimators, DL otherwise; ratio <= 0.2);
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
import warnings
from collections.abc import Callable

import numpy as np
from statsmodels.stats.meta_analysis import combine_effects

import metakit as mk
from metakit.engine.heterogeneity import qprofile_ci

ITERATIVE = ("REML", "ML", "PM", "EB")
METHODS = ("EE", "DL", "HE", "HS", "SJ", "REML", "ML", "PM", "EB")
Timed = Callable[[], object]


def cpu(func: Timed, number: int) -> float:
    start = time.process_time()
    for _ in range(number):
        func()
    return (time.process_time() - start) / number


def paired(ours: Timed, peer: Timed, number: int = 1, rounds: int = 7) -> tuple[float, ...]:
    """Fastest round of each (seconds a call) and the median ratio ours / peer."""
    ours(), peer()
    a, b = [], []
    for _ in range(rounds):
        a.append(cpu(ours, number))
        b.append(cpu(peer, number))
    return min(a), min(b), statistics.median(x / y for x, y in zip(a, b))


def simulate(m: int, k: int = 12, seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.5, size=(m, k))
    tau2 = rng.choice([0.0, 0.05, 0.3], size=(m, 1))
    return rng.normal(0.2, np.sqrt(vi + tau2)), vi


def agreement(yi: np.ndarray, vi: np.ndarray, method: str, test: str = "z") -> str:
    """Converged share and the largest difference from single ``rma`` fits on 200 rows."""
    res = mk.rma_batch(yi, vi, method=method, test=test)
    worst = 0.0
    for i in range(0, len(yi), max(1, len(yi) // 200)):
        one = mk.rma(yi[i], vi[i], method=method, test=test)
        worst = max(worst, abs(res.estimate[i] - one.estimate), abs(res.tau2[i] - one.tau2),
                    abs(res.ci_low[i] - one.ci_low), abs(res.ci_high[i] - one.ci_high))
    return f"converged {res.converged.mean():.2%}, max |batch - rma| {worst:.1e}"


def single_fit() -> None:
    yi, vi = simulate(1)
    y, v = yi[0], vi[0]
    ours, peer, ratio = paired(lambda: mk.rma(y, v, method="REML"),
                               lambda: combine_effects(y, v, method_re="iterated"), number=200)
    print(f"single fit k=12: rma REML {ours * 1e6:.0f} us, combine_effects PM {peer * 1e6:.0f} us"
          f", ratio {ratio:.2f} (target <= 1)")


def batch_vs_statsmodels() -> None:
    yi, vi = simulate(10_000)
    rows = slice(0, 1000)  # the loop peer on 1,000 rows, per fit
    print("rma_batch 10,000 x 12 against a combine_effects loop, per fit (target ratio <= 0.2):")
    for method in METHODS:
        peer_method = "iterated" if method in ITERATIVE else "chi2"
        ours, peer, ratio = paired(
            lambda: mk.rma_batch(yi, vi, method=method),
            lambda: [combine_effects(a, b, method_re=peer_method)
                     for a, b in zip(yi[rows], vi[rows])], rounds=3)
        ratio *= 1000 / len(yi)
        print(f"  {method:4s} {ours / len(yi) * 1e6:6.2f} us vs {peer / 1000 * 1e6:6.1f} us "
              f"({peer_method}), ratio {ratio:.3f}; {agreement(yi, vi, method)}")


def batch_vs_pymare() -> None:
    try:
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
    except ImportError:
        print("PyMARE not installed (pip install -e '.[bench]'): skipped")
        return
    print("rma_batch against PyMARE 0.0.13's vectorised estimators, 10,000 meta-analyses "
          "(target ratio <= 1):")
    peers = {("REML", "z"): lambda: VarianceBasedLikelihoodEstimator(
                 "REML", small_sample_correction="wald"),
             ("DL", "z"): lambda: DerSimonianLaird(small_sample_correction="wald"),
             ("REML", "knha"): lambda: VarianceBasedLikelihoodEstimator(
                 "REML", small_sample_correction="knapp-hartung")}
    for k in (12, 50):
        yi, vi = simulate(10_000, k=k)
        yt, vt, X = np.ascontiguousarray(yi.T), np.ascontiguousarray(vi.T), np.ones((k, 1))
        for (method, test), make in peers.items():
            ours, peer, ratio = paired(
                lambda: mk.rma_batch(yi, vi, method=method, test=test),
                lambda: make().fit(yt, vt, X).summary().get_fe_stats(), rounds=5)
            print(f"  k={k:2d} {method:4s} {test:4s} {ours / len(yi) * 1e6:6.2f} us/fit vs "
                  f"{peer / len(yi) * 1e6:6.2f} us/fit, ratio {ratio:.2f}; "
                  f"{agreement(yi, vi, method, test)}")


def qprofile() -> None:
    yi, vi = simulate(1, k=1000)
    X = np.ones((1000, 1))
    took = min(cpu(lambda: qprofile_ci(yi[0], vi[0], X), 5) for _ in range(3))
    print(f"qprofile_ci k=1000: {took * 1e3:.1f} ms (target < 20 ms)")


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout) for _ in range(5))


def main() -> None:
    warnings.simplefilter("ignore", RuntimeWarning)  # statsmodels' HKSJ sqrt of negatives
    single_fit()
    batch_vs_statsmodels()
    batch_vs_pymare()
    qprofile()
    plots, floor = import_time("metakit.plots"), import_time("matplotlib.figure")
    print(f"import metakit: {import_time('metakit'):.3f} s; import metakit.plots: {plots:.3f} s "
          f"(target < 0.5 s; matplotlib.figure alone {floor:.3f} s)")


if __name__ == "__main__":
    main()
