"""A paragraph a paper can quote: hardware with its count, hours, IT and facility energy and how they
were obtained, the place and its grid intensity, operational CO2e with its range, the embodied share,
water — and which parts are estimates. Every number is taken from the record; every source is cited in
a numbered list under it. User text is printed as text (control characters shown, not obeyed).
"""

from __future__ import annotations

from collections import Counter

from ..errors import MlfootprintError
from ..impact import Impact
from ..jobs import JobSummary
from ..record import RunRecord
from .format import fmt_co2e, fmt_duration, fmt_energy, fmt_range, fmt_water, plain, sig
from .model import Citations

__all__ = ["job_statement", "statement"]


def _hardware(names: list[tuple[str, str]]) -> str:
    """'2 × NVIDIA H100 80GB HBM3 and AMD EPYC 7B13 (2 logical CPUs)' from (kind, name) pairs."""
    gpus = Counter(name for kind, name in names if kind == "gpu")
    cpus = sorted({name for kind, name in names if kind == "cpu"})
    parts = [f"{n} × {plain(name)}" for name, n in gpus.items()] + [plain(c) for c in cpus]
    if not parts:
        return "no hardware of its own (its devices were measured by another run)"
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def _paragraph(what: str, hardware: str, duration_s: float, energy_j: float, uncertainty_j: float, basis: str,
               impact: Impact | None, pue: float, place: str, intensity_g_per_kwh: float, record_id: str) -> str:
    cite = Citations()

    def ref(text: str | None) -> str:
        n = cite(text)
        return f" [{n}]" if n else ""

    parts = [f"{what} used {hardware} for {fmt_duration(duration_s)} and drew {fmt_energy(energy_j)} of IT energy "
             f"(± {fmt_energy(uncertainty_j)}; {basis})."]
    if impact is not None:
        fac = impact.facility_energy_j
        parts.append(f"With a power usage effectiveness (PUE) of {pue:.3g}{ref(fac.source)}, the facility drew "
                     f"{fmt_energy(fac.value)}.")
        op = impact.co2e_operational_kg
        parts.append(f"At the grid carbon intensity of {place} ({sig(intensity_g_per_kwh)} gCO2e/kWh{ref(op.source)}), "
                     f"this is {fmt_co2e(op.value)} CO2e operational, location-based (range {fmt_range(op, fmt_co2e)}; "
                     f"{op.basis}).")
        if impact.co2e_market_kg is not None:
            parts.append(f"Market-based, it is {fmt_co2e(impact.co2e_market_kg.value)} CO2e"
                         f"{ref(impact.co2e_market_kg.source)}.")
        emb, total = impact.co2e_embodied_kg, impact.co2e_total_kg
        parts.append(f"The hardware's manufacture adds an estimated {fmt_co2e(emb.value)} CO2e "
                     f"(range {fmt_range(emb, fmt_co2e)}){ref(emb.source)}, for a total of {fmt_co2e(total.value)} CO2e "
                     f"(range {fmt_range(total, fmt_co2e)}).")
        parts.append(f"Cooling and electricity generation consumed about {fmt_water(impact.water_l.value)} of water "
                     f"({impact.water_l.basis}){ref(impact.water_onsite_l.source)}{ref(impact.water_offsite_l.source)}.")
        estimated = [name for name, basis in (("the IT energy", impact.energy_j.basis),
                                              ("the embodied CO2e", emb.basis)) if basis != "measured"]
        if estimated:
            parts.append("Not measured but " + " or ".join(sorted({impact.energy_j.basis, emb.basis} - {"measured"}))
                         + ": " + " and ".join(estimated) + ".")
    parts.append(f"Figures from mlfootprint (record {record_id}).")
    text = " ".join(parts)
    if cite.sources:
        text += "\n\n" + "\n".join(f"[{i}] {plain(s)}" for i, s in enumerate(cite.sources, 1))
    return text


def statement(record: RunRecord) -> str:
    """The statement of one run (not of an experiment's entry, which measures nothing: quote its trials)."""
    if record.kind == "experiment":
        raise MlfootprintError(f"{record.id} is a reduce experiment's entry, which measures nothing itself: quote "
                               f"one of its trials (mlfootprint show {record.id} lists them)")
    basis = (record.impact.basis_detail or record.impact.basis) if record.impact else "modelled"
    place = record.location.region or record.location.country or "the world average (no location was set)"
    charged = [(c.kind, c.name) for c in record.components if not c.charged_to]
    what = f"This run ({plain(record.project)}, {record.id})"
    if record.parent_id and record.kind == "trial":
        what += f", a trial of experiment {record.parent_id},"
    elif record.parent_id:
        what += f", nested in run {record.parent_id} which is charged its devices,"
    return _paragraph(what, _hardware(charged), record.duration_s, record.energy_j, record.energy_uncertainty_j,
                      basis, record.impact, record.pue, place, record.location.intensity_g_per_kwh, record.id)


def job_statement(job: JobSummary) -> str:
    """The statement of a distributed job (its ranks added up, each device once)."""
    names = [(d.kind, d.name) for d in job.devices if d.kind == "gpu"]
    cpus = sorted({d.name for d in job.devices if d.kind == "cpu"})
    hardware = _hardware(names + [("cpu", c) for c in cpus]) + f" on {len(job.nodes)} node(s), {job.ranks} processes"
    pue = job.facility_energy_j / job.energy_j if job.energy_j else 1.0
    intensity = job.co2e_kg / (job.facility_energy_j / 3.6e6) * 1000 if job.facility_energy_j else 0.0
    return _paragraph(f"The distributed job {plain(job.id)}", hardware, job.wall_s, job.energy_j,
                      job.energy_uncertainty_j, job.energy_basis, job.impact, pue, "its nodes' grid", intensity, job.id)
