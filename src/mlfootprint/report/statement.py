"""A paragraph a paper can quote: hardware, hours, energy and how it was obtained, PUE, grid
intensity and its source, CO2e with its range, embodied CO2e, water — and which parts are estimates.
Every number is taken from the record; every source is cited in a numbered list under it."""

from __future__ import annotations

from typing import Any

from ..constants import J_PER_KWH


def _kwh(j: float) -> str:
    kwh = j / J_PER_KWH
    return f"{kwh:,.3g} kWh" if kwh >= 0.001 else f"{j:,.3g} J"


def _kg(kg: float) -> str:
    return f"{kg:,.3g} kg" if kg >= 0.1 else f"{kg * 1000:,.3g} g"


def statement(record: dict[str, Any], *, job: bool = False) -> str:
    """The statement for a run record or a job summary (`job=True`)."""
    impact = record.get("impact") or {}
    sources: list[str] = []

    def cite(text: str | None) -> str:
        if not text:
            return ""
        if text not in sources:
            sources.append(text)
        return f" [{sources.index(text) + 1}]"

    if job:
        gpus = sorted({d["name"] for d in record["devices"] if d["kind"] == "gpu"})
        hardware = (f"{record['gpus']} GPUs ({', '.join(gpus)})" if gpus else "CPUs only") + \
            f" on {len(record['nodes'])} node(s), {record['ranks']} processes"
        hours = record["wall_s"] / 3600
        what = f"The distributed job {record['id']}"
        basis = record["energy_basis"]
    else:
        gpus = sorted({c["name"] for c in record["components"] if c["kind"] == "gpu"})
        cpus = sorted({c["name"] for c in record["components"] if c["kind"] == "cpu"})
        hardware = ", ".join([f"{len(gpus)} x {g}" for g in gpus] + cpus) or "unknown hardware"
        hours = record["duration_s"] / 3600
        what = f"This run ({record['project']}, {record['id']})"
        basis = impact.get("basis_detail") or impact.get("basis") or "modelled"
    parts = [f"{what} used {hardware} for {hours:,.3g} hours and drew {_kwh(record['energy_j'])} of IT energy "
             f"(± {_kwh(record['energy_uncertainty_j'])}; {basis})."]
    facility = impact.get("facility_energy_j")
    if facility:
        parts.append(f"With a PUE of {record.get('pue', facility['value'] / record['energy_j'] if record['energy_j'] else 1):g}"
                     f"{cite(facility['source'])}, the facility drew {_kwh(facility['value'])}.")
    op = impact.get("co2e_operational_kg")
    if op:
        parts.append(f"At the grid's carbon intensity{cite(op['source'])}, this is {_kg(op['value'])} CO2e "
                     f"(range {_kg(op['low'])}–{_kg(op['high'])}; {op['basis']}), location-based and operational.")
    emb = impact.get("co2e_embodied_kg")
    if emb:
        parts.append(f"The hardware's manufacture adds an estimated {_kg(emb['value'])} CO2e "
                     f"(range {_kg(emb['low'])}–{_kg(emb['high'])}){cite(emb['source'])}.")
    water = impact.get("water_l")
    if water:
        parts.append(f"Cooling and electricity generation consumed about {water['value']:,.3g} L of water "
                     f"({water['basis']}){cite(impact.get('water_onsite_l', {}).get('source'))}"
                     f"{cite(impact.get('water_offsite_l', {}).get('source'))}.")
    estimated = [name for name, key in (("embodied CO2e", "co2e_embodied_kg"), ("total CO2e", "co2e_total_kg"))
                 if (impact.get(key) or {}).get("basis") in ("estimated", "simulated")]
    if "modelled" in str(basis) or "simulated" in str(basis):
        estimated.insert(0, "the energy of the modelled components")
    if estimated:
        parts.append("Estimated or modelled rather than measured: " + ", ".join(estimated) + ".")
    parts.append(f"Figures from mlfootprint (record {record['id']}).")
    text = " ".join(parts)
    if sources:
        text += "\n\n" + "\n".join(f"[{i}] {s}" for i, s in enumerate(sources, 1))
    return text
