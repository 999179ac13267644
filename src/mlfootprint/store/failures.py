"""What a store failure says: the driver's reason in one line, advice by its cause, no secret.

Every message about a store names it by its masked URL, and the driver's own text goes through
urlmask.mask_text too: a driver that parsed `user:S3cret@PW@host` its own way quotes `PW@host` in
its reason, which the URL masking alone would let through.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError
from ..urlmask import mask_text
from .urls import display_url

__all__ = ["advice", "open_failed", "query_failed", "reason"]


def reason(exc: BaseException, url: str | None = None) -> str:
    """The first line of the driver's message (SQLAlchemy wraps it in `orig`), masked for `url`."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return mask_text(text[0] if text else type(exc).__name__, url)


def advice(exc: BaseException, path: Path | None) -> str:
    """What to do about an open failure: by its cause, not always 'give a writable path'."""
    message = reason(exc).lower()
    if path is None:
        return "check the database URL, that the server is running and that the user may connect"
    if "readonly" in message or "read-only" in message or "permission" in message:
        return f"the file or its folder {path.parent} is not writable by this user"
    if "locked" in message:
        return "another process holds a long write lock on it; try again when it is done"
    if "disk" in message and "full" in message:
        return f"the disk holding {path.parent} is full"
    if "not a database" in message or "malformed" in message:
        return "the file is not an SQLite database, or is damaged; give another --store"
    if "unable to open" in message:
        return f"the file or its folder {path.parent} cannot be read by this user"
    return "set --store or MLFOOTPRINT_STORE to a writable SQLite path or a database URL"


def open_failed(url: str, exc: BaseException, path: Path | None) -> StoreError:
    return StoreError(mask_text(f"cannot open run store {display_url(url)!r}: {reason(exc, url)}; "
                                f"{advice(exc, path)}", url))


def query_failed(url: str, exc: BaseException) -> StoreError:
    return StoreError(mask_text(f"run store {display_url(url)!r}: {reason(exc, url)}", url))
