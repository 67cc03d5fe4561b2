"""The generic runner: a dossier in, the results table, the robustness table and the findings out.

:func:`run` loads a review's dossier (:mod:`metakit.workbook.dossier`) and

1. runs every entry of ``analyses.yaml`` with its kind (:mod:`metakit.workbook.analyses`): the
   published rows it answers are ``reproduced``, ``discrepant`` or ``deviates``, its own rows
   ``new``;
2. runs every entry of ``checks.yaml`` (:mod:`metakit.workbook.crosschecks`);
3. audits every other published row with :func:`metakit.audit.battery` and the cross checks
   that name it, so that every published row appears exactly once: ``consistent``,
   ``inconsistent`` (firm or conditional), ``deviates`` or, with nothing to check,
   ``not_reproducible``;
4. re-runs every analysis flagged ``robustness`` under modern defaults
   (:mod:`metakit.workbook.robustness`).

The :class:`Review` it returns holds all of it, and shows each table and figure for a notebook.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from metakit import audit
from metakit.audit import Check
from metakit.workbook import analyses as kinds
from metakit.workbook import format as formatting
from metakit.workbook import summary
from metakit.workbook import kinds as _registered  # noqa: F401  (registers the family kinds)
from metakit.workbook.analyses import Fitted
from metakit.workbook.crosschecks import run_checks
from metakit.workbook.data import review_dir
from metakit.workbook.dossier import (
    Analysis, CheckSpec, Dossier, DossierError, Options, load_dossier,
)
from metakit.workbook.report import checks_table, sources, verdict_counts, verdict_table
from metakit.workbook.results import ResultsTable
from metakit.workbook.robustness import bias_rows, robustness_rows, trims_and_fills

PRISMA_LISTS = {"excluded_reason": "excluded_full_text",
                "excluded_screening_reason": "excluded_screening", "identified_source": None}
"""``prisma.csv`` boxes whose rows are listed one by one -> the box their sum gives."""


@dataclass
class Context:
    """What a kind needs while it runs: the dossier, the level, the results table's row maker."""

    dossier: Dossier
    results: ResultsTable

    @property
    def name(self) -> str:
        return self.dossier.path.name

    @property
    def level(self) -> float:
        return self.dossier.meta.options.level

    def where(self, analysis: Analysis) -> str:
        """Where an analysis is, for an error message (``iua/analyses.yaml, emt``)."""
        return f"{self.name}/analyses.yaml, {analysis.id}"

    def published_row(self, pid: str) -> dict[str, Any]:
        """A row of ``published.csv`` as printed text (empty cells as ``None``)."""
        published = self.dossier.published
        if pid not in published.index:
            raise DossierError(f"{self.name}: no published row {pid!r}")
        return {k: (None if pd.isna(v) else v) for k, v in published.loc[pid].items()}

    def battery(self, pid: str) -> list[Check]:
        """Every check the printed numbers of one published row allow, with the stated rule."""
        row = self.published_row(pid)
        options = self.dossier.meta.options
        scale, assumption = None, ""
        if audit.is_proportion(row.get("measure")) and options.proportion_transform == "logit":
            scale, assumption = "logit", options.proportion_assumption
        return audit.battery(row, rule=self.dossier.meta.model_rule, level=self.level,
                             scale=scale, scale_assumption=assumption)

    def rule_checks(self, pid: str) -> list[Check]:
        """The stated-rule check of one published row (for re-derived rows)."""
        return [c for c in self.battery(pid) if c.kind == "rule"]


