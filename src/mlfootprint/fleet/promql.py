"""The PromQL the fleet view sends, built in one place so each expression can be read (and is listed in
the result's `queries`).

The energy of one series over one tile (a<t<=b, about an hour; see fleet/counters.py for why):

    (last_over_time(C[LB]) - last_over_time(C[LB] offset L))      the counter's own difference from the last
                                                                     sample at or before a to the last at or before b
    or (max_over_time(C[L]) - min_over_time(C[L]))               a series that first appears in the tile
                                                                     (a device's lifetime counter: from its first sample)
    or max_over_time(C[L])                                         ... or, for counters that start at zero, from zero

No extrapolation (PromQL's increase() stretches a tile's rate to its edges); tiles whose range holds a
counter reset are left out with `unless (resets(C[L+LB]) > 0)` and computed exactly from their raw
samples instead. Sums are taken in Prometheus (`sum by`), so what comes back grows with groups x tiles,
not with samples.
"""

from __future__ import annotations

import re

from ..errors import ConfigError

LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = r"[A-Za-z_:][A-Za-z0-9_:]*"
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
SELECTOR_RE = re.compile(rf"^\s*(?:{_NAME})?\s*(?:\{{(?:{_MATCHER}(?:,{_MATCHER})*,?)?\s*\}})?\s*$")
ALLOC = "mlfp_alloc"  # a label the queries add: "1" on series that carry a workload label
EVENT = "mlfp_event"  # short | vanished | appeared (the gap-finding query)


def check_label(name: str, what: str) -> str:
    if not LABEL_RE.match(name):
        raise ConfigError(f"{what} {name!r} is not a Prometheus label name (letters, digits and _, not starting "
                          "with a digit)")
    if name.startswith("__") or name in (ALLOC, EVENT):
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


def exact_selector(metric_selector: str, labels: dict[str, str]) -> str:
    """`metric_selector` narrowed to the series with these labels. A series with more labels also matches:
    the caller keeps only the answer whose labels are these exactly."""
    matchers = [f"{k}={quote(v)}" for k, v in sorted(labels.items()) if k != "__name__"]
    if "__name__" in labels:
        matchers.insert(0, f"__name__={quote(labels['__name__'])}")
    base = metric_selector.strip()
    if base.endswith("}"):
        head = base[:-1].rstrip()
        return head + ("" if head.endswith("{") else ",") + ",".join(matchers) + "}"
    return base + "{" + ",".join(matchers) + "}"


def dur(seconds: float) -> str:
    return f"{int(round(seconds * 1000))}ms"


def delta(sel: str, length_s: float, lookback_s: float, *, starts_at_zero: bool, method: str) -> str:
    """Per series: the counter's increase over the tile that ends at the evaluation time (see module doc)."""
    L, LB = dur(length_s), dur(lookback_s)
    if method == "increase":
        return f"increase({sel}[{L}])"
    born = f"max_over_time({sel}[{L}])" if starts_at_zero else f"(max_over_time({sel}[{L}]) - min_over_time({sel}[{L}]))"
    return f"((last_over_time({sel}[{LB}]) - last_over_time({sel}[{LB}] offset {L})) or {born})"


def flagged(sel: str, length_s: float, lookback_s: float) -> str:
    """Series whose tile (with the look-back before it) holds a counter reset."""
    return f"resets({sel}[{dur(length_s + lookback_s)}]) > 0"


def _tag_alloc(expr: str, workload_label: str | None) -> str:
    if workload_label is None:
        return expr
    return f'label_replace({expr}, "{ALLOC}", "1", "{workload_label}", ".+")'


def _by(labels: list[str]) -> str:
    return ", ".join(dict.fromkeys([*labels, ALLOC]))


def energy(sel: str, length_s: float, lookback_s: float, by: list[str], workload_label: str | None, *,
           starts_at_zero: bool, method: str) -> str:
    """Energy per group and tile: sum of the per-series increases, tiles with a reset left out."""
    inner = delta(sel, length_s, lookback_s, starts_at_zero=starts_at_zero, method=method)
    if method != "increase":
        inner = f"({inner} unless ({flagged(sel, length_s, lookback_s)}))"
    return f"sum by ({_by(by)}) ({_tag_alloc(inner, workload_label)})"


def _count(sel: str, length_s: float, offset: str = "") -> str:
    """Samples in a < t <= b: the range is shortened by a millisecond, as PromQL's ranges include both ends
    and a sample exactly on a tile's edge would count in two tiles."""
    return f"count_over_time({sel}[{int(round(length_s * 1000)) - 1}ms]{offset})"


def reset_tiles(sel: str, length_s: float, lookback_s: float, by: list[str], workload_label: str | None) -> str:
    """PromQL's increase() on the reset tiles only: the stand-in when there are too many to fetch raw."""
    inner = f"(increase({sel}[{dur(length_s)}]) and ({flagged(sel, length_s, lookback_s)}))"
    return f"sum by ({_by(by)}) ({_tag_alloc(inner, workload_label)})"


def samples(sel: str, length_s: float, by: list[str], workload_label: str | None) -> str:
    """Samples per group and tile (times the scrape interval: device-time)."""
    return f"sum by ({_by(by)}) ({_tag_alloc(_count(sel, length_s), workload_label)})"


def events(sel: str, length_s: float) -> str:
    """Per series and tile: `short` (at least 2 samples fewer than a neighbouring tile, with samples on both
    sides), `vanished` (no sample, but some in the tile before), `appeared` (samples, none in the tile before)."""
    L = dur(length_s)
    cur, prev, nxt = _count(sel, length_s), _count(sel, length_s, f" offset {L}"), _count(sel, length_s, f" offset -{L}")
    short = f"((({cur} + 2) <= {prev}) and {nxt}) or ((({cur} + 2) <= {nxt}) and {prev})"
    return (f'label_replace({short}, "{EVENT}", "short", "", "") or '
            f'label_replace({prev} unless {cur}, "{EVENT}", "vanished", "", "") or '
            f'label_replace({cur} unless {prev}, "{EVENT}", "appeared", "", "")')


def shared(sel: str, length_s: float, device_labels: list[str], full_count: float) -> str:
    """Devices that more than one series counts at once (a GPU shared by pods: time-slicing, MPS)."""
    return (f"sum by ({', '.join(device_labels)}) ({_count(sel, length_s)}) > "
            f"{full_count * 1.25:.6g}")


__all__ = ["ALLOC", "EVENT", "check_label", "check_selector", "delta", "dur", "energy", "events", "exact_selector",
           "flagged", "quote", "reset_tiles", "samples", "shared"]
