"""Pipeline phases (data, forward, backward, optimizer, evaluation, inference…) and their energy.

The host thread only records markers: entering or leaving a phase appends `(time, path id, entered)`
to a deque — no lock, no sensor read, about a microsecond. The sampler thread drains the markers
each interval and splits that interval's energy between phase paths by time overlap: every phase
active during an interval is charged the interval's mean power for the time it was innermost.

Precision: a counter or power reading resolves energy per sampling interval Δ, not within it. A
phase that lasts many intervals is exact up to its two boundary intervals, where the error is at
most ΔP·Δ/4 each (ΔP: the power difference between the phases on either side). Phases that
alternate faster than Δ (forward/backward of every step) get their share of *time* of each
interval at the interval's mean power: their energy split follows their time split, and a power
difference between them is not resolved. Shorten `interval_s` or use synchronized markers on
GPUs to tighten it. Channels that only report instantaneous power (no counter) add their own
integration error at a power step, up to ΔP·Δ/2, to whichever interval holds the step.

Phases nest: `with run.phase("train"): with run.phase("forward"): …` is recorded as the path
`train/forward`; energies are kept per innermost path (exclusive) and summed up the tree
(inclusive) for reports. Mark phases from one thread; other threads' work is still measured, and
is charged to whichever phase that thread is in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OUTSIDE = 0  # path id of time spent outside every phase


@dataclass
class PhaseTotals:
    path: str
    duration_s: float = 0.0  # exclusive: time this path was the innermost phase
    energy_j: dict[str, float] = field(default_factory=dict)  # exclusive, by kind (gpu, cpu, ram)
    entries: int = 0
    items: float = 0.0


def within(path: str, ancestor: str) -> bool:
    """`path` is `ancestor` or nested in it ("" — outside every phase — contains only itself)."""
    return path == ancestor or (ancestor != "" and path.startswith(ancestor + "/"))


class PhaseRecorder:
    """The host side: phase markers. One per run."""

    def __init__(self, clock: Callable[[], float], sync: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.sync = sync
        self.events: deque[tuple[float, int, bool]] = deque()
        self.paths: list[str] = [""]
        self.items: dict[int, float] = {}
        self._child: dict[tuple[int, str], int] = {}
        self._stack: list[int] = []
        self._markers: dict[str, Marker] = {}

    def path_id(self, parent: int, name: str) -> int:
        pid = self._child.get((parent, name))
        if pid is None:
            if not name or "/" in name:
                raise ValueError(f"invalid phase name {name!r}: use a non-empty name without '/'")
            pid = len(self.paths)
            self.paths.append(f"{self.paths[parent]}/{name}" if parent else name)
            self._child[(parent, name)] = pid
        return pid

    def marker(self, name: str, items: float | None = None) -> Marker:
        cls = SyncMarker if self.sync is not None else Marker
        if items is None:
            marker = self._markers.get(name)
            if marker is None:
                marker = self._markers[name] = cls(self, name, None)
            return marker
        return cls(self, name, items)

    def enter(self, name: str, items: float | None = None, t: float | None = None) -> None:
        """Enter a phase (for callbacks that cannot use `with`); `t` backdates the entry."""
        stack = self._stack
        pid = self.path_id(stack[-1] if stack else OUTSIDE, name)
        stack.append(pid)
        if items:
            self.items[pid] = self.items.get(pid, 0.0) + items
        self.events.append((self.clock() if t is None else t, pid, True))

    def exit(self, name: str | None = None) -> None:
        """Leave the innermost phase, or the innermost phase called `name` (and any inside it)."""
        stack = self._stack
        if not stack:
            return
        if name is not None:
            for depth in range(len(stack) - 1, -1, -1):
                if self.paths[stack[depth]].rsplit("/", 1)[-1] == name:
                    del stack[depth:]
                    break
            else:
                return
        else:
            stack.pop()
        self.events.append((self.clock(), stack[-1] if stack else OUTSIDE, False))

    def current(self) -> str | None:
        return self.paths[self._stack[-1]] if self._stack else None


class Marker:
    """`with run.phase("forward"):` — reusable, so a marker per step allocates one event tuple.

    The fast path avoids attribute chains: bound methods and the last parent → path lookup are
    cached on the marker (a marker is nearly always entered under the same parent).
    """

    __slots__ = ("rec", "name", "items", "_append", "_clock", "_stack", "_parent", "_pid")

    def __init__(self, rec: PhaseRecorder, name: str, items: float | None) -> None:
        self.rec, self.name, self.items = rec, name, items
        self._append = rec.events.append
        self._clock = rec.clock
        self._stack = rec._stack
        self._parent = -1
        self._pid = OUTSIDE
        rec.path_id(OUTSIDE, name)  # validates the name now, not on first use

    def __enter__(self) -> Marker:
        stack = self._stack
        parent = stack[-1] if stack else OUTSIDE
        if parent != self._parent:
            self._pid = self.rec.path_id(parent, self.name)
            self._parent = parent
        pid = self._pid
        stack.append(pid)
        if self.items:
            items = self.rec.items
            items[pid] = items.get(pid, 0.0) + self.items
        self._append((self._clock(), pid, True))
        return self

    def __exit__(self, *exc: Any) -> None:
        stack = self._stack
        if stack:
            stack.pop()
        self._append((self._clock(), stack[-1] if stack else OUTSIDE, False))


class SyncMarker(Marker):
    """A marker that waits for queued GPU work first, so asynchronous kernels land in their phase."""

    __slots__ = ()

    def __enter__(self) -> Marker:
        self.rec.sync()  # type: ignore[misc]
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.rec.sync()  # type: ignore[misc]
        super().__exit__(*exc)


class PhaseAccount:
    """The sampler side: turns markers into time per path per interval, and energy per path."""

    def __init__(self, recorder: PhaseRecorder) -> None:
        self.recorder = recorder
        self.totals: dict[int, PhaseTotals] = {}
        self._current = OUTSIDE
        self._cursor: float | None = None
        self._early: list[tuple[float, int, bool]] = []  # drained, but later than the interval's end

    def _total(self, pid: int) -> PhaseTotals:
        total = self.totals.get(pid)
        if total is None:
            total = self.totals[pid] = PhaseTotals(self.recorder.paths[pid])
        return total

    def split(self, t_start: float, t_end: float) -> dict[int, float]:
        """Seconds each path was innermost in [t_start, t_end]; consumes the markers up to t_end."""
        events = self.recorder.events
        pending = self._early
        self._early = []
        popleft = events.popleft
        while events:
            try:
                pending.append(popleft())
            except IndexError:  # emptied by another reader between the check and the pop
                break
        cursor = t_start if self._cursor is None else max(self._cursor, t_start)
        current = self._current
        durations: dict[int, float] = {}
        entries: dict[int, int] = {}
        for i, (t, pid, entered) in enumerate(pending):  # hot loop: one pass, locals only
            if t > t_end:
                self._early = pending[i:]
                break
            if t > cursor:
                durations[current] = durations.get(current, 0.0) + (t - cursor)
                cursor = t
            current = pid
            if entered:
                entries[pid] = entries.get(pid, 0) + 1
        if t_end > cursor:
            durations[current] = durations.get(current, 0.0) + (t_end - cursor)
        self._current, self._cursor = current, t_end
        for pid, seconds in durations.items():
            self._total(pid).duration_s += seconds
        for pid, n in entries.items():
            self._total(pid).entries += n
        return durations

    def charge(self, durations: dict[int, float], kind: str, energy_j: float) -> None:
        """Split one channel's energy for the interval by the time shares from `split`."""
        span = sum(durations.values())
        if span <= 0 or energy_j == 0:
            return
        for pid, seconds in durations.items():
            if seconds > 0:
                e = self._total(pid).energy_j
                e[kind] = e.get(kind, 0.0) + energy_j * seconds / span

    def snapshot(self) -> list[PhaseTotals]:
        """Exclusive totals per path, items included, outside-of-phases last."""
        for pid, items in list(self.recorder.items.items()):
            self._total(pid).items = items
        return sorted(self.totals.values(), key=lambda p: (p.path == "", p.path))

