"""Source presets, custom counters, serving counters and the places file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfootprint.errors import ConfigError
from mlfootprint.fleet import sources
from mlfootprint.fleet.places import load_sites, make_site


def test_presets_name_their_exporters_metrics_and_labels() -> None:
    dcgm = sources.PRESETS["dcgm"]
    assert dcgm.selector == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" and dcgm.scale_to_j == 1e-3
    assert dcgm.label("namespace", {"exported_namespace", "UUID"}) == "exported_namespace"
    assert dcgm.label("host", {"Hostname"}) == "Hostname" and dcgm.label("team", set()) == "team"
    kepler = sources.PRESETS["kepler"]
    assert "kepler_pod_cpu_joules_total" in kepler.selector and kepler.label("namespace") == "pod_namespace"
    assert kepler.basis == "modelled" and kepler.starts_at_zero
    assert sources.PRESETS["node-exporter"].method == "increase"


def test_two_sources_of_the_same_hardware_are_refused() -> None:
    assert [s.name for s in sources.named("dcgm, kepler")] == ["dcgm", "kepler"]
    with pytest.raises(ConfigError, match="counted twice"):
        sources.named("kepler,node-exporter")
    with pytest.raises(ConfigError, match="counted twice"):
        sources.named("dcgm,mlfootprint")
    with pytest.raises(ConfigError, match="unknown --source 'nvml'"):
        sources.named("nvml")


def test_custom_counters_and_filters() -> None:
    custom = sources.custom('gpu_energy_wh_total{cluster="a"}', "Wh", workload_label="job")
    assert custom.scale_to_j == 3600 and custom.workload_label == "job"
    with pytest.raises(ConfigError, match="not an energy unit"):
        sources.custom("x", "W", workload_label=None)
    narrowed = sources.with_selector(sources.PRESETS["kepler"], 'cluster="eu-1"')
    assert narrowed.selector == 'kepler_pod_cpu_joules_total{zone=~"package.*|dram.*",cluster="eu-1"}'
    assert sources.with_selector(sources.PRESETS["dcgm"], 'cluster="x"').selector.endswith('{cluster="x"}')
    with pytest.raises(ConfigError):
        sources.with_selector(sources.PRESETS["dcgm"], "cluster=x")


def test_serving_presets_come_from_serve() -> None:
    vllm = sources.serving("vllm", None, None, None)
    assert vllm is not None and vllm.requests == "vllm:request_success_total" and vllm.model_label == "model_name"
    assert sources.serving(None, None, None, None) is None
    with pytest.raises(ConfigError, match="unknown --serving"):
        sources.serving("ollama", None, None, None)


def test_a_places_file_maps_label_values_to_sites(tmp_path: Path) -> None:
    default = make_site("default", {"country": "DE"}, "argument")
    path = tmp_path / "places.csv"
    path.write_text("value,site,country,pue,renewable_share\ngpu-eu-*,paris,FR,1.2,0.7\ngpu-us-*,oregon,US-OR,1.1,\n")
    sites = load_sites(default, str(path), "host")
    paris = sites.resolve("gpu-eu-0003")
    assert paris.name == "paris" and paris.place.pue == 1.2 and paris.place.renewable_share == 0.7
    assert "places.csv line 2" in paris.place.pue_source
    assert sites.resolve("gpu-us-1").zone == "US-OR" and sites.resolve("cpu-7") is default
    assert sites.unmatched == {"cpu-7"}
    path.write_text("host,country\nx,FR\n")
    with pytest.raises(ConfigError, match="expected value"):
        load_sites(default, str(path), "host")
    path.write_text("value,country,pue\nx,FR,9\n")
    with pytest.raises(ConfigError, match="pue"):
        load_sites(default, str(path), "host")
