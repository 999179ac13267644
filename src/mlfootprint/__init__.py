"""mlfootprint: measure, forecast, estimate and reduce the environmental footprint of ML runs.

    import mlfootprint
    with mlfootprint.track(project="demo", country="FR") as run:
        train()
    print(run.it_energy_kwh, run.co2e_operational_kg)

The public modules are listed in the README ("Public modules"); everything else is internal.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .urlmask import mask_text as _mask_text
from .version import __version__

__all__ = ["Run", "RunState", "__version__", "report_progress", "track"]

if TYPE_CHECKING:
    from .progress import report_progress
    from .tracker import Run, RunState, track


def __getattr__(name: str) -> Any:
    # Heavy imports (SQLAlchemy, psutil) wait until first use: `import mlfootprint` stays cheap.
    if name in ("track", "Run", "RunState"):
        from . import tracker

        return getattr(tracker, name)
    if name == "report_progress":
        from .progress import report_progress

        return report_progress
    raise AttributeError(f"module 'mlfootprint' has no attribute {name!r}")


class _MaskedUrls(logging.Filter):
    """Every message of the package's logger has the URLs it quotes masked (urlmask.mask_text): a password
    or token in a store, metrics, tracking or API URL never reaches a terminal or a log file, whichever
    message happens to quote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message or "@" in message:
            masked = _mask_text(message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True


logging.getLogger("mlfootprint").addFilter(_MaskedUrls())
