"""One self-contained HTML file for a run or a distributed job: opens offline, shares as an attachment.

Plots are matplotlib SVG drawn into the page (text drawn as paths: no fonts, no scripts, no network).
Every piece of user text (project, command, phase and metric names) goes through Jinja2's
autoescaping: it is shown, never interpreted as markup.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Any

from ..constants import J_PER_KWH
from .terminal import fmt_co2e, fmt_count, fmt_energy, fmt_water

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]

_IMPACT_ROWS = [("co2e_operational_kg", "CO2e operational (location-based)", fmt_co2e),
                ("co2e_market_kg", "CO2e operational (market-based)", fmt_co2e),
                ("co2e_embodied_kg", "CO2e embodied (hardware share)", fmt_co2e),
                ("co2e_total_kg", "CO2e total", fmt_co2e), ("water_onsite_l", "water on-site", fmt_water),
                ("water_offsite_l", "water off-site (generation)", fmt_water), ("water_l", "water total", fmt_water)]


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inline


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "path"  # text as outlines: no font needed to view the file
    import matplotlib.pyplot as plt

    return plt


def power_plot(samples: list[dict[str, Any]], title: str) -> str | None:
    """Power per device over time, the phase that held each interval shaded behind it."""
    if not samples:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    keys = sorted({s["key"] for s in samples})
    for i, key in enumerate(keys):
        pts = [(s["t_s"], s["power_w"]) for s in samples if s["key"] == key]
        # each sample is the mean power over the interval that ends at its time: draw it over that interval
        starts = [0.0] + [t for t, _ in pts[:-1]]
        ax.step(starts + [pts[-1][0]], [p for _, p in pts] + [pts[-1][1]], where="post", label=key,
                color=PALETTE[i % len(PALETTE)], linewidth=1.2)
    spans = _phase_spans(samples, keys[0])
    phases = sorted({p for _, _, p in spans if p})
    labelled: set[str] = set()
    for a, b, phase in spans:
        if phase:
            ax.axvspan(a, b, color=PALETTE[(phases.index(phase) + 3) % len(PALETTE)], alpha=0.14, linewidth=0,
                       label=None if phase in labelled else f"phase: {phase}")
            labelled.add(phase)
    ax.set_xlabel("seconds since the start")
    ax.set_ylabel("W")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right", ncols=min(4, len(keys)))
    ax.set_ylim(bottom=0)
    return _svg(fig)


def _phase_spans(samples: list[dict[str, Any]], key: str) -> list[tuple[float, float, str | None]]:
    rows = [s for s in samples if s["key"] == key]
    spans: list[tuple[float, float, str | None]] = []
    previous_t = 0.0
    for s in rows:
        phase = s.get("phase")
        if spans and spans[-1][2] == phase:
            spans[-1] = (spans[-1][0], s["t_s"], phase)
        else:
            spans.append((previous_t, s["t_s"], phase))
        previous_t = s["t_s"]
    return spans


def bar_plot(labels: list[str], values: list[float], title: str, unit: str = "J") -> str | None:
    if not labels:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.0))
    ax.barh(range(len(labels)), values, color=PALETTE[0])
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=10)
    return _svg(fig)


def _figures(impact: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Impact rows with numbered sources."""
    if not impact:
        return [], []
    sources: list[str] = []
    rows = []
    for key, label, fmt in _IMPACT_ROWS:
        fig = impact.get(key)
        if not fig:
            continue
        if fig["source"] not in sources:
            sources.append(fig["source"])
        rows.append({"label": label, "value": fmt(fig["value"]), "range": f"{fmt(fig['low'])} – {fmt(fig['high'])}",
                     "basis": fig["basis"], "ref": sources.index(fig["source"]) + 1})
    return rows, sources


