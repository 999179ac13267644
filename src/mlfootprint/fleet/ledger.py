"""Where the counters' sums land: energy per cell (group, site, served model, kind of work, source) and
tile, and device-seconds per cell and device model. Cells are few (groups x sites x models x kinds);
tiles are kept as compact float arrays, so the ledger of a month of a thousand GPUs is small.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import promql
from .places import Sites

Labels = dict[str, str]


@dataclass(frozen=True)
class Cell:
    group: tuple[str, ...]  # the --by label values (an unallocated series has those it carries, such as its host)
    unallocated: bool
    site: str
    model: str | None  # the served model, where the counters join
    kind: str  # serving | other | unallocated, or the --kind-label value
    source: str


@dataclass
class Ledger:
    tiles: int
    energy: dict[Cell, array[float]] = field(default_factory=dict)
    device_s: dict[tuple[Cell, str], float] = field(default_factory=dict)  # (cell, device model) -> seconds

    def add(self, cell: Cell, tile: int, joules: float) -> None:
        row = self.energy.get(cell)
        if row is None:
            row = self.energy[cell] = array("d", bytes(8 * self.tiles))
        row[tile] += joules

    def total(self, cells: Iterable[Cell] | None = None) -> float:
        return sum(sum(self.energy[c]) for c in (self.energy if cells is None else cells))


@dataclass(frozen=True)
class Binding:
    """A source's real label names for what the fleet view groups by."""

    source: str
    by: tuple[str, ...]
    place: str | None
    join: tuple[str, ...]
    kind: str | None
    device_model: str | None

    def query_labels(self) -> list[str]:
        names = [*self.by, *(x for x in (self.place,) if x), *self.join, *(x for x in (self.kind,) if x)]
        return list(dict.fromkeys(names))


def cell_mapper(binding: Binding, sites: Sites, shares: dict[tuple[str, ...], dict[str, float]],
                serving: bool) -> Callable[[Labels], list[tuple[Cell, float]]]:
    """labels (a sum's or a series') -> the cells they feed, with the share of each (a workload that
    serves several models is split by their shares of its requests)."""
    cache: dict[tuple[tuple[str, str], ...], list[tuple[Cell, float]]] = {}
    by_object: dict[int, tuple[Labels, list[tuple[Cell, float]]]] = {}  # the same dict, passed again (each tile)

    def cells(labels: Labels) -> list[tuple[Cell, float]]:
        seen = by_object.get(id(labels))
        if seen is not None and seen[0] is labels:
            return seen[1]
        key = tuple(sorted(labels.items()))
        found = cache.get(key)
        if found is not None:
            by_object[id(labels)] = (labels, found)
            return found
        allocated = labels.get(promql.ALLOC) == "1"
        site = sites.resolve(labels.get(binding.place, "") if binding.place else None).name
        join = tuple(labels.get(j, "") for j in binding.join)
        split = shares.get(join) if allocated and serving else None
        if not allocated:
            kind = "unallocated"
        elif binding.kind:
            kind = labels.get(binding.kind) or f"(no {binding.kind})"
        elif serving:
            kind = "serving" if split else "other"
        else:
            kind = "allocated"
        group = tuple(labels.get(b, "") for b in binding.by)  # an idle GPU still has its host, if grouped by it
        if split:
            found = [(Cell(group, not allocated, site, model, kind, binding.source), share)
                     for model, share in split.items()]
        else:
            found = [(Cell(group, not allocated, site, None, kind, binding.source), 1.0)]
        cache[key] = found
        by_object[id(labels)] = (labels, found)
        return found

    return cells


__all__ = ["Binding", "Cell", "Ledger", "cell_mapper"]
