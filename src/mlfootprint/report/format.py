"""Numbers as people read them, the same way in the terminal, the HTML report, the dashboard and the
statement: three significant figures, thousands separated, units scaled, a range whose ends are equal
shown as one number. Units are converted here, for display only. No rich, no matplotlib: every front
end imports this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..constants import J_PER_KWH
from ..ranges import Range

# C0 and C1 control characters (ESC starts terminal escape sequences), DEL, and the bidirectional
# overrides that can make text read differently from what it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: Any) -> str:
    """User text made safe for a terminal: control characters become '?' (shown, not obeyed)."""
    return _CONTROL.sub("?", str(text))


def sig(x: float, digits: int = 3) -> str:
    """`x` to `digits` significant figures, thousands separated, never in exponent notation for
    ordinary magnitudes (1,170 not 1.17e+03; 0.0123 not 1.23e-02)."""
    if x == 0 or x != x:
        return "0" if x == 0 else "-"
    magnitude = abs(x)
    if magnitude >= 10 ** digits:
        return f"{x:,.0f}"
    if magnitude < 1e-4:
        return f"{x:.{digits - 1}e}"
    decimals = digits - 1 - _exponent(magnitude)
    return f"{x:,.{max(0, decimals)}f}"


def _exponent(x: float) -> int:
    text = f"{x:e}"
    return int(text[text.index("e") + 1:])


def fmt_energy(energy_j: float) -> str:
    """µJ and mJ below a tenth of a joule, joules up to a watt-hour, then Wh, kWh, MWh, GWh."""
    a = abs(energy_j)
    if a < 1e-4 and a != 0:
        return f"{sig(energy_j * 1e6)} µJ"
    if a < 0.1 and a != 0:
        return f"{sig(energy_j * 1000)} mJ"
    for factor, unit in ((1e6 * J_PER_KWH, "GWh"), (1e3 * J_PER_KWH, "MWh"), (J_PER_KWH, "kWh"), (3600, "Wh")):
        if a >= factor:
            return f"{sig(energy_j / factor)} {unit}"
    return f"{sig(energy_j)} J"


def fmt_co2e(co2e_kg: float) -> str:
    """Kilograms of CO2e in t, kg, g or mg."""
    a = abs(co2e_kg)
    if a >= 1000:
        return f"{sig(co2e_kg / 1000)} t"
    if a >= 1:
        return f"{sig(co2e_kg)} kg"
    if a >= 1e-3 or a == 0:
        return f"{sig(co2e_kg * 1000)} g"
    if a >= 1e-6:
        return f"{sig(co2e_kg * 1e6)} mg"
    return f"{sig(co2e_kg * 1e9)} µg"


def fmt_water(water_l: float) -> str:
    if abs(water_l) >= 1000:
        return f"{sig(water_l / 1000)} m³"
    return f"{sig(water_l)} L" if abs(water_l) >= 0.1 or water_l == 0 else f"{sig(water_l * 1000)} mL"


def fmt_money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}" if abs(amount) >= 0.01 else f"{sig(amount, 2)} {currency}"


def fmt_count(n: float) -> str:
    return f"{n:,.0f}" if abs(n) >= 100 else sig(n)


def fmt_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{sig(seconds)} s"
    if seconds < 7200:
        return f"{sig(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"{sig(seconds / 3600)} h"
    return f"{sig(seconds / 86400)} days"


def fmt_range(r: Range, fmt: Callable[[float], str]) -> str:
    """'low–high unit' ('42.3–315 µg'; both units when they differ), or one number when the ends are equal
    once formatted."""
    low, high = fmt(r.low), fmt(r.high)
    if low == high:
        return low
    low_number, _, low_unit = low.rpartition(" ")
    high_number, _, high_unit = high.rpartition(" ")
    if low_unit == high_unit and low_number and high_number:
        return f"{low_number}–{high}"
    return f"{low}–{high}"


def fmt_utc(iso: str) -> str:
    """'2026-12-05 05:35 UTC' for a stored ISO 8601 time (the text itself when it is not one)."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def fmt_share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


__all__ = ["fmt_co2e", "fmt_count", "fmt_duration", "fmt_energy", "fmt_money", "fmt_range", "fmt_share",
           "fmt_utc", "fmt_water", "plain", "sig"]
