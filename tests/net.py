"""Loopback helpers for the tests that start real servers."""

from __future__ import annotations

import socket
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout_s: float = 60.0) -> None:
    """Until `url` answers; AssertionError if it does not within `timeout_s`."""
    end = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1.0).read()
            return
        except OSError:
            if time.monotonic() > end:
                raise AssertionError(f"{url} did not answer within {timeout_s:g} s") from None
            time.sleep(0.2)
