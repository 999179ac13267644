"""One self-contained HTML file for a run or a distributed job: opens offline, shares as an attachment.

Plots are matplotlib SVG drawn into the page (report/plots.py: text drawn as paths, no fonts, no
scripts, no network). Every piece of user text (project, command, phase and metric names) goes
through Jinja2's autoescaping: it is shown, never interpreted as markup. The figures and their words
are the terminal's and the statement's (report/model.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from ..jobs import JobSummary
from ..quality import OUTSIDE_PHASES
from ..record import RunRecord, SampleRow
from ..serving.figures import Serving
from . import model
from .format import fmt_co2e, fmt_count, fmt_duration, fmt_energy, fmt_range, fmt_utc, sig
from .plots import PALETTE, bar_plot, energy_unit, power_plot, pyplot, svg

__all__ = ["job_report", "render", "result_report", "run_report", "template"]


def _impact(impact: Any) -> tuple[list[model.Row], list[str]]:
    """Impact rows (market-based CO2e and costs included) and equivalents, with numbered sources."""
    if impact is None:
        return [], []
    cite = model.Citations()
    rows = model.impact_rows(impact, cite) + model.equivalent_rows(impact, cite)
    return rows, cite.sources


def _serving(s: Serving) -> dict[str, Any]:
    """The serving section, with what the terminal shows: counts, rate, idle, requests per kWh, CO2e."""
    facts = [f"{fmt_count(s.requests)} requests in {s.windows} windows of {fmt_duration(s.window_s or 0.0)}",
             f"{sig(s.requests_per_s or 0.0)} requests/s"]
    if s.idle_share is not None:
        facts.append(f"idle share {s.idle_share:.0%}")
    facts.append(f"idle power {sig(s.idle_power_w)} W" if s.idle_power_w is not None else "no idle window")
    if s.requests_per_kwh:
        facts.append(f"{fmt_count(s.requests_per_kwh)} requests per kWh of IT energy")
    if s.co2e_per_1000_requests_kg is not None:
        facts.append(f"CO2e operational per 1,000 requests {fmt_co2e(s.co2e_per_1000_requests_kg)}")
    rows = []
    counted = []  # which counter each row divides by: a "token" counter may count images or samples
    for label, per, counter in (("request", s.energy_per_request_j, s.counters.requests_counter),
                                ("token", s.energy_per_token_j, s.counters.tokens_counter)):
        if per is not None and not (label == "token" and s.tokens == s.requests):
            rows.append((label, [fmt_energy(v) if v is not None else "-" for v in
                                 (per.idle_included, per.idle_excluded, per.above_idle, per.p50, per.p95)]))
            if counter:
                counted.append(f"{label}s: {counter}")
    estimate = None
    est = s.estimate
    if est is not None and est.error:
        estimate = f"No estimate beside the measurement: {est.error}"
    elif est is not None and est.energy_per_token_j is not None:
        level = f"{est.range_level:.0%} range" if est.range_level else "range"
        span = ""
        if len(est.energy_j_range) == 2 and est.tokens:
            span = (f" ({level} {fmt_energy(est.energy_j_range[0] / est.tokens)}–"
                    f"{fmt_energy(est.energy_j_range[1] / est.tokens)})")
        estimate = (f"Estimated on {est.hardware}: {fmt_energy(est.energy_per_token_j)} per token{span}; measured / "
                    f"estimate x{sig(est.measured_to_estimate or 0.0)} (idle excluded).")
    per_request = s.energy_per_request_j.idle_included
    return {"basis": s.basis, "facts": " · ".join(facts), "rows": rows, "estimate": estimate,
            "counted": "; ".join(counted), "per_request": fmt_energy(per_request) if per_request is not None else None}


def _serving_plot(s: Serving) -> str | None:
    """IT energy per request in each window, against time: how the cost moved with the load. The line
    breaks at windows that served nothing (no request to divide by), rather than bridging them."""
    busy = [w for w in s.series if w.requests > 0]
    if len(busy) < 2:
        return None
    factor, unit = energy_unit(max(w.energy_j / w.requests for w in busy))
    times: list[float] = []
    values: list[float] = []
    for w in s.series:
        times.append(w.t_s)
        values.append(w.energy_j / w.requests * factor if w.requests > 0 else float("nan"))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.plot(times, values, "o-", color=PALETTE[0], markersize=3)
    idle = [t for t, v in zip(times, values) if v != v]
    if idle:
        ax.plot(idle, [0.0] * len(idle), "x", color="#5b6775", markersize=6, clip_on=False,
                label="window without requests")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_xlabel("seconds since the start (end of each window)")
    ax.set_ylabel(f"IT energy per request ({unit})")
    ax.set_title("IT energy per request, window by window (windows that served requests)", fontsize=9)
    ax.set_ylim(bottom=0)
    return svg(fig)


def _phase_order(phases: Sequence[Any]) -> list[Any]:
    """Largest IT energy first at each level, as the bars are, each nested phase under its parent; time
    outside every phase last."""
    energy = {p.phase: p.energy_j for p in phases}

    def key(p: Any) -> tuple[bool, tuple[tuple[float, str], ...]]:
        parts = p.phase.split("/")
        paths = ["/".join(parts[:i + 1]) for i in range(len(parts))]
        return p.phase == OUTSIDE_PHASES, tuple((-energy.get(path, 0.0), path) for path in paths)

    return sorted(phases, key=key)


def run_context(record: RunRecord, samples: Sequence[SampleRow]) -> dict[str, Any]:
    phases = [p for p in record.phases if p.top_level]
    rows, sources = _impact(record.impact)
    impact = record.impact
    op = impact.co2e_operational_kg if impact is not None else None
    return {
        "kind": "run", "title": f"run {record.id}", "record": record, "started": fmt_utc(record.started_at),
        "energy": fmt_energy(record.energy_j), "uncertainty": fmt_energy(record.energy_uncertainty_j),
        "co2e": fmt_co2e(record.co2e_kg), "co2e_range": fmt_range(op, fmt_co2e) if op else "",
        "co2e_total": fmt_co2e(impact.co2e_total_kg.value) if impact else None,
        "co2e_total_range": fmt_range(impact.co2e_total_kg, fmt_co2e) if impact else "",
        "where": record.where, "intensity": sig(record.location.intensity_g_per_kwh),
        "quote": model.quote(impact, record.co2e_kg, record.where),
        "basis": (impact.basis_detail or impact.basis) if impact else "-",
        "power_svg": power_plot(samples, "IT power per device"),
        "phase_svg": bar_plot([p.phase for p in phases], [p.energy_j for p in phases]),
        "component_svg": bar_plot([f"{c.kind} · {c.name}" for c in record.components],
                                  [c.energy_j for c in record.components]),
        "phases": _phase_order(record.phases), "per_item": any(p.energy_per_item_j for p in record.phases),
        "nested": any("/" in p.phase for p in record.phases),
        "impact_rows": rows, "sources": sources,
        "metrics": record.metrics, "gaps": record.generalization_gap,
        "forecast": record.forecast if record.forecast and record.forecast.total_energy_j is not None else None,
        "counts": record.counts, "serving": _serving(record.serving) if record.serving else None,
        "serving_svg": _serving_plot(record.serving) if record.serving else None,
        "fmt_energy": fmt_energy, "fmt_count": fmt_count, "fmt_duration": fmt_duration,
    }


def job_context(job: JobSummary) -> dict[str, Any]:
    rows, sources = _impact(job.impact)
    phases = [p for p in job.phases if p.phase != "(outside phases)" and "/" not in p.phase]
    return {
        "kind": "job", "title": f"job {job.id}", "job": job,
        "energy": fmt_energy(job.energy_j), "uncertainty": fmt_energy(job.energy_uncertainty_j),
        "co2e": fmt_co2e(job.co2e_kg), "basis": job.energy_basis,
        # one node is the card above: a one-bar chart would only repeat it
        "node_svg": bar_plot([n.node for n in job.nodes], [n.energy_j for n in job.nodes]) if len(job.nodes) > 1
        else None,
        "phase_svg": bar_plot([p.phase for p in phases], [p.energy_j for p in phases]),
        "job_phases": _phase_order(job.phases),
        "impact_rows": rows, "sources": sources, "fmt_energy": fmt_energy, "fmt_count": fmt_count,
        "fmt_duration": fmt_duration,
    }


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mlfootprint">
<title>{{ title }} · mlfootprint</title>
<style>
 body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
 main{max-width:1000px;margin:0 auto;padding:24px}
 h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
 .meta{color:#5b6775} .cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
 .card{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:10px 14px;min-width:150px}
 .card b{display:block;font-size:20px} table{border-collapse:collapse;background:#fff;width:100%}
 th,td{border-bottom:1px solid #e4e8ee;padding:4px 8px;text-align:left;vertical-align:top}
 th.n,td.n{text-align:right;white-space:nowrap} td.n{font-variant-numeric:tabular-nums}
 figure{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:12px 0;padding:8px} figure svg{width:100%;height:auto}
 .sources li{color:#5b6775;font-size:12px} code{background:#eef1f4;padding:1px 4px;border-radius:3px}
 .basis{font-size:12px;color:#5b6775} tr.total td{font-weight:600} .note{font-size:12px;color:#5b6775;margin:4px 0}
</style></head>
<body><main>
{% if kind == "run" %}{% set r = record %}
<h1 id="title">{{ r.project }} · run {{ r.id }}</h1>
<div class="meta">{{ r.status }} · started {{ started }} · {{ fmt_duration(r.duration_s) }} · host {{ r.host }}
 · scope {{ r.scope }}{% if r.command %} · <code>{{ r.command }}</code>{% endif %}</div>
<div class="cards">
 <div class="card" id="energy">IT energy<b>{{ energy }}</b><span class="basis">± {{ uncertainty }} · {{ basis }}</span></div>
 <div class="card" id="co2e">CO2e operational (location-based)<b>{{ co2e }}</b><span class="basis">{{ co2e_range }} · {{ where }}, {{ intensity }} gCO2e/kWh</span></div>
 {% if co2e_total %}<div class="card" id="co2e-total">CO2e total (operational + embodied)<b>{{ co2e_total }}</b><span class="basis">{{ co2e_total_range }}</span></div>{% endif %}
 {% if serving and serving.per_request %}<div class="card" id="per-request">IT energy per request<b>{{ serving.per_request }}</b><span class="basis">idle included · {{ serving.basis }}</span></div>{% endif %}
 {% for name, value in counts.items() %}<div class="card">{{ name }}<b>{{ fmt_count(value) }}</b></div>{% endfor %}
</div>
<p id="quote"><b>To quote:</b> {{ quote }}</p>
{% if r.kind == "experiment" %}<p id="nested">A reduce experiment's entry: it measures nothing itself (0 J here); each of its trials is a run of its own, charged its devices (<code>mlfootprint show {{ r.id }}</code> lists them).</p>{% endif %}{% if r.parent_id and r.kind == "trial" %}<p id="nested">A trial of experiment {{ r.parent_id }}: the figures below are this trial's own.</p>{% elif r.parent_id %}<p id="nested">Nested in run {{ r.parent_id }}: its devices are charged to that run; the figures below are what this run read while it ran.</p>{% endif %}
{% if power_svg %}<h2>IT power over time</h2><figure id="power-plot">{{ power_svg|safe }}</figure>{% endif %}
<h2>IT energy by component</h2>{% if component_svg %}<figure id="component-plot">{{ component_svg|safe }}</figure>{% endif %}
<table id="components"><tr><th>component</th><th>name</th><th class="n">IT energy</th><th>how</th><th>source</th></tr>
{% for c in r.components %}<tr><td>{{ c.key }}</td><td>{{ c.name }}</td><td class="n">{{ fmt_energy(c.energy_j) }}</td><td>{{ c.method }}</td><td>{{ c.source }}{% if c.charged_to %} (charged to run {{ c.charged_to }}){% endif %}</td></tr>{% endfor %}
</table>
{% if phases %}<h2>IT energy by phase</h2>{% if phase_svg %}<figure id="phase-plot">{{ phase_svg|safe }}</figure>{% endif %}
<p class="note">Largest first.{% if nested %} A nested phase (parent/child) is included in its parent and listed under it.{% endif %}</p>
<table id="phases"><tr><th>phase</th><th class="n">time</th><th class="n">IT energy</th><th class="n">share</th>{% if per_item %}<th class="n">per item</th>{% endif %}</tr>
{% for p in phases %}<tr><td>{{ p.phase }}</td><td class="n">{{ fmt_duration(p.duration_s) }}</td><td class="n">{{ fmt_energy(p.energy_j) }}</td>
<td class="n">{% if p.share is not none %}{{ "%.0f"|format(p.share * 100) }} %{% endif %}</td>{% if per_item %}<td class="n">{% if p.energy_per_item_j %}{{ fmt_energy(p.energy_per_item_j) }}{% endif %}</td>{% endif %}</tr>{% endfor %}
</table>{% endif %}
{% if metrics %}<h2>Quality beside energy</h2><table id="quality"><tr><th>metric</th><th class="n">value</th></tr>
{% for k, v in metrics.items() %}<tr><td>{{ k }}</td><td class="n">{{ "%.4g"|format(v) if v is not none else "not a number" }}</td></tr>{% endfor %}
{% for k, v in gaps.items() %}<tr><td>generalization gap: {{ k }}</td><td class="n">{{ "%.4f"|format(v) }}</td></tr>{% endfor %}
</table>{% endif %}
{% if forecast %}<h2>Forecast vs actual</h2><table id="forecast"><tr><th></th><th class="n">forecast (last)</th><th class="n">actual</th></tr>
<tr><td>IT energy</td><td class="n">{{ fmt_energy(forecast.total_energy_j) }} ({{ fmt_energy(forecast.total_energy_j_low) }} – {{ fmt_energy(forecast.total_energy_j_high) }})</td><td class="n">{{ energy }}</td></tr>
<tr><td>duration</td><td class="n">{{ fmt_duration(forecast.duration_s) }}</td><td class="n">{{ fmt_duration(r.duration_s) }}</td></tr>
</table>{% endif %}
{% if serving %}<h2>Serving <span class="basis">IT energy {{ serving.basis }}</span></h2>
<p class="meta" id="serving-facts">{{ serving.facts }}</p>
<table id="serving"><tr><th>IT energy per</th><th class="n">idle included</th><th class="n">idle excluded</th><th class="n">above idle</th><th class="n">p50</th><th class="n">p95</th></tr>
{% for label, values in serving.rows %}<tr><td>{{ label }}</td>{% for v in values %}<td class="n">{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>{% if serving.counted %}<p class="note" id="serving-counters">Counted by the server's counters: {{ serving.counted }}.</p>{% endif %}
{% if serving.estimate %}<p id="serving-estimate">{{ serving.estimate }}</p>{% endif %}
{% if serving_svg %}<figure id="serving-plot">{{ serving_svg|safe }}</figure>{% endif %}{% endif %}
{% else %}{% set j = job %}
<h1 id="title">job {{ j.id }}</h1>
<div class="meta">{{ j.launcher }} ({{ j.detected_from }}) · {{ j.status }} · {{ j.ranks }} ranks on {{ j.nodes|length }} node(s), {{ j.gpus }} GPU(s) · wall {{ fmt_duration(j.wall_s) }}</div>
<div class="cards"><div class="card" id="energy">IT energy<b>{{ energy }}</b><span class="basis">± {{ uncertainty }} · {{ basis }}</span></div>
<div class="card" id="co2e">CO2e operational (location-based)<b>{{ co2e }}</b></div></div>
{% if node_svg %}<h2>IT energy by node</h2><figure id="node-plot">{{ node_svg|safe }}</figure>{% endif %}
{% if job_phases %}<h2>IT energy by phase, summed over ranks</h2>{% if phase_svg %}<figure id="phase-plot">{{ phase_svg|safe }}</figure>{% endif %}
<table id="phases"><tr><th>phase</th><th class="n">ranks</th><th class="n">IT energy</th><th class="n">wall (slowest)</th><th class="n">median</th><th class="n">spread</th></tr>
{% for p in job_phases %}<tr><td>{{ p.phase }}</td><td class="n">{{ p.ranks }}</td><td class="n">{{ fmt_energy(p.energy_j) }}</td><td class="n">{{ fmt_duration(p.wall_s) }}</td><td class="n">{{ fmt_duration(p.median_s) }}</td><td class="n">{{ "%+.0f"|format(p.spread * 100) }} %</td></tr>{% endfor %}
</table>{% else %}<p class="note" id="phases">No phases recorded: the ranks did not mark any (run.phase(...) or a framework callback).</p>{% endif %}
{% for s in j.stragglers %}<p>straggler: rank {{ s.rank }} spent {{ "%.2f"|format(s.slowest_s) }} s in {{ s.phase }}, {{ "%.0f"|format(s.excess * 100) }} % over the median rank</p>{% endfor %}
{% endif %}
{% if impact_rows %}<h2>Impact</h2><table id="impact"><tr><th>figure</th><th class="n">value</th><th class="n">range</th><th>basis</th><th>source</th></tr>
{% for row in impact_rows %}<tr{% if row.strong %} class="total"{% endif %}><td>{{ row.label }}</td><td class="n">{{ row.value }}</td><td class="n">{{ row.range }}</td><td>{{ row.basis }}</td><td>{% if row.ref %}[{{ row.ref }}]{% endif %}</td></tr>{% endfor %}
</table><ol class="sources">{% for s in sources %}<li>{{ s }}</li>{% endfor %}</ol>{% endif %}
<p class="meta">Written by mlfootprint {{ version }} on {{ now }}. Each figure says how it was obtained: measured, modelled, estimated or simulated.</p>
</main></body></html>
"""


