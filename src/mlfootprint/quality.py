"""Model quality beside footprint: phase figures and the generalization gap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .phases import within

OUTSIDE_PHASES = "(outside phases)"
KINDS = ("gpu", "cpu", "ram")

TRAIN_PREFIXES = ("train_", "train/")
HELD_OUT_PREFIXES = ("test_", "val_", "eval_", "valid_")


def generalization_gaps(metrics: dict[str, float]) -> dict[str, float]:
    """train_X minus the held-out X (X, test_X, val_X or eval_X), for each X logged both ways."""
    gaps: dict[str, float] = {}
    for name, train_value in metrics.items():
        prefix = next((p for p in TRAIN_PREFIXES if name.startswith(p)), None)
        if prefix is None:
            continue
        base = name[len(prefix):]
        for candidate in (base, *(p + base for p in HELD_OUT_PREFIXES)):
            if candidate in metrics:
                gaps[base] = train_value - metrics[candidate]
                break
    return gaps


class StoredPhase(Protocol):
    """A stored exclusive phase row (record.PhaseRow)."""

    @property
    def path(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def energy_j(self) -> float: ...
    @property
    def gpu_energy_j(self) -> float: ...
    @property
    def cpu_energy_j(self) -> float: ...
    @property
    def ram_energy_j(self) -> float: ...
    @property
    def entries(self) -> int: ...
    @property
    def items(self) -> float: ...


@dataclass(frozen=True)
class PhaseFigures:
    """A phase as reported: inclusive of the phases nested in it (`train` includes `train/forward`)."""

    phase: str  # the path, or OUTSIDE_PHASES
    duration_s: float
    energy_j: float
    share: float | None  # of the energy the run read
    exclusive_energy_j: float  # without its nested phases
    by_kind: dict[str, float]  # gpu, cpu, ram
    entries: int
    items: float | None
    energy_per_item_j: float | None

    @property
    def depth(self) -> int:
        return 0 if self.phase == OUTSIDE_PHASES else self.phase.count("/")

    @property
    def top_level(self) -> bool:
        return self.phase != OUTSIDE_PHASES and "/" not in self.phase


def phase_records(rows: Sequence[StoredPhase], run_energy_j: float) -> list[PhaseFigures]:
    """Stored exclusive phase rows -> inclusive figures with share, per-kind energy and J per item."""
    if not rows or all(r.path == "" for r in rows):
        return []
    figures = []
    for r in rows:
        family = [b for b in rows if within(b.path, r.path)]
        energy_j = sum(b.energy_j for b in family)
        figures.append(PhaseFigures(
            phase=r.path or OUTSIDE_PHASES,
            duration_s=sum(b.duration_s for b in family),
            energy_j=energy_j,
            share=energy_j / run_energy_j if run_energy_j > 0 else None,
            exclusive_energy_j=r.energy_j,
            by_kind={"gpu": sum(b.gpu_energy_j for b in family), "cpu": sum(b.cpu_energy_j for b in family),
                     "ram": sum(b.ram_energy_j for b in family)},
            entries=r.entries,
            items=r.items or None,
            energy_per_item_j=energy_j / r.items if r.items else None,
        ))
    return sorted(figures, key=lambda p: (p.phase == OUTSIDE_PHASES, p.phase))
