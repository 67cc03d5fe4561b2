"""The workbook layer: a review's dossier (data with provenance), the results table and its
verdicts, and the tables every report shows. Builds on :mod:`metakit.engine`,
:mod:`metakit.audit` and :mod:`metakit.plots`; notebooks call this layer."""
