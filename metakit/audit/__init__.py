"""Audit published meta-analysis results from the printed numbers alone.

What GRIM and statcheck are to psychology papers, this module is to meta-analyses: it asks, for
each printed result, whether it *can* be true given the other numbers printed with it.

Every printed number is held with its precision (:class:`Printed`): ``"2.28"`` stands for any true
value in [2.275, 2.285], ``"<0.001"`` for [0, 0.001], ``"44.0%"`` for [43.95, 44.05] percent.
Each check propagates these intervals through the formula that links the numbers (using
monotonicity, or exact optimisation over the box of intervals) and returns a :class:`Check` with
the recomputed interval and a verdict:

- ``inconsistent``: no combination of true values inside the rounding intervals produces the
  printed numbers (the only verdict that accuses the paper, so it is never given on a doubt);
- ``consistent``: some combination does;
- ``not_checkable``: a number the check needs is missing or too coarse.

Checks: :func:`ci_symmetry`, :func:`p_from_ci`, :func:`z_from_ci`, :func:`i2_from_q`,
:func:`i2_from_pval`, :func:`q_pval`, :func:`subgroup_difference`,
:func:`subgroups_pool_to_overall`, :func:`rows_pool_to_summary`, :func:`row_weights`,
:func:`weights_sum`, :func:`percent_of_n`, :func:`parts_sum`, :func:`agree`,
:func:`model_rule`, and :func:`battery`, which derives every check one printed result allows;
:func:`df_range` infers the degrees of freedom behind a printed I² and p. Collect them
with :func:`audit_table` (a DataFrame, contradictions first; reports show it with
:func:`metakit.workbook.report.checks_table`).

Examples
--------
>>> from metakit import audit
>>> audit.p_from_ci("−0.27", "−0.59", "−0.05", "0.10").verdict
'inconsistent'

References
----------
Altman, D. G., & Bland, J. M. (2011). How to obtain the P value from a confidence interval. BMJ,
343, d2304.
Brown, N. J. L., & Heathers, J. A. J. (2017). The GRIM test. Social Psychological and
Personality Science, 8(4), 363-369.
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
Statistics in Medicine, 21(11), 1539-1558.
Nuijten, M. B., et al. (2016). The prevalence of statistical reporting errors in psychology
(1985-2013). Behavior Research Methods, 48(4), 1205-1226.
"""

from metakit.audit._core import SCALES, Check, FreemanTukey, Printed, Verdict
from metakit.audit.counts import agree, parts_sum, percent_of_n
from metakit.audit.estimates import ci_symmetry, p_from_ci, z_from_ci
from metakit.audit.battery import assumed_df, battery, is_proportion, measure_scale
from metakit.audit.heterogeneity import df_range, i2_from_pval, i2_from_q, q_pval
from metakit.audit.pooling import (
    row_weights,
    rows_pool_to_summary,
    subgroup_difference,
    subgroups_pool_to_overall,
    weights_sum,
)
from metakit.audit.report import audit_table
from metakit.audit.rules import model_rule, rule_choice

__all__ = [
    "SCALES",
    "FreemanTukey",
    "agree",
    "assumed_df",
    "battery",
    "Check",
    "Printed",
    "Verdict",
    "audit_table",
    "ci_symmetry",
    "df_range",
    "i2_from_pval",
    "i2_from_q",
    "is_proportion",
    "measure_scale",
    "model_rule",
    "p_from_ci",
    "parts_sum",
    "percent_of_n",
    "q_pval",
    "row_weights",
    "rule_choice",
    "rows_pool_to_summary",
    "subgroup_difference",
    "subgroups_pool_to_overall",
    "weights_sum",
    "z_from_ci",
]
