"""A small web app over the run store: runs and jobs with filters, totals per project over time, a
run's report, and two runs side by side. Read-only: it opens the store the way `runs` does, never
creates or migrates it. Pages are server-rendered HTML (Jinja2, autoescaped) with inline SVG plots:
no JavaScript, nothing fetched from the network.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from jinja2 import Environment

from .constants import J_PER_KWH
from .report.terminal import fmt_co2e, fmt_energy

STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:20px} nav a{margin-right:14px}
table{border-collapse:collapse;background:#fff;width:100%} th,td{border-bottom:1px solid #e4e8ee;padding:4px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} form{margin:12px 0} input{margin-right:8px}
figure{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:12px 0;padding:8px} figure svg{width:100%;height:auto}"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }} · mlfootprint</title>
<style>{{ style }}</style></head><body><main>
<nav><a href="/">runs</a><a href="/jobs">jobs</a><a href="/projects">projects</a></nav>
<h1 id="title">{{ title }}</h1>
{% if page == "runs" %}
<form method="get" id="filters"><input name="project" placeholder="project" value="{{ q.project }}">
<input name="host" placeholder="host" value="{{ q.host }}"><input name="since" placeholder="since (YYYY-MM-DD)" value="{{ q.since }}">
<button type="submit">filter</button></form>
<form method="get" action="/compare" id="compare">compare <input name="a" placeholder="run id"><input name="b" placeholder="run id"><button>compare</button></form>
<table id="runs"><tr><th>run</th><th>project</th><th>status</th><th>started UTC</th><th>time</th><th>energy</th><th>CO2e</th><th>host</th><th>job</th></tr>
{% for r in rows %}<tr><td><a href="/run/{{ r.id }}">{{ r.id }}</a></td><td>{{ r.project }}</td><td>{{ r.status }}</td><td>{{ r.started_at[:16] }}</td>
<td class="n">{{ "%.1f"|format(r.duration_s) }} s</td><td class="n">{{ fmt_energy(r.energy_j) }}</td><td class="n">{{ fmt_co2e(r.co2e_kg) }}</td><td>{{ r.host }}</td>
<td>{% if r.job_id %}<a href="/job/{{ r.job_id|urlencode }}">{{ r.job_id }}</a>{% endif %}</td></tr>{% endfor %}</table>
<p>{{ rows|length }} runs{% if truncated %} (the newest {{ rows|length }}; narrow the filters){% endif %}</p>
{% elif page == "jobs" %}
<table id="jobs"><tr><th>job</th><th>status</th><th>ranks</th><th>nodes</th><th>GPUs</th><th>wall</th><th>energy</th><th>CO2e</th></tr>
{% for j in rows %}<tr><td><a href="/job/{{ j.job_id|urlencode }}">{{ j.job_id }}</a></td><td>{{ j.status }}</td><td class="n">{{ j.ranks }}{% if j.world_size %}/{{ j.world_size }}{% endif %}</td>
<td class="n">{{ j.nodes }}</td><td class="n">{{ j.gpus }}</td><td class="n">{{ "%.1f"|format(j.wall_s) }} s</td><td class="n">{{ fmt_energy(j.energy_j) }}</td><td class="n">{{ fmt_co2e(j.co2e_kg) }}</td></tr>{% endfor %}</table>
{% elif page == "projects" %}
{% if svg %}<figure id="projects-plot">{{ svg|safe }}</figure>{% endif %}
<table id="projects"><tr><th>project</th><th>runs</th><th>energy</th><th>CO2e</th><th>last run</th></tr>
{% for p in rows %}<tr><td><a href="/?project={{ p.project|urlencode }}">{{ p.project }}</a></td><td class="n">{{ p.runs }}</td><td class="n">{{ fmt_energy(p.energy_j) }}</td><td class="n">{{ fmt_co2e(p.co2e_kg) }}</td><td>{{ p.last[:16] }}</td></tr>{% endfor %}</table>
{% elif page == "compare" %}
<table id="comparison"><tr><th></th>{% for r in rows %}<th><a href="/run/{{ r.id }}">{{ r.id }}</a> · {{ r.project }}</th>{% endfor %}<th>b / a</th></tr>
{% for label, values, ratio in lines %}<tr><td>{{ label }}</td>{% for v in values %}<td class="n">{{ v }}</td>{% endfor %}<td class="n">{{ ratio }}</td></tr>{% endfor %}</table>
{% else %}<p id="error">{{ message }}</p>{% endif %}
</main></body></html>"""

RUN_LIMIT = 500


def _env() -> Environment:
    env = Environment(autoescape=True)
    env.globals.update(fmt_energy=fmt_energy, fmt_co2e=fmt_co2e, style=STYLE)
    return env