def run_context(record: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, Any]:
    phases = [p for p in record.get("phases", []) if p["phase"] != "(outside phases)" and "/" not in p["phase"]]
    rows, sources = _figures(record.get("impact"))
    forecast = record.get("forecast")
    return {
        "kind": "run", "title": f"run {record['id']}", "record": record,
        "energy": fmt_energy(record["energy_j"]), "energy_kwh": record["energy_j"] / J_PER_KWH,
        "uncertainty": fmt_energy(record["energy_uncertainty_j"]), "co2e": fmt_co2e(record["co2e_kg"]),
        "basis": (record.get("impact") or {}).get("basis_detail", "-"),
        "power_svg": power_plot(samples, "power per device; shaded: the phase that held each interval"),
        "phase_svg": bar_plot([p["phase"] for p in phases], [p["energy_j"] for p in phases],
                              "energy by phase (nested phases included in their parent)"),
        "component_svg": bar_plot([f"{c['key']} ({c['method']})" for c in record["components"]],
                                  [c["energy_j"] for c in record["components"]], "energy by component"),
        "phases": record.get("phases", []), "impact_rows": rows, "sources": sources,
        "metrics": record.get("metrics", {}), "gaps": record.get("generalization_gap", {}),
        "forecast": forecast, "counts": record.get("counts", {}),
        "fmt_energy": fmt_energy, "fmt_count": fmt_count,
    }


