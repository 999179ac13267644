"""STAND-IN (fleet branch only): the lead keeps the store helper's real `urlmask.py`, which replaces this file.

A URL as it may be shown: the user part, the password and token-like query values masked; a URL that
cannot be parsed is never echoed whole. Only what the fleet command needs, with the same signatures.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

SECRET_KEYS = {"password", "pass", "pwd", "token", "access_token", "api_key", "apikey", "key", "secret", "auth",
               "sig", "signature", "sslpassword", "passfile", "sslkey"}


def mask_url(url: str) -> str:
    """`url` with credentials masked (user:***@host, ?token=***)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if not parts.scheme or not parts.netloc:
        return "<unparseable URL>" if "@" in url or "://" in url else url
    netloc = f"[{host}]" if ":" in host else host
    if parts.username is not None or "@" in parts.netloc:
        netloc = f"***@{netloc}"
    query = ""
    if parts.query:
        pairs = [(k, "***" if k.lower() in SECRET_KEYS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        query = "?" + urlencode(pairs, safe="/:*")
    return f"{parts.scheme}://{netloc}{port}{parts.path}{query}"


def mask_text(text: str, url: str) -> str:
    """`text` with any secret fragment of `url` (password, user part, secret query values) removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    secrets = []
    if "@" in parts.netloc:
        secrets.append(parts.netloc.rpartition("@")[0])
        secrets.extend(parts.netloc.rpartition("@")[0].split(":", 1))
    secrets.extend(v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in SECRET_KEYS)
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
