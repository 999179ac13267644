"""The paper statement of a fleet, for an annual or monthly sustainability report: what was counted,
how, what it came to, what was idle, and where every factor comes from (numbered sources).
Every number is taken from the fleet result; nothing is recomputed here."""

from __future__ import annotations

from ..fleet.result import FleetResult
from .terminal import Citations, fmt_co2e, fmt_energy

TOP_GROUPS = 5


def fleet_statement(result: FleetResult) -> str:
    citations = Citations()

    def cite(text: str | None) -> str:
        return f" {citations(text)}" if text else ""

    t = result.totals
    i = t.impact
    counted = ", ".join(f"{s.name} ({s.basis}){cite(s.citation)}" for s in result.sources)
    gpus = f"{t.devices:,} GPUs ({t.device_hours:,.0f} GPU-hours) and " if t.devices else ""
    parts = [f"From {result.start} to {result.end} ({result.duration_s / 86400:,.1f} days), the platform's {gpus}"
             f"other hardware counted by {counted} drew {fmt_energy(t.energy_j)} of IT energy "
             f"(range {fmt_energy(i.energy.low)}–{fmt_energy(i.energy.high)}; {i.energy.basis}), as read from Prometheus "
             "counters without extrapolation."]
    parts.append(f"With the facilities' PUE{cite(i.facility_energy_j.source)}, the facilities drew "
                 f"{fmt_energy(i.facility_energy_j.value)}.")
    loc = i.co2e_location_kg
    parts.append(f"At the grids' carbon intensity{cite(loc.source)}, this is {fmt_co2e(loc.value)} CO2e "
                 f"(range {fmt_co2e(loc.low)}–{fmt_co2e(loc.high)}; {loc.basis}), location-based and operational.")
    if i.co2e_market_kg:
        parts.append(f"Market-based, with the contractual instruments the sites state{cite(i.co2e_market_kg.source)}, "
                     f"it is {fmt_co2e(i.co2e_market_kg.value)} CO2e.")
    emb = i.co2e_embodied_kg
    parts.append(f"The GPUs' and their servers' manufacture adds an estimated {fmt_co2e(emb.value)} CO2e for the period "
                 f"(range {fmt_co2e(emb.low)}–{fmt_co2e(emb.high)}){cite(emb.source)}.")
    parts.append(f"Cooling and electricity generation consumed about {i.water_l.value:,.3g} L of water "
                 f"({i.water_l.basis}){cite(i.water_l.source)}.")
    parts.append(f"Devices no workload held (unallocated, idle capacity) drew {fmt_energy(t.unallocated_j)}, "
                 f"{t.unallocated_share:.1%} of the IT energy; it is reported as its own group, not spread over the teams.")
    top = [g for g in result.groups if not g.unallocated][:TOP_GROUPS]
    if top:
        parts.append(f"The largest consumers by {', '.join(result.by) or 'group'} were "
                     + ", ".join(f"{g.name} ({g.share:.1%})" for g in top) + ".")
    if result.serving and result.serving.models:
        served = [f"{m.model}: {fmt_energy(m.j_per_1k_requests)} per 1,000 requests" for m in result.serving.models
                  if m.j_per_1k_requests is not None]
        if served:
            parts.append("Served models, IT energy per 1,000 requests: " + "; ".join(served) + ".")
    gaps = len(result.gaps) + result.gaps_not_listed
    resets = len(result.resets) + result.resets_not_listed
    parts.append(f"The series held {gaps} scrape gap(s) (counted from the counters' own differences) and "
                 f"{resets} counter reset(s).")
    parts.append("Estimated or modelled rather than measured: the facility, grid and water factors, the embodied "
                 "CO2e" + (", and the energy of the modelled sources" if i.energy.basis != "measured" else "") + ".")
    parts.append(f"Figures from mlfootprint fleet over {result.prometheus}.")
    text = " ".join(parts)
    if citations.sources:
        text += "\n\n" + "\n".join(f"[{n}] {s}" for n, s in enumerate(citations.sources, 1))
    return text


__all__ = ["fleet_statement"]