@dataclass
class Review:
    """A review run from its dossier.

    Attributes
    ----------
    dossier : Dossier
        The dossier it was run from.
    results : ResultsTable
        Every published row once (in ``published.csv`` order), then the ``new`` rows.
    fitted : dict of str to Fitted
        Each analysis of ``analyses.yaml`` by id.
    checks : dict of str to list of Check
        The audit checks of each published row that was audited (battery and cross checks), and
        those a kind ran on its own rows (:attr:`Fitted.checks`).
    cross : list of (CheckSpec, Check)
        Every ``checks.yaml`` entry with its result.
    robustness : DataFrame
        The robustness table (one row per re-run fit).
    bias : DataFrame
        Egger's test of every analysis flagged ``bias``.
    """

    dossier: Dossier
    results: ResultsTable
    fitted: dict[str, Fitted]
    checks: dict[str, list[Check]]
    cross: list[tuple[CheckSpec, Check]]
    robustness: pd.DataFrame = field(default_factory=pd.DataFrame)
    bias: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def id(self) -> str:
        return self.dossier.meta.id

    def frame(self) -> pd.DataFrame:
        """The results table as a DataFrame (the ``results.csv`` contract)."""
        return self.results.frame()

    def fit(self, analysis_id: str) -> Fitted:
        """One analysis's fits, by its ``analyses.yaml`` id."""
        if analysis_id not in self.fitted:
            raise KeyError(f"analysis_id: no analysis {analysis_id!r} in "
                           f"{self.dossier.path.name}/analyses.yaml")
        return self.fitted[analysis_id]

    def all_checks(self) -> list[Check]:
        """Every audit check run: per-row batteries and kinds' checks, then the cross checks."""
        return _once([*(c for checks in self.checks.values() for c in checks),
                      *(c for _, c in self.cross)])

    def write(self, output_dir: str | os.PathLike[str] | None) -> Path | None:
        """Write ``results.csv`` into ``output_dir`` (nothing when it is empty)."""
        return self.results.write(output_dir) if output_dir else None

    # ------------------------------------------------------------------ what a notebook shows
    def section_of(self) -> dict[str, str]:
        """Results-table row id -> the dossier section it belongs to."""
        sections: dict[str, str] = {}
        published = self.dossier.published
        if "section" in published.columns:
            sections.update(published["section"].dropna().astype(str).to_dict())
        for spec, _ in self.cross:
            for pid in spec.result:
                sections.setdefault(pid, spec.section)
        for analysis_id, fitted in self.fitted.items():
            for row in fitted.results:
                sections.setdefault(row["analysis_id"], fitted.analysis.section)
        by_length = sorted(self.fitted, key=len, reverse=True)
        for row in self.results.rows:
            rid = row["analysis_id"]
            base = next((a for a in by_length if rid.startswith(a + "_")), None)
            if base is not None:
                sections.setdefault(rid, self.fitted[base].analysis.section)
        return {k: v for k, v in sections.items() if v}

    def rows(self, section: str | None = None) -> pd.DataFrame:
        """Results rows, all or those of one section."""
        frame = self.frame()
        if section is None:
            return frame
        of = self.section_of()
        return frame[frame["analysis_id"].map(lambda i: of.get(i) == section)]

    def results_table(self, section: str | None = None, verdict: str | None = None) -> Any:
        """Published beside re-derived, with verdicts (one section, or all; one verdict, or
        all)."""
        rows = self.rows(section)
        return verdict_table(rows if verdict is None else rows[rows["verdict"] == verdict])

    def checks_table(self, section: str | None = None) -> Any:
        """The audit checks of one section's rows and cross checks (all when ``None``)."""
        if section is None:
            return checks_table(self.all_checks())
        checks = [c for pid in self.rows(section)["analysis_id"] for c in self.checks.get(pid, [])]
        checks += [c for spec, c in self.cross if spec.section == section]
        return checks_table(_once(checks))

    def audit_table(self) -> Any:
        """Every failed check, contradictions first."""
        return checks_table([c for c in self.all_checks() if c.verdict == "inconsistent"])

    def findings(self, limit: int = 12) -> Any:
        """What a reader should know first: the paper, what could be re-derived, the verdict
        counts and the findings that matter most (:func:`metakit.workbook.summary.findings`)."""
        return summary.findings(self.frame(), self.dossier.meta.model_dump(), limit=limit)

    def counts(self) -> pd.Series:
        """Rows per verdict, contradictions firm and conditional apart."""
        return verdict_counts(self.frame())

    def robustness_table(self, analysis_id: str | None = None) -> pd.DataFrame:
        """Every flagged analysis (or one) under modern defaults, beside the authors' model."""
        if analysis_id is None:
            return self.robustness
        self.fit(analysis_id)
        return self.robustness[self.robustness["analysis_id"] == analysis_id]

    def bias_table(self) -> pd.DataFrame:
        """Egger's test of every analysis flagged ``bias``."""
        return self.bias

    def data(self, name: str, columns: list[str] | None = None,
             where: dict[str, Any] | None = None) -> pd.DataFrame:
        """One data table of the dossier (some columns, some rows)."""
        frame = self.dossier.select(name, where)
        return frame if columns is None else frame.loc[:, columns]

    def sources(self) -> pd.DataFrame:
        """One row per data file: rows, derived values and the sources it cites."""
        return sources(self.dossier.tables)

    def forest(self, analysis_id: str, **options: Any) -> Any:
        """The forest plot of one analysis (RevMan layout), with the dossier's figure options."""
        from metakit.plots import forest

        fitted = self.fit(analysis_id)
        figure = fitted.analysis.figure
        defaults: dict[str, Any] = {
            "favours": (figure.favours if figure and figure.favours
                        else self.dossier.meta.options.favours),
            "title": figure.title if figure and figure.title else fitted.analysis.title,
            "xlabel": figure.xlabel if figure else None,
            "percent": self.dossier.meta.options.percent,
        }
        if figure and figure.columns:
            defaults["columns"] = {head: [_cell(v) for v in fitted.rows[column]]
                                   for head, column in figure.columns.items()}
        if fitted.groups is not None:
            defaults["subgroup_results"] = fitted.groups.groups
            defaults["groups"] = fitted.rows[fitted.analysis.subgroups].astype(str).tolist()
        if fitted.null is None:  # single-arm means and proportions test no contrast
            defaults["null"] = None
        return forest(fitted.fit, **{**defaults, **options})

    def forests(self) -> Gallery:
        """The forest plot of every pooled analysis, in dossier order."""
        return Gallery([lambda a=a: self.forest(a) for a, f in self.fitted.items()
                        if f.analysis.kind == "pool" and f.fit is not None
                        and not f.analysis.moderators])

    def table(self, analysis_id: str) -> pd.DataFrame:
        """The table an analysis shows besides its results rows (a sweep, a bound ...)."""
        fitted = self.fit(analysis_id)
        if fitted.table is None:
            raise KeyError(f"analysis_id: analysis {analysis_id!r} has no table of its own")
        return fitted.table

    def figure(self, analysis_id: str) -> Any:
        """The figure an analysis draws besides the forest plot."""
        fitted = self.fit(analysis_id)
        if fitted.figure is None:
            raise KeyError(f"analysis_id: analysis {analysis_id!r} has no figure of its own")
        return fitted.figure()

    def prisma(self, title: str | None = None) -> Any:
        """The PRISMA 2020 flow diagram from ``prisma.csv`` (column ``box`` names each count's box;
        the counts of one box are added). Rows of the list boxes of :data:`PRISMA_LISTS`
        (``excluded_reason``: full-text reasons, ``excluded_screening_reason``: screening
        reasons, ``identified_source``: records per database) are listed by the text after
        the stage's first ``": "`` or ``", "``, and give their box's total where it has none."""
        from metakit.plots import prisma

        flow = self.dossier.table("prisma")
        counts = pd.to_numeric(flow["count"], errors="coerce")
        boxes: dict[str, int | None] = {}
        for box, values in counts.groupby(flow["box"].fillna("")):
            if box and box not in PRISMA_LISTS:
                boxes[box] = None if values.isna().all() else int(values.sum())
        listed = {box: {re.split(r": |, ", str(stage), maxsplit=1)[-1]: int(n)
                        for stage, n, where in zip(flow["stage"], counts, flow["box"])
                        if where == box} for box in PRISMA_LISTS}
        for box, total in PRISMA_LISTS.items():
            if listed[box] and total and boxes.get(total) is None:
                boxes[total] = sum(listed[box].values())
        return prisma(boxes, listed["excluded_reason"] or None,
                      sources=listed["identified_source"] or None,
                      screening_exclusions=listed["excluded_screening_reason"] or None,
                      title=title or "PRISMA 2020 flow, from the counts the paper prints")

    def funnel(self, analysis_id: str, **options: Any) -> Any:
        """The contour-enhanced funnel plot of one analysis (with its trim-and-fill studies
        and adjusted estimate when the analysis has ``bias: true`` and is not of proportions)."""
        from metakit.engine.bias import trimfill
        from metakit.plots import funnel

        fitted = self.fit(analysis_id)
        defaults: dict[str, Any] = {"title": fitted.analysis.title}
        if trims_and_fills(fitted.analysis):
            filled = trimfill(fitted.fit)
            defaults.update(filled=filled, adjusted=filled.estimate)
        return funnel(fitted.fit, **{**defaults, **options})


