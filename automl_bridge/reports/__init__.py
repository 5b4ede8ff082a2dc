"""Reports: compare runs side by side and render the comparison (HTML, Markdown, JSON).

Pure functions over :class:`~automl_bridge.results.RunResult`; no cloud SDK is needed.
Importing this package is light: pandas, numpy and scikit-learn load only when a comparison
is computed.

Example:
    >>> from automl_bridge.reports import compare, Comparison
    >>> callable(compare) and isinstance(Comparison, type)
    True
"""

from __future__ import annotations

from automl_bridge.reports.compare import Comparison, compare

__all__ = ["Comparison", "compare"]