def job_context(job: dict[str, Any]) -> dict[str, Any]:
    rows, sources = _figures(job.get("impact"))
    nodes = job["nodes"]
    phases = [p for p in job["phases"] if p["phase"] != "(outside phases)" and "/" not in p["phase"]]
    return {
        "kind": "job", "title": f"job {job['id']}", "job": job,
        "energy": fmt_energy(job["energy_j"]), "uncertainty": fmt_energy(job["energy_uncertainty_j"]),
        "co2e": fmt_co2e(job["co2e_kg"]), "basis": job["energy_basis"],
        "node_svg": bar_plot([n["node"] for n in nodes], [n["energy_j"] for n in nodes], "energy by node"),
        "phase_svg": bar_plot([p["phase"] for p in phases], [p["energy_j"] for p in phases],
                              "energy by phase, summed over ranks"),
        "impact_rows": rows, "sources": sources, "fmt_energy": fmt_energy, "fmt_count": fmt_count,
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
 th,td{border-bottom:1px solid #e4e8ee;padding:4px 8px;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
 figure{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:12px 0;padding:8px} figure svg{width:100%;height:auto}
 .sources li{color:#5b6775;font-size:12px} code{background:#eef1f4;padding:1px 4px;border-radius:3px}
 .basis{font-size:12px;color:#5b6775}
</style></head>
<body><main>
{% if kind == "run" %}{% set r = record %}
<h1 id="title">{{ r.project }} · run {{ r.id }}</h1>
<div class="meta">{{ r.status }} · started {{ r.started_at }} · {{ "%.1f"|format(r.duration_s) }} s · host {{ r.host }}
 · scope {{ r.scope }}{% if r.command %} · <code>{{ r.command }}</code>{% endif %}</div>
<div class="cards">
 <div class="card" id="energy">IT energy<b>{{ energy }}</b><span class="basis">± {{ uncertainty }} · {{ basis }}</span></div>
 <div class="card">CO2e operational<b>{{ co2e }}</b><span class="basis">{{ r.location.country or "world" }}, {{ r.location.intensity_g_per_kwh }} g/kWh</span></div>
 {% for name, value in counts.items() %}<div class="card">{{ name }}<b>{{ fmt_count(value) }}</b></div>{% endfor %}
</div>
{% if power_svg %}<h2>Power over time</h2><figure id="power-plot">{{ power_svg|safe }}</figure>{% endif %}
<h2>Energy by component</h2>{% if component_svg %}<figure id="component-plot">{{ component_svg|safe }}</figure>{% endif %}
<table><tr><th>component</th><th>name</th><th>energy</th><th>how</th><th>source</th></tr>
{% for c in r.components %}<tr><td>{{ c.key }}</td><td>{{ c.name }}</td><td class="n">{{ fmt_energy(c.energy_j) }}</td><td>{{ c.method }}</td><td>{{ c.source }}</td></tr>{% endfor %}
</table>
{% if phases %}<h2>Energy by phase</h2>{% if phase_svg %}<figure id="phase-plot">{{ phase_svg|safe }}</figure>{% endif %}
<table id="phases"><tr><th>phase</th><th>time</th><th>energy</th><th>share</th><th>per item</th></tr>
{% for p in phases %}<tr><td>{{ p.phase }}</td><td class="n">{{ "%.2f"|format(p.duration_s) }} s</td><td class="n">{{ fmt_energy(p.energy_j) }}</td>
<td class="n">{% if p.share is not none %}{{ "%.0f"|format(p.share * 100) }} %{% endif %}</td><td class="n">{% if p.energy_per_item_j %}{{ fmt_energy(p.energy_per_item_j) }}{% endif %}</td></tr>{% endfor %}
</table>{% endif %}
{% if metrics %}<h2>Quality beside energy</h2><table id="quality"><tr><th>metric</th><th>value</th></tr>
{% for k, v in metrics.items() %}<tr><td>{{ k }}</td><td class="n">{{ "%.4g"|format(v) if v is not none else "not a number" }}</td></tr>{% endfor %}
{% for k, v in gaps.items() %}<tr><td>generalization gap: {{ k }}</td><td class="n">{{ "%.4f"|format(v) }}</td></tr>{% endfor %}
</table>{% endif %}
{% if forecast %}<h2>Forecast vs actual</h2><table id="forecast"><tr><th></th><th>forecast (last)</th><th>actual</th></tr>
<tr><td>energy</td><td class="n">{{ fmt_energy(forecast.total_energy_j) }} ({{ fmt_energy(forecast.total_energy_j_low) }} – {{ fmt_energy(forecast.total_energy_j_high) }})</td><td class="n">{{ energy }}</td></tr>
<tr><td>duration</td><td class="n">{{ "%.0f"|format(forecast.duration_s) }} s</td><td class="n">{{ "%.0f"|format(r.duration_s) }} s</td></tr>
</table>{% endif %}
{% if r.serving %}{% set s = r.serving %}<h2>Serving <span class="basis">energy {{ s.basis }}</span></h2><table id="serving"><tr><th>per</th><th>idle included</th><th>idle excluded</th><th>above idle</th><th>p50</th><th>p95</th></tr>
{% for label, key in [("request", "energy_per_request_j"), ("token", "energy_per_token_j")] %}{% if s[key] %}<tr><td>{{ label }}</td>
{% for f in ["idle_included", "idle_excluded", "above_idle", "p50", "p95"] %}<td class="n">{{ fmt_energy(s[key][f]) if s[key][f] is not none else "-" }}</td>{% endfor %}</tr>{% endif %}{% endfor %}
</table>{% endif %}
{% else %}{% set j = job %}
<h1 id="title">job {{ j.id }}</h1>
<div class="meta">{{ j.launcher }} ({{ j.detected_from }}) · {{ j.status }} · {{ j.ranks }} ranks on {{ j.nodes|length }} node(s), {{ j.gpus }} GPU(s) · wall {{ "%.1f"|format(j.wall_s) }} s</div>
<div class="cards"><div class="card" id="energy">IT energy<b>{{ energy }}</b><span class="basis">± {{ uncertainty }} · {{ basis }}</span></div>
<div class="card">CO2e operational<b>{{ co2e }}</b></div></div>
{% if node_svg %}<h2>Energy by node</h2><figure id="node-plot">{{ node_svg|safe }}</figure>{% endif %}
{% if phase_svg %}<h2>Phases across ranks</h2><figure id="phase-plot">{{ phase_svg|safe }}</figure>{% endif %}
<table id="phases"><tr><th>phase</th><th>ranks</th><th>energy</th><th>wall (slowest)</th><th>median</th><th>spread</th></tr>
{% for p in j.phases %}<tr><td>{{ p.phase }}</td><td class="n">{{ p.ranks }}</td><td class="n">{{ fmt_energy(p.energy_j) }}</td><td class="n">{{ "%.2f"|format(p.wall_s) }} s</td><td class="n">{{ "%.2f"|format(p.median_s) }} s</td><td class="n">{{ "%+.0f"|format(p.spread * 100) }} %</td></tr>{% endfor %}
</table>
{% for s in j.stragglers %}<p>straggler: rank {{ s.rank }} spent {{ "%.2f"|format(s.slowest_s) }} s in {{ s.phase }}, {{ "%.0f"|format(s.excess * 100) }} % over the median rank</p>{% endfor %}
{% endif %}
{% if impact_rows %}<h2>Impact</h2><table id="impact"><tr><th>figure</th><th>value</th><th>range</th><th>basis</th><th>source</th></tr>
{% for row in impact_rows %}<tr><td>{{ row.label }}</td><td class="n">{{ row.value }}</td><td class="n">{{ row.range }}</td><td>{{ row.basis }}</td><td>[{{ row.ref }}]</td></tr>{% endfor %}
</table><ol class="sources">{% for s in sources %}<li>{{ s }}</li>{% endfor %}</ol>{% endif %}
<p class="meta">Written by mlfootprint {{ version }} on {{ now }}. Each figure says how it was obtained: measured, modelled, estimated or simulated.</p>
</main></body></html>
"""


def render(context: dict[str, Any]) -> str:
    from jinja2 import Environment

    from .. import __version__

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(**context, version=__version__,
                                            now=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def run_report(record: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    return render(run_context(record, samples))


def job_report(job: dict[str, Any]) -> str:
    return render(job_context(job))


def pareto_plot(records: list[dict[str, Any]], metric: str) -> str | None:
    """The Pareto plot of a `reduce --json-file` result (report/pareto.py), as inline SVG."""
    from ..reduce.result import StrategyReport
    from ..shapes import from_json
    from .pareto import draw, pareto_plot as plan

    plot = plan([from_json(StrategyReport, r, f"record {i + 1}") for i, r in enumerate(records)], metric)
    if plot is None:
        return None
    _pyplot()
    return _svg(draw(plot))


def sweep_plot(sweep: list[dict[str, Any]]) -> str | None:
    if not sweep:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    params = [r["params"] for r in sweep]
    ax.loglog(params, [r["energy_kwh"] for r in sweep], "o-", label="IT energy (kWh)", color=PALETTE[0])
    ax.loglog(params, [r["co2e_total_kg"] for r in sweep], "s-", label="CO2e total (kg)", color=PALETTE[1])
    ax.set_xlabel("parameters")
    ax.set_title("estimated training footprint against model size (estimated, not measured)", fontsize=10)
    ax.legend(fontsize=8)
    return _svg(fig)


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
        sweep = data["sweep"]
        rows = [[f"{r['params']:.3g}", f"{r['tokens']:.3g}", f"{r['accelerator_hours']:,.0f}", fmt_energy(r["energy_j"]),
                 fmt_co2e(r["co2e_total_kg"])] for r in sweep]
        return env.from_string(RESULT_TEMPLATE).render(
            title="estimate: footprint against model size", svg=sweep_plot(sweep), plot_id="sweep-plot",
            headers=["params", "tokens", "accelerator-hours", "IT energy", "CO2e total"], rows=rows,
            note="Estimated from the estimator's assumptions (mlfootprint estimate --json lists each with its source).")
    if isinstance(data, list) and data and all(isinstance(r, dict) and "strategy" in r for r in data):
        metrics = sorted({m for r in data for m in (r.get("quality") or {})})
        metric = metrics[0] if metrics else ""
        rows = [[r["strategy"], fmt_energy(r["energy_j"]) if r.get("energy_j") else "-",
                 f"{(r.get('quality') or {}).get(metric, float('nan')):.4g}" if metric else "-",
                 "yes" if r.get("recommended") else "no", r.get("verdict") or ""] for r in data]
        return env.from_string(RESULT_TEMPLATE).render(
            title="reduce: strategies on your workload", svg=pareto_plot(data, metric) if metric else None,
            plot_id="pareto-plot", headers=["strategy", "energy", metric or "quality", "recommended", "verdict"],
            rows=rows, note="Measured trials; the verdicts say why a strategy is or is not recommended.")
    raise ValueError("not a reduce result (reduce --json-file) or an estimate sweep (estimate --json)")
