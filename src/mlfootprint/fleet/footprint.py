"""The fleet view: counters read from Prometheus (collect) into a ledger, turned into figures per group
with the same impact model as a run (impact.assess per site), plus the served models, the gaps, the
resets, the time line and the movers against the previous period.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .. import impact as impact_model
from ..embodied import accelerator_item, server_share_for_accelerators
from ..errors import ConfigError
from ..hardware import match_device
from ..ranges import Range
from ..impact import EmbodiedItem, Figure, Impact
from . import collect, promql
from .client import PromClient
from .collect import Counter, Options
from .ledger import Binding, Cell, Ledger, cell_mapper
from .places import Site, Sites
from .plan import LOOKBACK_S, TILE_S, Window, iso
from .result import (KIND, SCHEMA, FleetGroup, FleetResult, Gap, GroupImpact, Line, ModelServing, Mover, Previous,
                     QueryUsed, Reset, Serving, SiteEnergy, SiteUsed, SourceUsed, Timeline, Totals)
from .sources import AUTO_ORDER, PRESETS, ServingCounters, Source

UNALLOCATED = "unallocated (idle capacity)"
METHOD = ("Energy from each counter's own increase, without extrapolation: hour-long tiles, each series' value at "
          "the end of one tile less its value at the end of the tile before; at the period's start and end the "
          "counter is interpolated between the samples on either side. A GPU's counter carried by several series in "
          "turn (DCGM's labels follow the pod holding the GPU) is charged scrape by scrape to the labels of the later "
          "sample, so the interval in which the GPU changes hands goes to its new holder; where the end values do not "
          "settle that (series that interleave, a shared GPU, a counter reset) the tile is redone from its raw "
          "samples; after a reset the counter counts from zero. Across a scrape gap the counter's own difference is "
          "counted and the gap reported. A workload's own counter (Kepler, vLLM, mlfootprint) that first appears "
          "counts from zero. Sources marked `increase` use PromQL's increase() per tile (extrapolated at the tile's "
          "edges). Series with no workload label form the unallocated group.")
MAX_MOVERS = 10


@dataclass(frozen=True)
class Request:
    window: Window
    sources: list[Source] | None  # None: find them
    by: tuple[str, ...]
    sites: Sites
    serving: ServingCounters | None = None
    join_on: tuple[str, ...] = ("namespace", "pod")
    kind_label: str | None = None
    compare_previous: bool = True
    options: Options = field(default_factory=Options)
    candidates: tuple[Source, ...] = ()  # looked for when `sources` is None (default: the presets, AUTO_ORDER)
    note: str | None = None


@dataclass
class _Bound:
    source: Source
    binding: Binding
    workload: str | None
    series: int
    devices: int
    device_labels: list[str]
    labels_used: dict[str, str]
    report: collect.Report | None = None


# -- finding and binding the sources ------------------------------------------------------------------------
def _bind(client: PromClient, source: Source, request: Request, warnings: list[str]) -> _Bound | None:
    w = request.window
    found = client.series(source.selector, w.start - TILE_S - LOOKBACK_S, w.end, f"{source.name}: series")
    if not found:
        return None
    present: set[str] = set()
    for labels in found:
        present.update(labels)
    by = tuple(source.label(b, present) for b in request.by)
    for given, real in zip(request.by, by):
        if real not in present:
            warnings.append(f"{source.name}: no series has the label {real!r} (--by {given}): its energy falls in "
                            f"{given}=(none)")
    workload = source.label(source.workload_label, present) if source.workload_label else None
    if workload is not None and workload not in present:
        warnings.append(f"{source.name}: no series carries the workload label {workload!r}: all its energy is "
                        "unallocated (is the exporter in Kubernetes mode?)")
        workload = None
    place_label = request.sites.label
    place = source.label(place_label, present) if place_label else None
    join = tuple(source.label(j, present) for j in request.join_on) if request.serving else ()
    kind = source.label(request.kind_label, present) if request.kind_label else None
    device_model = source.model_label if source.model_label in present else None
    device_labels = [d for d in source.device_labels if d in present]
    devices = len({tuple(lab.get(d, "") for d in device_labels) for lab in found}) if device_labels else 0
    used = {"workload": workload or "", **{f"by:{g}": r for g, r in zip(request.by, by)}}
    if place:
        used["place"] = place
    binding = Binding(source.name, by, place, join, kind, device_model)
    return _Bound(source, binding, workload, len(found), devices, device_labels, used)


def _sources(client: PromClient, request: Request, warnings: list[str]) -> list[_Bound]:
    if request.sources is not None:
        found = []
        for source in request.sources:
            b = _bind(client, source, request, warnings)
            if b is None:
                warnings.append(f"{source.name}: no series of {source.selector} in the period")
            else:
                found.append(b)
        if not found:
            raise ConfigError(f"no series of {', '.join(s.selector for s in request.sources)} between "
                              f"{iso(request.window.start)} and {iso(request.window.end)} in {client.access.shown}")
        return found
    bound: list[_Bound] = []
    covered: set[str] = set()
    candidates = request.candidates or tuple(PRESETS[n] for n in AUTO_ORDER)
    for source in candidates:
        if source.covers in covered or "all" in covered or (source.covers == "all" and covered):
            continue
        b = _bind(client, source, request, warnings)
        if b is not None:
            bound.append(b)
            covered.add(source.covers)
    if not bound:
        raise ConfigError(f"no energy counters found in {client.access.shown} between {iso(request.window.start)} "
                          f"and {iso(request.window.end)} (looked for {', '.join(s.selector for s in candidates)}): "
                          "name one with --source or --metric/--unit")
    return bound


def _counter(b: _Bound) -> Counter:
    s = b.source
    return Counter(s.name, s.selector, s.scale_to_j, s.starts_at_zero, s.method, b.workload, tuple(b.device_labels))


# -- served models -------------------------------------------------------------------------------------------
def _serving_counts(client: PromClient, request: Request, warnings: list[str],
                    window: Window) -> dict[str, dict[tuple[tuple[str, ...], str], float]]:
    """requests and tokens per (join key, model) over the window."""
    serving = request.serving
    assert serving is not None
    out: dict[str, dict[tuple[tuple[str, ...], str], float]] = {}
    labels = [*request.join_on, *([serving.model_label] if serving.model_label else [])]
    for what, selector in (("requests", serving.requests), ("tokens", serving.tokens)):
        if not selector:
            continue
        series = client.series(selector, window.start, window.end, f"{what}: series")
        if not series:
            warnings.append(f"no series of {selector} ({what}) in the period")
            continue
        totals: dict[tuple[tuple[str, ...], str], float] = defaultdict(float)

        def sink(lab: dict[str, str], _tile: int, value: float, totals: Any = totals) -> None:
            key = tuple(lab.get(j, "") for j in request.join_on)
            model = lab.get(serving.model_label, "") if serving.model_label else ""
            totals[(key, model or "/".join(key))] += value

        counter = Counter(what, selector, 1.0, True, "exact", None)
        report = collect.measure(client, counter, window, labels, replace(request.options, find_gaps=False), sink,
                                 series=len(series))
        warnings.extend(report.warnings)
        out[what] = dict(totals)
    return out


def _shares(counts: dict[str, dict[tuple[tuple[str, ...], str], float]]) -> dict[tuple[str, ...], dict[str, float]]:
    basis = counts.get("requests") or counts.get("tokens") or {}
    per_key: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for (key, model), n in basis.items():
        if n > 0:
            per_key[key][model] = per_key[key].get(model, 0.0) + n
    return {k: {m: n / sum(v.values()) for m, n in v.items()} for k, v in per_key.items() if sum(v.values()) > 0}


# -- impact ------------------------------------------------------------------------------------------------
def _embodied(device_s: dict[str, float], window_s: float) -> list[EmbodiedItem]:
    """The GPUs a group held (device-time / period = device-equivalents) and their servers' share."""
    items = []
    count = 0.0
    for model, seconds in sorted(device_s.items()):
        n = seconds / window_s
        if n <= 0:
            continue
        count += n
        items.append(accelerator_item(match_device(model) if model else None, model or "GPU (model not labelled)", n))
    if count:
        items.append(server_share_for_accelerators(count))
    return items or [EmbodiedItem("no GPU time", 0.0, 1.0, "the fleet view counts the embodied CO2e of GPUs (named by "
                                  "the exporter's model label) and their servers' share; CPU-only hosts are not counted")]


