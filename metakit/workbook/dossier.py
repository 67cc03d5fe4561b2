"""A review's dossier: everything the paper printed and everything we decided, as data.

``data/<review>/`` holds

- ``review.yaml``: the paper's identity, the rules it states (model choice, minimum number of
  studies for a bias test, ...) and report options (:class:`ReviewMeta`);
- ``published.csv``: every printed number, as printed (text), one row per result;
- the study-level CSV files, each row with its ``source`` (:mod:`metakit.workbook.data`);
- ``analyses.yaml``: one entry per re-derivation or new analysis (:class:`Analysis`): which data
  rows, how the effect sizes are made, the authors' model, subgroups, the published rows it
  answers, figure options and whether it gets the robustness re-runs;
- ``checks.yaml``: the audit checks that a single published row cannot imply (parts against
  totals, subgroups against the overall, two printings of one number, weights), each with the
  source of its printed numbers (:class:`CheckSpec`).

:func:`load_dossier` reads and validates all of it; a file that breaks its schema raises
:class:`DossierError` naming the file, the entry and the key. The schemas are pydantic models, so
the same definitions validate, document (``ReviewMeta.model_json_schema()``) and type the dossier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from metakit.engine._text import quote
from metakit.workbook.data import load_review
from metakit.workbook.yamlfile import load_yaml

Scalar = Union[str, int, float, bool]
Selector = dict[str, Union[Scalar, list[Scalar]]]
MAX_YAML_BYTES = 1 << 20
"""Largest dossier YAML file read (1 MiB): a dossier is hand-written text."""


class DossierError(ValueError):
    """A dossier file breaks its schema; the message names file, entry and key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(_Model):
    """A rule the paper states, with where it states it."""

    value: Scalar
    source: str = Field(min_length=1)


class Options(_Model):
    """How the report presents this review (not what the paper printed)."""

    level: float = Field(95, gt=0, lt=100, description="confidence level of the paper, percent")
    favours: tuple[str, str] | None = Field(
        None, description="forest-plot labels under the left and right of the null line")
    percent: bool = Field(True, description="proportions shown in percent (else as fractions)")
    robust_method: str = Field("REML", description="τ² estimator of the robustness re-runs")
    proportion_transform: str | None = Field(
        None, description="transform of pooled proportions when the paper names none, e.g. PFT")
    proportion_assumption: str = Field(
        "", description="what choosing that transform assumes (recorded on its checks)")
    pi_dist: Literal["t", "z"] = Field(
        "t", description="reference distribution of prediction intervals implied by printed "
                         "I² (t on k - 2 df, or normal)")
    assumed_correlation: float | None = Field(
        None, ge=-1, le=1, description="within-patient correlation of before and after values "
                                       "assumed by paired analyses (effect.paired): an "
                                       "assumption, since such papers rarely report one")


