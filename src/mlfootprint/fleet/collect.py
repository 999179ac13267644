"""Counters read from Prometheus, tile by tile, into sums per label set: the PromQL sums first, then the
exact fixes from raw samples (window edges, reset tiles, long gaps) that fleet/counters.py defines.

`measure` is used for every counter the fleet view reads (energy, requests, tokens). It hands each
contribution — (labels, tile, value) — to a sink, in the calling thread; the labels are either an
aggregate's (the `sum by` labels) or a whole series' (a fix), and the sink maps both the same way.
Memory holds one query's answer at a time: an aggregate's groups x tiles, or one series' raw samples.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import counters, promql
from .client import PromClient
from .counters import Sample
from .plan import EDGE_REACH_S, LOOKBACK_EXTRA_S, Tile, Window, chunks, iso

Labels = dict[str, str]
Sink = Callable[[Labels, int, float], None]
MAX_LISTED = 200  # gaps and resets listed in the result; the rest are counted


@dataclass(frozen=True)
class Counter:
    """One counter to read: a selector, its unit and how its series begin."""

    name: str  # the source's name (dcgm, ...) or requests / tokens
    selector: str
    scale: float  # counter unit -> the unit summed (J, requests, tokens)
    starts_at_zero: bool
    method: str  # exact | increase
    workload_label: str | None  # its presence marks a series as allocated (promql.ALLOC)


@dataclass(frozen=True)
class Options:
    concurrency: int = 4
    max_samples: int = 50_000_000
    max_span_s: float = 7 * 86400.0
    max_fixes: int = 2000  # raw-sample fetches for reset tiles and gaps; beyond, PromQL's increase() stands in
    find_gaps: bool = True


@dataclass
class GapFound:
    series: Labels
    before: Sample
    after: Sample
    energy: float  # in the summed unit
    counted: bool
    note: str


@dataclass
class Report:
    """What reading one counter found besides the sums."""

    series: int = 0
    interval_s: float | None = None
    gaps: list[GapFound] = field(default_factory=list)
    gaps_total: int = 0
    resets: list[tuple[Labels, Sample, Sample]] = field(default_factory=list)
    resets_total: int = 0
    warnings: list[str] = field(default_factory=list)


def _points(result: list[dict[str, Any]]) -> Iterable[tuple[Labels, float, float]]:
    """(labels, time, value) of a vector or matrix answer; values that are not finite are skipped."""
    for item in result:
        metric = item.get("metric") or {}
        rows = item.get("values") or ([item["value"]] if "value" in item else [])
        for t, v in rows:
            x = float(v)
            if math.isfinite(x):
                yield metric, float(t), x


def _samples(result: list[dict[str, Any]], labels: Labels | None = None) -> list[Sample]:
    """The raw samples of the one series with exactly `labels` (all of the answer when None)."""
    want = {k: v for k, v in (labels or {}).items() if k != "__name__"}
    for item in result:
        metric = {k: v for k, v in (item.get("metric") or {}).items() if k != "__name__"}
        if labels is None or metric == want:
            return [(float(t), float(v)) for t, v in item.get("values") or []]
    return []


def _key(labels: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("__name__", promql.EVENT)))


class _Runner:
    def __init__(self, client: PromClient, counter: Counter, window: Window, by: list[str], options: Options,
                 sink: Sink, series: int) -> None:
        self.client, self.c, self.window, self.by, self.o, self.sink = client, counter, window, by, options, sink
        self.tiles = window.tiles()
        self.lookback_s = self.tiles[0].length_s + LOOKBACK_EXTRA_S
        self.report = Report(series=series)
        self.series = series

    # -- helpers ------------------------------------------------------------------------------------
    def _run(self, expr: Callable[[float], str], chunk: list[Tile], purpose: str) -> list[tuple[Labels, int, float]]:
        """An expression over a run of tiles of one length: one range query (or an instant one)."""
        length = chunk[0].length_s
        text = expr(length)
        if len(chunk) == 1:
            result = self.client.query(text, chunk[0].end, purpose)
        else:
            result = self.client.query_range(text, chunk[0].end, chunk[-1].end, length, purpose)
        index = {round(t.end): t.index for t in chunk}
        return [(labels, index[round(t)], v) for labels, t, v in _points(result) if round(t) in index]

    def _fix(self, labels: Labels, tile: int, value: float) -> None:
        """A whole series' contribution, tagged as the sums tag theirs (promql.ALLOC on allocated series)."""
        workload = self.c.workload_label
        tagged = {**labels, promql.ALLOC: "1"} if workload and labels.get(workload) else labels
        self.sink(tagged, tile, value)

    def _tagged(self, kind: str, expr: Callable[[float], str], chunk: list[Tile],
                purpose: str) -> tuple[str, list[tuple[Labels, int, float]]]:
        return kind, self._run(expr, chunk, purpose)

    def _raw(self, labels: Labels, at: float, span_s: float, purpose: str) -> list[Sample]:
        expr = f"{promql.exact_selector(self.c.selector, labels)}[{promql.dur(span_s)}]"
        return _samples(self.client.query(expr, at, purpose), labels)

    def _parallel(self, jobs: Sequence[Callable[[], Any]]) -> list[Any]:
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=max(1, self.o.concurrency)) as pool:
            futures: list[Future[Any]] = [pool.submit(job) for job in jobs]
            return [f.result() for f in futures]

    # -- the steps ----------------------------------------------------------------------------------
    def edges(self) -> None:
        """Interpolate the counter at the window's start and end; estimate the scrape interval."""
        w, reach = self.window, EDGE_REACH_S
        first, last = self.tiles[0], self.tiles[-1]
        span = 2 * reach
        answers = self._parallel([
            lambda: self.client.query(f"{self.c.selector}[{promql.dur(span)}]", w.start + reach, "raw samples at the start"),
            lambda: self.client.query(f"{self.c.selector}[{promql.dur(span)}]", w.end + reach, "raw samples at the end")])
        intervals: list[float] = []
        for result, t, tile, at_end in ((answers[0], w.start, first, False), (answers[1], w.end, last, True)):
            for item in result:
                labels = item.get("metric") or {}
                samples = [(float(a), float(b)) for a, b in item.get("values") or []]
                step = counters.median_interval_s(samples)
                if step:
                    intervals.append(step)
                if self.c.method == "exact":
                    fix = counters.edge_correction(samples, t, min(self.lookback_s, reach), at_end=at_end,
                                                   reach_s=min(reach, tile.length_s))
                    if fix:
                        self._fix(labels, tile.index, fix * self.c.scale)
        if not intervals:  # no series at either edge: look in the middle
            mid = (w.start + w.end) / 2
            for item in self.client.query(f"{self.c.selector}[{promql.dur(span)}]", mid, "raw samples (scrape interval)"):
                step = counters.median_interval_s([(float(a), float(b)) for a, b in item.get("values") or []])
                if step:
                    intervals.append(step)
        self.report.interval_s = statistics.median(intervals) if intervals else None

    def sums(self) -> tuple[list[tuple[Labels, int]], list[tuple[Labels, int, str]]]:
        """The PromQL sums per tile; the reset tiles and the gap events they leave to fix."""
        c, lb = self.c, self.lookback_s
        runs = chunks(self.tiles, series=self.series, max_samples=self.o.max_samples, max_span_s=self.o.max_span_s)
        def energy(length: float) -> str:
            return promql.energy(c.selector, length, lb, self.by, c.workload_label, starts_at_zero=c.starts_at_zero,
                                 method=c.method)

        def flag(length: float) -> str:
            return promql.flagged(c.selector, length, lb)

        def event(length: float) -> str:
            return promql.events(c.selector, length)

        kinds = [("sum", energy, f"{c.name}: sum per tile")]
        if c.method == "exact":
            kinds.append(("flag", flag, f"{c.name}: tiles with a counter reset"))
        if self.o.find_gaps:
            kinds.append(("event", event, f"{c.name}: scrape gaps, series starting and ending"))
        jobs = [partial(self._tagged, kind, expr, run, purpose) for run in runs for kind, expr, purpose in kinds]
        flags: list[tuple[Labels, int]] = []
        events: list[tuple[Labels, int, str]] = []
        for kind, rows in self._parallel(jobs):
            for labels, tile, value in rows:
                if kind == "sum":
                    self.sink(labels, tile, value * c.scale)
                elif kind == "flag":
                    flags.append((labels, tile))
                else:
                    events.append(({k: v for k, v in labels.items() if k != promql.EVENT}, tile,
                                   labels.get(promql.EVENT, "")))
        return flags, events

    def fix_resets(self, flags: list[tuple[Labels, int]]) -> None:
        """Tiles left out of the sums for a reset: their exact energy from raw samples (or, beyond the
        fetch budget, PromQL's increase() on those tiles only)."""
        c, lb = self.c, self.lookback_s
        if not flags:
            return
        if len(flags) > self.o.max_fixes:
            self.report.warnings.append(
                f"{c.name}: {len(flags)} tiles hold a counter reset, more than the {self.o.max_fixes} fetched raw: "
                "they are counted with PromQL's increase() (extrapolated at the tile edges)")
            def expr(length: float) -> str:
                return promql.reset_tiles(c.selector, length, lb, self.by, c.workload_label)

            runs = chunks(self.tiles, series=self.series, max_samples=self.o.max_samples, max_span_s=self.o.max_span_s)
            for rows in self._parallel([partial(self._run, expr, run, f"{c.name}: reset tiles (increase)")
                                        for run in runs]):
                for labels, tile, value in rows:
                    self.sink(labels, tile, value * c.scale)
            self.report.resets_total += len(flags)
            return
        tiles = {t.index: t for t in self.tiles}

        def one(labels: Labels, index: int) -> tuple[Labels, int, float, list[tuple[Sample, Sample]]]:
            tile = tiles[index]
            samples = self._raw(labels, tile.end, tile.length_s + lb, f"{c.name}: raw samples of a reset tile")
            value = counters.tile_energy(samples, tile.start, tile.end, lb, starts_at_zero=c.starts_at_zero)
            return labels, index, value, counters.resets_in(samples, tile.start, tile.end)

        for labels, index, value, found in self._parallel([partial(one, a, b) for a, b in flags]):
            self._fix(labels, index, value * c.scale)
            for before, after in found:
                self.report.resets_total += 1
                if len(self.report.resets) < MAX_LISTED:
                    self.report.resets.append((labels, before, after))

    def fix_gaps(self, events: list[tuple[Labels, int, str]]) -> None:
        """Long gaps (whole tiles without samples) get the counter's difference across them; short ones
        (fewer samples than the tiles around) are measured; both are reported."""
        c, lb = self.c, self.lookback_s
        tiles = {t.index: t for t in self.tiles}
        by_series: dict[tuple[tuple[str, str], ...], list[tuple[int, str]]] = {}
        labels_of: dict[tuple[tuple[str, str], ...], Labels] = {}
        for labels, tile, kind in events:
            key = _key(labels)
            labels_of[key] = labels
            by_series.setdefault(key, []).append((tile, kind))
        long: list[tuple[Labels, int, int]] = []
        short: list[tuple[Labels, int]] = []
        for key, found in by_series.items():
            found.sort()
            vanished: int | None = None
            for tile, kind in found:
                if kind == "vanished":
                    vanished = tile
                elif kind == "appeared" and vanished is not None and tile > vanished and vanished - 1 in tiles:
                    long.append((labels_of[key], vanished - 1, tile))
                    vanished = None
                elif kind == "short":
                    short.append((labels_of[key], tile))
        jobs = len(long) * 2 + len(short)
        if jobs > self.o.max_fixes:
            self.report.warnings.append(
                f"{c.name}: {len(long)} long and {len(short)} short scrape gaps found, more than the {self.o.max_fixes} "
                "raw fetches allowed: the first are measured and listed, the energy across the other long gaps is not "
                "counted")
            budget = self.o.max_fixes
            long = long[: budget // 2]
            short = short[: max(0, budget - 2 * len(long))]

        def bridge(labels: Labels, before_tile: int, after_tile: int) -> tuple[Labels, int, float, GapFound | None]:
            tb, ta = tiles[before_tile], tiles[after_tile]
            earlier = self._raw(labels, tb.end, tb.length_s, f"{c.name}: raw samples before a gap")
            later = self._raw(labels, ta.end, ta.length_s + lb, f"{c.name}: raw samples after a gap")
            inside = [s for s in later if ta.start < s[0] <= ta.end]
            if not earlier or not inside:
                return labels, after_tile, 0.0, None
            before, after = earlier[-1], inside[0]
            fix = 0.0
            if c.method == "exact":
                fix = counters.gap_correction(before, later, ta.start, ta.end, lb, starts_at_zero=c.starts_at_zero)
            energy = counters.increment(before[1], after[1])
            counted = c.method == "exact"
            note = ("counted: the counter's difference across the gap" + ("" if after[1] >= before[1] else
                    ", which reset during it: counted from zero") if counted else
                    "not counted across tiles: PromQL's increase() does not bridge a gap between tiles")
            return labels, after_tile, fix, GapFound(labels, before, after, energy * c.scale, counted, note)

        def measure_short(labels: Labels, index: int) -> list[GapFound]:
            tile = tiles[index]
            samples = self._raw(labels, tile.end, tile.length_s + lb, f"{c.name}: raw samples of a short tile")
            out = []
            for before, after in counters.find_gaps(samples, self.report.interval_s):
                if tile.start < after[0] <= tile.end:
                    out.append(GapFound(labels, before, after, counters.increment(before[1], after[1]) * c.scale,
                                        True, "counted: the counter's difference across the gap"))
            return out

        gaps: list[GapFound] = []
        for labels, tile, fix, gap in self._parallel([partial(bridge, a, b, d) for a, b, d in long]):
            if fix:
                self._fix(labels, tile, fix * c.scale)
            if gap is not None:
                gaps.append(gap)
        for more in self._parallel([partial(measure_short, a, b) for a, b in short]):
            gaps.extend(more)
        seen: set[tuple[tuple[tuple[str, str], ...], float]] = set()
        for gap in gaps:
            mark = (_key(gap.series), gap.before[0])
            if mark in seen:
                continue
            seen.add(mark)
            self.report.gaps_total += 1
            if len(self.report.gaps) < MAX_LISTED:
                self.report.gaps.append(gap)


def measure(client: PromClient, counter: Counter, window: Window, by: list[str], options: Options, sink: Sink,
            *, series: int) -> Report:
    """Read `counter` over `window`, summed by the labels `by` (and promql.ALLOC), into `sink`."""
    runner = _Runner(client, counter, window, by, options, sink, series)
    runner.edges()
    flags, events = runner.sums()
    if counter.method == "exact":
        runner.fix_resets(flags)
    if options.find_gaps:
        runner.fix_gaps(events)
    return runner.report


def device_samples(client: PromClient, counter: Counter, window: Window, by: list[str], options: Options,
                   sink: Sink, *, series: int) -> None:
    """Samples per label set and tile (x the scrape interval: how long devices were held)."""
    runner = _Runner(client, counter, window, by, options, sink, series)
    runs = chunks(runner.tiles, series=series, max_samples=options.max_samples, max_span_s=options.max_span_s)
    def expr(length: float) -> str:
        return promql.samples(counter.selector, length, by, counter.workload_label)

    for rows in runner._parallel([partial(runner._run, expr, run, f"{counter.name}: samples per tile (device time)")
                                  for run in runs]):
        for labels, tile, value in rows:
            sink(labels, tile, value)


def shared_devices(client: PromClient, counter: Counter, window: Window, device_labels: list[str], interval_s: float,
                   options: Options, *, series: int) -> set[tuple[str, ...]]:
    """Devices counted by more than one series at once (a GPU shared between pods)."""
    runner = _Runner(client, counter, window, [], options, lambda *_: None, series)
    runs = chunks(runner.tiles, series=series, max_samples=options.max_samples, max_span_s=options.max_span_s)
    def expr(length: float) -> str:
        return promql.shared(counter.selector, length, device_labels, length / interval_s + 1)

    found: set[tuple[str, ...]] = set()
    for rows in runner._parallel([partial(runner._run, expr, run, f"{counter.name}: devices counted twice")
                                  for run in runs]):
        for labels, _, _ in rows:
            found.add(tuple(labels.get(k, "") for k in device_labels))
    return found


def gap_times(gap: GapFound) -> tuple[str, str, float]:
    return iso(gap.before[0]), iso(gap.after[0]), gap.after[0] - gap.before[0]


__all__ = ["Counter", "GapFound", "Labels", "MAX_LISTED", "Options", "Report", "Sink", "device_samples",
           "gap_times", "measure", "shared_devices"]