def _assess(site: Site, by_source: dict[str, float], tiles_j: list[float], tile_bounds: list[tuple[float, float]],
            device_s: dict[str, float], window_s: float, sources: dict[str, Source]) -> Impact:
    energy = sum(by_source.values())
    low = sum(max(0.0, e * (1 - sources[n].uncertainty_rel)) for n, e in by_source.items())
    high = sum(e * (1 + sources[n].uncertainty_rel) for n, e in by_source.items())
    bases = {n: sources[n].basis for n, e in by_source.items() if e}
    basis = impact_model.weakest(*bases.values()) if bases else "measured"
    detail = " + ".join(f"{b} ({', '.join(n for n in bases if bases[n] == b)})" for b in dict.fromkeys(bases.values()))
    series_co2e = series_source = None
    if site.series is not None and energy > 0:
        matched_j = co2e = 0.0
        for joules, (a, b) in zip(tiles_j, tile_bounds):
            intensity = _tile_intensity(site.series, a, b)
            if intensity is None or not joules:
                continue
            matched_j += joules
            co2e += impact_model.operational_co2e_kg(joules, site.place.pue, intensity)
        unmatched = max(0.0, energy - matched_j)
        series_co2e = co2e + impact_model.operational_co2e_kg(unmatched, site.place.pue, site.place.intensity_g_per_kwh)
        share = matched_j / energy
        series_source = (f"{site.series.source}, {share:.0%} of the energy matched to its hours"
                         + (f"; the rest at the annual {site.place.intensity_g_per_kwh:g} gCO2e/kWh" if share < 0.999 else ""))
    return impact_model.assess(Range(energy, low, high), Range.exact(window_s), site.place,
                               _embodied(device_s, window_s), basis, series_co2e_kg=series_co2e,
                               series_source=series_source, basis_detail=detail or basis)


