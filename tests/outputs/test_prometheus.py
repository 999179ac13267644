"""The Prometheus exposition of a snapshot: names from the metric catalogue, labels escaped."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mlfootprint.live import LiveFigures
from mlfootprint.outputs import metrics as m
from mlfootprint.outputs.prometheus import PrometheusOutput, TextfileOutput, exposition


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_exposition_carries_every_figure_of_the_snapshot(live: LiveFigures) -> None:
    found = _samples(exposition(live).decode())
    base = (("project", live.project), ("run_id", "abc123"))
    assert found[(m.IT_ENERGY.prometheus + "_total", tuple(sorted(
        base + (("component", "gpu:0"), ("kind", "gpu"), ("method", "measured")))))] == 1200.0
    assert found[(m.POWER.prometheus, tuple(sorted(base + (("component", "cpu:modelled"), ("kind", "cpu")))))] == 24.0
    assert found[(m.FACILITY_ENERGY.prometheus + "_total", base)] == 2340.0
    assert found[(m.CO2E.prometheus + "_total", base)] == 1.9e-4
    phases = {dict(k[1])["phase"]: v for k, v in found.items() if k[0] == m.PHASE_ENERGY.prometheus + "_total"}
    assert phases == {"forward": 900.0, "backward": 500.0, m.OUTSIDE_PHASES: 100.0}


def test_a_flush_replaces_the_figures_a_scrape_serves(live: LiveFigures) -> None:
    from dataclasses import replace

    out = PrometheusOutput("127.0.0.1:1")  # not started here: its collector is what a scrape reads
    out.flush(replace(live, energy_j=9999.0))
    assert out.collector.live is not None and out.collector.live.energy_j == 9999.0


def test_the_textfile_is_rewritten_at_each_flush(live: LiveFigures, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "run.prom"
    out = TextfileOutput(str(path))
    out.start(live)
    first = path.read_text()
    from dataclasses import replace

    out.flush(replace(live, co2e_kg=2.0))
    assert first != path.read_text() and "mlfootprint_co2e_kilograms_total" in path.read_text()
