"""A vendor library (NVML, AMD SMI) initialised once per process and shut down at exit.

Initialising costs tens of milliseconds and the libraries count their inits, so each module object is
initialised the first time a sensor needs it, kept for every later run of the process, and shut down
once at exit. Keyed by the module object, so a test's fake module is a library of its own.
"""

from __future__ import annotations

import atexit
import threading
from types import ModuleType


class Initialized:
    def __init__(self, init: str, shutdown: str) -> None:
        self.init, self.shutdown = init, shutdown
        self.modules: dict[int, ModuleType] = {}
        self._lock = threading.Lock()

    def ensure(self, lib: ModuleType) -> None:
        """Initialise `lib` unless this process already has; its errors (no driver) propagate."""
        with self._lock:
            if id(lib) not in self.modules:
                getattr(lib, self.init)()
                if not self.modules:
                    atexit.register(self.shutdown_all)
                self.modules[id(lib)] = lib

    def shutdown_all(self) -> None:
        with self._lock:
            for lib in self.modules.values():
                try:
                    getattr(lib, self.shutdown)()
                except Exception:
                    pass
            self.modules.clear()