class ReviewMeta(_Model):
    """``review.yaml``: the paper, its stated rules, the report's options."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    doi: str | None = None
    design: Literal["meta-analysis", "cohort", "trial", "other"]
    studies: str = ""
    software: str = ""
    seed: str | None = None
    source: str = Field(min_length=1)
    rules: dict[str, Rule] = Field(default_factory=dict)
    options: Options = Field(default_factory=Options)

    @property
    def model_rule(self) -> str | None:
        """The stated model-choice rule in :func:`metakit.audit.model_rule` syntax, if any."""
        rule = self.rules.get("model")
        return str(rule.value) if rule is not None and " if " in str(rule.value) else None


class Effect(_Model):
    """How the effect sizes of an analysis are made from its data rows."""

    measure: str = Field(description="escalc measure (OR, RR, MD, SMD, GEN, HR, PFT, PLO, PR ...)")
    source: Literal["ci", "counts", "means", "proportions", "published"] = Field(
        description="printed estimate and CI, 2x2 counts, means and SDs, events of n, or "
                    "printed summaries of published.csv")
    columns: dict[str, str] = Field(
        default_factory=dict, description="escalc argument -> data column, where the column "
                                          "is not named as the argument")
    add: float | None = None
    to: str | None = None
    drop00: bool | None = None
    paired: bool = Field(
        False, description="means of the same patients twice (before/after, n1i = n2i): the "
                           "variance of the change uses options.assumed_correlation")


class ModelSpec(_Model):
    """The model of an analysis: an ``rma`` method, ``MH``, or ``rule`` (the stated rule picks
    fixed or random from the fitted heterogeneity)."""

    method: str = "EE"
    random: str = Field("DL", description="the random-effects method the rule picks")
    test: Literal["z", "knha"] = "z"


class Answer(_Model):
    """Published rows that one fit of an analysis answers, and on which scale they are printed."""

    overall: list[str] = Field(default_factory=list)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    between: list[str] = Field(default_factory=list)
    scale: float = Field(1.0, gt=0, description="100 when the rows print percentages")

    @field_validator("overall", "between", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("groups", mode="before")
    @classmethod
    def _listify_groups(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @property
    def ids(self) -> list[str]:
        return [*self.overall, *(i for ids in self.groups.values() for i in ids), *self.between]


class Moderator(_Model):
    """A moderator of a meta-regression: a data column, optionally log-transformed."""

    column: str
    transform: Literal["none", "log", "log10"] = "none"
    label: str | None = None

    @property
    def name(self) -> str:
        """The moderator's name in tables and on the bubble plot's axis."""
        if self.label:
            return self.label
        return self.column if self.transform == "none" else f"{self.transform}({self.column})"


class Figure(_Model):
    """Forest-plot options of an analysis."""

    title: str | None = None
    xlabel: str | None = None
    favours: tuple[str, str] | None = None
    columns: dict[str, str] = Field(default_factory=dict,
                                    description="extra column heading -> data column")


class Analysis(_Model):
    """One entry of ``analyses.yaml``: a re-derivation (it answers published rows) or a new
    analysis (it answers none)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = Field(min_length=1)
    section: str = ""
    kind: str = "pool"
    data: str | None = None
    where: Selector = Field(default_factory=dict)
    exclude: Selector = Field(default_factory=dict)
    join: dict[str, str] = Field(
        default_factory=dict, description="data table -> key column: that table's columns "
                                          "(those the analysis table lacks) joined on the key")
    label: str = "study"
    subgroups: str | None = None
    moderators: list[Moderator] = Field(
        default_factory=list, description="moderators of a meta-regression (pool)")
    effect: Effect | None = None
    model: ModelSpec = Field(default_factory=ModelSpec)
    answers: list[Answer] = Field(default_factory=list)
    remarks: dict[str, str] = Field(default_factory=dict,
                                    description="published id -> remark on the re-derivation")
    note: str = Field("", description="remark on a new analysis (one that answers no row)")
    robustness: bool = False
    cluster: str | None = Field(
        None, description="the column naming each row's study when a study enters more than "
                          "once (time points, arms): the robustness re-runs add a three-level "
                          "model with random effects for study and for row within study")
    bias: bool = Field(False, description="Egger's test of the authors' fit (new row), from "
                                          "the paper's minimum k (rules.bias_min_k)")
    figure: Figure | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="options of the kind")
    source: str = ""

    @field_validator("answers", mode="before")
    @classmethod
    def _one_answer(cls, value: Any) -> Any:
        return [value] if isinstance(value, Mapping) else value

    @property
    def answered(self) -> list[str]:
        """Every published id this analysis answers, in order."""
        return [i for answer in self.answers for i in answer.ids]


