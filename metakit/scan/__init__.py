"""``metakit scan``: audit any meta-analysis from its text, as statcheck does for psychology.

Reads a paper (plain text, Markdown, HTML or PDF), extracts every printed pooled result with the
statistics printed beside it, runs the automatic audit battery (:func:`metakit.audit.battery`)
on each, and writes ``scan.csv``, ``summary.csv``, a draft ``published.csv`` in the dossier
schema and a self-contained ``scan.html``. A folder is scanned in parallel, locally or on a Dask
distributed cluster.

Modules, in the order a paper passes through them:

- :mod:`~metakit.scan.readers`: file -> text (and the one-line reason a file has none);
- :mod:`~metakit.scan.text`: text -> :class:`~metakit.scan.text.Document` (one notation, whole
  sentences, headings, offsets into the raw text);
- :mod:`~metakit.scan.notation`: the printed notations as regular expressions;
- :mod:`~metakit.scan.extract`: document -> :class:`~metakit.scan.extract.Finding` per result;
- :mod:`~metakit.scan.runner`: findings -> audited ``scan.csv`` rows; many files in parallel;
- :mod:`~metakit.scan.report`: the files a scan writes;
- :mod:`~metakit.scan.compare`: recall and precision against a hand-made ``published.csv``.

The package sits after :mod:`metakit.publish` in the layers (it uses the audit, the results
table's verdicts and the build's atomic writes).

Examples
--------
>>> from metakit.scan import scan_text
>>> [row] = scan_text("Mortality fell (RR 0.72, 95% CI 0.58 to 0.89; p = 0.003).")
>>> row["measure"], row["estimate"], row["ci_low"], row["ci_high"], row["verdict"]
('RR', '0.72', '0.58', '0.89', 'consistent')

References
----------
Nuijten, M. B., Hartgerink, C. H. J., van Assen, M. A. L. M., Epskamp, S., & Wicherts, J. M.
(2016). The prevalence of statistical reporting errors in psychology (1985-2013). Behavior
Research Methods, 48(4), 1205-1226.
Nuijten, M. B., & Polanin, J. R. (2020). "statcheck": Automatically detect statistical
reporting inconsistencies to increase reproducibility of meta-analyses. Research Synthesis
Methods, 11(5), 574-579.
"""

from metakit.scan.readers import ReadError, read_paper
from metakit.scan.runner import COLUMNS, FileScan, scan_file, scan_files, scan_text

__all__ = ["COLUMNS", "FileScan", "ReadError", "read_paper", "scan_file", "scan_files",
           "scan_text"]