def _tile_intensity(series: Any, start: float, end: float) -> float | None:
    from datetime import datetime, timedelta, timezone

    a = datetime.fromtimestamp(start, timezone.utc)
    if series.coverage(a, a + timedelta(seconds=end - start)) < 0.999:
        return None
    return float(series.average(a, timedelta(seconds=end - start)))


def _sum_figures(figures: list[tuple[str, Figure]]) -> Figure | None:
    """Figures of one kind from several sites added (ends added: a wide bound); sources kept per site."""
    if not figures:
        return None
    if len(figures) == 1:
        return figures[0][1]
    sources = list(dict.fromkeys(f.source for _, f in figures))
    source = sources[0] if len(sources) == 1 else "; ".join(f"{site}: {f.source}" for site, f in figures)
    return Figure(sum(f.value for _, f in figures), sum(f.low for _, f in figures), sum(f.high for _, f in figures),
                  figures[0][1].unit, impact_model.weakest(*(f.basis for _, f in figures)), source)


def _group_impact(per_site: list[tuple[str, Impact]]) -> GroupImpact:
    """A group's figures over its sites. Market-based CO2e only where every site states it; a cost only in
    one currency, and only when every site has a price."""
    def summed(pick: Callable[[Impact], Figure | None]) -> Figure | None:
        return _sum_figures([(site, f) for site, d in per_site if (f := pick(d)) is not None])

    zero = Figure(0.0, 0.0, 0.0, "kg", "modelled", "no energy")

    def need(pick: Callable[[Impact], Figure | None]) -> Figure:
        return summed(pick) or zero

    costs = [(site, d.electricity_cost) for site, d in per_site if d.electricity_cost is not None]
    cost = None if len({f.unit for _, f in costs}) > 1 or len(costs) < len(per_site) else _sum_figures(costs)
    market = None if any(d.co2e_market_kg is None for _, d in per_site) else summed(lambda d: d.co2e_market_kg)
    energy = summed(lambda d: d.energy_j)
    assert energy is not None
    return GroupImpact(energy, need(lambda d: d.facility_energy_j), need(lambda d: d.co2e_operational_kg), market,
                       need(lambda d: d.co2e_embodied_kg), need(lambda d: d.co2e_total_kg), need(lambda d: d.water_l),
                       cost)


