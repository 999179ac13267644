"""A small client for Prometheus' HTTP API (and the engines that speak it: Thanos, Mimir, VictoriaMetrics).

Only what the fleet view reads: /api/v1/query, /api/v1/query_range, /api/v1/series, and the server's
build and flags (for its limits). Queries are POSTed as forms (long PromQL does not meet URL limits)
and answers are read gzip-compressed. The standard library suffices (urllib, ssl, json): no HTTP
dependency is added for four endpoints.

Credentials (a bearer token, basic auth, a client certificate) go in headers and the TLS context, never
in a URL that is shown: every message names the server through `mask_url`, and a server's error text is
scrubbed of the token and password before it is shown. TLS certificates are verified unless the user
says `--insecure-skip-verify`. Redirects are refused, so a token is never sent to another host.

Every failure is one line that says what failed: the server is down, slow, refused the credentials,
answered an HTTP error or something that is not the API's JSON (`PrometheusError`, exit 2 at the CLI).
"""

from __future__ import annotations

import base64
import gzip
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..errors import MlfootprintError
from ..urlmask import mask_text, mask_url

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_SAMPLES = 50_000_000  # Prometheus' --query.max-samples default
MAX_POINTS_PER_SERIES = 11_000  # Prometheus refuses a range query with more points than this per series
MAX_DETAIL = 300  # characters of a server's error text shown


class PrometheusError(MlfootprintError):
    """The Prometheus API could not be reached or answered something unusable; the message says which."""


@dataclass(frozen=True)
class Access:
    """Where Prometheus is and how to talk to it. Secrets are kept out of `repr` (and so out of tracebacks)."""

    url: str
    bearer_token: str | None = field(default=None, repr=False)
    basic_user: str | None = None
    basic_password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def shown(self) -> str:
        """The URL as it may be printed or stored."""
        return mask_url(self.url)


