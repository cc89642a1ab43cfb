"""``ouroboros report OUT``: one self-contained ``OUT/report.html`` for a run's outputs.

The page shows the run's counts, timings per stage with throughput and skipped records
by reason; for ``dedup`` cluster sizes, duplicates per input file or web domain, edge
similarities and the effective threshold (with ``edges.parquet``), and the largest
clusters, each opening to its members' word-level diffs; for ``flag`` (and ``dedup
--reference``) label counts, coverage distributions and documents with their evidence
highlighted; for ``substr`` bytes removed per document and the most repeated spans.
Charts are plotly figures; plotly.js is inlined once, so the page needs no network.

Modules, in the order the numbers flow:

- :mod:`~engine.report.tables`: bounded reading of the output tables (row-group samples,
  the largest clusters from footer statistics, lookups by row position);
- :mod:`~engine.report.texts`: a few documents' texts read back from the inputs;
- :mod:`~engine.report.diffs`: word-level diffs and highlighted byte ranges (HTML);
- :mod:`~engine.report.charts`: plotly figures from aggregates;
- :mod:`~engine.report.overview`, :mod:`~engine.report.neardup`,
  :mod:`~engine.report.substrings`, :mod:`~engine.report.flags`: the page's sections;
- :mod:`~engine.report.page`: the HTML template, inline CSS and JS;
- :mod:`~engine.report.write`: :func:`write_report`.

Example::

    >>> from engine.report import write_report
    >>> write_report("out/")          # -> Path("out/report.html")
"""

from engine.report.write import REPORT_NAME, write_report

__all__ = ["REPORT_NAME", "write_report"]