def _once(checks: Iterable[Check]) -> list[Check]:
    """Each check once, in first-seen order (a cross check that sets two rows is one check)."""
    unique: list[Check] = []
    for check in checks:
        if check not in unique:
            unique.append(check)
    return unique


def _cell(value: Any) -> str:
    """A data cell as a figure shows it: empty for missing, whole numbers without ``.0``."""
    if pd.isna(value):
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def with_options(dossier: Dossier, options: Mapping[str, Any]) -> Dossier:
    """The dossier with some report options overridden (validated as ``review.yaml`` is)."""
    if not isinstance(options, Mapping):
        raise DossierError(f"options: expected a mapping of option to value, got "
                           f"{type(options).__name__}")
    merged = {**dossier.meta.options.model_dump(), **options}
    try:
        new = Options.model_validate(merged)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise DossierError(f"options, key {key}: {first['msg'].lower()} "
                           f"(got {str(first.get('input'))[:40]!r})") from None
    return dataclasses.replace(dossier, meta=dossier.meta.model_copy(update={"options": new}))


class Gallery:
    """Several figures shown one after another in a notebook (each its own output)."""

    def __init__(self, drawings: list[Any]) -> None:
        self._drawings = drawings

    def __len__(self) -> int:
        return len(self._drawings)

    def _ipython_display_(self) -> None:
        from IPython.display import Markdown, display

        if not self._drawings:
            display(Markdown("*No pooled analysis in this dossier.*"))
        for draw in self._drawings:
            display(draw())


