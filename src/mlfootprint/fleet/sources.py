"""Where a fleet's energy counters come from: presets with each exporter's metric and label names.

Names are those of each project's documentation:

* NVIDIA DCGM exporter (docs.nvidia.com/datacenter/dcgm, "DCGM Exporter Metrics"; dcgm-exporter's
  default-counters.csv): `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`, a GPU's total energy since the driver
  loaded, in millijoules, labelled `Hostname`, `gpu`, `UUID`, `modelName` and, in Kubernetes mode,
  `namespace`, `pod`, `container` of the pod the GPU is allocated to. A GPU allocated to no pod has
  no pod labels. When Prometheus scrapes the exporter through Kubernetes service discovery without
  honor_labels, those three arrive as `exported_namespace`, `exported_pod`, `exported_container`:
  the preset finds whichever the data has.
* Kepler (github.com/sustainable-computing-io/kepler, docs/user/metrics.md, 0.10 and later):
  `kepler_pod_cpu_joules_total{pod_name, pod_namespace, zone, state}` and `node_name`. One series per
  RAPL zone: package and dram are summed, core/uncore/psys are left out (they overlap package).
  Kepler's per-pod figure is its model's share of measured RAPL energy: modelled, not measured.
* node exporter's RAPL collector: `node_rapl_package_joules_total`, `node_rapl_dram_joules_total`
  (labels index, path; the host is the scrape target's `instance`). No workload labels: a host's
  energy is unallocated unless grouped by host. RAPL counters wrap every few tens of minutes under
  load, so this preset uses PromQL's increase() (see `method`).
* mlfootprint's own `mlfootprint_energy_joules_total{run_id, project, component, kind, method}`
  (outputs/prometheus.py), in joules.

Any other counter is nameable (`--metric NAME --unit J|mJ|uJ|kWh|Wh`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..constants import UNCERTAINTY_MEASURED, UNCERTAINTY_TDP_MODEL
from ..errors import ConfigError
from .promql import check_label, check_selector

UNITS_TO_J = {"j": 1.0, "mj": 1e-3, "uj": 1e-6, "wh": 3600.0, "kwh": 3.6e6}


@dataclass(frozen=True)
class Source:
    """One energy counter and how to read it."""

    name: str
    selector: str  # a PromQL series selector: metric name and label filters
    scale_to_j: float  # counter unit -> joules
    unit: str
    covers: str  # gpu | cpu | all: what hardware the counter measures (sources that cover the same are not summed)
    basis: str  # measured | modelled: how the exporter obtains the figure
    uncertainty_rel: float  # ± relative, the project's stated figure for that basis
    # canonical name -> the label names this source may use for it, first found wins
    labels: tuple[tuple[str, tuple[str, ...]], ...]
    workload_label: str | None  # canonical or real label whose presence means "allocated to a workload"
    device_labels: tuple[str, ...] = ()  # what identifies one device (GPU) across its series
    model_label: str | None = None  # the device's model name, for the embodied CO2e catalogue
    # the counter of a series that first appears starts at zero (a container's or a run's own counter)
    # rather than at a device's lifetime total (DCGM)
    starts_at_zero: bool = False
    method: str = "exact"  # exact | increase (see fleet/counters.py)
    citation: str = ""

    def label(self, canonical: str, present: set[str] | None = None) -> str:
        """The real label name for `canonical` (or the name itself when the source has no mapping)."""
        for name, options in self.labels:
            if name == canonical:
                if present is not None:
                    for option in options:
                        if option in present:
                            return option
                return options[0]
        return canonical


_K8S = (("namespace", ("namespace", "exported_namespace")), ("pod", ("pod", "exported_pod")),
        ("container", ("container", "exported_container")))

PRESETS: dict[str, Source] = {
    "dcgm": Source(
        "dcgm", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 1e-3, "mJ", "gpu", "measured", UNCERTAINTY_MEASURED,
        _K8S + (("host", ("Hostname", "instance")),), "pod", ("UUID",), "modelName",
        citation="NVIDIA DCGM exporter, DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (mJ since the driver loaded; "
                 "docs.nvidia.com/datacenter/dcgm, DCGM Exporter Metrics); the GPU's own energy counter, read "
                 f"through NVML (±{UNCERTAINTY_MEASURED:.0%}, the project's figure for a measured counter)"),
    "kepler": Source(
        "kepler", 'kepler_pod_cpu_joules_total{zone=~"package.*|dram.*"}', 1.0, "J", "cpu", "modelled",
        UNCERTAINTY_TDP_MODEL,
        (("namespace", ("pod_namespace",)), ("pod", ("pod_name",)), ("host", ("node_name", "instance"))),
        "pod", starts_at_zero=True,
        citation="Kepler kepler_pod_cpu_joules_total, zones package and dram (Kepler docs/user/metrics.md); "
                 "a pod's modelled share of the node's measured RAPL energy "
                 f"(±{UNCERTAINTY_TDP_MODEL:.0%}, the project's figure for modelled energy)"),
    "node-exporter": Source(
        "node-exporter", '{__name__=~"node_rapl_(package|dram)_joules_total"}', 1.0, "J", "cpu", "measured",
        UNCERTAINTY_MEASURED, (("host", ("instance",)),), None, method="increase",
        citation="Prometheus node exporter RAPL collector, node_rapl_package_joules_total + "
                 "node_rapl_dram_joules_total (the CPU's own counters; "
                 f"±{UNCERTAINTY_MEASURED:.0%}, the project's figure for a measured counter)"),
    "mlfootprint": Source(
        "mlfootprint", "mlfootprint_energy_joules_total", 1.0, "J", "all", "modelled", UNCERTAINTY_TDP_MODEL,
        (("host", ("instance",)),), "run_id", starts_at_zero=True,
        citation="mlfootprint's own exposition, mlfootprint_energy_joules_total (outputs/prometheus.py); its "
                 "components are measured or modelled (label method): taken as modelled, the weaker, "
                 f"±{UNCERTAINTY_TDP_MODEL:.0%}"),
}
# Sources found without --source: one per kind of hardware, so none is counted twice.
AUTO_ORDER = ("dcgm", "kepler", "node-exporter", "mlfootprint")


def custom(metric: str, unit: str, *, workload_label: str | None, basis: str = "measured") -> Source:
    """Any counter: a selector and its unit; grouped by the labels it has."""
    check_selector(metric, "--metric")
    factor = UNITS_TO_J.get(unit.strip().lower())
    if factor is None:
        raise ConfigError(f"--unit {unit!r} is not an energy unit: use one of J, mJ, uJ, Wh, kWh")
    if workload_label is not None:
        check_label(workload_label, "--workload-label")
    rel = UNCERTAINTY_MEASURED if basis == "measured" else UNCERTAINTY_TDP_MODEL
    return Source("custom", metric.strip(), factor, unit, "all", basis, rel, (), workload_label, starts_at_zero=False,
                  citation=f"the counter {metric.strip()} ({unit}), as named on the command line; taken as {basis} "
                           f"(±{rel:.0%}, the project's figure for {basis} energy)")


def named(names: str) -> list[Source]:
    """The presets named in --source (comma-separated)."""
    found = []
    for name in (n.strip().lower() for n in names.split(",") if n.strip()):
        if name not in PRESETS:
            raise ConfigError(f"unknown --source {name!r}: use one of {', '.join(PRESETS)} (or --metric with --unit)")
        found.append(PRESETS[name])
    if not found:
        raise ConfigError(f"--source is empty: use one of {', '.join(PRESETS)}")
    kinds = [s.covers for s in found]
    for kind in set(kinds):
        if kinds.count(kind) > 1 or (kind == "all" and len(found) > 1):
            raise ConfigError(f"--source {names!r} names two sources that measure the same hardware ({kind}): their "
                              "energy would be counted twice; keep one")
    return found


def with_selector(source: Source, extra: str | None) -> Source:
    """The source limited by user label filters (e.g. cluster="eu-1"), added to the preset's own."""
    if not extra:
        return source
    try:
        check_selector("x{" + extra + "}", "--filter")
    except ConfigError:
        raise ConfigError(f"--filter {extra!r} is not a list of label matchers: expected name=\"value\" pairs "
                          "(=, !=, =~, !~) separated by commas, e.g. cluster=\"eu-1\"") from None
    sel = source.selector
    if sel.endswith("}"):
        sel = sel[:-1] + "," + extra + "}"
    else:
        sel = sel + "{" + extra + "}"
    return replace(source, selector=sel)


