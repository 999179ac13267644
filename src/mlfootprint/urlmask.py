"""Secrets out of URLs and messages (stand-in; the store branch brings the full version)."""

from __future__ import annotations

import re

_CRED = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^\s/]*)@")


def mask_url(url: str) -> str:
    return _CRED.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def mask_text(text: str, url: str | None = None) -> str:
    return _CRED.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
