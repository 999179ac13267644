"""One quantile for every spread the project reports (estimate ranges, serving p50/p95)."""

from __future__ import annotations

import math


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0-1) of `values` by linear interpolation between order statistics: the "inclusive"
    method of `statistics.quantiles`, at any q rather than whole percentiles. Needs at least one value."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