# -- the whole -----------------------------------------------------------------------------------------------
def fleet_footprint(client: PromClient, request: Request) -> FleetResult:
    began = time.monotonic()
    warnings: list[str] = []
    info = client.info()
    warnings.extend(info.notes)
    options = replace(request.options, max_samples=info.max_samples)
    request = replace(request, options=options)
    window = request.window
    bound = _sources(client, request, warnings)
    sources = {b.source.name: b.source for b in bound}

    counts = _serving_counts(client, request, warnings, window) if request.serving else {}
    shares = _shares(counts)
    tiles = window.tiles()
    ledger = Ledger(len(tiles))
    joined: set[tuple[str, ...]] = set()
    for b in bound:
        cells = cell_mapper(b.binding, request.sites, shares, request.serving is not None)

        def sink(labels: dict[str, str], tile: int, joules: float, cells: Any = cells, b: _Bound = b) -> None:
            for cell, share in cells(labels):
                ledger.add(cell, tile, joules * share)
            if b.binding.join and labels.get(promql.ALLOC) == "1":
                joined.add(tuple(labels.get(j, "") for j in b.binding.join))

        model_label = b.binding.device_model

        def time_sink(labels: dict[str, str], seconds: float, cells: Any = cells, b: _Bound = b,
                      model_label: str | None = model_label) -> None:
            model = labels.get(model_label, "") if model_label else ""
            for cell, share in cells(labels):
                key = (cell, model if b.source.covers == "gpu" else "")
                ledger.device_s[key] = ledger.device_s.get(key, 0.0) + seconds * share

        b.report = collect.measure(client, _counter(b), window, b.binding.query_labels(), options, sink,
                                   series=b.series, time_sink=time_sink)
        warnings.extend(b.report.warnings)
        if b.source.method == "increase" and b.report.resets_total:
            warnings.append(f"{b.source.name}: {b.report.resets_total} series-tiles held a counter reset or wrap, taken "
                            "by PromQL's increase() as a restart from zero (a RAPL wrap loses up to one scrape "
                            "interval's energy); they are counted, not listed")
        if b.report.shared:
            examples = ", ".join("/".join(v for _, v in d) for d in sorted(b.report.shared)[:3])
            warnings.append(f"{b.source.name}: {len(b.report.shared)} device(s) reported by several series at once "
                            f"(e.g. {examples}): a GPU shared by pods (time-slicing, MPS); its energy is split equally "
                            "between the series sampled together")
    previous = _previous(client, request, bound) if request.compare_previous else None
    return _assemble(client, request, info.version, bound, sources, ledger, counts, joined, previous, warnings,
                     time.monotonic() - began)


def _previous(client: PromClient, request: Request, bound: list[_Bound]) -> Previous:
    window = request.window.previous()
    groups: dict[str, float] = defaultdict(float)
    for b in bound:
        by = list(b.binding.by)

        def sink(labels: dict[str, str], _tile: int, joules: float, b: _Bound = b) -> None:
            allocated = labels.get(promql.ALLOC) == "1"
            name = _group_name(request.by, tuple(labels.get(x, "") for x in b.binding.by), not allocated)
            groups[name] += joules

        collect.measure(client, _counter(b), window, by, replace(request.options, find_gaps=False), sink,
                        series=b.series)
    return Previous(iso(window.start), iso(window.end), sum(groups.values()), dict(groups))


def _group_name(by: tuple[str, ...], values: tuple[str, ...], unallocated: bool) -> str:
    """`namespace=team-a`; for series without a workload label, the unallocated group, split only by the
    --by labels such series carry (grouped by host: the idle capacity of each host)."""
    if unallocated:
        carried = [f"{k}={v}" for k, v in zip(by, values) if v]
        return ", ".join([UNALLOCATED, *carried])
    if not by:
        return "allocated"
    return ", ".join(f"{k}={v or '(none)'}" for k, v in zip(by, values))