@lru_cache(maxsize=1)
def template() -> Any:
    """The page template, compiled once per process (compiling takes longer than rendering)."""
    from jinja2 import Environment

    return Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(TEMPLATE)


def render(context: dict[str, Any]) -> str:
    from ..version import __version__

    return template().render(**context, version=__version__,
                              now=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def run_report(record: RunRecord, samples: Sequence[SampleRow]) -> str:
    """The HTML page of a run (its samples draw the power plot)."""
    return render(run_context(record, samples))


def job_report(job: JobSummary) -> str:
    """The HTML page of a distributed job."""
    return render(job_context(job))


def pareto_plot(reports: Sequence[Any], metric: str) -> str | None:
    """The Pareto plot of a `reduce --json-file` result's strategies (report/pareto.py), as inline SVG."""
    from .pareto import draw, pareto_plot as plan

    plot = plan(reports, metric)
    if plot is None:
        return None
    return svg(draw(plot))


def sweep_plot(sweep: list[dict[str, Any]]) -> str | None:
    """The `estimate` sweep's plot (report/estimate_view.py draws it for the terminal's PNG too), as SVG."""
    if not sweep:
        return None
    from .estimate_view import sweep_figure, sweep_points_from_json

    pyplot()
    points, note = sweep_points_from_json(sweep)
    return svg(sweep_figure(points, note))


RESULT_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }} · mlfootprint</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9} main{max-width:1000px;margin:0 auto;padding:24px}
table{border-collapse:collapse;background:#fff;width:100%} th,td{border-bottom:1px solid #e4e8ee;padding:4px 8px;text-align:left}
td.n{text-align:right} figure{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:12px 0;padding:8px} figure svg{width:100%;height:auto}</style>
</head><body><main><h1 id="title">{{ title }}</h1>
{% if svg %}<figure id="{{ plot_id }}">{{ svg|safe }}</figure>{% endif %}
<table id="results"><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table>
<p>{{ note }}</p></main></body></html>"""


def result_report(data: Any) -> str:
    """The page for a `reduce --json-file` result (the Pareto plot) or an `estimate --json` sweep."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    if isinstance(data, dict) and isinstance(data.get("sweep"), list):
        from .estimate_view import estimates_from_json

        estimates = estimates_from_json(data["sweep"])
        rows = [[f"{e.params or 0:.3g}", f"{e.tokens or 0:.3g}", f"{e.accelerator_hours:,.0f}", fmt_energy(e.energy_j),
                 fmt_co2e(e.co2e_total_kg)] for e in estimates]
        return env.from_string(RESULT_TEMPLATE).render(
            title="estimate: footprint against model size", svg=sweep_plot(data["sweep"]), plot_id="sweep-plot",
            headers=["params", "tokens", "accelerator-hours", "IT energy", "CO2e total"], rows=rows,
            note="Estimated from the estimator's assumptions (mlfootprint estimate --json lists each with its source).")
    if isinstance(data, list) and data and all(isinstance(r, dict) and "strategy" in r for r in data):
        from ..reduce.result import StrategyReport
        from ..shapes import from_json

        reports = [from_json(StrategyReport, r, f"record {i + 1}") for i, r in enumerate(data)]
        metrics = sorted({m for r in reports for m in r.quality})
        metric = metrics[0] if metrics else ""
        rows = [[r.strategy, fmt_energy(r.energy_j) if r.energy_j else "-",
                 f"{r.quality.get(metric, float('nan')):.4g}" if metric else "-",
                 "yes" if r.recommended else "no", r.verdict] for r in reports]
        return env.from_string(RESULT_TEMPLATE).render(
            title="reduce: strategies on your workload", svg=pareto_plot(reports, metric) if metric else None,
            plot_id="pareto-plot", headers=["strategy", "energy", metric or "quality", "recommended", "verdict"],
            rows=rows, note="Measured trials; the verdicts say why a strategy is or is not recommended.")
    raise ValueError("not a reduce result (reduce --json-file) or an estimate sweep (estimate --json)")
