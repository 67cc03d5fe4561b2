"""Run the checks of ``checks.yaml``: audit checks whose printed numbers come from several places.

Each entry names a check (a function of :mod:`metakit.audit`, or a forensic check registered
with :func:`check`) and its arguments. An argument is

- printed text, quoted so that its decimals are kept (``"0.50"``; an unquoted ``0.5`` is
  refused, since YAML would drop the printed zero), or a whole number (a count, a df);
- ``"@<analysis_id>.<column>"``: a cell of ``published.csv`` as printed;
- ``"@rules.<name>"``: the value of a rule the paper states (``review.yaml``), as text;
- ``{count: TABLE, where: {...}}``: how many rows of a data table match (a count as text);
- ``{sum: TABLE.COLUMN, where: {...}}``: the sum of a column (as text);
- ``{values: TABLE.COLUMN, where: {...}}``: the column's values, as a list of text;
- ``{min: TABLE.COLUMN}``, ``{max: TABLE.COLUMN}`` (with ``where``): its extremes (as text);
- ``{harmonic_mean: TABLE.COLUMN, where: {...}}``: a harmonic mean of study sizes (a number);
- ``join: {TABLE: KEY}`` beside any of these: that table's columns are added first, matched on
  the key column (:meth:`~metakit.workbook.dossier.Dossier.select`);
- ``{freeman_tukey: N}``: the Freeman-Tukey scale at harmonic-mean size ``N`` (a number or a
  ``harmonic_mean`` argument);
- a list of any of these.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from metakit import audit
from metakit.audit import Check
from metakit.audit._core import make_check
from metakit.workbook.dossier import RULES, CheckSpec, Dossier, DossierError

CheckFunction = Callable[..., Check]
CHECKS: dict[str, CheckFunction] = {}
"""Forensic checks beyond :mod:`metakit.audit`, by name (see :func:`check`)."""


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a forensic check (a function returning a :class:`~metakit.audit.Check`)."""
    def register(function: CheckFunction) -> CheckFunction:
        CHECKS[name] = function
        return function
    return register


def whole_number(name: str, value: Any) -> int:
    """A count given to a check as printed text or a whole number (``"11"``, ``11``)."""
    try:
        number = math.nan if isinstance(value, bool) else float(str(value).strip())
    except ValueError:
        number = math.nan
    if not number.is_integer() or number < 0:
        raise ValueError(f"{name}: must be a whole number, got {value!r}")
    return int(number)


@check("min_k")
def min_k(k: Any, minimum: Any, *, label: str = "") -> Check:
    """A paper's stated minimum number of studies for an analysis (e.g. "publication bias was
    assessed only when more than 10 studies were included": ``minimum`` 11) against the number
    ``k`` the analysis was run on. A ``rule`` check: its failure is a deviation from the paper's
    own method, not a contradiction between numbers.

    References
    ----------
    Sterne, J. A. C., et al. (2011). Recommendations for examining and interpreting funnel plot
    asymmetry in meta-analyses of randomised controlled trials. BMJ, 343, d4002 (tests for
    funnel-plot asymmetry only with at least 10 studies).
    """
    studies, needed = whole_number("k", k), whole_number("minimum", minimum)
    ok = studies >= needed
    return make_check("min_k", {"k": k, "minimum": minimum}, (studies, studies),
                      "consistent" if ok else "inconsistent",
                      f"The paper's own rule allows this analysis with at least {needed} "
                      f"studies; it was run on {studies}"
                      + (", as allowed." if ok else ", which the rule does not allow."),
                      label, kind="rule")


def _audit_function(name: str, where: str) -> CheckFunction:
    if name in CHECKS:
        return CHECKS[name]
    if name in audit.__all__ and name not in ("audit_table", "battery",
                                               "df_range", "measure_scale", "is_proportion",
                                               "rule_choice", "assumed_df") \
            and callable(getattr(audit, name)) and name[0].islower():
        return getattr(audit, name)
    known = sorted({n for n in audit.__all__ if n[0].islower()} | set(CHECKS))
    raise DossierError(f"{where}: unknown check {name!r} (known: {', '.join(known)})")