def _assemble(client: PromClient, request: Request, version: str, bound: list[_Bound], sources: dict[str, Source],
              ledger: Ledger, counts: dict[str, dict[tuple[tuple[str, ...], str], float]],
              joined: set[tuple[str, ...]], previous: Previous | None, warnings: list[str],
              elapsed_s: float) -> FleetResult:
    window, sites = request.window, request.sites
    tiles = window.tiles()
    bounds = [(t.start, t.end) for t in tiles]
    site_of = {s.name: s for s in sites.all()}
    W = window.duration_s

    def impact_of(cells: list[Cell]) -> tuple[GroupImpact, dict[str, float], float, dict[str, float]]:
        per_site: dict[str, list[Cell]] = defaultdict(list)
        for c in cells:
            per_site[c.site].append(c)
        assessed = []
        by_source_all: dict[str, float] = defaultdict(float)
        site_energy: dict[str, float] = {}
        device_total = 0.0
        for site_name, site_cells in sorted(per_site.items()):
            by_source: dict[str, float] = defaultdict(float)
            tiles_j = [0.0] * len(tiles)
            for c in site_cells:
                row = ledger.energy.get(c)
                if row is None:
                    continue
                by_source[c.source] += sum(row)
                for i, v in enumerate(row):
                    tiles_j[i] += v
            device_s: dict[str, float] = defaultdict(float)
            members = set(site_cells)
            for (c, model), seconds in ledger.device_s.items():
                if c in members and sources[c.source].covers == "gpu":
                    device_s[model] += seconds
                    device_total += seconds
            for n, e in by_source.items():
                by_source_all[n] += e
            site_energy[site_name] = sum(by_source.values())
            gpu_time = {m: s for m, s in device_s.items() if s > 0}
            assessed.append((site_name, _assess(site_of[site_name], dict(by_source), tiles_j, bounds, gpu_time, W,
                                                sources)))
        return _group_impact(assessed), dict(by_source_all), device_total / 3600, site_energy

    cells_by_group: dict[tuple[tuple[str, ...], bool], list[Cell]] = defaultdict(list)
    for cell in set(ledger.energy) | {c for c, _ in ledger.device_s}:
        cells_by_group[(cell.group, cell.unallocated)].append(cell)
    total_j = ledger.total()
    groups = []
    for (values, unallocated), cells in cells_by_group.items():
        group_impact, by_source, hours, site_energy = impact_of(cells)
        energy_j = sum(by_source.values())
        groups.append(FleetGroup(
            _group_name(request.by, values, unallocated),
            {k: v for k, v in zip(request.by, values) if v or not unallocated},
            unallocated, energy_j, energy_j / total_j if total_j else 0.0, hours, by_source,
            [SiteEnergy(n, e) for n, e in sorted(site_energy.items())], group_impact))
    groups.sort(key=lambda g: (g.unallocated, -g.energy_j, g.name))
    all_cells = list(set(ledger.energy) | {c for c, _ in ledger.device_s})
    if not all_cells:
        raise ConfigError(f"the counters found hold no energy between {iso(window.start)} and {iso(window.end)}")
    totals_impact, _, total_hours, site_energy = impact_of(all_cells)
    unallocated_j = sum(g.energy_j for g in groups if g.unallocated)
    totals = Totals(total_j, unallocated_j, unallocated_j / total_j if total_j else 0.0, total_hours,
                    sum(b.devices for b in bound), totals_impact)
    kinds: dict[str, float] = defaultdict(float)
    for cell, row in ledger.energy.items():
        kinds[cell.kind] += sum(row)

    serving = _serving(request, counts, ledger, joined, impact_of) if request.serving else None
    result_sources = [SourceUsed(b.source.name, b.source.selector, b.source.unit, b.source.basis,
                                 b.source.uncertainty_rel, b.source.method, b.source.citation, b.series, b.devices,
                                 b.workload, b.labels_used,
                                 sum(sum(r) for c, r in ledger.energy.items() if c.source == b.source.name),
                                 b.report.interval_s if b.report else None) for b in bound]
    site_list = [SiteUsed(s.name, s.zone, s.place.pue, s.place.intensity_g_per_kwh, s.place.intensity_source,
                          s.series_note, s.place.renewable_share, site_energy.get(s.name, 0.0))
                 for s in sites.all() if s.name in site_energy]
    priceless = [s.name for s in sites.all() if s.name in site_energy and s.place.price_per_kwh is None]
    if priceless and len(priceless) < len(site_energy):
        warnings.append(f"no electricity price for {', '.join(priceless)}: the cost is given only for groups on sites "
                        "with one (price_per_kwh and currency in --places, or --price-per-kwh)")
    if sites.unmatched:
        shown = ", ".join(sorted(sites.unmatched)[:5])
        warnings.append(f"{len(sites.unmatched)} value(s) of {sites.label} have no row in --places (e.g. {shown}): "
                        f"charged at the default place ({sites.default.zone})")
    gaps, gaps_total, resets, resets_total = _events(request, bound)
    movers = _movers(groups, previous) if previous else []
    queries = [QueryUsed(q.purpose, q.expr, q.kind, q.calls, round(q.seconds, 3), q.series, q.points)
               for q in client.queries()]
    return FleetResult(
        KIND, SCHEMA, client.access.shown, version, iso(window.start), iso(window.end), W, list(request.by), METHOD,
        result_sources, groups, totals, dict(kinds), site_list, serving, gaps, max(0, gaps_total - len(gaps)), resets,
        max(0, resets_total - len(resets)), _timeline(window, ledger, request.by), previous, movers,
        list(dict.fromkeys(warnings)), queries, round(elapsed_s, 3), request.note)


