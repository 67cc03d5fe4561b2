"""Speed of the GLMM for proportions and the three-level model against metafor (issue 19).

Run: ``.venv/bin/python benchmarks/bench_glmm_mv.py``. Times, in one run and on the same data:

* ``metaprop(method="GLMM")`` on the non-union Fig. 5 complication counts (k = 21, fourteen 0/n
  studies) against ``rma.glmm(measure = "PLO")`` (lme4, 7-point AGQ);
* ``rma_mv`` on 16 estimates in 11 studies (``dat.konstantopoulos2011``, first schools of each
  district) against ``rma.mv(random = ~ 1 | study/es)``, fit alone and fit plus the
  profile-likelihood CIs of both variance components (metafor's ``confint``).

Target: metakit no slower than metafor (ratio <= 1). metafor is timed by
``benchmarks/bench_glmm_mv.R`` (many fits in one R process, per-fit seconds, default controls);
without ``Rscript`` only metakit's times are printed.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench_engine import cpu

import metakit as mk

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "glmm_mv_reference.json"
R_REPEATS = 50


def median_time(func, number: int, rounds: int = 5) -> float:
    """Median CPU seconds a call over ``rounds`` rounds of ``number`` calls (after one warm-up)."""
    func()
    return statistics.median(cpu(func, number) for _ in range(rounds))


def metafor_times(data: dict) -> dict[str, float] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(data, handle)
    try:
        out = subprocess.run(["Rscript", str(ROOT / "benchmarks" / "bench_glmm_mv.R"),
                              handle.name, str(R_REPEATS)], capture_output=True, text=True,
                             check=True).stdout
    finally:
        Path(handle.name).unlink()
    return {name: float(value) for name, value in (line.split() for line in out.splitlines())}


def main() -> None:
    ref = json.loads(FIXTURE.read_text())
    props = ref["glmm"]["nonunion_fig5"]
    multi = ref["mv"]["konstantopoulos2011_16_reml"]
    x, n = props["xi"], props["ni"]
    y, v, study = multi["yi"], multi["vi"], multi["study"]
    ours = {
        "glmm": median_time(lambda: mk.metaprop(x, n, method="GLMM"), number=20),
        "mv": median_time(lambda: mk.rma_mv(y, v, study=study), number=20),
        "mv_ci": median_time(lambda: mk.rma_mv(y, v, study=study).sigma2_ci, number=3),
    }
    theirs = metafor_times({"glmm": {"xi": x, "ni": n}, "mv": {"yi": y, "vi": v,
                                                                "study": study}})
    labels = {"glmm": f"GLMM, k = {len(x)}", "mv": f"rma_mv, {len(y)} estimates in "
              f"{len(set(study))} studies", "mv_ci": "rma_mv + profile CIs of both components"}
    for key, label in labels.items():
        line = f"{label}: metakit {ours[key] * 1e3:.2f} ms"
        if theirs is not None:
            line += (f", metafor {theirs[key] * 1e3:.2f} ms, ratio {ours[key] / theirs[key]:.3f}"
                     " (target <= 1)")
        print(line)
    if theirs is None:
        print("Rscript not found: metafor not timed")


if __name__ == "__main__":
    main()
