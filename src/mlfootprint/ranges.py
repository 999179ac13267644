"""A number with its range: the one value-with-uncertainty type of the package.

Every figure mlfootprint shows can be uncertain (a modelled CPU, a default PUE, an annual grid
intensity, an estimate from model size), so a value travels with the low and high ends of its range.
Impact figures (`impact.Figure`), forecasts, utilization fits and estimates all build on `Range`, so a
range is added, scaled and shown one way everywhere. Its JSON shape is `{"value", "low", "high"}`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """`value` with the ends of its range; `low <= value <= high` for every range the package makes."""

    value: float
    low: float
    high: float

    @classmethod
    def exact(cls, value: float) -> Range:
        """A value known exactly (given, published, or counted): its range is the value itself."""
        return cls(value, value, value)

    @classmethod
    def relative(cls, value: float, uncertainty_rel: float) -> Range:
        """`value` ± a relative uncertainty, never below zero for a non-negative value."""
        low = value * (1 - uncertainty_rel)
        return cls(value, max(0.0, low) if value >= 0 else low, value * (1 + uncertainty_rel))

    @property
    def is_exact(self) -> bool:
        return self.low == self.high

    @property
    def width(self) -> float:
        """high / low: how many times wider the top of the range is than its bottom (inf when low is 0)."""
        if self.low > 0:
            return self.high / self.low
        return 1.0 if self.high == self.low else float("inf")

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def scaled_by(self, factor: float) -> Range:
        """Every end times a non-negative factor (a unit change, a share)."""
        return Range(self.value * factor, self.low * factor, self.high * factor)

    def plus(self, other: Range) -> Range:
        """The sum of two quantities whose errors move together (ends added linearly: a wide bound)."""
        return Range(self.value + other.value, self.low + other.low, self.high + other.high)


__all__ = ["Range"]
