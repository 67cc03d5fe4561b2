"""The statistical engine: arrays in, result objects out.

Effect sizes (:mod:`~metakit.engine.effect_sizes`), pooling models (:mod:`~metakit.engine.models`,
:mod:`~metakit.engine.mh`, :mod:`~metakit.engine.proportions`), heterogeneity estimators,
subgroups, many fits at once (:mod:`~metakit.engine.batch`), small-study and sensitivity analyses
and cohort statistics. Nothing here knows about papers, files or reports; the public names are
re-exported lazily by :mod:`metakit`.
"""
