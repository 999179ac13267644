"""The PromQL the fleet view sends, built in one place so each expression can be read (and is listed in
the result's `queries`). Three per run of tiles (a < t <= b, an hour; fleet/counters.py says why):

    last_over_time(C[1h])           per series, its value at the tile's end: the tiles' differences are the
                                    counter's own increases, with no extrapolation
    count_over_time(C[1h])          per series, its samples in the tile: device-time, gaps, shared GPUs
    resets(C[1h10m]) > 0            the tiles to redo from raw samples

(ranges a millisecond short of the tile: PromQL's include both ends). Each scans the samples about
once: a month is read in about three passes over its samples, and what comes back grows with series x
tiles, not with samples. Sources counted with PromQL's increase() (node exporter's RAPL) are summed in
Prometheus instead (`increases`).
"""

from __future__ import annotations

import re

from ..errors import ConfigError

LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = r"[A-Za-z_:][A-Za-z0-9_:]*"
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
SELECTOR_RE = re.compile(rf"^\s*(?:{_NAME})?\s*(?:\{{(?:{_MATCHER}(?:,{_MATCHER})*,?)?\s*\}})?\s*$")
ALLOC = "mlfp_alloc"  # a label the queries add: "1" on series that carry a workload label


def check_label(name: str, what: str) -> str:
    if not LABEL_RE.match(name):
        raise ConfigError(f"{what} {name!r} is not a Prometheus label name (letters, digits and _, not starting "
                          "with a digit)")
    if name.startswith("__") or name == ALLOC:
        raise ConfigError(f"{what} {name!r} is reserved: choose another label")
    return name


def check_selector(text: str, what: str) -> str:
    """A series selector: `name`, `name{label="value",...}` or `{__name__=~"..."}`."""
    if not text.strip() or not SELECTOR_RE.match(text) or text.strip() == "{}":
        raise ConfigError(f"{what} {text!r} is not a PromQL series selector: expected a metric name, optionally "
                          'with label matchers, e.g. DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{cluster="eu-1"}')
    return text.strip()


def quote(value: str) -> str:
    """A label value as a PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def exact_selector(metric_selector: str, labels: dict[str, str], regex: dict[str, list[str]] | None = None) -> str:
    """`metric_selector` narrowed to the series with these labels (and, for `regex`, any of the values
    listed). A series with more labels also matches: the caller keeps the answers it asked for."""
    matchers = [f"{k}={quote(v)}" for k, v in sorted(labels.items()) if k != "__name__"]
    for k, values in sorted((regex or {}).items()):
        matchers.append(f"{k}=~{quote('|'.join(re.escape(v) for v in sorted(set(values))))}")
    if "__name__" in labels:
        matchers.insert(0, f"__name__={quote(labels['__name__'])}")
    base = metric_selector.strip()
    if base.endswith("}"):
        head = base[:-1].rstrip()
        return head + ("" if head.endswith("{") else ",") + ",".join(matchers) + "}"
    return base + "{" + ",".join(matchers) + "}"


def dur(seconds: float) -> str:
    return f"{int(round(seconds * 1000))}ms"


def end_values(sel: str, length_s: float) -> str:
    """Per series, its last value in the tile (a < t <= b): the tiles' differences of these are the
    counter's own increases (fleet/collect.py takes them), with no extrapolation; a series without one has
    no sample in the tile."""
    return f"last_over_time({sel}[{int(round(length_s * 1000)) - 1}ms])"


def flagged(sel: str, length_s: float, lookback_s: float) -> str:
    """Series whose tile (with the look-back before it) holds a counter reset."""
    return f"resets({sel}[{dur(length_s + lookback_s)}]) > 0"


def _tag_alloc(expr: str, workload_label: str | None) -> str:
    if workload_label is None:
        return expr
    return f'label_replace({expr}, "{ALLOC}", "1", "{workload_label}", ".+")'


def _by(labels: list[str]) -> str:
    return ", ".join(dict.fromkeys([*labels, ALLOC]))


def increases(sel: str, length_s: float, by: list[str], workload_label: str | None) -> str:
    """PromQL's increase() per tile, summed by group in Prometheus: for sources whose counters wrap too
    often for the exact path (RAPL), extrapolated at the tile edges."""
    return f"sum by ({_by(by)}) ({_tag_alloc(f'increase({sel}[{dur(length_s)}])', workload_label)})"


def _count(sel: str, length_s: float) -> str:
    """Samples in a < t <= b: the range is shortened by a millisecond, as PromQL's ranges include both ends
    and a sample exactly on a tile's edge would count in two tiles."""
    return f"count_over_time({sel}[{int(round(length_s * 1000)) - 1}ms])"


def counts(sel: str, length_s: float) -> str:
    """Samples per series and tile: how long each series was there (device-time), which series carried a
    device (hand-overs, sharing), and where samples are missing (gaps)."""
    return _count(sel, length_s)


__all__ = ["ALLOC", "check_label", "check_selector", "counts", "dur", "end_values", "exact_selector", "flagged",
           "increases",
           "quote"]