def _events(request: Request, bound: list[_Bound]) -> tuple[list[Gap], int, list[Reset], int]:
    gaps: list[Gap] = []
    resets: list[Reset] = []
    gaps_total = resets_total = 0
    for b in bound:
        if b.report is None:
            continue
        gaps_total += b.report.gaps_total
        resets_total += b.report.resets_total
        for g in b.report.gaps:
            start, end, length = collect.gap_times(g)
            gaps.append(Gap(b.source.name, _series(g.series), _series_group(request, b, g.series), start, end,
                            round(length, 3), g.energy, g.counted, g.note))
        for labels, before, after in b.report.resets:
            resets.append(Reset(b.source.name, _series(labels), _series_group(request, b, labels), iso(after[0]),
                                before[1] * b.source.scale_to_j, after[1] * b.source.scale_to_j))
    return gaps, gaps_total, resets, resets_total


def _series(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(labels.items()) if k not in ("__name__", promql.ALLOC)}


def _series_group(request: Request, b: _Bound, labels: dict[str, str]) -> str:
    allocated = bool(b.workload and labels.get(b.workload))
    return _group_name(request.by, tuple(labels.get(x, "") for x in b.binding.by), not allocated)


def _serving(request: Request, counts: dict[str, dict[tuple[tuple[str, ...], str], float]], ledger: Ledger,
             joined: set[tuple[str, ...]], impact_of: Any) -> Serving:
    serving = request.serving
    assert serving is not None
    requests = counts.get("requests", {})
    tokens = counts.get("tokens", {})
    models = sorted({m for _, m in requests} | {m for _, m in tokens})
    out = []
    for model in models:
        cells = [c for c in ledger.energy if c.model == model]
        reqs = sum(n for (k, m), n in requests.items() if m == model and k in joined)
        toks = sum(n for (k, m), n in tokens.items() if m == model and k in joined) if tokens else None
        workloads = len({k for k, m in (requests or tokens) if m == model and k in joined})
        if not cells:
            continue
        model_impact, by_source, _, _ = impact_of(cells)
        energy = sum(by_source.values())
        co2e = model_impact.co2e_total_kg
        out.append(ModelServing(model, reqs, toks, energy, energy / reqs * 1000 if reqs else None,
                                energy / toks * 1e6 if toks else None, co2e,
                                co2e.value / reqs * 1000 if reqs else None, co2e.value / toks * 1e6 if toks else None,
                                workloads, model_impact.energy.basis))
    unjoined = {k for k, _ in requests} - joined
    how = (f"energy series and counter series joined on {', '.join(request.join_on)}: a workload's energy goes to the "
           f"model{'s' if serving.model_label else ''} its counters name"
           + (f" ({serving.model_label}), split by their shares of its requests" if serving.model_label else
              " (no model label: the workload stands for the model)"))
    return Serving(list(request.join_on), how, serving.requests, serving.tokens, serving.model_label, out,
                   sum(n for (k, _), n in requests.items() if k in unjoined), len(unjoined))


def _timeline(window: Window, ledger: Ledger, by: tuple[str, ...]) -> Timeline:
    tiles = window.tiles()
    bucket = 86400.0 if window.duration_s > 3 * 86400 else tiles[0].length_s
    count = int((window.duration_s - 1e-9) // bucket) + 1
    starts = [iso(window.start + i * bucket) for i in range(count)]
    index = [min(count - 1, int((t.start - window.start) // bucket)) for t in tiles]
    lines: dict[str, dict[str, list[float]]] = {"groups": {}, "models": {}, "kinds": {}}
    for cell, row in ledger.energy.items():
        keys = (("groups", _group_name(by, cell.group, cell.unallocated)), ("kinds", cell.kind),
                *((("models", cell.model),) if cell.model else ()))
        for dimension, name in keys:
            line = lines[dimension].setdefault(name, [0.0] * count)
            for i, v in enumerate(row):
                line[index[i]] += v
    return Timeline(bucket, starts, *([Line(n, v) for n, v in sorted(lines[d].items(), key=lambda i: -sum(i[1]))]
                                      for d in ("groups", "models", "kinds")))


def _movers(groups: list[FleetGroup], previous: Previous) -> list[Mover]:
    now = {g.name: g.energy_j for g in groups}
    names = set(now) | set(previous.groups)
    movers = [Mover(n, now.get(n, 0.0), previous.groups.get(n, 0.0), now.get(n, 0.0) - previous.groups.get(n, 0.0),
                    (now.get(n, 0.0) - previous.groups[n]) / previous.groups[n] if previous.groups.get(n) else None)
              for n in names]
    movers.sort(key=lambda m: -abs(m.change_j))
    return movers[:MAX_MOVERS]


__all__ = ["METHOD", "Request", "UNALLOCATED", "fleet_footprint"]
