"""Counters read from Prometheus, tile by tile: each series' value at every tile's end and its sample
count (promql.end_values, promql.counts), the tiles' differences taken here, then the exact fixes from
raw samples (window edges, reset tiles, hand-overs the end values do not settle, long gaps) that
fleet/counters.py defines.

A *unit* is what one counter counts: a device (a GPU, named by the source's device labels, whose
counter its series carry in turn) or, for sources without device labels, a series. `measure` reads
every counter the fleet view uses (energy, requests, tokens) and hands each contribution — (labels,
tile, value) — to a sink, in the calling thread; the labels are a series' (or, for sources summed by
PromQL's increase(), the `sum by` labels), and the sink maps both the same way.

Memory holds a window of answers at a time — a few runs of two days of values per series and tile,
each unit reduced to a few numbers of state as the runs pass in tile order, or the raw samples of a
few units over a few tiles — never the samples of the period.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import counters, promql
from .client import PromClient
from .counters import Key, Sample
from .plan import EDGE_REACH_S, LOOKBACK_S, Tile, Window, chunks, iso

Labels = dict[str, str]
Sink = Callable[[Labels, int, float], None]
TimeSink = Callable[[Labels, float], None]  # a series' labels, seconds it was there
Unit = tuple[tuple[str, str], ...]  # the device's labels, or the series' own
MAX_LISTED = 200  # gaps and resets listed in the result; the rest are counted
BATCH_UNITS = 64  # devices fetched raw in one query
BATCH_TILES = 6  # consecutive tiles fetched raw in one query
SHORT_BY = 2  # a tile with this many samples fewer than a neighbour has a gap


@dataclass(frozen=True)
class Counter:
    """One counter to read: a selector, its unit and how its series begin."""

    name: str  # the source's name (dcgm, ...) or requests / tokens
    selector: str
    scale: float  # counter unit -> the unit summed (J, requests, tokens)
    starts_at_zero: bool
    method: str  # exact | increase
    workload_label: str | None  # its presence marks a series as allocated (promql.ALLOC)
    device: tuple[str, ...] = ()  # labels naming the device whose counter the series carry (DCGM: UUID)


@dataclass(frozen=True)
class Options:
    concurrency: int = 4
    max_samples: int = 50_000_000
    max_span_s: float = 2 * 86400.0  # a query's answer (series x tiles) held at once: memory, not speed
    max_fixes: int = 200_000  # unit-tiles fixed from raw samples (in batches); beyond, PromQL's differences stand
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
    handovers: int = 0  # unit-tiles split between series from raw samples
    shared: set[Unit] = field(default_factory=set)  # devices two series counted at once
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Series:
    key: Key
    unit: Unit
    tagged: Labels  # the labels as sums carry them (promql.ALLOC on allocated series)


@dataclass
class _Run:
    """One series over one run of tiles: its end values and its sample counts, by tile."""

    info: _Series
    ends: dict[int, float]
    counts: dict[int, float]


@dataclass(frozen=True)
class _Ends:
    """Where a unit stood at the end of its last tile with samples: its largest value, its series if it had
    only one, and each series' own last value (by tile)."""

    tile: int
    value: float
    only: Key | None
    series: dict[Key, tuple[int, float]]


@dataclass
class _State:
    """A unit's last tiles, as the counts stream past: enough to see hand-overs and gaps."""

    tile: int  # the last tile with samples
    keys: frozenset[Key]
    count: float
    before: float | None = None  # the count of the tile before `tile`, if it had samples


Rows = list[tuple[Labels, list[tuple[int, float]]]]  # per series (its labels), its (tile, value) points


def _rows(result: list[dict[str, Any]], index: dict[int, int]) -> Rows:
    """A vector or matrix answer per series: (labels, [(tile, value)]); points off the tiles' ends, or not
    finite, are skipped. Series-major, so a series' labels are handled once, not once per point."""
    out: Rows = []
    for item in result:
        points = []
        for t, v in item.get("values") or ([item["value"]] if "value" in item else []):
            tile = index.get(round(float(t)))
            x = float(v)
            if tile is not None and math.isfinite(x):
                points.append((tile, x))
        if points:
            out.append((item.get("metric") or {}, points))
    return out


