"""A server's request and token counters, read from its Prometheus endpoint.

The text format is parsed with prometheus_client's parser. A counter is named as Prometheus shows
it, with or without the `_total` suffix, optionally with label filters: `vllm:request_success_total`,
`:tensorflow:serving:request_count{status="OK"}`. Every series that matches is read on its own (its
labels tell it apart): windows.py takes each series' increase, so one replica's restart is not
everyone's. A histogram's `_count` or `_sum` series can be named too (TGI counts generated tokens in a
histogram).

Values a counter cannot hold (NaN, infinities, negative numbers) are dropped where they are read and
counted in `Reading.dropped`, never passed on. An answer is read up to MAX_BYTES; a redirect is never
followed (an endpoint that redirects is reported, not chased to another scheme or host). Credentials
in the URL are sent as basic auth, never as part of the address.
"""

from __future__ import annotations

import base64
import math
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

# Counters of the common servers, from their documentation (metric names as exported):
#   vLLM: docs.vllm.ai, "Production metrics"; TGI: huggingface.co/docs/text-generation-inference,
#   "Metrics"; Triton: docs.nvidia.com/deeplearning/triton-inference-server, "Metrics";
#   TensorFlow Serving: tensorflow.org/tfx/serving, monitoring (with --monitoring_config_file).
PRESETS: dict[str, dict[str, str | None]] = {
    "vllm": {"requests": "vllm:request_success_total", "tokens": "vllm:generation_tokens_total",
             "url": "http://127.0.0.1:8000/metrics"},
    "tgi": {"requests": "tgi_request_success", "tokens": "tgi_request_generated_tokens_sum",
            "url": "http://127.0.0.1:3000/metrics"},
    "triton": {"requests": "nv_inference_request_success", "tokens": None,
               "url": "http://127.0.0.1:8002/metrics"},
    "tfserving": {"requests": ":tensorflow:serving:request_count", "tokens": None,
                  "url": "http://127.0.0.1:8501/monitoring/prometheus/metrics"},
}

_SELECTOR = re.compile(r"^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


@dataclass(frozen=True)
class Selector:
    """A counter name and label filters, e.g. vllm:request_success_total{finished_reason="stop"}."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Selector:
        m = _SELECTOR.match(text)
        if m is None:
            raise ValueError(f"counter {text!r} is not a Prometheus metric name (letters, digits, _ and :), "
                             "optionally with {label=\"value\", ...}")
        labels: list[tuple[str, str]] = []
        rest = m.group(2) or ""
        while rest.strip():
            lm = _LABEL.match(rest)
            if lm is None:
                raise ValueError(f"counter {text!r}: cannot read the label filter {{{m.group(2)}}}; "
                                 "expected name=\"value\" pairs separated by commas")
            labels.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
        return cls(m.group(1), tuple(labels))

    def names(self) -> set[str]:
        base = self.name[:-6] if self.name.endswith("_total") else self.name
        return {self.name, base, base + "_total"}

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        return self.name + "{" + ",".join(f'{k}="{v}"' for k, v in self.labels) + "}"


MAX_BYTES = 16 * 1024 * 1024  # an exposition larger than this is refused (a model server's is kilobytes)
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]  # (sample name, sorted labels)


class ScrapeError(Exception):
    """The endpoint's answer could not be read as a Prometheus exposition; the message says why."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: object, fp: object, code: int, msg: str, headers: object,
                         newurl: str) -> None:
        raise ScrapeError(f"the endpoint redirects (HTTP {code}) to another address; give that address itself")


def scrape_request(url: str) -> urllib.request.Request:
    """A GET of `url`; credentials in it (`http://user:password@host/metrics`, percent-encoded where they
    hold reserved characters) are sent as HTTP basic auth, and the URL asked for is the one without them,
    so they never appear in a request line or an error message."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return urllib.request.Request(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()).decode()
    return urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=host)),
                                  headers={"Authorization": f"Basic {token}"})


def fetch(url: str, timeout_s: float = 5.0) -> str:
    """The exposition at `url` (at most MAX_BYTES, no redirects followed, credentials as basic auth)."""
    opener = urllib.request.build_opener(_NoRedirect())
    with opener.open(scrape_request(url), timeout=timeout_s) as response:  # noqa: S310 - the user's own endpoint
        body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ScrapeError(f"the answer is larger than {MAX_BYTES // 2**20} MB: not a model server's metrics")
    return bytes(body).decode("utf-8", "replace")


@dataclass
class Reading:
    """Each selector's series values in one exposition (None where no series matched), and how many
    values were dropped as not a counter's (NaN, infinite, negative)."""

    series: list[dict[SeriesKey, float] | None]
    dropped: int = 0
    dropped_examples: list[str] = field(default_factory=list)

    def totals(self) -> list[float | None]:
        """Each selector's sum over its series."""
        return [sum(values.values()) if values is not None else None for values in self.series]


def read_series(text: str, selectors: list[Selector]) -> Reading:
    """Every matching series of each selector in one exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    reading = Reading([None] * len(selectors))
    names = [s.names() for s in selectors]
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for i, sel in enumerate(selectors):
                    if sample.name in names[i] and all(sample.labels.get(k) == v for k, v in sel.labels):
                        value = float(sample.value)
                        found = reading.series[i]
                        if found is None:
                            found = reading.series[i] = {}
                        if not math.isfinite(value) or value < 0:
                            reading.dropped += 1
                            if len(reading.dropped_examples) < 3:
                                reading.dropped_examples.append(f"{sample.name} {sample.value}")
                            continue
                        found[(sample.name, tuple(sorted(sample.labels.items())))] = value
    except ValueError as exc:  # the parser's word for text that is not the exposition format
        raise ScrapeError(f"not a Prometheus exposition ({str(exc).splitlines()[0][:200]})") from None
    return reading


def read_counters(text: str, selectors: list[Selector]) -> list[float | None]:
    """Each selector's value (summed over its series) in one exposition; None where nothing matched."""
    return read_series(text, selectors).totals()
