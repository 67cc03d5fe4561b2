"""Self-controlled studies entered as two-arm trials: a treated arm against a 0-event "before" arm.

Some reviews enter before/after studies in RevMan as if the same patients before treatment were
a control arm with no events (no woman pregnant, no live birth, no miscarriage "before"). RevMan's
Mantel-Haenszel risk ratio adds 0.5 to every cell of a table with a zero cell and leaves out
tables with no events in either arm (Deeks & Higgins 2010), so a study with ``a`` events among
``n`` patients has

    RR = ((a + 0.5) / (n + 1)) / (0.5 / (n + 1)) = 2a + 1, whatever n,

and the MH risk ratio of ``k`` such studies is exactly ``1 + 2S/k``, ``S`` their total events
(every study has the same MH weight). With a correction ``c`` it is ``1 + S/(kc)``: the "effect"
is set by the continuity correction and the number of events per study, not by any contrast
between treated and untreated patients. Sweeting, Sutton & Lambert (2004) studied such
corrections; their treatment-arm correction, proportional to the reciprocal of the other arm's
size, is 0.5 in each arm here, because both "arms" are the same ``n`` patients: no correction
can recover a contrast that the design does not contain.

- kind ``selfcontrol``: the risk ratio as RevMan computes it (:func:`selfcontrol_rr`), answering
  the published rows of ``answers`` or as a new row. ``effect.columns`` map ``ai`` (events after
  treatment) and ``n1i`` (patients); the self-control arm (0 events of the same ``n``) is built
  here, and its columns ``self_control_events`` and ``self_control_n`` are added to the rows for
  the forest plot's ``figure.columns``. ``effect.add`` (default 0.5) and ``effect.drop00``
  (default true) are RevMan's. ``model.method``: ``MH`` (fixed effect), ``DL`` (RevMan's
  "M-H, Random") or ``rule`` (the stated rule picks one from the fixed-effect fit). Its table
  is the continuity-correction sweep: the same pooling with each correction of
  ``options.corrections`` (default 0.5, 0.1 and 0.01).
- check ``mh_lattice`` (``checks.yaml``): whether a printed RR can be ``1 + 2S/k`` for a whole
  number ``S`` of events (:func:`mh_lattice`), conditional on RevMan's method, which its
  ``assumption`` names.

References
----------
Deeks, J. J., & Higgins, J. P. T. (2010). Statistical algorithms in Review Manager 5. The
Cochrane Collaboration.
Sweeting, M. J., Sutton, A. J., & Lambert, P. C. (2004). What to add to nothing? Use and
avoidance of continuity corrections in meta-analysis of sparse data. Statistics in Medicine,
23(9), 1351-1375.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from metakit import audit
from metakit.audit import Check, Printed
from metakit.audit._core import make_check
from metakit.engine.mh import PooledTablesResult, rma_mh
from metakit.workbook.analyses import (Fitted, answer_rows, effect_columns, kind, new_row,
                                       study_labels)
from metakit.workbook.crosschecks import check, whole_number
from metakit.workbook.dossier import Analysis, DossierError
from metakit.workbook.results import join_notes

if TYPE_CHECKING:
    from metakit.workbook.runner import Context

ASSUMPTION = ("RevMan's Mantel-Haenszel risk ratio, 0.5 added to every cell of a table with a "
              "zero cell and tables without events left out (the paper does not state it)")
"""What :func:`mh_lattice` assumes."""
CORRECTIONS = (0.5, 0.1, 0.01)
"""Continuity corrections of the sweep, unless ``options.corrections`` says otherwise."""


@dataclasses.dataclass(frozen=True)
class SelfControlFit(PooledTablesResult):
    """A Mantel-Haenszel risk ratio of treated arms against 0-event self-control arms, with the
    studies left out as double zero (``dropped``); the per-study risk ratios RevMan draws are
    those of every MH fit (``yi``, ``vi``: log scale, 0.5 added to a table with a zero cell)."""

    dropped: tuple[str, ...] = ()

    @property
    def model_label(self) -> str:
        model = "MH random (DL)" if self.random else "MH fixed"
        return f"{model}, {self.add:g} added to tables with a zero cell"


def selfcontrol_rr(events: ArrayLike, n: ArrayLike, *, add: float = 0.5, drop00: bool = True,
                   random: bool = False, level: float = 95,
                   slab: Sequence[Any] | None = None) -> SelfControlFit:
    """RevMan's risk ratio of treated arms against self-control arms of the same patients with
    0 events.

    Parameters
    ----------
    events : array_like
        Events among the treated patients of each study.
    n : array_like
        Patients of each study (the size of both "arms").
    add : float, default 0.5
        Continuity correction added to every cell of a table with a zero cell (RevMan: 0.5).
    drop00 : bool, default True
        Leave out studies without events (RevMan: "not estimable").
    random : bool, default False
        RevMan's "M-H, Random" model (DerSimonian-Laird τ² around the MH estimate) instead of
        the MH fixed effect.
    level : float, default 95
    slab : sequence, optional
        Study labels.

    Returns
    -------
    SelfControlFit
        With ``random=False`` and ``add=c`` the pooled RR is exactly ``1 + S/(kc)``.

    Raises
    ------
    ValueError
        Invalid counts, or no estimable study (e.g. ``add=0``: a risk ratio against an arm
        without events is not defined, which is why metafor refuses it).

    References
    ----------
    Deeks & Higgins (2010); Sweeting, Sutton & Lambert (2004) (module docstring).
    """
    events = np.asarray(events, dtype=float)
    sizes = np.asarray(n, dtype=float)
    fit = rma_mh(ai=events, n1i=sizes, ci=np.zeros_like(events), n2i=sizes, measure="RR",
                 add=add, drop00=drop00, random=random, level=level, slab=slab)
    fields = {f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)}
    labels = list(slab) if slab is not None else [str(i + 1) for i in range(len(events))]
    return SelfControlFit(**fields, dropped=tuple(str(s) for s in labels
                                                  if str(s) not in fit.slab))


def _random(context: Context, analysis: Analysis, fixed: SelfControlFit) -> bool:
    """Whether the analysis's model is RevMan's "M-H, Random" (with ``rule``: whether the stated
    rule picks random effects from the fixed-effect fit)."""
    method = analysis.model.method
    if method == "rule":
        rule = context.dossier.meta.model_rule
        if rule is None:
            raise DossierError(f"{context.name}: model 'rule' needs a stated model rule in "
                               f"review.yaml (rules.model)")
        return audit.rule_choice(rule, i2=fixed.i2, q_pval=fixed.q_pval) == "random"
    if method not in ("MH", "EE", "DL"):
        raise DossierError(f"{context.where(analysis)}: a self-controlled "
                           f"risk ratio is pooled with MH, DL or rule, not {method!r}")
    return method == "DL"


def _sweep(analysis: Analysis, events: NDArray, sizes: NDArray, labels: list[str], *,
           drop00: bool, level: float) -> pd.DataFrame:
    """The pooled RR under each continuity correction ``c``, beside ``1 + S/(kc)``."""
    rows = []
    for c in analysis.options.get("corrections", CORRECTIONS):
        fit = selfcontrol_rr(events, sizes, add=float(c), drop00=drop00, level=level, slab=labels)
        values, total = fit.back_transform(), float(fit.tables[:, 0].sum())
        rows.append({"analysis": analysis.title, "correction c": float(c), "studies": fit.k,
                     "events S": int(total), "1 + S/(k·c)": 1 + total / (fit.k * float(c)),
                     "RR": values["estimate"], "CI low": values["ci_low"],
                     "CI high": values["ci_high"]})
    return pd.DataFrame(rows)


@kind("selfcontrol")
def selfcontrol(context: Context, analysis: Analysis) -> Fitted:
    """RevMan's risk ratio against a 0-event self-control arm (see the module docstring)."""
    where = context.where(analysis)
    if analysis.subgroups or analysis.moderators:
        raise DossierError(f"{where}: a self-controlled risk ratio has no subgroups or "
                           f"moderators here")
    rows, arguments = effect_columns(context, analysis)
    if "ai" not in arguments or "n1i" not in arguments:
        raise DossierError(f"{where}: effect.columns must map ai (events) and n1i (patients)")
    events, sizes = arguments["ai"], arguments["n1i"]
    labels = study_labels(context, analysis, rows)
    effect = analysis.effect
    assert effect is not None
    options = {"add": 0.5 if effect.add is None else effect.add,
               "drop00": True if effect.drop00 is None else effect.drop00,
               "level": context.level, "slab": labels}
    fit = selfcontrol_rr(events, sizes, **options)
    if _random(context, analysis, fit):
        fit = selfcontrol_rr(events, sizes, random=True, **options)
    kept = rows[[label not in fit.dropped for label in labels]].assign(
        self_control_events=0, self_control_n=lambda f: f[effect.columns.get("n1i", "n1i")])
    fitted = Fitted(analysis, kept, fit, table=_sweep(
        analysis, events, sizes, labels, drop00=options["drop00"], level=context.level))
    dropped = (f"not estimable (no events in either arm), left out: {', '.join(fit.dropped)}"
               if fit.dropped else "")
    if analysis.answers:
        answer_rows(context, fitted)
        for row in fitted.results:
            row["note"] = join_notes((row["note"], dropped))
    else:
        fitted.results.append(new_row(context, fitted, fit,
                                      note=join_notes((analysis.note, dropped))))
    return fitted


