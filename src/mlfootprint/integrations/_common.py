"""What every callback adapter shares: use the caller's run, or own one for the length of training."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("mlfootprint")


class RunHolder:
    """A callback either reports into `run` (the caller's `with track() as run`), or starts its own
    run when training begins and finishes it when training ends (`track_kwargs` configure it)."""

    def __init__(self, run: Any | None = None, **track_kwargs: Any) -> None:
        self.run = run
        self._tracker: Any | None = None
        self._track_kwargs = track_kwargs

    def begin(self) -> None:
        if self.run is None:
            from ..tracker import track

            self._tracker = track(**self._track_kwargs)
            self.run = self._tracker.start()

    def end(self, status: str = "completed") -> None:
        if self._tracker is not None:
            self._tracker.stop(status)
            self._tracker = None

    def enter(self, name: str, items: float | None = None) -> None:
        if self.run is not None:
            self.run.phase_enter(name, items)

    def exit(self, name: str) -> None:
        if self.run is not None:
            self.run.phase_exit(name)

    def in_phase(self, name: str) -> bool:
        current = self.run.current_phase() if self.run is not None else None
        return current is not None and current.rsplit("/", 1)[-1] == name


def numeric(values: dict[str, Any] | None) -> dict[str, float]:
    """The entries of a framework's logs that are plain numbers (tensors of one element included)."""
    out: dict[str, float] = {}
    for key, value in (values or {}).items():
        try:
            out[key] = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError, RuntimeError):
            continue
    return out
