"""How a title sells: the average interval between its sales (ADI, Syntetos and Boylan)."""

from __future__ import annotations

import numpy as np

ADI_CUTOFF = 1.32  # Syntetos-Boylan: at or above, demand is intermittent or lumpy


def adi(y: np.ndarray) -> float:
    """Average weeks between sales, from the first sale on (inf when it never sold)."""
    sold = np.flatnonzero(np.asarray(y) > 0)
    if not sold.size:
        return float("inf")
    return (len(y) - sold[0]) / sold.size


def is_intermittent(y: np.ndarray) -> bool:
    """Intermittent or lumpy demand: an ADI of 1.32 or more."""
    return adi(y) >= ADI_CUTOFF
