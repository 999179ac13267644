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

from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

OUTSIDE = 0  # path id of time spent outside every phase
NO_FRAME = 0  # the parent of a context's outermost phase

# A context's innermost open phase, as a frame node (path id, the enclosing frame's node): a linked stack,
# never mutated, so a task started inside a phase shares its creator's frames without changing them, and
# entering a phase allocates one small tuple instead of copying a stack. A node is its own identity
# (the sampler keys open frames by id() and holds each open node, so an id is never reused while open).
Frame = tuple[int, "Frame | None"]
Event = tuple[float, Frame, bool]  # (time, frame node, entered)


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
        self.stack: ContextVar[Frame | None] = ContextVar(f"mlfootprint_phases_{id(self)}", default=None)
        self.markers: dict[str, Marker] = {}

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
        if items is None:
            marker = self.markers.get(name)
            if marker is None:
                marker = self.markers[name] = (SyncMarker if self.sync is not None else Marker)(self, name)
            return marker
        return (SyncItemMarker if self.sync is not None else ItemMarker)(self, name, items)

    def enter(self, name: str, items: float | None = None, t: float | None = None) -> None:
        """Enter a phase (for callbacks that cannot use `with`); `t` backdates the entry."""
        current = self.stack.get()
        pid = self.path_id(current[0] if current else OUTSIDE, name)
        node = (pid, current)
        self.stack.set(node)
        if items:
            self.items[pid] = self.items.get(pid, 0.0) + items
        self.events.append((self.clock() if t is None else t, node, True))

    def exit(self, name: str | None = None) -> None:
        """Leave this context's innermost phase, or its innermost phase called `name` (and any inside it)."""
        node = self.stack.get()
        leaving = []
        while node is not None:
            leaving.append(node)
            if name is None or self.paths[node[0]].rsplit("/", 1)[-1] == name:
                break
            node = node[1]
        else:
            return  # no open phase of that name in this context
        self.stack.set(node[1])
        t = self.clock()
        for frame in leaving:
            self.events.append((t, frame, False))

    def current(self) -> str | None:
        """This context's innermost phase."""
        node = self.stack.get()
        return self.paths[node[0]] if node is not None else None


class Marker:
    """`with run.phase("forward"):` — reusable (a marker per step allocates one frame node and one event),
    and safe to share between threads and tasks: the open frame lives in the caller's context. Kept to a
    handful of C-level calls: it runs in the training loop."""

    __slots__ = ("rec", "name", "_append", "_clock", "_get", "_set", "_parent", "_pid")

    def __init__(self, rec: PhaseRecorder, name: str) -> None:
        self.rec, self.name = rec, name
        self._append = rec.events.append
        self._clock = rec.clock
        self._get = rec.stack.get
        self._set = rec.stack.set
        self._parent = OUTSIDE
        self._pid = rec.path_id(OUTSIDE, name)  # validates the name now, not on first use

    def __enter__(self) -> Marker:
        current = self._get()
        if current is None:
            node = (self._pid, None) if self._parent == OUTSIDE else self._reparent(current)
        elif current[0] == self._parent:  # nearly always entered under the same parent: its path id is cached
            node = (self._pid, current)
        else:
            node = self._reparent(current)
        self._set(node)
        self._append((self._clock(), node, True))
        return self

    def _reparent(self, current: Frame | None) -> Frame:
        parent = current[0] if current is not None else OUTSIDE
        self._pid = self.rec.path_id(parent, self.name)
        self._parent = parent
        return (self._pid, current)

    def __exit__(self, *exc: Any) -> None:
        node = self._get()
        if node is not None:
            self._set(node[1])
            self._append((self._clock(), node, False))


class ItemMarker(Marker):
    """A marker that also counts what the block handled (requests, predictions) for energy per item."""

    __slots__ = ("items",)

    def __init__(self, rec: PhaseRecorder, name: str, items: float) -> None:
        super().__init__(rec, name)
        self.items = items

    def __enter__(self) -> Marker:
        super().__enter__()
        counts = self.rec.items
        counts[self._pid] = counts.get(self._pid, 0.0) + self.items
        return self


class SyncMarker(Marker):
    """A marker that waits for queued GPU work first, so asynchronous kernels land in their phase."""

    __slots__ = ()

    def __enter__(self) -> Marker:
        self.rec.sync()  # type: ignore[misc]
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.rec.sync()  # type: ignore[misc]
        super().__exit__(*exc)


class SyncItemMarker(ItemMarker):
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
        self._open: dict[int, tuple[int, int, Frame]] = {}  # open frame -> (path id, parent frame, its node)
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

    def _apply(self, node: Frame, enclosing: Frame | None, pid: int, entered: bool) -> None:
        """Update the active phases for one marker. Open frames are keyed by their node's id(), the node
        kept in `_open` so that id cannot be reused while the frame is open."""
        frame = id(node)
        if entered:
            parent = id(enclosing) if enclosing is not None else NO_FRAME
            self._open[frame] = (pid, parent, node)
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
        pid, parent, _ = opened
        if self._children.pop(frame) == 0:
            self._leaf(pid, -1)
        if parent in self._open:
            self._children[parent] -= 1
            if self._children[parent] == 0:  # its last nested phase ended: innermost again
                self._leaf(self._open[parent][0], +1)

    def split(self, t_start: float, t_end: float) -> dict[int, float]:
        """Seconds each path was active in [t_start, t_end] (shared between overlapping phases);
        consumes the markers up to t_end.

        This runs on the sampler thread for every marker of the interval, so in a tight loop of markers
        its cost per marker is the marker's own again: the common case (one phase open at a time, not
        nested) is handled inline, the rest by `_apply` and `_spend`."""
        events = self.recorder.events
        popleft = events.popleft
        drained = [popleft() for _ in range(len(events))]  # others may append meanwhile: they wait for the next
        pending = self._early + drained if self._early else drained
        self._early = []
        pending.sort(key=_time)  # threads append in nearly, not exactly, time order
        cursor = t_start if self._cursor is None else max(self._cursor, t_start)
        durations: dict[int, float] = {}
        entries: dict[int, int] = {}
        leaves, open_, children = self._leaves, self._open, self._children
        for i, (t, node, entered) in enumerate(pending):
            if t > t_end:
                self._early = pending[i:]
                break
            if t > cursor:
                if not self._n_leaves:
                    durations[OUTSIDE] = durations.get(OUTSIDE, 0.0) + (t - cursor)
                else:
                    self._spend(durations, t - cursor)
                cursor = t
            pid, enclosing = node
            if enclosing is None and not open_ and entered:  # the common case: a top-level phase, nothing open
                open_[id(node)] = (pid, NO_FRAME, node)
                children[id(node)] = 0
                leaves[pid] = 1
                self._n_leaves = 1
                entries[pid] = entries.get(pid, 0) + 1
                continue
            if (enclosing is None and not entered and len(open_) == 1
                    and open_.pop(id(node), None) is not None):  # ...and its end
                del children[id(node)]
                del leaves[pid]
                self._n_leaves = 0
                continue
            self._apply(node, enclosing, pid, entered)
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



_time = itemgetter(0)  # an event's time
