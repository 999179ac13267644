"""Runs that measure the same machine at the same time without knowing of each other.

Nested runs are charged once (tracker.py: a run started inside another, or under `mlfootprint track`
/ `serve`, is charged nothing). Two *unrelated* runs in machine scope — two users' jobs on one box, two
terminals — each measure the whole machine, and both are right about what the machine drew; but a sum
over both counts that energy twice. So each such run holds a lock file in a per-user folder while it
runs, and looks for the others' at its start and at every flush: a run it finds alive is named in its
record (`overlaps`), and the other run finds this one the same way. A run that finds another also
leaves it a note (`<other>.met.<self>`): a short run that starts and ends between two of a long run's
flushes is still named by the long run, at its next flush. Totals over runs then say that they overlap
instead of silently adding the same joules.

flock(2) locks are released by the kernel when a process dies, so a crashed run never looks alive.
Runs of other users are not seen (the folder is private): the note is about what this user can check.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MachineRegistry", "Overlap"]


@dataclass(frozen=True)
class Overlap:
    run_id: str
    project: str
    pid: int
    started_at: str


def _folder() -> Path:
    return Path(tempfile.gettempdir()) / f"mlfootprint-{os.getuid()}" / "machine"


class MachineRegistry:
    """This run's entry among the machine-scope runs of this user on this host."""

    def __init__(self, run_id: str, project: str, started_at: str, folder: Path | None = None) -> None:
        self.run_id = run_id
        self.folder = folder or _folder()
        self._fd: int | None = None
        self.seen: dict[str, Overlap] = {}
        self._entry = {"run_id": run_id, "project": project, "pid": os.getpid(), "started_at": started_at}
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.folder / f"{run_id}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, json.dumps(self._entry).encode())
            self._fd = fd
        except OSError:
            self._fd = None  # no registry (a read-only /tmp): overlaps go unnoticed, the run is unaffected

    def others(self) -> list[Overlap]:
        """Runs registered here whose process still holds its lock, or that found this run alive and left
        it a note, and that this run has not seen yet."""
        if self._fd is None:
            return []
        new = []
        try:
            entries = list(self.folder.glob("*.lock"))
            notes = list(self.folder.glob(f"{self.run_id}.met.*"))
        except OSError:
            return []
        for path in entries:
            run_id = path.stem
            if run_id == self.run_id or run_id in self.seen:
                continue
            found = self._alive(path)
            if found is not None:
                self.seen[run_id] = found
                new.append(found)
                self._leave_note(found.run_id)
        for path in notes:
            found = self._read_note(path)
            if found is not None and found.run_id not in self.seen and found.run_id != self.run_id:
                self.seen[found.run_id] = found
                new.append(found)
        return new

    def _leave_note(self, other: str) -> None:
        """Tell `other` that this run measured beside it (written whole, then renamed into place)."""
        path = self.folder / f"{other}.met.{self.run_id}"
        part = path.with_name(path.name + ".part")
        try:
            part.write_text(json.dumps(self._entry), encoding="utf-8")
            part.replace(path)
        except OSError:
            pass  # the other run then sees this one only if its own check finds it alive

    @staticmethod
    def _read_note(path: Path) -> Overlap | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8")[:4096])
            path.unlink()
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        return Overlap(str(data.get("run_id", "?")), str(data.get("project", "?")), int(data.get("pid", 0) or 0),
                       str(data.get("started_at", "")))

    @staticmethod
    def _alive(path: Path) -> Overlap | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:  # held: its run is measuring now
                data = json.loads(os.read(fd, 4096) or b"{}")
                return Overlap(str(data.get("run_id", path.stem)), str(data.get("project", "?")),
                               int(data.get("pid", 0)), str(data.get("started_at", "")))
            fcntl.flock(fd, fcntl.LOCK_UN)  # not held: a run that ended; its file is left for it to remove
            try:
                path.unlink()
            except OSError:
                pass
            return None
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            (self.folder / f"{self.run_id}.lock").unlink()
            for note in self.folder.glob(f"{self.run_id}.met.*"):  # notes that came after the last flush
                note.unlink()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None