def _column(dossier: Dossier, reference: Any, where: str,
            join: Mapping[str, str] | None = None) -> tuple[str, str]:
    if not isinstance(reference, str) or reference.count(".") != 1:
        raise DossierError(f"{where}: expected TABLE.COLUMN, got {reference!r}")
    table, column = reference.split(".")
    columns = set(dossier.table(table).columns)
    for other in join or {}:
        columns |= set(dossier.table(other).columns)
    if column not in columns:
        raise DossierError(f"{where}: {table}.csv has no column {column!r}")
    return table, column


def _text(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def resolve(dossier: Dossier, value: Any, where: str) -> Any:
    """One argument of a check, resolved to printed text, lists of text or numbers."""
    if isinstance(value, list):
        return [resolve(dossier, v, where) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        raise DossierError(f"{where}: the number {value!r} must be quoted ('{value}') so that "
                           f"its printed decimals are kept")
    if isinstance(value, str) and value.startswith(f"@{RULES}."):
        rule = dossier.meta.rules.get(value.split(".", 1)[1])
        if rule is None:
            raise DossierError(f"{where}: {value!r} names no rule of review.yaml")
        return str(rule.value)
    if isinstance(value, str) and value.startswith("@"):
        pid, _, column = value[1:].rpartition(".")
        published = dossier.published
        if pid not in published.index or column not in published.columns:
            raise DossierError(f"{where}: {value!r} names no cell of published.csv")
        cell = published.loc[pid, column]
        return None if pd.isna(cell) else str(cell)
    if isinstance(value, Mapping):
        return _derived(dossier, value, where)
    return value


def _derived(dossier: Dossier, spec: Mapping[str, Any], where: str) -> Any:
    if "freeman_tukey" in spec:
        n = resolve(dossier, spec["freeman_tukey"], where)
        return audit.FreemanTukey(float(n))
    operations = [key for key in ("count", "sum", "values", "min", "max", "harmonic_mean")
                  if key in spec]
    if len(operations) != 1 or set(spec) - {operations[0] if operations else "", "where",
                                            "exclude", "join"}:
        raise DossierError(f"{where}: cannot read {dict(spec)!r}; use one of count, sum, values, "
                           f"min, max, harmonic_mean (with where/exclude/join) or freeman_tukey")
    operation = operations[0]
    selection = (spec.get("where"), spec.get("exclude"), spec.get("join"))
    if operation == "count":
        return str(len(dossier.select(spec["count"], *selection)))
    table, column = _column(dossier, spec[operation], where, spec.get("join"))
    rows = dossier.select(table, *selection)
    if operation == "values":
        return [None if pd.isna(v) else str(v) for v in rows[column]]
    numbers = pd.to_numeric(rows[column], errors="coerce")
    if numbers.isna().any() or numbers.empty:
        raise DossierError(f"{where}: {table}.{column} has rows without a number for {operation}")
    if operation in ("sum", "min", "max"):
        return _text(getattr(numbers, operation)())
    return float(1 / np.mean(1 / numbers.to_numpy(float)))


def run_check(dossier: Dossier, spec: CheckSpec, index: int) -> Check:
    """Run one ``checks.yaml`` entry; its label, assumption and kind come from the entry."""
    where = f"{dossier.path.name}/checks.yaml, entry {index + 1} ({spec.label[:40]!r})"
    function = _audit_function(spec.check, where)
    arguments = {key: resolve(dossier, value, f"{where}, key args.{key}")
                 for key, value in spec.args.items()}
    try:
        result = function(**arguments, label=spec.label)
    except TypeError as error:
        raise DossierError(f"{where}: {spec.check} cannot take these arguments "
                           f"({str(error).split(') ')[-1][:80]})") from None
    except ValueError as error:
        raise DossierError(f"{where}: {error}") from None
    return dataclasses.replace(result, assumption=spec.assumption or result.assumption,
                               kind="rule" if spec.kind == "rule" else result.kind)


def run_checks(dossier: Dossier) -> list[tuple[CheckSpec, Check]]:
    """Every ``checks.yaml`` entry with its result, in file order."""
    return [(spec, run_check(dossier, spec, i)) for i, spec in enumerate(dossier.checks)]
