"""Specificity and sensitivity of ``metakit scan`` (issue targets: no false alarm on 10,000
correctly rounded results; >= 95% of seeded estimate, CI and p errors flagged).

Run: ``.venv/bin/python benchmarks/bench_scan_validation.py [--results 10000] [--errors 2000]``.

Correctly rounded results are real fits: of random subsets of the 13 BCG vaccine trials (real
data) and of k simulated studies, pooled with ``metakit.rma`` (DL or REML), then printed as a
paper would print them (estimate and CI to 2 or 3 decimals, ratios back-transformed, p to 3
decimals or ``<0.001``, I² in percent as (Q - df)/Q, Q with its df), each in one of several
notations, 50 results to a synthetic paper. The scan reads every paper end to end (extraction
and audit):

- specificity: how many of the correct results the audit calls inconsistent (target 0), and how
  many the extractor misses;
- sensitivity: one error seeded per result (one printed digit of the estimate, a CI bound, p,
  I² or Q changed to another digit, or the p-values of two results swapped), counting how often
  the scan flags the result as inconsistent, per error type.

The same errors are also seeded into the rows of the five seed papers that the scan found
consistent (row level: the battery on the edited row), when the seeds are available.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from pathlib import Path

import numpy as np

import metakit as mk
from metakit.audit import battery
from metakit.scan import scan_text
from metakit.workbook.results import audit_verdict

ROOT = Path(__file__).resolve().parent.parent
RATIOS = ("OR", "RR", "HR")
WORDS = {"OR": "odds ratio", "RR": "risk ratio", "HR": "hazard ratio", "MD": "mean difference",
         "SMD": "standardized mean difference"}
TEMPLATES = (
    "Pooling {k} studies gave {label} = {est}, 95% CI [{lo}, {hi}], p = {p}; I² = {i2}%, "
    "Q = {q}, df = {df}, p = {qp}.",
    "The effect was clear ({label} {est}; 95% CI {lo} to {hi}; P = {p}; Chi² = {q}, df = {df} "
    "(P = {qp}); I² = {i2}%).",
    "Across {k} trials the pooled {word} was {est} (95% CI: {lo}–{hi}; p = {p}), with "
    "heterogeneity Q = {q} on {df} degrees of freedom (p = {qp}; I2 = {i2}%).",
    "Compared with control ({label}: {est}; 95% CI [{lo}, {hi}]; p = {p}; heterogeneity test "
    "Q = {q}, df = {df}, p = {qp}; I² = {i2}%).",
)
FIELDS = {"estimate": "est", "ci_low": "lo", "ci_high": "hi", "p_value": "p", "i2": "i2",
          "q": "q"}


def _fixed(x: float, decimals: int) -> str:
    text = f"{x:.{decimals}f}"
    return "0." + "0" * decimals if text.startswith("-") and float(text) == 0 else text


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else _fixed(p, 3)


def simulate(rng: np.random.Generator, *, i2: str = "higgins") -> dict[str, str]:
    """One pooled result of simulated studies, printed.

    ``i2="higgins"`` prints I² = (Q - df) / Q as RevMan and Stata do; ``i2="fit"`` prints the
    fit's own I² (metafor's, from tau², which differs from (Q - df) / Q for REML).
    """
    measure = str(rng.choice(["MD", "SMD", *RATIOS]))
    k = int(rng.integers(3, 25))
    vi = rng.uniform(0.005, 0.15, k)
    tau = float(rng.choice([0.0, 0.1, 0.3]))
    theta = float(rng.normal(0, 0.4))
    yi = rng.normal(theta, np.sqrt(vi + tau ** 2))
    fit = mk.rma(yi, vi, method=str(rng.choice(["DL", "REML"])))
    return printed(measure, fit, k, rng, i2=i2)


def printed(measure: str, fit, k: int, rng: np.random.Generator, *, i2: str = "higgins"
            ) -> dict[str, str]:
    """A fit printed as a paper prints it (see :func:`simulate`)."""
    decimals = 2 if rng.random() < 0.8 else 3
    transform = math.exp if measure in RATIOS else (lambda x: x)
    est, lo, hi = (transform(v) for v in (fit.estimate, fit.ci_low, fit.ci_high))
    if measure in RATIOS and lo < 10 ** -decimals:
        decimals += 1  # a bound printed as 0.00 is off the log scale
    return {"measure": measure, "label": measure, "word": WORDS[measure], "k": str(k),
            "df": str(k - 1), "est": _fixed(est, decimals), "lo": _fixed(lo, decimals),
            "hi": _fixed(hi, decimals), "p": _p(fit.pval), "q": _fixed(fit.q, 2),
            "qp": _p(fit.q_pval), "i2": _fixed(
                max(0.0, 100 * (fit.q - (k - 1)) / fit.q) if i2 == "higgins" else fit.i2,
                1 if rng.random() < 0.5 else 0),
            "template": str(int(rng.integers(len(TEMPLATES))))}


def real_data(rng: np.random.Generator, count: int) -> list[dict[str, str]]:
    """Fits of real trials: random subsets of the 13 BCG vaccine trials (Colditz et al. 1994,
    metafor's dat.bcg), as risk and odds ratios."""
    import pandas as pd

    trials = pd.read_csv(ROOT / "tests" / "fixtures" / "bcg" / "studies.csv")
    out = []
    for _ in range(count):
        chosen = trials.sample(int(rng.integers(3, len(trials) + 1)),
                               random_state=int(rng.integers(2 ** 31)))
        measure = str(rng.choice(["RR", "OR"]))
        es = mk.escalc(measure, ai=chosen.ai, bi=chosen.bi, ci=chosen.ci, di=chosen.di)
        fit = mk.rma(es.yi.to_numpy(), es.vi.to_numpy(), method=str(rng.choice(["DL", "REML"])))
        out.append(printed(measure, fit, len(chosen), rng))
    return out


def sentence(result: dict[str, str]) -> str:
    return TEMPLATES[int(result["template"])].format(**result)


def scan_results(results: list[dict[str, str]]) -> list[dict[str, str] | None]:
    """The scanned row of each result (``None`` when the extractor missed it), 50 to a paper."""
    out: list[dict[str, str] | None] = []
    for start in range(0, len(results), 50):
        chunk = results[start:start + 50]
        rows = scan_text("\n".join(sentence(r) for r in chunk))
        by_numbers = {(r["estimate"], r["ci_low"], r["ci_high"]): r for r in rows}
        out += [by_numbers.get((r["est"], r["lo"], r["hi"])) for r in chunk]
    return out


def flagged(row: dict[str, str] | None) -> bool:
    return row is not None and row["verdict"] == "inconsistent"


def refused(row: dict[str, str] | None) -> bool:
    """A printed value no result can have (p above 1): the battery refuses to check it and
    the scan lists the row as unread with that reason."""
    return row is not None and row["verdict"] == "unread" and \
        row["note"].startswith("cannot be checked")


def change_digit(text: str, rng: np.random.Generator) -> str | None:
    """``text`` with one of its digits replaced by another digit (``None`` if it has none)."""
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if not digits:
        return None
    i = int(rng.choice(digits))
    new = str(int(rng.choice([d for d in range(10) if str(d) != text[i]])))
    return text[:i] + new + text[i + 1:]


def last_digit_changed(before: str, after: str) -> bool:
    return next(i for i, (a, b) in enumerate(zip(before, after)) if a != b) == \
        max(i for i, c in enumerate(before) if c.isdigit())


def seeded_errors(results: list[dict[str, str]], rng: np.random.Generator
                  ) -> dict[str, list[dict[str, str]]]:
    errors: dict[str, list[dict[str, str]]] = {name: [] for name in (*FIELDS, "swapped p")}
    for i, result in enumerate(results):
        for field, key in FIELDS.items():
            edited = change_digit(result[key], rng)
            if edited is not None and edited != result[key] and not edited.startswith("<"):
                if field == "i2" and float(edited) > 100:
                    continue  # an I² over 100% is no plausible misprint
                errors[field].append({**result, key: edited,
                                      "_last": str(last_digit_changed(result[key], edited))})
        other = results[(i + 1) % len(results)]
        if other["p"] != result["p"]:
            errors["swapped p"].append({**result, "p": other["p"]})
    return errors


def _row_level(rng: np.random.Generator) -> dict[str, tuple[int, int, int]] | None:
    """Seeded errors in the consistent rows of the five seeds (battery on the edited row)."""
    import yaml

    seeds = ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        return None
    rows = []
    for review in ("iua", "por", "nonunion", "cirrhosis", "ovarian"):
        seed = yaml.safe_load((ROOT / "data" / review / "review.yaml").read_text())["seed"]
        rows += [r for r in scan_text((seeds / seed).read_text()) if r["verdict"] ==
                 "consistent"]
    counts: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        edits = [(f, change_digit(row[f], rng)) for f in FIELDS if row[f]]
        other = rows[(i + 1) % len(rows)]["p_value"]
        if row["p_value"] and other and other != row["p_value"]:
            edits.append(("swapped p", other))
        for field, value in edits:
            key = "p_value" if field == "swapped p" else field
            if value is None or value == row[key]:
                continue
            try:
                verdict = audit_verdict(battery({**row, key: value}))[0]
            except ValueError:
                verdict = "refused"
            counts.setdefault(field, [0, 0, 0])
            counts[field][0] += verdict == "inconsistent"
            counts[field][1] += verdict == "refused"
            counts[field][2] += 1
    return {k: (v[0], v[1], v[2]) for k, v in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--errors", type=int, default=2_000)
    parser.add_argument("--real", type=int, default=500,
                        help="how many of the results are fits of real trials (BCG subsets)")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    real = real_data(rng, args.real)
    results = real + [simulate(rng) for _ in range(args.results - len(real))]
    rows = scan_results(results)
    missed = sum(r is None for r in rows)
    alarms = [(res, row) for res, row in zip(results, rows) if flagged(row)]
    verdicts = Counter(row["verdict"] for row in rows if row is not None)
    print(f"specificity: {len(results)} correctly rounded results ({len(real)} fits of real "
          f"trials, the rest of simulated ones), "
          f"{len(results) - missed} extracted, {missed} missed by the extractor")
    print(f"  verdicts: {dict(verdicts)}; false alarms: {len(alarms)} (target 0)")
    for res, row in alarms[:5]:
        print(f"    {sentence(res)}\n      -> {row['note'][:200]}")
    print(f"sensitivity: one error seeded into each of {args.errors} of them")
    mixed = results[:args.errors // 4] + results[len(real):len(real) + args.errors
                                                  - args.errors // 4]
    errors = seeded_errors(mixed, rng)
    for name, variants in errors.items():
        scanned = scan_results(variants)
        hits = sum(flagged(r) for r in scanned)
        impossible = sum(refused(r) for r in scanned)
        lost = sum(r is None for r in scanned)
        target = " (target >= 95%)" if name in ("estimate", "ci_low", "ci_high", "p_value",
                                              "swapped p") else ""
        last = [flagged(r) for r, v in zip(scanned, variants) if v.get("_last") == "True"]
        other = [flagged(r) for r, v in zip(scanned, variants) if v.get("_last") == "False"]
        split = (f"; last digit {sum(last)}/{len(last)}, other digits {sum(other)}/{len(other)}"
                 if last and other else "")
        print(f"  {name:10} flagged {hits}/{len(variants)} = {hits / len(variants):.1%}"
              f"{target}{split}; refused as impossible: {impossible}; not extracted after "
              f"the edit: {lost}")
    reml = [simulate(rng, i2="fit") for _ in range(min(args.results, 2000))]
    reml_alarms = sum(flagged(r) for r in scan_results(reml))
    print(f"the same with the fit's own I² (metafor prints I² from tau², not (Q - df)/Q): "
          f"{reml_alarms} of {len(reml)} flagged; the battery's I² checks assume (Q - df)/Q")
    level = _row_level(rng)
    if level:
        print("seeded errors in the consistent rows of the five seeds (row level):")
        for name, (hits, impossible, total) in level.items():
            print(f"  {name:10} flagged {hits}/{total} = {hits / total:.1%}; refused as "
                  f"impossible: {impossible}")


if __name__ == "__main__":
    main()