class CheckSpec(_Model):
    """One entry of ``checks.yaml``: an audit check whose printed numbers come from several
    places. ``args`` hold printed text, ``@<analysis_id>.<column>`` references to
    ``published.csv``, or values taken from a data table (:func:`resolve`)."""

    check: str = Field(description="a check of metakit.audit or a registered forensic check")
    args: dict[str, Any] = Field(default_factory=dict)
    label: str = Field(min_length=1)
    source: str = Field(min_length=1, description="where the printed numbers are")
    result: list[str] = Field(default_factory=list,
                              description="published rows whose verdict this check sets")
    section: str = ""
    assumption: str = ""
    kind: Literal["arithmetic", "rule"] = "arithmetic"

    @field_validator("result", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


@dataclass(frozen=True)
class Dossier:
    """A loaded, validated dossier.

    Attributes
    ----------
    path : Path
        The dossier folder.
    meta : ReviewMeta
        ``review.yaml``.
    tables : dict of str to DataFrame
        Every CSV by file stem, validated (``published`` as printed text).
    analyses : tuple of Analysis
        ``analyses.yaml``.
    checks : tuple of CheckSpec
        ``checks.yaml``.
    """

    path: Path
    meta: ReviewMeta
    tables: dict[str, pd.DataFrame]
    analyses: tuple[Analysis, ...]
    checks: tuple[CheckSpec, ...]
    _joins: dict[tuple[str, tuple[tuple[str, str], ...]], pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def published(self) -> pd.DataFrame:
        """``published.csv`` indexed by ``analysis_id`` (text as printed)."""
        return self.tables["published"].set_index("analysis_id", drop=False)

    def table(self, name: str) -> pd.DataFrame:
        """A data table by file stem; the error names the dossier and the tables it has."""
        if name not in self.tables:
            raise DossierError(f"{self.path.name}: no data file {name}.csv (have "
                               f"{', '.join(sorted(self.tables))})")
        return self.tables[name]

    def select(self, name: str, where: Selector | None = None,
               exclude: Selector | None = None,
               join: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Rows of a data table matching every ``where`` (column -> value or list of values)
        and no ``exclude`` condition, in file order; ``join`` (table -> key column) first adds
        the columns of other tables that this one lacks, matched on the key."""
        frame = self._joined(name, join or {})
        keep = pd.Series(True, index=frame.index)
        for conditions, wanted in ((where or {}, True), (exclude or {}, False)):
            for column, value in conditions.items():
                if column not in frame.columns:
                    raise DossierError(f"{self.path.name}/{name}.csv: no column {column!r} to "
                                       f"select on")
                values = value if isinstance(value, list) else [value]
                hit = frame[column].astype(str).isin([str(v) for v in values])
                keep &= hit if wanted else ~hit
        return frame[keep]

    def _joined(self, name: str, join: Mapping[str, str]) -> pd.DataFrame:
        """The table with the joined columns, made once per table and join (the tables of a
        loaded dossier do not change)."""
        cache_key = (name, tuple(join.items()))
        if cache_key not in self._joins:
            self._joins[cache_key] = self._join(name, join)
        return self._joins[cache_key]

    def _join(self, name: str, join: Mapping[str, str]) -> pd.DataFrame:
        frame = self.table(name)
        for other, key in join.items():
            right = self.table(other)
            for table, columns in ((name, frame.columns), (other, right.columns)):
                if key not in columns:
                    raise DossierError(f"{self.path.name}/{table}.csv: no column {key!r} to "
                                       f"join on")
            if right[key].duplicated().any():
                raise DossierError(f"{self.path.name}/{other}.csv: column {key!r} repeats "
                                   f"{right[key][right[key].duplicated()].iloc[0]!r}, so it "
                                   f"cannot be joined on")
            added = [c for c in right.columns if c not in frame.columns]
            frame = frame.join(right.set_index(key)[added], on=key)
        return frame


def _read_yaml(path: Path, *, required: bool) -> Any:
    if not path.is_file():
        if required:
            raise DossierError(f"{path.parent.name}/{path.name}: missing (every dossier needs it)")
        return None
    if path.stat().st_size > MAX_YAML_BYTES:
        raise DossierError(f"{path.parent.name}/{path.name}: larger than {MAX_YAML_BYTES} bytes")
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        where = getattr(error, "problem_mark", None)
        line = f", line {where.line + 1}" if where is not None else ""
        raise DossierError(f"{path.parent.name}/{path.name}{line}: not readable YAML "
                           f"({str(error).splitlines()[0][:80]})") from None


def _validated(model: type[_Model], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        shown = "" if first["type"] == "missing" else f" (got {quote(first.get('input'))})"
        raise DossierError(f"{where}, key {key}: {first['msg'].lower()}{shown}") from None


def _entries(path: Path, key: str, model: type[_Model]) -> tuple[Any, ...]:
    data = _read_yaml(path, required=False)
    if data is None:
        return ()
    name = f"{path.parent.name}/{path.name}"
    if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
        raise DossierError(f"{name}: expected a mapping with a list under {key!r}")
    entries = []
    for i, item in enumerate(data[key]):
        label = item.get("id") or item.get("label") if isinstance(item, Mapping) else None
        where = f"{name}, entry {i + 1}" + (f" ({quote(label)})" if label else "")
        entries.append(_validated(model, item, where))
    return tuple(entries)


_REFERENCE = re.compile(r"^@([A-Za-z0-9_.-]+)\.([a-z_0-9]+)$")
RULES = "rules"
"""``"@rules.<name>"`` in ``checks.yaml`` is the value of a rule stated in ``review.yaml``."""


def _check_references(dossier: Dossier) -> None:
    """Every published id an analysis or check names exists; each is answered at most once."""
    ids = set(dossier.published.index)
    answered: dict[str, str] = {}
    for analysis in dossier.analyses:
        for pid in analysis.answered:
            if pid not in ids:
                raise DossierError(f"{dossier.path.name}/analyses.yaml, {analysis.id}: answers "
                                   f"{pid!r}, which is not in published.csv")
            if pid in answered:
                raise DossierError(f"{dossier.path.name}/analyses.yaml, {analysis.id}: {pid!r} "
                                   f"is already answered by {answered[pid]}")
            answered[pid] = analysis.id
        for table in ([analysis.data] if analysis.data is not None else []) + list(analysis.join):
            dossier.table(table)
    for spec in dossier.checks:
        references = [m.groups() for value in _flat(spec.args) if isinstance(value, str)
                      for m in [_REFERENCE.match(value)] if m]
        for name in (column for pid, column in references if pid == RULES):
            if name not in dossier.meta.rules:
                raise DossierError(f"{dossier.path.name}/checks.yaml, {quote(spec.label)}: "
                                   f"refers to the rule {name!r}, which review.yaml does not "
                                   f"state")
        named = list(spec.result) + [pid for pid, _ in references if pid != RULES]
        for pid in named:
            if pid not in ids:
                raise DossierError(f"{dossier.path.name}/checks.yaml, {quote(spec.label)}: "
                                   f"refers to {pid!r}, which is not in published.csv")


def _flat(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [x for v in value.values() for x in _flat(v)]
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]


def load_dossier(path: str | Path) -> Dossier:
    """Read and validate the dossier in folder ``path``.

    Raises
    ------
    DossierError
        A missing or malformed ``review.yaml``, ``analyses.yaml`` or ``checks.yaml`` (naming
        file, entry and key), or a reference to a published row or data file that does not exist.
    metakit.workbook.data.DataError
        A CSV file that breaks the data contract (naming file, row and column).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DossierError(f"{folder}: no dossier folder")
    meta = _validated(ReviewMeta, _read_yaml(folder / "review.yaml", required=True),
                      f"{folder.name}/review.yaml")
    tables = load_review(meta.id, folder)
    if "published" not in tables:
        raise DossierError(f"{folder.name}/published.csv: missing (every dossier needs it)")
    dossier = Dossier(folder, meta, tables,
                      _entries(folder / "analyses.yaml", "analyses", Analysis),
                      _entries(folder / "checks.yaml", "checks", CheckSpec))
    ids = [a.id for a in dossier.analyses]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise DossierError(f"{folder.name}/analyses.yaml: id {duplicated[0]!r} is used twice")
    _check_references(dossier)
    return dossier
