"""Choice of LSH bands and rows: pure NumPy math, no compiled code.

``optimal_bands_rows(threshold, num_perm)`` minimises the weighted areas under the
S-curve ``1 - (1 - s**rows)**bands`` below the threshold (false positives) and above
it (false negatives), the criterion of datasketch's ``MinHashLSH._optimal_param``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _integrate(f, a: float, b: float, steps: int = 400) -> float:
    """Trapezoid rule of ``f`` (vectorised over NumPy arrays) on [a, b]."""
    if b <= a:
        return 0.0
    x = np.linspace(a, b, steps + 1)
    y = f(x)
    return float(np.sum((y[1:] + y[:-1]) * 0.5 * np.diff(x)))


def false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """Probability mass of pairs below ``threshold`` that become candidates."""
    return _integrate(lambda s: 1.0 - (1.0 - s**rows) ** bands, 0.0, threshold)


def false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """Probability mass of pairs above ``threshold`` that never become candidates."""
    return _integrate(lambda s: (1.0 - s**rows) ** bands, threshold, 1.0)


@lru_cache(maxsize=64)
def optimal_bands_rows(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising the weighted FP + FN areas.

    The same criterion as datasketch's ``MinHashLSH._optimal_param``.
    """
    best = (1, 1)
    best_error = float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            error = fp_weight * false_positive_area(
                threshold, bands, rows
            ) + fn_weight * false_negative_area(threshold, bands, rows)
            if error < best_error - 1e-15:
                best_error = error
                best = (bands, rows)
    return best
