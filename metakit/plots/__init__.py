"""Publication-quality figures for meta-analyses (matplotlib; imported only on demand).

Every function returns a :class:`matplotlib.figure.Figure` that is not registered with pyplot,
drawn in a fixed style (DejaVu Sans, 8 pt), shown in notebooks at 2x resolution with an
alternative text that says what it shows (``fig.alt``), and raises ``ValueError`` naming the
argument when there is nothing to draw.

- :func:`forest`: RevMan 5 forest plot with subgroups, weights and heterogeneity lines
  (:func:`arm_columns`: events/total or mean, SD, total per arm);
  :func:`loo_forest`: leave-one-out forest plot; :func:`summaries_forest`: printed subgroup
  summaries with their printed totals (nothing re-pooled).
- :func:`funnel`: contour-enhanced funnel plot with trim-and-fill studies.
- :func:`rob_traffic_light`, :func:`rob_summary`: risk of bias (ROBINS-I, RoB 1), and
  :func:`score_table` for Newcastle-Ottawa and Jadad scores.
- :func:`bubble`: meta-regression bubble plot; :func:`baujat_plot`: Baujat plot.
- :func:`prisma`: PRISMA 2020 flow diagram.
"""

from metakit.plots.baujat import baujat_plot
from metakit.plots.bubble import bubble
from metakit.plots.forest import arm_columns, forest, loo_forest
from metakit.plots.funnel import funnel
from metakit.plots.prisma import prisma
from metakit.plots.rob import rob_summary, rob_traffic_light, score_table
from metakit.plots.summaries import summaries_forest

__all__ = ["arm_columns", "baujat_plot", "bubble", "forest", "funnel", "loo_forest", "prisma",
           "rob_summary", "rob_traffic_light", "score_table", "summaries_forest"]
