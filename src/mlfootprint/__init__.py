"""mlfootprint: measure, forecast, estimate and reduce the environmental footprint of ML runs.

    import mlfootprint
    with mlfootprint.track(project="demo", country="FR") as run:
        train()
    print(run.energy_kwh, run.co2e_kg)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Run", "report_progress", "track", "__version__"]

if TYPE_CHECKING:
    from .tracker import Run, track


def __getattr__(name: str) -> Any:
    # Heavy imports (SQLAlchemy, psutil) wait until first use: `import mlfootprint` stays cheap.
    if name in ("track", "Run"):
        from . import tracker

        return getattr(tracker, name)
    if name == "report_progress":
        from .progress import report_progress

        return report_progress
    raise AttributeError(f"module 'mlfootprint' has no attribute {name!r}")
