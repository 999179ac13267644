"""Pipeline phases (data, forward, backward, optimizer, evaluation, inference…) and their energy.

The host only records markers: entering or leaving a phase appends `(time, frame, parent frame,
path id, entered)` to a deque — no lock, no sensor read, about a microsecond. The sampler thread
drains the markers each interval and splits that interval's energy between phase paths by time
overlap.

Concurrency. Each thread and each asyncio task has its own stack of open phases (a ContextVar, so
a task created inside a phase starts inside it, and `asyncio.to_thread` carries the caller's phase).
At any moment the *active* phases are the innermost open phases of every context (an open phase
whose context, or a task started inside it, has entered a nested phase is represented by that
nested phase). Each moment's power is shared equally between the active phases: eight requests in
`inference` at once each get an eighth of that time and energy; one request alone gets all of it;
with no phase open anywhere the time goes to "(outside phases)". A phase's `duration_s` is its share
of wall time, so the durations of all phases add up to the run's duration and their energies to
its energy. With one thread this is exactly the single-stack accounting.

Precision: a counter or power reading resolves energy per sampling interval Δ, not within it. A
phase that lasts many intervals is exact up to its two boundary intervals, where the error is at
most ΔP·Δ/4 each (ΔP: the power difference between the phases on either side). Phases that
alternate faster than Δ (forward/backward of every step) get their share of *time* of each
interval at the interval's mean power: their energy split follows their time split, and a power
difference between them is not resolved. Concurrent phases share power equally while they overlap:
a request that drives the GPU harder than the one beside it is not told apart from it. Shorten
`interval_s` or use synchronized markers on GPUs to tighten it. Channels that only report
instantaneous power (no counter) add their own integration error at a power step, up to ΔP·Δ/2, to
whichever interval holds the step.

Phases nest: `with run.phase("train"): with run.phase("forward"): …` is recorded as the path
`train/forward`; energies are kept per innermost path (exclusive) and summed up the tree
(inclusive) for reports.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

OUTSIDE = 0  # path id of time spent outside every phase
NO_FRAME = 0  # the parent of a context's outermost phase

# A context's open phases, innermost last, as (frame id, path id) pairs. A tuple, never mutated: a
# task started inside a phase copies its creator's context, and must not change the creator's stack.
Stack = tuple[tuple[int, int], ...]
Event = tuple[float, int, int, int, bool]  # (time, frame, parent frame, path id, entered)


@dataclass
class PhaseTotals:
    path: str
    duration_s: float = 0.0  # exclusive: this path's share of wall time as an active phase
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
        self.events: deque[Event] = deque()
        self.paths: list[str] = [""]
        self.items: dict[int, float] = {}
        self._child: dict[tuple[int, str], int] = {}
        self.stack: ContextVar[Stack] = ContextVar(f"mlfootprint_phases_{id(self)}", default=())
        self.frames = itertools.count(1).__next__  # thread-safe under the GIL: one C call
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
        stack = self.stack.get()
        parent_frame, parent = stack[-1] if stack else (NO_FRAME, OUTSIDE)
        pid = self.path_id(parent, name)
        frame = self.frames()
        self.stack.set(stack + ((frame, pid),))
        if items:
            self.items[pid] = self.items.get(pid, 0.0) + items
        self.events.append((self.clock() if t is None else t, frame, parent_frame, pid, True))

    def exit(self, name: str | None = None) -> None:
        """Leave this context's innermost phase, or its innermost phase called `name` (and any inside it)."""
        stack = self.stack.get()
        if not stack:
            return
        depth = len(stack) - 1
        if name is not None:
            while depth >= 0 and self.paths[stack[depth][1]].rsplit("/", 1)[-1] != name:
                depth -= 1
            if depth < 0:
                return
        self.stack.set(stack[:depth])
        t = self.clock()
        for frame, pid in reversed(stack[depth:]):
            self.events.append((t, frame, NO_FRAME, pid, False))

    def current(self) -> str | None:
        """This context's innermost phase."""
        stack = self.stack.get()
        return self.paths[stack[-1][1]] if stack else None


