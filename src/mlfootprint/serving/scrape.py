"""A server's request and token counters, read from its Prometheus endpoint.

The text format is parsed with prometheus_client's parser. A counter is named as Prometheus shows
it, with or without the `_total` suffix, optionally with label filters: `vllm:request_success_total`,
`:tensorflow:serving:request_count{status="OK"}`. Its value is the sum over every series that
matches. A histogram's `_count` or `_sum` series can be named too (TGI counts generated tokens in a
histogram).
"""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass

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


def fetch(url: str, timeout_s: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - the user's own endpoint
        return response.read().decode("utf-8", "replace")


def read_counters(text: str, selectors: list[Selector]) -> list[float | None]:
    """Each selector's value (summed over matching series) in one exposition; None where nothing matched."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: list[float | None] = [None] * len(selectors)
    names = [s.names() for s in selectors]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for i, sel in enumerate(selectors):
                if sample.name in names[i] and all(sample.labels.get(k) == v for k, v in sel.labels):
                    totals[i] = (totals[i] or 0.0) + float(sample.value)
    return totals