# Serving counters: names from serving/scrape.py's PRESETS (the model servers' docs); the label that names
# the model is each server's: vLLM model_name, Triton model, TF Serving model_name; TGI serves one model
# per server and has none (its pods stand for the model).
SERVING_MODEL_LABELS: dict[str, str | None] = {"vllm": "model_name", "tgi": None, "triton": "model",
                                               "tfserving": "model_name"}


@dataclass(frozen=True)
class ServingCounters:
    requests: str | None
    tokens: str | None
    model_label: str | None
    preset: str | None


def serving(preset: str | None, requests: str | None, tokens: str | None,
            model_label: str | None) -> ServingCounters | None:
    """The request and token counters to join with the energy (None when none is asked for)."""
    if preset is None and requests is None and tokens is None:
        return None
    if preset is not None:
        from ..serving.scrape import PRESETS as SERVE

        key = preset.strip().lower()
        if key not in SERVE:
            raise ConfigError(f"unknown --serving {preset!r}: use one of {', '.join(SERVE)} (or --requests/--tokens)")
        requests = requests or SERVE[key]["requests"]
        tokens = tokens or SERVE[key]["tokens"]
        model_label = model_label or SERVING_MODEL_LABELS.get(key)
    for text, what in ((requests, "--requests"), (tokens, "--tokens")):
        if text is not None:
            check_selector(text, what)
    if model_label is not None:
        check_label(model_label, "--model-label")
    return ServingCounters(requests, tokens, model_label, preset)


__all__ = ["AUTO_ORDER", "PRESETS", "SERVING_MODEL_LABELS", "ServingCounters", "Source", "UNITS_TO_J",
           "custom", "named", "serving", "with_selector"]