def access_from(url: str, **kwargs: Any) -> Access:
    """An Access for `url`; a user:password in the URL becomes basic auth (and leaves the URL)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        raise PrometheusError(f"invalid Prometheus URL {mask_url(url)!r}: expected http(s)://host:port") from None
    if parts.scheme not in ("http", "https") or not host:
        raise PrometheusError(f"invalid Prometheus URL {mask_url(url)!r}: expected http(s)://host:port[/path]")
    if parts.username is not None and kwargs.get("basic_user") is None:
        kwargs["basic_user"] = urllib.parse.unquote(parts.username)
        if parts.password is not None and kwargs.get("basic_password") is None:
            kwargs["basic_password"] = urllib.parse.unquote(parts.password)
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))
    given = {k: v for k, v in kwargs.items() if v is not None}
    return Access(clean, **given)


@dataclass(frozen=True)
class ServerInfo:
    """What the server says about itself; defaults where it does not say (an engine without /status)."""

    version: str
    max_samples: int
    lookback_delta_s: float
    notes: tuple[str, ...] = ()


@dataclass
class QueryLog:
    """Every query sent: the PromQL, what it was for, how long it took and how much came back."""

    purpose: str
    expr: str
    kind: str  # instant | range | series
    calls: int = 0
    seconds: float = 0.0
    series: int = 0
    points: int = 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise PrometheusError(f"the Prometheus URL answered with a redirect (HTTP {code}) to "
                              f"{mask_url(newurl)}; redirects are not followed, so credentials stay with the host "
                              "they were meant for: give the final address with --prometheus")


class PromClient:
    """Thread-safe: the fleet view sends several range queries at once."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.log: dict[tuple[str, str], QueryLog] = {}
        self._lock = threading.Lock()
        handlers: list[Any] = [_NoRedirect()]
        if access.url.startswith("https"):
            handlers.append(urllib.request.HTTPSHandler(context=self._tls()))
        self._opener = urllib.request.build_opener(*handlers)
        self._headers = {"Accept": "application/json", "Accept-Encoding": "gzip",
                         "User-Agent": "mlfootprint-fleet"}
        if access.bearer_token:
            self._headers["Authorization"] = f"Bearer {access.bearer_token}"
        elif access.basic_user is not None:
            pair = f"{access.basic_user}:{access.basic_password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self._secrets = [s for s in (access.bearer_token, access.basic_password) if s and len(s) >= 3]

    def _tls(self) -> ssl.SSLContext:
        a = self.access
        try:
            context = ssl.create_default_context(cafile=a.ca_file)
            if a.cert_file:
                context.load_cert_chain(a.cert_file, a.key_file)
        except (OSError, ssl.SSLError) as exc:
            what = "--ca-file" if a.ca_file and not a.cert_file else "--cert-file/--key-file" if a.cert_file else "TLS"
            raise PrometheusError(f"cannot load {what} for {a.shown}: {getattr(exc, 'strerror', None) or exc}") from None
        if a.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    # -- the API ------------------------------------------------------------------------------------
    def query(self, expr: str, at: float, purpose: str) -> list[dict[str, Any]]:
        """The result list of an instant query at `at` (unix seconds): a vector, or a matrix for a range selector."""
        data = self._call("/api/v1/query", {"query": expr, "time": _ts(at)}, purpose, expr, "instant")
        return list(data.get("result") or [])

    def query_range(self, expr: str, start: float, end: float, step_s: float, purpose: str) -> list[dict[str, Any]]:
        data = self._call("/api/v1/query_range", {"query": expr, "start": _ts(start), "end": _ts(end),
                                                  "step": f"{step_s:g}"}, purpose, expr, "range")
        return list(data.get("result") or [])

    def series(self, match: str, start: float, end: float, purpose: str) -> list[dict[str, str]]:
        data = self._call("/api/v1/series", {"match[]": match, "start": _ts(start), "end": _ts(end)},
                          purpose, match, "series")
        if not isinstance(data, list):
            raise PrometheusError(f"{self.access.shown} answered /api/v1/series with {type(data).__name__}, "
                                  "not a list of label sets")
        return data

    def info(self) -> ServerInfo:
        """Version and limits (--query.max-samples, --query.lookback-delta); Prometheus' defaults where the
        engine does not publish them (Thanos, Mimir and VictoriaMetrics answer 404 or other shapes)."""
        notes = []
        version = "unknown"
        try:
            build = self._get("/api/v1/status/buildinfo")
            version = str(build.get("version", "unknown")) if isinstance(build, dict) else "unknown"
        except PrometheusError as exc:
            if "HTTP 404" not in str(exc) and "HTTP 405" not in str(exc):
                raise
            notes.append("the server publishes no build information (not Prometheus itself?)")
        max_samples, lookback_s = DEFAULT_MAX_SAMPLES, 300.0
        try:
            flags = self._get("/api/v1/status/flags")
            if isinstance(flags, dict):
                max_samples = int(flags.get("query.max-samples", max_samples))
                lookback_s = _duration_s(str(flags.get("query.lookback-delta", "5m"))) or lookback_s
        except PrometheusError as exc:
            if "HTTP 404" not in str(exc) and "HTTP 405" not in str(exc):
                raise
            notes.append(f"the server publishes no flags: assuming Prometheus' default limits "
                         f"(query.max-samples {DEFAULT_MAX_SAMPLES:,}, lookback 5m)")
        except ValueError:
            notes.append("the server's query.max-samples flag is not a number: assuming the default")
        return ServerInfo(version, max_samples, lookback_s, tuple(notes))

    def queries(self) -> list[QueryLog]:
        with self._lock:
            return list(self.log.values())

    # -- transport ----------------------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        return self._send(path, None)

    def _call(self, path: str, form: dict[str, str], purpose: str, expr: str, kind: str) -> Any:
        began = time.monotonic()
        data = self._send(path, form)
        elapsed = time.monotonic() - began
        series = len(data) if isinstance(data, list) else len(data.get("result") or []) if isinstance(data, dict) else 0
        points = 0
        if isinstance(data, dict):
            for item in data.get("result") or []:
                points += len(item.get("values") or ()) + (1 if "value" in item else 0)
        with self._lock:
            entry = self.log.setdefault((purpose, expr), QueryLog(purpose, expr, kind))
            entry.calls += 1
            entry.seconds += elapsed
            entry.series += series
            entry.points += points
        return data

    def _send(self, path: str, form: dict[str, str] | None) -> Any:
        shown = self.access.shown
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.access.url + path, data=body, headers=headers,
                                         method="POST" if body is not None else "GET")
        timeout = self.access.timeout_s
        try:
            with self._opener.open(request, timeout=timeout) as response:
                stream = gzip.GzipFile(fileobj=response) if response.headers.get("Content-Encoding") == "gzip" else response
                answer = json.load(stream)
        except urllib.error.HTTPError as exc:
            raise PrometheusError(self._http_error(exc, path)) from None
        except (TimeoutError, ssl.SSLError, ConnectionError, OSError, urllib.error.URLError) as exc:
            raise PrometheusError(self._connection_error(exc, path)) from None
        except (ValueError, EOFError, gzip.BadGzipFile):
            raise PrometheusError(f"Prometheus at {shown} sent a response to {path} that is not JSON "
                                  "(is the URL the Prometheus API, not a login page or a proxy?)") from None
        if not isinstance(answer, dict) or "status" not in answer:
            raise PrometheusError(f"Prometheus at {shown} answered {path} with JSON that is not the Prometheus API's "
                                  "(no status field)")
        if answer["status"] != "success":
            raise PrometheusError(f"Prometheus at {shown} refused {path}: {self._scrub(answer.get('errorType', ''))} "
                                  f"{self._scrub(answer.get('error', ''))}".rstrip())
        return answer.get("data")

    def _scrub(self, text: Any) -> str:
        text = mask_text(str(text), self.access.url)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())[:MAX_DETAIL]

    def _http_error(self, exc: urllib.error.HTTPError, path: str) -> str:
        shown = self.access.shown
        detail = ""
        try:
            body = exc.read(65536)
            if exc.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            parsed = json.loads(body)
            detail = f"{parsed.get('errorType', '')}: {parsed.get('error', '')}" if isinstance(parsed, dict) else ""
        except (ValueError, OSError, EOFError):
            pass
        detail = self._scrub(detail).strip(": ")
        if exc.code in (401, 403):
            given = ("the bearer token" if self.access.bearer_token else "the basic-auth credentials"
                     if self.access.basic_user is not None else "no credentials")
            return (f"Prometheus at {shown} refused access (HTTP {exc.code}) with {given}: give "
                    "--bearer-token-file or --basic-auth-user/--basic-auth-password-file with credentials it accepts")
        if exc.code == 503 and "timeout" in detail.lower():
            return f"Prometheus at {shown} gave up on a query at its own time limit (query.timeout): {detail}"
        return f"Prometheus at {shown} answered HTTP {exc.code} for {path}" + (f": {detail}" if detail else "")

    def _connection_error(self, exc: BaseException, path: str) -> str:
        shown = self.access.shown
        reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, (TimeoutError,)) or "timed out" in str(reason):
            return (f"Prometheus at {shown} did not answer {path} within {self.access.timeout_s:g} s "
                    "(a slow or overloaded server: raise --timeout, or query a shorter period)")
        if isinstance(reason, ssl.SSLCertVerificationError) or isinstance(reason, ssl.SSLError):
            return (f"TLS with {shown} failed: {self._scrub(getattr(reason, 'verify_message', None) or reason)}; give "
                    "--ca-file with the server's CA (or, knowingly, --insecure-skip-verify)")
        if isinstance(reason, ConnectionRefusedError):
            return f"cannot reach Prometheus at {shown}: connection refused (is it running on that port?)"
        text = getattr(reason, "strerror", None) or str(reason)
        return f"cannot reach Prometheus at {shown}: {self._scrub(text)}"


def _ts(t: float) -> str:
    return f"{t:.3f}"


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def _duration_s(text: str) -> float | None:
    """Prometheus' duration notation (5m, 1h30m, 250ms) in seconds; None if it is not one."""
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


__all__ = ["Access", "DEFAULT_MAX_SAMPLES", "MAX_POINTS_PER_SERIES", "PromClient", "PrometheusError", "QueryLog",
           "ServerInfo", "access_from"]
