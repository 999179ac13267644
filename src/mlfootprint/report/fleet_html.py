"""The monthly report of a fleet result: one self-contained HTML page a platform or sustainability team
can circulate. Totals, energy by team and by model over time, the kind of work (serving vs the rest,
where labels tell them apart), the idle share, the top movers against the previous period, the served
models' energy per request, and every figure's range, basis and numbered source.

As for a run's report (report/html.py): plots are matplotlib SVG inline (text as paths, no fonts), no
scripts, no network; label values and notes are user text and go through Jinja2's autoescaping.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..constants import J_PER_KWH
from ..fleet.result import FleetResult, Line
from ..impact import Figure
from .plots import PALETTE, pyplot, svg
from .format import fmt_co2e, fmt_energy, fmt_money, fmt_water
from .model import Citations

TOP_LINES = 10  # groups drawn one by one in the time plot; the rest are summed as "other groups"
IDLE_COLOUR = "#b9c0c8"
EXTRA_COLOURS = ["#86bcb6", "#d37295", "#8cd17d", "#f1ce63", "#a0cbe8"]  # beyond the report palette: 14 lines apart


def _stacked(lines: list[Line], starts: list[str], bucket_s: float, title: str) -> str | None:
    """Energy per bucket, one stacked band per line (the largest first, the rest summed)."""
    if not lines or not starts or not any(sum(line.energy_j) for line in lines):
        return None
    plt = pyplot()
    idle = [line for line in lines if line.name.startswith("unallocated")]
    rest = [line for line in lines if not line.name.startswith("unallocated")]
    shown = rest[:TOP_LINES]
    if len(rest) > TOP_LINES:
        others = [sum(v) for v in zip(*(line.energy_j for line in rest[TOP_LINES:]))]
        shown.append(Line(f"{len(rest) - TOP_LINES} other groups", others))
    shown.extend(idle)
    x = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in starts]
    kwh = [[v / J_PER_KWH for v in line.energy_j] for line in shown]
    palette = [*PALETTE, *EXTRA_COLOURS]
    colours = [IDLE_COLOUR if line.name.startswith("unallocated") else palette[i % len(palette)]
               for i, line in enumerate(shown)]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = bucket_s / 86400 * 0.9
    bottom = [0.0] * len(x)
    for values, line, colour in zip(kwh, shown, colours):
        ax.bar(x, values, width=width, bottom=bottom, color=colour, label=_short(line.name), align="edge",
               hatch="//" if line.name.startswith("unallocated") else None, edgecolor="white", linewidth=0.3)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("IT energy, kWh per " + ("day" if bucket_s >= 86400 else f"{bucket_s / 3600:g} h"))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.autofmt_xdate()
    return svg(fig)


def _short(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _bars(labels: list[str], values: list[float], title: str, unit: str) -> str | None:
    if not labels:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(labels) + 1.0))
    colours = [IDLE_COLOUR if label.startswith("unallocated") else PALETTE[0] for label in labels]
    ax.barh(range(len(labels)), values, color=colours)
    ax.set_yticks(range(len(labels)), [_short(label) for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=10)
    return svg(fig)


def _range(fig: Figure, fmt: Any) -> str:
    return f"{fmt(fig.low)} – {fmt(fig.high)}" if fig.low != fig.high else ""


def context(result: FleetResult) -> dict[str, Any]:
    cite = Citations()

    def ref(source: str | None) -> str:
        """The source's mark, "[n]" ("" for none)."""
        n = cite(source)
        return f"[{n}]" if n else ""

    t = result.totals
    i = t.impact
    cost = i.electricity_cost
    cards = [("IT energy", fmt_energy(t.energy_j), f"{i.energy.basis} · {_range(i.energy, fmt_energy)}"),
             ("facility energy", fmt_energy(i.facility_energy_j.value), f"PUE applied {ref(i.facility_energy_j.source)}"),
             ("CO2e location-based", fmt_co2e(i.co2e_location_kg.value),
              f"{_range(i.co2e_location_kg, fmt_co2e)} {ref(i.co2e_location_kg.source)}")]
    if i.co2e_market_kg:
        cards.append(("CO2e market-based", fmt_co2e(i.co2e_market_kg.value), ref(i.co2e_market_kg.source)))
    cards += [("CO2e embodied (GPUs)", fmt_co2e(i.co2e_embodied_kg.value),
               f"{_range(i.co2e_embodied_kg, fmt_co2e)} {ref(i.co2e_embodied_kg.source)}"),
              ("idle capacity", f"{t.unallocated_share:.1%}", f"{fmt_energy(t.unallocated_j)} unallocated"),
              ("GPU-hours", f"{t.device_hours:,.0f}", f"{t.devices:,} GPUs seen"),
              ("water", fmt_water(i.water_l.value), ref(i.water_l.source))]
    if cost is not None:
        cards.append(("electricity", fmt_money(cost.value, cost.unit), ref(cost.source)))
    groups = []
    for g in result.groups:
        gi = g.impact
        groups.append({"name": g.name, "unallocated": g.unallocated, "energy": fmt_energy(g.energy_j),
                       "share": f"{g.share:.1%}", "hours": f"{g.device_hours:,.0f}",
                       "location": fmt_co2e(gi.co2e_location_kg.value),
                       "location_range": _range(gi.co2e_location_kg, fmt_co2e),
                       "market": fmt_co2e(gi.co2e_market_kg.value) if gi.co2e_market_kg else "-",
                       "embodied": fmt_co2e(gi.co2e_embodied_kg.value), "total": fmt_co2e(gi.co2e_total_kg.value),
                       "water": fmt_water(gi.water_l.value), "basis": gi.energy.basis,
                       "ref": ref(gi.co2e_location_kg.source)})
    kinds = sorted(result.kinds.items(), key=lambda kv: -kv[1])
    tl = result.timeline
    serving = result.serving
    models = [{"model": m.model, "requests": f"{m.requests:,.0f}",
               "tokens": f"{m.tokens:,.0f}" if m.tokens is not None else "-", "energy": fmt_energy(m.energy_j),
               "per_request": fmt_energy(m.j_per_1k_requests) if m.j_per_1k_requests is not None else "-",
               "per_token": fmt_energy(m.j_per_million_tokens) if m.j_per_million_tokens is not None else "-",
               "co2e": fmt_co2e(m.co2e_kg_per_1k_requests) if m.co2e_kg_per_1k_requests is not None else "-",
               "basis": m.basis} for m in (serving.models if serving else [])]
    movers = [{"name": m.name, "now": fmt_energy(m.energy_j), "before": fmt_energy(m.previous_energy_j),
               "change": ("+" if m.change_j >= 0 else "−") + fmt_energy(abs(m.change_j)),
               "rel": f"{m.change_rel:+.0%}" if m.change_rel is not None else "new", "up": m.change_j >= 0}
              for m in result.movers]
    source_rows = [{"name": s.name, "selector": s.selector, "unit": s.unit, "basis": s.basis,
                    "method": s.method, "series": s.series, "devices": s.devices, "energy": fmt_energy(s.energy_j),
                    "interval": f"{s.scrape_interval_s:g} s" if s.scrape_interval_s else "-", "ref": ref(s.citation)}
                   for s in result.sources]
    sites = [{"name": s.name, "zone": s.zone, "pue": f"{s.pue:g}", "intensity": f"{s.intensity_g_per_kwh:g}",
              "hourly": s.hourly or "annual figure", "renewable": f"{s.renewable_share:.0%}" if s.renewable_share
              is not None else "-", "energy": fmt_energy(s.energy_j), "ref": ref(s.intensity_source)}
             for s in result.sites]
    return {
        "r": result, "cards": cards, "groups": groups, "kinds": [(k, fmt_energy(v), v / t.energy_j if t.energy_j
                                                                 else 0.0) for k, v in kinds],
        "models": models, "movers": movers, "sources_table": source_rows, "sites": sites,
        "timeline_svg": _stacked(tl.groups, tl.starts, tl.bucket_s, f"IT energy by {', '.join(result.by) or 'group'} "
                                 "over time (hatched grey: unallocated, idle capacity)"),
        "models_svg": _stacked(tl.models, tl.starts, tl.bucket_s, "IT energy of the served models over time")
        if tl.models else None,
        "kinds_svg": _stacked(tl.kinds, tl.starts, tl.bucket_s, "IT energy by kind of work over time")
        if len(tl.kinds) > 1 else None,
        "groups_svg": _bars([g.name for g in result.groups[:25]], [g.energy_j / J_PER_KWH for g in result.groups[:25]],
                            "IT energy by group (the largest 25)", "kWh"),
        "serving_how": serving.how if serving else None, "references": cite.sources,
        "previous": result.previous,
        "gaps_total": len(result.gaps) + result.gaps_not_listed, "resets_total": len(result.resets) + result.resets_not_listed,
        "fmt_energy": fmt_energy,
    }


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mlfootprint">
<title>fleet footprint {{ r.start[:10] }} to {{ r.end[:10] }} · mlfootprint</title>
<style>
 body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
 main{max-width:1100px;margin:0 auto;padding:24px}
 h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
 .meta{color:#5b6775} .cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
 .card{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:10px 14px;min-width:150px}
 .card b{display:block;font-size:20px} .card span{font-size:12px;color:#5b6775}
 table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
 th,td{border-bottom:1px solid #e4e8ee;padding:4px 8px;text-align:left;vertical-align:top}
 td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} tr.idle td{color:#5b6775;background:#f1f3f5}
 figure{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:12px 0;padding:8px} figure svg{width:100%;height:auto}
 .sources li{color:#5b6775;font-size:12px} code{background:#eef1f4;padding:1px 4px;border-radius:3px;font-size:12px}
 .note{background:#fff7e0;border:1px solid #f0d890;border-radius:6px;padding:6px 10px;margin:8px 0}
 table.compact{font-size:12px} .up{color:#b3261e} .down{color:#1e7b34} details{margin:8px 0} .small{font-size:12px;color:#5b6775}
</style></head>
<body><main>
<h1 id="title">Fleet footprint · {{ r.start[:10] }} to {{ r.end[:10] }}</h1>
<div class="meta">{{ r.start }} – {{ r.end }} ({{ "%.1f"|format(r.duration_s / 86400) }} days) · Prometheus {{ r.prometheus }}
 ({{ r.server_version }}) · grouped by {{ r.by|join(", ") or "nothing" }} · sources {{ r.sources|map(attribute="name")|join(", ") }}</div>
{% if r.note %}<div class="note" id="note">{{ r.note }}</div>{% endif %}
<div class="cards" id="totals">{% for label, value, detail in cards %}<div class="card">{{ label }}<b>{{ value }}</b><span>{{ detail }}</span></div>{% endfor %}</div>

<h2>Energy by {{ r.by|join(", ") or "group" }} over time</h2>
{% if timeline_svg %}<figure id="timeline-plot">{{ timeline_svg|safe }}</figure>{% endif %}
{% if kinds|length > 1 %}<h2>Kind of work</h2>
{% if kinds_svg %}<figure id="kinds-plot">{{ kinds_svg|safe }}</figure>{% endif %}
<table id="kinds"><tr><th>kind</th><th>IT energy</th><th>share</th></tr>
{% for k, e, s in kinds %}<tr{% if k == "unallocated" %} class="idle"{% endif %}><td>{{ k }}</td><td class="n">{{ e }}</td><td class="n">{{ "%.1f"|format(s * 100) }} %</td></tr>{% endfor %}</table>
<p class="small">serving: workloads whose energy joins a model server's counters; other: every other workload (training, batch, notebooks); unallocated: devices no workload held{% if r.serving is none %} (no serving counters were given: --serving or --requests){% endif %}.</p>{% endif %}

<h2>Groups</h2>
{% if groups_svg %}<figure id="groups-plot">{{ groups_svg|safe }}</figure>{% endif %}
<table id="groups" class="compact"><tr><th>group</th><th>IT energy</th><th>share</th><th>GPU-h</th><th>CO2e location-based</th><th>market</th><th>embodied</th><th>total</th><th>water</th><th>basis</th></tr>
{% for g in groups %}<tr{% if g.unallocated %} class="idle"{% endif %}><td>{{ g.name }}</td><td class="n">{{ g.energy }}</td><td class="n">{{ g.share }}</td><td class="n">{{ g.hours }}</td><td class="n">{{ g.location }} {{ g.ref }}<br><span class="small">{{ g.location_range }}</span></td><td class="n">{{ g.market }}</td><td class="n">{{ g.embodied }}</td><td class="n">{{ g.total }}</td><td class="n">{{ g.water }}</td><td>{{ g.basis }}</td></tr>{% endfor %}
</table>
<p class="small">[n]: the source of the location-based figure; every figure's source, range and basis is in the JSON result (fleet --json). IT energy is each group's devices' own energy as their counters say; the unallocated group is the energy of devices no workload held (idle capacity), never spread over the others. Market-based CO2e is shown where every site of a group states its contractual instruments.</p>

{% if movers %}<h2>Top movers against the previous period</h2>
<table id="movers"><tr><th>group</th><th>this period</th><th>previous ({{ previous.start[:10] }} to {{ previous.end[:10] }})</th><th>change</th><th></th></tr>
{% for m in movers %}<tr><td>{{ m.name }}</td><td class="n">{{ m.now }}</td><td class="n">{{ m.before }}</td><td class="n {{ 'up' if m.up else 'down' }}">{{ m.change }}</td><td class="n">{{ m.rel }}</td></tr>{% endfor %}</table>{% endif %}

{% if models %}<h2>Served models</h2>
{% if models_svg %}<figure id="models-plot">{{ models_svg|safe }}</figure>{% endif %}
<table id="models"><tr><th>model</th><th>requests</th><th>tokens</th><th>IT energy</th><th>per 1,000 requests</th><th>per million tokens</th><th>CO2e per 1,000 requests</th><th>basis</th></tr>
{% for m in models %}<tr><td>{{ m.model }}</td><td class="n">{{ m.requests }}</td><td class="n">{{ m.tokens }}</td><td class="n">{{ m.energy }}</td><td class="n">{{ m.per_request }}</td><td class="n">{{ m.per_token }}</td><td class="n">{{ m.co2e }}</td><td>{{ m.basis }}</td></tr>{% endfor %}</table>
<p class="small">{{ serving_how }}.</p>{% endif %}

<h2>Where the energy was drawn</h2>
<table id="sites"><tr><th>site</th><th>zone</th><th>PUE</th><th>gCO2e/kWh</th><th>hourly</th><th>renewable contracts</th><th>IT energy</th><th>src</th></tr>
{% for s in sites %}<tr><td>{{ s.name }}</td><td>{{ s.zone }}</td><td class="n">{{ s.pue }}</td><td class="n">{{ s.intensity }}</td><td>{{ s.hourly }}</td><td class="n">{{ s.renewable }}</td><td class="n">{{ s.energy }}</td><td>{{ s.ref }}</td></tr>{% endfor %}</table>

<h2>Sources and data quality</h2>
<table id="sources"><tr><th>source</th><th>series</th><th>unit</th><th>basis</th><th>method</th><th>series</th><th>GPUs</th><th>scrape</th><th>IT energy</th><th>src</th></tr>
{% for s in sources_table %}<tr><td>{{ s.name }}</td><td><code>{{ s.selector }}</code></td><td>{{ s.unit }}</td><td>{{ s.basis }}</td><td>{{ s.method }}</td><td class="n">{{ s.series }}</td><td class="n">{{ s.devices }}</td><td class="n">{{ s.interval }}</td><td class="n">{{ s.energy }}</td><td>{{ s.ref }}</td></tr>{% endfor %}</table>
<p id="quality">{{ gaps_total }} scrape gap(s) and {{ resets_total }} counter reset(s) found.
{% if r.gaps %}Across each gap the counter's own difference is counted where it did not reset.{% endif %}</p>
{% if r.gaps %}<details><summary>scrape gaps</summary><table id="gaps"><tr><th>source</th><th>group</th><th>from</th><th>to</th><th>length</th><th>energy across</th><th>note</th></tr>
{% for g in r.gaps %}<tr><td>{{ g.source }}</td><td>{{ g.group }}</td><td>{{ g.start }}</td><td>{{ g.end }}</td><td class="n">{{ "%.0f"|format(g.length_s) }} s</td><td class="n">{{ fmt_energy(g.energy_j) }}</td><td>{{ g.note }}</td></tr>{% endfor %}</table></details>{% endif %}
{% if r.resets %}<details><summary>counter resets</summary><table id="resets"><tr><th>source</th><th>group</th><th>at</th><th>before</th><th>after</th></tr>
{% for x in r.resets %}<tr><td>{{ x.source }}</td><td>{{ x.group }}</td><td>{{ x.at }}</td><td class="n">{{ fmt_energy(x.value_before) }}</td><td class="n">{{ fmt_energy(x.value_after) }}</td></tr>{% endfor %}</table></details>{% endif %}
{% if r.warnings %}<ul id="warnings">{% for w in r.warnings %}<li>{{ w }}</li>{% endfor %}</ul>{% endif %}
<p class="small" id="method">{{ r.method }}</p>
<details><summary>the PromQL used ({{ r.queries|length }} expressions, {{ r.queries|sum(attribute="calls") }} calls, {{ "%.1f"|format(r.elapsed_s) }} s)</summary>
<table id="queries"><tr><th>for</th><th>calls</th><th>seconds</th><th>PromQL</th></tr>
{% for q in r.queries %}<tr><td>{{ q.purpose }}</td><td class="n">{{ q.calls }}</td><td class="n">{{ "%.2f"|format(q.seconds) }}</td><td><code>{{ q.promql }}</code></td></tr>{% endfor %}</table></details>
<h2>Sources</h2><ol class="sources">{% for s in references %}<li>{{ s }}</li>{% endfor %}</ol>
<p class="meta">Written by mlfootprint {{ version }} on {{ now }}. Each figure says how it was obtained: measured, modelled, estimated or simulated.</p>
</main></body></html>
"""


def fleet_report(result: FleetResult) -> str:
    from jinja2 import Environment

    from .. import __version__

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(**context(result), version=__version__,
                                            now=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def fleet_report_of(data: Any) -> str:
    """The page for fleet JSON (as `fleet -o` writes it); a ShapeError (a ValueError) names a bad field."""
    return fleet_report(FleetResult.from_json(data))


__all__ = ["context", "fleet_report", "fleet_report_of"]