class Marker:
    """`with run.phase("forward"):` — reusable (a marker per step allocates one event tuple), and
    safe to share between threads and tasks: the open frame lives in the caller's context."""

    __slots__ = ("rec", "name", "items", "_append", "_clock", "_var", "_next", "_parent", "_pid")

    def __init__(self, rec: PhaseRecorder, name: str, items: float | None) -> None:
        self.rec, self.name, self.items = rec, name, items
        self._append = rec.events.append
        self._clock = rec.clock
        self._var = rec.stack
        self._next = rec.frames
        self._parent = -1
        self._pid = OUTSIDE
        rec.path_id(OUTSIDE, name)  # validates the name now, not on first use

    def __enter__(self) -> Marker:
        stack = self._var.get()
        parent_frame, parent = stack[-1] if stack else (NO_FRAME, OUTSIDE)
        if parent != self._parent:  # nearly always entered under the same parent: cache its path id
            self._pid = self.rec.path_id(parent, self.name)
            self._parent = parent
        pid = self._pid
        frame = self._next()
        self._var.set(stack + ((frame, pid),))
        if self.items:
            items = self.rec.items
            items[pid] = items.get(pid, 0.0) + self.items
        self._append((self._clock(), frame, parent_frame, pid, True))
        return self

    def __exit__(self, *exc: Any) -> None:
        stack = self._var.get()
        if stack:
            self._var.set(stack[:-1])
            frame, pid = stack[-1]
            self._append((self._clock(), frame, NO_FRAME, pid, False))


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
        self._open: dict[int, tuple[int, int]] = {}  # open frame -> (path id, parent frame)
        self._children: dict[int, int] = {}  # open frame -> how many of its child frames are open
        self._leaves: dict[int, int] = {}  # path id -> how many active (innermost) frames have it
        self._n_leaves = 0
        self._cursor: float | None = None
        self._early: list[Event] = []  # drained, but later than the interval's end

    def _total(self, pid: int) -> PhaseTotals:
        total = self.totals.get(pid)
        if total is None:
            total = self.totals[pid] = PhaseTotals(self.recorder.paths[pid])
        return total

    def _leaf(self, pid: int, delta: int) -> None:
        n = self._leaves.get(pid, 0) + delta
        if n:
            self._leaves[pid] = n
        else:
            del self._leaves[pid]
        self._n_leaves += delta

    def _apply(self, frame: int, parent: int, pid: int, entered: bool) -> None:
        """Update the active phases for one marker."""
        if entered:
            self._open[frame] = (pid, parent)
            self._children[frame] = 0
            if parent in self._open:
                self._children[parent] += 1
                if self._children[parent] == 1:  # the parent is no longer innermost
                    self._leaf(self._open[parent][0], -1)
            self._leaf(pid, +1)
            return
        opened = self._open.pop(frame, None)
        if opened is None:
            return
        pid, parent = opened
        if self._children.pop(frame) == 0:
            self._leaf(pid, -1)
        if parent in self._open:
            self._children[parent] -= 1
            if self._children[parent] == 0:  # its last nested phase ended: innermost again
                self._leaf(self._open[parent][0], +1)

    def split(self, t_start: float, t_end: float) -> dict[int, float]:
        """Seconds each path was active in [t_start, t_end] (shared between overlapping phases);
        consumes the markers up to t_end."""
        events = self.recorder.events
        pending = self._early
        self._early = []
        popleft = events.popleft
        while events:
            try:
                pending.append(popleft())
            except IndexError:  # emptied by another reader between the check and the pop
                break
        pending.sort(key=_time)  # threads append in nearly, not exactly, time order
        cursor = t_start if self._cursor is None else max(self._cursor, t_start)
        durations: dict[int, float] = {}
        entries: dict[int, int] = {}
        for i, (t, frame, parent, pid, entered) in enumerate(pending):
            if t > t_end:
                self._early = pending[i:]
                break
            if t > cursor:
                self._spend(durations, t - cursor)
                cursor = t
            self._apply(frame, parent, pid, entered)
            if entered:
                entries[pid] = entries.get(pid, 0) + 1
        if t_end > cursor:
            self._spend(durations, t_end - cursor)
        self._cursor = t_end
        for pid, seconds in durations.items():
            self._total(pid).duration_s += seconds
        for pid, n in entries.items():
            self._total(pid).entries += n
        return durations

    def _spend(self, durations: dict[int, float], dt: float) -> None:
        if not self._n_leaves:
            durations[OUTSIDE] = durations.get(OUTSIDE, 0.0) + dt
            return
        share = dt / self._n_leaves
        for pid, n in self._leaves.items():
            durations[pid] = durations.get(pid, 0.0) + share * n

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



def _time(event: Event) -> float:
    return event[0]
