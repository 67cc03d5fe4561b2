"""Analysis kinds and forensic checks that serve families of papers beyond the core ``pool`` and
``count`` (:mod:`metakit.workbook.analyses`). Each module registers its kinds with
:func:`metakit.workbook.analyses.kind` and its checks with
:func:`metakit.workbook.crosschecks.check`; importing this package registers them all."""

from metakit.workbook.kinds import (  # noqa: F401
    cohort, printed_summaries, proportions, selfcontrol, summary_level)