def project_totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = totals.setdefault(r["project"], {"project": r["project"], "runs": 0, "energy_j": 0.0, "co2e_kg": 0.0,
                                             "last": r["started_at"]})
        t["runs"] += 1
        t["energy_j"] += r["energy_j"]
        t["co2e_kg"] += r["co2e_kg"]
        t["last"] = max(t["last"], r["started_at"])
    return sorted(totals.values(), key=lambda t: -t["energy_j"])


def projects_plot(rows: list[dict[str, Any]]) -> str | None:
    """Energy per project per day, stacked: where the footprint goes over time."""
    if not rows:
        return None
    from .report.html import PALETTE, _pyplot, _svg

    by: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        by[r["project"]][r["started_at"][:10]] += r["energy_j"] / J_PER_KWH
    days = sorted({d for p in by.values() for d in p})
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    bottom = [0.0] * len(days)
    for i, (project, per_day) in enumerate(sorted(by.items())[:9]):
        values = [per_day.get(d, 0.0) for d in days]
        ax.bar(days, values, bottom=bottom, label=project[:30], color=PALETTE[i % len(PALETTE)])
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("kWh")
    ax.set_title("energy per project per day (UTC)", fontsize=10)
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _svg(fig)


def create_app(store: str | None = None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from .errors import MlfootprintError
    from .store import open_store

    env = _env()
    page = env.from_string(PAGE)

    def db() -> Any:
        return open_store(store)  # read-only; a store that is not there yet is reported on the page

    def html(status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(page.render(**context), status_code=status)

    def failure(exc: Exception) -> HTMLResponse:
        return html(404 if "no run" in str(exc) or "no job" in str(exc) else 500, page="error",
                    title="not available", message=str(exc))

    async def runs(request: Request) -> HTMLResponse:
        q = {k: request.query_params.get(k, "").strip() for k in ("project", "host", "since")}
        try:
            rows = db().list_runs(limit=RUN_LIMIT, project=q["project"] or None)
        except MlfootprintError as exc:
            return failure(exc)
        rows = [r for r in rows if (not q["host"] or r["host"] == q["host"]) and (not q["since"] or
                                                                                   r["started_at"] >= q["since"])]
        return html(page="runs", title="runs", rows=rows, q=q, truncated=len(rows) >= RUN_LIMIT)

    async def jobs(request: Request) -> HTMLResponse:
        try:
            from .jobs import list_jobs

            return html(page="jobs", title="distributed jobs", rows=list_jobs(db(), limit=200))
        except MlfootprintError as exc:
            return failure(exc)

    async def projects(request: Request) -> HTMLResponse:
        try:
            rows = db().list_runs(limit=100_000)
        except MlfootprintError as exc:
            return failure(exc)
        return html(page="projects", title="projects", rows=project_totals(rows), svg=projects_plot(rows))

    async def run_page(request: Request) -> HTMLResponse:
        from .report.html import job_report, run_report

        try:
            store_ = db()
            kind = request.url.path.split("/")[1]
            ident = request.path_params["ident"]
            if kind == "job":
                from .jobs import summarize

                job_id = store_.find_job(ident)
                if job_id is None:
                    raise MlfootprintError(f"no job {ident!r}")
                return HTMLResponse(job_report(summarize(job_id, store_.job_records(job_id))))
            record = store_.get_run(ident)
            return HTMLResponse(run_report(record, store_.samples(record["id"])))
        except MlfootprintError as exc:
            return failure(exc)

    async def compare(request: Request) -> HTMLResponse:
        try:
            store_ = db()
            a, b = (store_.get_run(request.query_params.get(k, "").strip() or "?") for k in ("a", "b"))
        except MlfootprintError as exc:
            return failure(exc)
        lines = []
        for label, get, fmt in (("energy", lambda r: r["energy_j"], fmt_energy),
                                ("CO2e", lambda r: r["co2e_kg"], fmt_co2e),
                                ("duration", lambda r: r["duration_s"], lambda v: f"{v:.1f} s"),
                                ("energy per sample", lambda r: r["energy_per_sample_j"], fmt_energy)):
            va, vb = get(a), get(b)
            lines.append((label, [fmt(v) if v is not None else "-" for v in (va, vb)],
                          f"{vb / va:.3g}" if va and vb is not None else "-"))
        for metric in sorted(set(a["metrics"]) | set(b["metrics"])):
            va, vb = a["metrics"].get(metric), b["metrics"].get(metric)
            lines.append((metric, [f"{v:.4g}" if v is not None else "-" for v in (va, vb)],
                          f"{vb / va:.3g}" if va and vb is not None else "-"))
        return html(page="compare", title=f"{a['id']} vs {b['id']}", rows=[a, b], lines=lines)

    return Starlette(routes=[Route("/", runs), Route("/jobs", jobs), Route("/projects", projects),
                             Route("/run/{ident}", run_page), Route("/job/{ident:path}", run_page),
                             Route("/compare", compare)])
