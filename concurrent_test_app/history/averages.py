"""The two statistics history keeps: a recency-weighted average and a nearest-rank percentile.

Both the database and the timings file average a unit's runs the same way, so a machine that
only has the file expects what one with the database would.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

logger = logging.getLogger(__name__)

# The moving average gives the newest run this weight and the older average the rest, so a
# unit that got slower is trusted after two or three runs while one noisy run moves it halfway.
RECENT_WEIGHT = 0.5


def moving_average(newest_first: Sequence[float]) -> float:
    """Return the exponentially weighted average of ``newest_first``, favouring recent values."""
    average = newest_first[-1]
    for value in reversed(newest_first[:-1]):
        average = RECENT_WEIGHT * value + (1 - RECENT_WEIGHT) * average
    return average


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (``fraction`` between 0 and 1)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