def run(review: str | os.PathLike[str] | Dossier, data_dir: str | os.PathLike[str] | None = None,
        options: Mapping[str, Any] | None = None) -> Review:
    """Run a review from its dossier.

    Parameters
    ----------
    review : str, path or Dossier
        A review id (its dossier is ``data_dir``, else ``<data root>/<review>``: see
        :func:`metakit.workbook.data.data_root`), a dossier folder, or a loaded
        :class:`~metakit.workbook.dossier.Dossier`.
    data_dir : path, optional
        The dossier folder, when ``review`` is an id.
    options : mapping, optional
        Report options that override ``review.yaml``'s (:class:`~metakit.workbook.dossier.Options`:
        ``level``, ``robust_method``, ``pi_dist``, ``percent`` ...), e.g. from a notebook
        parameter file.

    Returns
    -------
    Review

    Raises
    ------
    DossierError
        A malformed dossier or option (the message names the file, entry and key).
    """
    if isinstance(review, Dossier):
        dossier = review
    else:
        path = Path(review)
        dossier = load_dossier(path if path.is_dir() else review_dir(str(review), data_dir))
    if options:
        dossier = with_options(dossier, options)
    formatting.install()
    context = Context(dossier, ResultsTable(dossier.meta.id))
    fitted = {}
    for analysis in dossier.analyses:
        if analysis.kind not in kinds.KINDS:
            raise DossierError(f"{context.where(analysis)}: unknown kind "
                               f"{analysis.kind!r} (known: {', '.join(sorted(kinds.KINDS))})")
        fitted[analysis.id] = kinds.KINDS[analysis.kind](context, analysis)
    cross = run_checks(dossier)
    made = [row["analysis_id"] for f in fitted.values() for row in f.results]
    twice = sorted({rid for rid in made if made.count(rid) > 1})
    if twice:
        raise DossierError(f"{context.name}/analyses.yaml: results row {twice[0]!r} is made "
                           f"twice (a new row's id is its analysis id and label; it must differ "
                           f"from every published id)")
    answered = {row["analysis_id"]: row for f in fitted.values() for row in f.results}
    rows, checks = [], {}
    for pid in dossier.published.index:
        if pid in answered:
            rows.append(answered.pop(pid))
            continue
        checks[pid] = context.battery(pid) + [c for spec, c in cross if pid in spec.result]
        row = context.published_row(pid)
        note = row.get("note") or ""
        if checks[pid]:
            rows.append(context.results.audited_row(
                row, checks[pid], note=note, analysis="audit of printed numbers: " + ", ".join(
                    dict.fromkeys(c.name for c in checks[pid]))))
        else:
            rows.append(context.results.missing_row(
                row, analysis="nothing to re-derive or check",
                note=note or "no study-level data and no printed number to check"))
    for f in fitted.values():
        for rid, kind_checks in f.checks.items():
            checks.setdefault(rid, []).extend(kind_checks)
    table, robust = robustness_rows(context, fitted)
    bias, egger = bias_rows(context, fitted)
    context.results.rows = rows + list(answered.values()) + robust + egger
    return Review(dossier, context.results, fitted, checks, cross, table, bias)


def sections(review: Review) -> list[str]:
    """Section names of the dossier, in first-use order."""
    named: Iterable[str] = [*(a.section for a in review.dossier.analyses),
                            *(s.section for s in review.dossier.checks)]
    if "section" in review.dossier.published.columns:
        named = [*named, *review.dossier.published["section"].dropna()]
    return list(dict.fromkeys(s for s in named if s))