def _key(labels: Labels) -> Key:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("__name__", promql.ALLOC)))


class _Runner:
    def __init__(self, client: PromClient, counter: Counter, window: Window, by: list[str], options: Options,
                 sink: Sink, series: int, time_sink: TimeSink | None) -> None:
        self.client, self.c, self.window, self.by, self.o, self.sink = client, counter, window, by, options, sink
        self.time_sink = time_sink
        self.tiles = window.tiles()
        self.tile = {t.index: t for t in self.tiles}
        self.lookback_s = LOOKBACK_S
        self.report = Report(series=series)
        self.series = series
        self.device = list(counter.device) if counter.method == "exact" else []
        self.fixes: dict[tuple[Unit, int], Sample | None] = {}  # unit-tile -> the sample before a long gap, if any
        self.unsettled: set[tuple[Unit, int]] = set()  # unit-tiles the end values left uncounted
        self.tags: dict[Key, Labels] = {}  # each series' labels as the sinks get them
        self.candidates: list[tuple[Unit, int, int]] = []  # (unit, tile before a gap, tile after it)

    # -- helpers ------------------------------------------------------------------------------------
    def _run(self, expr: Callable[[float], str], chunk: list[Tile], purpose: str) -> Rows:
        """An expression over a run of tiles of one length: one range query (or an instant one)."""
        length = chunk[0].length_s
        text = expr(length)
        if len(chunk) == 1:
            result = self.client.query(text, chunk[0].end, purpose)
        else:
            result = self.client.query_range(text, chunk[0].end, chunk[-1].end, length, purpose)
        index = {round(t.end): t.index for t in chunk}
        return _rows(result, index)

    def _tagged(self, kind: str, expr: Callable[[float], str], chunk: list[Tile], purpose: str) -> tuple[str, Rows]:
        return kind, self._run(expr, chunk, purpose)

    @property
    def start_lookback_s(self) -> float:
        """How far back a tile's start value may be: the tile before's end value reaches this far."""
        return self.tiles[0].length_s

    def _tag(self, labels: Labels | Key) -> Labels:
        """A series' labels, tagged as the sums tag theirs (promql.ALLOC on allocated series)."""
        labels = dict(labels)
        workload = self.c.workload_label
        return {**labels, promql.ALLOC: "1"} if workload and labels.get(workload) else labels

    def _fix(self, labels: Labels | Key, tile: int, value: float) -> None:
        self.sink(self._tag(labels), tile, value * self.c.scale)

    def _unit(self, labels: Labels | Key) -> Unit:
        labels = dict(labels)
        if self.device:
            return tuple((d, labels.get(d, "")) for d in self.device)
        return _key(labels)

    def _raw(self, units: Sequence[Unit], at: float, span_s: float, purpose: str) -> dict[Unit, dict[Key, list[Sample]]]:
        """Raw samples of these units over [at - span_s, at]: per unit, per series."""
        if self.device:
            regex = {d: [dict(u)[d] for u in units] for d in self.device}
            selector = promql.exact_selector(self.c.selector, {}, regex)
        else:
            assert len(units) == 1
            selector = promql.exact_selector(self.c.selector, dict(units[0]))
        wanted = set(units)
        out: dict[Unit, dict[Key, list[Sample]]] = {}
        for item in self.client.query(f"{selector}[{promql.dur(span_s)}]", at, purpose):
            labels = item.get("metric") or {}
            unit = self._unit(labels)
            if unit in wanted:
                out.setdefault(unit, {})[_key(labels)] = [(float(t), float(v)) for t, v in item.get("values") or []]
        return out

    def _stream(self, jobs: Sequence[Callable[[], Any]]) -> Iterator[Any]:
        """The jobs' results in the order given, `concurrency` in flight: a job starts only when a result
        has been taken, so answers never pile up (memory stays one window of answers, whatever the period)."""
        if not jobs:
            return
        width = max(1, self.o.concurrency)
        with ThreadPoolExecutor(max_workers=width) as pool:
            pending: deque[Future[Any]] = deque(pool.submit(job) for job in jobs[:width])
            following = iter(jobs[width:])
            while pending:
                result = pending.popleft().result()
                job = next(following, None)
                if job is not None:
                    pending.append(pool.submit(job))
                yield result

    def _runs(self, tiles: list[Tile] | None = None) -> list[list[Tile]]:
        return chunks(tiles or self.tiles, series=self.series, max_samples=self.o.max_samples,
                      max_span_s=self.o.max_span_s)

    # -- the steps ----------------------------------------------------------------------------------
    def edges(self) -> None:
        """Interpolate the counter at the window's start and end; estimate the scrape interval."""
        w, reach = self.window, EDGE_REACH_S
        first, last = self.tiles[0], self.tiles[-1]
        span = 2 * reach
        answers = list(self._stream([
            partial(self.client.query, f"{self.c.selector}[{promql.dur(span)}]", w.start + reach,
                    "raw samples at the start"),
            partial(self.client.query, f"{self.c.selector}[{promql.dur(span)}]", w.end + reach,
                    "raw samples at the end")]))
        intervals: list[float] = []
        for result, t, tile, at_end in ((answers[0], w.start, first, False), (answers[1], w.end, last, True)):
            units: dict[Unit, dict[Key, list[Sample]]] = {}
            for item in result:
                labels = item.get("metric") or {}
                samples = [(float(a), float(b)) for a, b in item.get("values") or []]
                step = counters.median_interval_s(samples)
                if step:
                    intervals.append(step)
                units.setdefault(self._unit(labels), {})[_key(labels)] = samples
            if self.c.method != "exact":
                continue
            for series in units.values():
                fix = counters.edge_correction(series, t, min(self.lookback_s, reach), at_end=at_end,
                                               reach_s=min(reach, tile.length_s))
                if fix is not None and fix[1]:
                    self._fix(fix[0], tile.index, fix[1])
        if not intervals:  # no series at either edge: look in the middle
            mid = (w.start + w.end) / 2
            for item in self.client.query(f"{self.c.selector}[{promql.dur(span)}]", mid, "raw samples (scrape interval)"):
                step = counters.median_interval_s([(float(a), float(b)) for a, b in item.get("values") or []])
                if step:
                    intervals.append(step)
        self.report.interval_s = statistics.median(intervals) if intervals else None
        if self.report.interval_s:  # a tile's start within three scrapes of it, at least
            self.lookback_s = max(LOOKBACK_S, 3 * self.report.interval_s)

    def sums(self) -> None:
        """Each series' value at every tile's end, the reset tiles, and the samples per series and tile: three
        passes over the samples, read run by run in tile order. The tiles' energy comes from the end values
        (counters.by_ends); the counts give device-time, sharing and gaps."""
        c, lb = self.c, self.lookback_s

        def end(length: float) -> str:
            return promql.end_values(c.selector, length)

        def energy(length: float) -> str:  # PromQL's increase(): summed in Prometheus
            return promql.increases(c.selector, length, self.by, c.workload_label)

        def flag(length: float) -> str:
            return promql.flagged(c.selector, length, lb)

        def count(length: float) -> str:
            return promql.counts(c.selector, length)

        # the end values and counts start one tile early: where each series stood when the window began
        first = self.tiles[0]
        tiles = [Tile(-1, first.start - first.length_s, first.start), *self.tiles]
        jobs: list[Callable[[], Any]] = []
        runs = self._runs(tiles)
        for run in runs:
            inside = [t for t in run if t.index >= 0]
            if c.method == "exact":
                jobs.append(partial(self._tagged, "end", end, run, f"{c.name}: value per series at each tile's end"))
            else:
                jobs.append(partial(self._tagged, "sum", energy, inside, f"{c.name}: increase() per tile")
                            if inside else partial(_nothing, "sum"))
            jobs.append(partial(self._tagged, "flag", flag, inside, f"{c.name}: tiles with a counter reset")
                        if inside else partial(_nothing, "flag"))
            jobs.append(partial(self._tagged, "count", count, run, f"{c.name}: samples per series and tile"))
        states: dict[Unit, _State] = {}
        ends: dict[Unit, _Ends] = {}
        answers: dict[str, Rows] = {}
        for kind, rows in self._stream(jobs):
            answers[kind] = rows
            if len(answers) < 3:
                continue
            for labels, points in answers.pop("sum", []):
                for tile, value in points:
                    self.sink(labels, tile, value * c.scale)
            flagged = {(self._unit(labels), tile) for labels, points in answers.pop("flag", []) for tile, _ in points}
            if c.method != "exact":  # increase() took the resets in its stride: they are counted, not redone
                self.report.resets_total += len(flagged)
            units: dict[Unit, dict[Key, _Run]] = {}
            for slot, kind in ((0, "end"), (1, "count")):
                for labels, points in answers.pop(kind, []):
                    key, unit = _key(labels), self._unit(labels)
                    record = units.setdefault(unit, {}).get(key)
                    if record is None:
                        tagged = self.tags.get(key)
                        if tagged is None:  # one dict per series for the whole period: the sink caches on it
                            tagged = self.tags[key] = self._tag(labels)
                        record = units[unit][key] = _Run(_Series(key, unit, tagged), {}, {})
                    (record.ends if slot == 0 else record.counts).update(points)
            answers.clear()
            for unit, series in units.items():
                self._counts(unit, series, states)
                if c.method == "exact":
                    self._energy(unit, series, flagged, ends)

    def _counts(self, unit: Unit, series: dict[Key, _Run], states: dict[Unit, _State]) -> None:
        """One unit's samples per series over a run of tiles: device-time, sharing, gap candidates."""
        interval = self.report.interval_s
        if self.time_sink is not None and interval:
            for run in series.values():
                held = sum(n for tile, n in run.counts.items() if tile >= 0)
                if held:
                    self.time_sink(run.info.tagged, held * interval)
        for index in sorted({t for run in series.values() for t in run.counts}):
            keys = {key: run.counts[index] for key, run in series.items() if index in run.counts}
            total = sum(keys.values())
            state = states.get(unit)
            follows = state is not None and state.tile == index - 1
            if index >= 0:
                full = self.tile[index].length_s / interval if interval else None
                if full and len(keys) > 1 and total > 1.25 * (full + 1):
                    self.report.shared.add(unit)
                if state is not None and 0 <= state.tile < index - 1:  # whole tiles without a sample
                    self.candidates.append((unit, state.tile, index))
                if follows and state is not None and state.before is not None and state.tile - 1 in self.tile \
                        and state.count + SHORT_BY <= max(state.before, total):
                    self.candidates.append((unit, state.tile - 1, state.tile))  # samples missing in the last tile
            states[unit] = _State(index, frozenset(keys), total, state.count if follows and state is not None else None)

    def _energy(self, unit: Unit, series: dict[Key, _Run], flagged: set[tuple[Unit, int]],
                ends: dict[Unit, _Ends]) -> None:
        """One unit's energy per series and tile from the end values; the tiles they do not settle are fixed
        later. The common case — one series carried the unit through the tile and the one before — is its end
        less its start, taken without building the general summary."""
        scale, device, zero = self.c.scale, bool(self.device), self.c.starts_at_zero
        state = ends.get(unit) or _Ends(-2, 0.0, None, {})
        if len(series) == 1:  # one series in the whole run: walk it
            run = next(iter(series.values()))
            for index in sorted(run.ends):
                value = run.ends[index]
                if index >= 0 and state.tile == index - 1 and state.only == run.info.key and value >= state.value \
                        and (unit, index) not in flagged:
                    if value > state.value:
                        self.sink(run.info.tagged, index, (value - state.value) * scale)
                elif index >= 0:
                    self._settle(unit, index, [(run.info, value)], state, flagged, scale, device, zero)
                state = _Ends(index, value, run.info.key, {run.info.key: (index, value)})
            ends[unit] = state
            return
        for index in sorted({t for run in series.values() for t in run.ends}):
            rows = [(run.info, run.ends[index]) for run in series.values() if index in run.ends]
            if index >= 0:
                self._settle(unit, index, rows, state, flagged, scale, device, zero)
            last = dict(state.series)
            for info, value in rows:
                last[info.key] = (index, value)
            state = _Ends(index, max(v for _, v in rows), rows[0][0].key if len(rows) == 1 else None,
                          {k: v for k, v in last.items() if v[0] >= index - 1})
        ends[unit] = state

    def _settle(self, unit: Unit, index: int, rows: list[tuple[_Series, float]], state: _Ends,
                flagged: set[tuple[Unit, int]], scale: float, device: bool, zero: bool) -> None:
        follows = state.tile == index - 1
        summary = {}
        for info, value in rows:
            before = state.series.get(info.key)
            summary[info.key] = counters.Ends(before[1] if before is not None and before[0] == index - 1 else None,
                                              value)
        settled = None if (unit, index) in flagged else counters.by_ends(
            summary, state.value if follows else None, starts_at_zero=zero, device=device)
        if settled is None:
            self.fixes.setdefault((unit, index), None)
            self.unsettled.add((unit, index))
            return
        tagged = {info.key: info.tagged for info, _ in rows}
        for key, value in settled.items():
            if value:
                self.sink(tagged[key], index, value * scale)

    def fix_gaps(self) -> None:
        """Gaps in a unit's samples, measured from raw samples and reported; the energy across each is the
        counter's own difference (the device kept counting), added where the look-back does not reach."""
        c = self.c
        budget = self.o.max_fixes // 4
        candidates = self.candidates
        if len(candidates) > budget:
            self.report.warnings.append(
                f"{c.name}: {len(candidates)} stretches with missing samples, more than the {budget} measured: "
                "the others are not listed, and across those longer than the look-back the energy is not counted")
            candidates = candidates[:budget]
        seen: set[tuple[Unit, float]] = set()
        for gaps in self._stream([partial(self._gap, *x) for x in candidates]):
            for unit, gap, index in gaps:
                if (unit, gap.before[0]) in seen:
                    continue
                seen.add((unit, gap.before[0]))
                if index is not None:
                    self.fixes[(unit, index)] = gap.before
                self.report.gaps_total += 1
                if len(self.report.gaps) < MAX_LISTED:
                    self.report.gaps.append(gap)

    def _gap(self, unit: Unit, before_tile: int, after_tile: int) -> list[tuple[Unit, GapFound, int | None]]:
        c, lb = self.c, self.lookback_s
        tb, ta = self.tile[before_tile], self.tile[after_tile]
        raw = self._raw([unit], ta.end, ta.end - tb.start + lb, f"{c.name}: raw samples around a gap").get(unit, {})
        merged = sorted({s for samples in raw.values() for s in samples})
        out: list[tuple[Unit, GapFound, int | None]] = []
        for before, after in counters.find_gaps(merged, self.report.interval_s):
            index = next((t.index for t in (tb, ta) if t.start < after[0] <= t.end), None)
            if index is None:
                continue
            owner = next((k for k, v in raw.items() if after in v), next(iter(raw), ()))
            bridge = c.method == "exact" and before[0] < self.tile[index].start - self.start_lookback_s
            energy = counters.increment(before[1], after[1]) * c.scale
            note = ("counted only within a tile: PromQL's increase() does not bridge a gap between tiles"
                    if c.method != "exact" else "counted: the counter's difference across the gap"
                    + ("" if after[1] >= before[1] else ", which reset during it: counted from zero"))
            out.append((unit, GapFound(dict(owner), before, after, energy, c.method == "exact", note),
                        index if bridge else None))
        return out

    def _batches(self, fixes: list[tuple[Unit, int]]) -> list[tuple[int, int, list[tuple[Unit, int]]]]:
        """Unit-tiles to fetch raw, grouped: a few consecutive tiles and a few dozen devices per query (a
        series' own tiles, one query each, where there are no device labels)."""
        if not self.device:
            return [(index, index, [(unit, index)]) for unit, index in fixes]
        out: list[tuple[int, int, list[tuple[Unit, int]]]] = []
        for unit, index in fixes:
            if out:
                first, _, wanted = out[-1]
                units = {u for u, _ in wanted}
                if index - first < BATCH_TILES and (unit in units or len(units) < BATCH_UNITS):
                    wanted.append((unit, index))
                    out[-1] = (first, index, wanted)
                    continue
            out.append((index, index, [(unit, index)]))
        return out

    def fix_tiles(self) -> None:
        """Unit-tiles whose PromQL difference is not the counted energy (a reset, a device changing hands, a gap
        the look-back does not reach): the exact energy from raw samples, split between the series that
        carried the device, replaces what PromQL counted for them."""
        c, lb, device = self.c, self.lookback_s, bool(self.device)
        back = self.start_lookback_s
        if not self.fixes:
            return
        if len(self.fixes) > self.o.max_fixes:
            self.report.warnings.append(
                f"{c.name}: {len(self.fixes)} tiles to redo from raw samples (resets, devices changing hands), more "
                f"than {self.o.max_fixes}: the rest keep PromQL's differences (a reset tile undercounts; a device's "
                "hand-over interval is lost)")
        batches = self._batches(sorted(self.fixes, key=lambda f: (f[1], f[0]))[: self.o.max_fixes])

        def one(first: int, last: int, wanted: list[tuple[Unit, int]]) -> list[
                tuple[int, dict[Key, float], list[tuple[Key, Sample, Sample]]]]:
            start, end = self.tile[first].start - back - lb, self.tile[last].end
            raw = self._raw(sorted({u for u, _ in wanted}), end, end - start, f"{c.name}: raw samples of tiles to redo")
            out = []
            for unit, index in wanted:
                tile = self.tile[index]
                series = {k: [x for x in v if tile.start - back - lb <= x[0] <= tile.end]
                          for k, v in raw.get(unit, {}).items()}
                series = {k: v for k, v in series.items() if v}
                previous = self.fixes.get((unit, index))
                exact = counters.attribute(series, tile.start, tile.end, back, starts_at_zero=c.starts_at_zero,
                                           previous=previous)
                counted: dict[Key, float] = {}
                if (unit, index) not in self.unsettled:  # the end values counted it: take that back
                    summary = {k: counters.ends_of(v, tile.start, tile.end, back) for k, v in series.items()}
                    starts = [e.start for e in summary.values() if e.start is not None]
                    counted = counters.by_ends(summary, max(starts) if starts else None,
                                               starts_at_zero=c.starts_at_zero, device=device) or {}
                diff = {k: exact.get(k, 0.0) - counted.get(k, 0.0) for k in set(exact) | set(counted)}
                merged = sorted({x for v in series.values() for x in v})
                found = [(next(k for k, v in series.items() if n in v), p, n)
                         for p, n in counters.resets_in(merged, tile.start, tile.end)]
                out.append((index, diff, found))
            return out

        for result in self._stream([partial(one, *batch) for batch in batches]):
            for index, diff, found in result:
                if len(diff) > 1:
                    self.report.handovers += 1
                for key, value in diff.items():
                    if value:
                        self._fix(key, index, value)
                for key, before, after in found:
                    self.report.resets_total += 1
                    if len(self.report.resets) < MAX_LISTED:
                        self.report.resets.append((dict(key), before, after))


def _nothing(kind: str) -> tuple[str, Rows]:
    return kind, []


def measure(client: PromClient, counter: Counter, window: Window, by: list[str], options: Options, sink: Sink,
            *, series: int, time_sink: TimeSink | None = None) -> Report:
    """Read `counter` over `window` into `sink`, by series labels (or, for increase() sources, the sums' labels
    `by` and promql.ALLOC) and tile; how long each series was there (samples x the scrape interval) into
    `time_sink`."""
    runner = _Runner(client, counter, window, by, options, sink, series, time_sink)
    runner.edges()
    runner.sums()
    if options.find_gaps:
        runner.fix_gaps()
    if counter.method == "exact":
        runner.fix_tiles()
    return runner.report


def gap_times(gap: GapFound) -> tuple[str, str, float]:
    return iso(gap.before[0]), iso(gap.after[0]), gap.after[0] - gap.before[0]


__all__ = ["Counter", "GapFound", "Labels", "MAX_LISTED", "Options", "Report", "Sink", "TimeSink", "gap_times",
           "measure"]