@check("mh_lattice")
def mh_lattice(rr: str, k: Any, total_events: Any = None, *, max_k: Any = 12,
               label: str = "") -> Check:
    """Whether a printed risk ratio of ``k`` self-controlled studies can be RevMan's
    ``1 + 2S/k`` for a whole number ``S`` of events (see the module docstring).

    With ``total_events`` the check is whether ``1 + 2S/k`` with that ``S`` prints as ``rr``;
    without it, whether some whole ``S`` does. When none does, the explanation lists the numbers
    of studies up to ``max_k`` for which one would. The check rests on RevMan's MH with 0.5
    added (:data:`ASSUMPTION`), so a failure is a conditional contradiction.

    Parameters
    ----------
    rr : str
        The printed pooled risk ratio.
    k : int or str
        The number of (estimable) studies pooled.
    total_events : int or str, optional
        The total events printed for the treated arms.
    max_k : int or str, default 12
        The largest number of studies to try when none fits (e.g. the studies of the review).
    label : str
        Optional label for the report.

    Returns
    -------
    Check
        ``recomputed`` is the implied RR (with ``total_events``) or the range of ``S`` that the
        printed RR allows.

    References
    ----------
    Deeks & Higgins (2010) (module docstring); Brown, N. J. L., & Heathers, J. A. J. (2017). The
    GRIM test. Social Psychological and Personality Science, 8(4), 363-369 (the same arithmetic
    of whole counts).
    """
    printed = Printed.parse(rr, name="rr")
    studies = whole_number("k", k)
    if studies < 1:
        raise ValueError(f"k: must be at least 1 study, got {k!r}")
    inputs = {"rr": rr, "k": k, "total_events": "" if total_events is None else total_events}
    if total_events is not None:
        events = whole_number("total_events", total_events)
        implied = 1 + 2 * events / studies
        ok = printed.low <= implied <= printed.high
        result = make_check(
            "mh_lattice", inputs, (implied, implied), "consistent" if ok else "inconsistent",
            f"{events} events in {studies} studies give RR = 1 + 2·{events}/{studies} = "
            f"{implied:.2f}; printed {printed.text}" + (", which matches." if ok else
                                                        ", which it cannot be."), label)
        return dataclasses.replace(result, assumption=ASSUMPTION)

    def totals(j: int) -> range:
        return range(math.ceil(j * (printed.low - 1) / 2), math.floor(j * (printed.high - 1) / 2)
                     + 1)

    low, high = studies * (printed.low - 1) / 2, studies * (printed.high - 1) / 2
    whole = totals(studies)
    if whole:
        result = make_check("mh_lattice", inputs, (low, high), "consistent",
                            f"RR {printed.text} from {studies} studies is 1 + 2S/{studies} with "
                            f"S = {whole[0]} events in all" + (f" (or up to {whole[-1]})"
                                                               if len(whole) > 1 else "") + ".",
                            label)
    else:
        fits = [j for j in range(1, whole_number("max_k", max_k) + 1) if totals(j)]
        result = make_check("mh_lattice", inputs, (low, high), "inconsistent",
                            f"RR {printed.text} from {studies} studies needs {low:.2f} to "
                            f"{high:.2f} events in all, not a whole number; numbers of studies "
                            f"that would give a whole number: "
                            f"{', '.join(map(str, fits)) or 'none'}.", label)
    return dataclasses.replace(result, assumption=ASSUMPTION)
