"""A small web app over the run store: runs and jobs with filters, totals per project over time, a
run's report, and two runs side by side. Read-only: it opens the store the way `runs` does, never
creates or migrates it. Pages are server-rendered HTML (Jinja2, autoescaped) with inline SVG plots:
no JavaScript, nothing fetched from the network.

Drawing a plot takes longer than reading the store (0.1-1 s against a few ms), so the pages with
plots are kept, keyed by exactly what they are drawn from: a run's page by its record's JSON, the
projects page by the per-day totals the database adds up. A page is drawn again as soon as what it
shows changes (a running run's record changes at every flush) and never otherwise. Handlers are
plain functions, run on Starlette's thread pool: a slow page does not hold up the others.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import Environment

from ..record import RunRecord, dumps
from .format import fmt_co2e, fmt_duration, fmt_energy, fmt_utc, sig
from .plots import projects_plot

if TYPE_CHECKING:
    from ..store.reader import ProjectDay

LOOPBACK = ("127.0.0.1", "localhost", "::1")

STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:20px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e4e8ee;padding:4px 8px;text-align:left;vertical-align:top}
th.n,td.n{text-align:right} th.n,td.n,td.t{white-space:nowrap} td.n{font-variant-numeric:tabular-nums} form{margin:12px 0}
input{margin-right:8px}
figure{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:12px 0;padding:8px} figure svg{width:100%;height:auto}
.dim{color:#5b6775}"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }} · mlfootprint</title>
<style>{{ style }}</style></head><body><main>
{{ nav|safe }}
<h1 id="title">{{ title }}</h1>
{% if page == "runs" %}
<form method="get" id="filters"><input name="project" placeholder="project" value="{{ q.project }}">
<input name="host" placeholder="host" value="{{ q.host }}"><input name="since" placeholder="since (YYYY-MM-DD)" value="{{ q.since }}">
<button type="submit">filter</button></form>
<form method="get" action="/compare" id="compare">compare <input name="a" placeholder="run id"><input name="b" placeholder="run id"><button>compare</button></form>
{% if rows %}<table id="runs"><tr><th>run</th><th>project</th><th>status</th><th>started</th><th class="n">time</th><th class="n">IT energy</th><th class="n">CO2e operational</th><th>host</th><th>job</th></tr>
{% for r in rows %}<tr><td><a href="/run/{{ r.id }}">{{ r.id }}</a></td><td>{{ r.project }}{% if r.parent_id %} <span class="dim">({{ "trial of" if r.kind == "trial" else "nested in" }} <a href="/run/{{ r.parent_id }}">{{ r.parent_id }}</a>)</span>{% endif %}</td><td>{{ r.status }}</td><td class="t">{{ fmt_utc(r.started_at) }}</td>
<td class="n">{{ fmt_duration(r.duration_s) }}</td><td class="n">{{ fmt_energy(r.energy_j) }}</td><td class="n">{{ fmt_co2e(r.co2e_kg) }}</td><td>{{ r.host }}</td>
<td>{% if r.job_id %}<a href="/job/{{ r.job_id|urlencode }}">{{ r.job_id }}</a>{% endif %}</td></tr>{% endfor %}</table>
<p>{{ rows|length }} runs{% if truncated %} (the newest {{ rows|length }}; narrow the filters){% endif %}.
{% if rows|selectattr("energy_j", "equalto", 0)|list %}<span class="dim" id="charged-once">A run nested in another, a rank of a job whose devices another rank reads, or a reduce experiment's entry (its trials are charged) shows 0 J: each device is charged once.</span>{% endif %}</p>
{% else %}<p id="empty">No runs{% if q.project or q.host or q.since %} match these filters{% else %} stored yet: try <code>mlfootprint track -- python train.py</code>{% endif %}.</p>{% endif %}
{% elif page == "jobs" %}
{% if not rows %}<p id="empty">No distributed jobs stored: runs join a job when launched by torchrun, srun or mpirun (or with --job).</p>{% else %}
<table id="jobs"><tr><th>job</th><th>status</th><th class="n">ranks</th><th class="n">nodes</th><th class="n">GPUs</th><th class="n">wall</th><th class="n">IT energy</th><th class="n">CO2e operational</th></tr>
{% for j in rows %}<tr><td><a href="/job/{{ j.job_id|urlencode }}">{{ j.job_id }}</a></td><td>{{ j.status }}</td><td class="n">{{ j.ranks }}{% if j.world_size %}/{{ j.world_size }}{% endif %}</td>
<td class="n">{{ j.nodes }}</td><td class="n">{{ j.gpus }}</td><td class="n">{{ fmt_duration(j.wall_s) }}</td><td class="n">{{ fmt_energy(j.energy_j) }}</td><td class="n">{{ fmt_co2e(j.co2e_kg) }}</td></tr>{% endfor %}</table>{% endif %}
{% elif page == "projects" %}
{% if svg %}<figure id="projects-plot">{{ svg|safe }}</figure>{% endif %}
{% if not rows %}<p id="empty">No runs stored yet.</p>{% endif %}
{% if rows %}<table id="projects"><tr><th>project</th><th class="n">runs</th><th class="n">IT energy</th><th class="n">CO2e operational</th><th>last run</th></tr>
{% for p in rows %}<tr><td><a href="/?project={{ p.project|urlencode }}">{{ p.project }}</a></td><td class="n">{{ p.runs }}</td><td class="n">{{ fmt_energy(p.energy_j) }}</td><td class="n">{{ fmt_co2e(p.co2e_kg) }}</td><td class="t">{{ fmt_utc(p.last) }}</td></tr>{% endfor %}</table>{% endif %}
{% elif page == "compare" %}
{% if svg %}<figure id="compare-plot">{{ svg|safe }}</figure>{% endif %}
<table id="comparison"><tr><th></th>{% for r in rows %}<th class="n">{{ "ab"[loop.index0] }}: <a href="/run/{{ r.id }}">{{ r.id }}</a> · {{ r.project }}</th>{% endfor %}<th class="n">b / a</th></tr>
{% for label, values, ratio in lines %}<tr><td>{{ label }}</td>{% for v in values %}<td class="n">{{ v }}</td>{% endfor %}<td class="n">{{ ratio }}</td></tr>{% endfor %}</table>
{% else %}<p id="error">{{ message }}</p>{% endif %}
</main></body></html>"""

RUN_LIMIT = 500
NAV = ('<nav id="nav" style="font:14px system-ui,sans-serif;margin-bottom:12px"><a href="/">runs</a> · '
       '<a href="/jobs">jobs</a> · <a href="/projects">projects</a></nav>')


def _env() -> Environment:
    env = Environment(autoescape=True)
    env.globals.update(fmt_energy=fmt_energy, fmt_co2e=fmt_co2e, fmt_duration=fmt_duration, fmt_utc=fmt_utc,
                       style=STYLE, nav=NAV)
    return env


@dataclass(frozen=True)
class ProjectTotal:
    """A project's line on the projects page."""

    project: str
    runs: int
    energy_j: float  # IT energy charged to its runs (a nested run is charged 0: its parent has it)
    co2e_kg: float  # operational, location-based
    last: str  # the newest run's start, ISO 8601 UTC


def project_totals(days: Sequence[ProjectDay]) -> list[ProjectTotal]:
    """IT energy and operational CO2e per project; nested runs count in their parent (they are charged 0)."""
    totals: dict[str, ProjectTotal] = {}
    for d in days:
        t = totals.get(d.project) or ProjectTotal(d.project, 0, 0.0, 0.0, d.last_started)
        totals[d.project] = ProjectTotal(d.project, t.runs + d.runs, t.energy_j + d.energy_j, t.co2e_kg + d.co2e_kg,
                                         max(t.last, d.last_started))
    return sorted(totals.values(), key=lambda t: -t.energy_j)


class PageCache:
    """The last `size` pages drawn, by what they were drawn from (thread-safe: handlers run on a pool).
    Two requests for a page not kept yet may both draw it; the second is kept, the same page."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, draw: Callable[[], str]) -> str:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                self.hits += 1
                return page
            self.misses += 1
        page = draw()
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page


def content_key(*values: Any) -> str:
    """A key for values by their whole JSON: any change in a record changes it."""
    digest = hashlib.blake2b(digest_size=16)
    for value in values:
        digest.update(dumps(value).encode())
    return digest.hexdigest()


def allowed_hosts(host: str, port: int) -> list[str]:
    """The Host header values the dashboard answers: the names it serves, never another name that a web
    page rebinds to this address (DNS rebinding)."""
    names = {host, "127.0.0.1", "localhost", "::1", "[::1]"} if host in LOOPBACK else {host}
    return sorted(names) if host not in ("0.0.0.0", "::") else ["*"]


def _ratio(a: float | None, b: float | None) -> str:
    return f"{b / a:.3g}" if a and b is not None else "-"


def _groups(a: RunRecord, b: RunRecord) -> list[tuple[str, float | None, float | None]]:
    """(label, a's IT energy, b's) by component kind, then by top-level phase; each part largest first
    (the larger of the two runs), as the bars of a report are."""
    def kinds(x: RunRecord) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in x.components:
            out[c.kind] = out.get(c.kind, 0.0) + c.energy_j
        return out

    def phases(x: RunRecord) -> dict[str, float]:
        return {p.phase: p.energy_j for p in x.phases if p.top_level}

    groups: list[tuple[str, float | None, float | None]] = []
    for prefix, (va, vb) in (("component", (kinds(a), kinds(b))), ("phase", (phases(a), phases(b)))):
        names = sorted(set(va) | set(vb), key=lambda n: (-max(va.get(n, 0.0), vb.get(n, 0.0)), n))
        groups += [(f"{prefix}: {n}", va.get(n), vb.get(n)) for n in names]
    return groups


def compare_lines(a: RunRecord, b: RunRecord) -> list[tuple[str, list[str], str]]:
    """Two runs side by side: totals, place and factors, components and phases, quality; b / a for numbers."""
    lines: list[tuple[str, list[str], str]] = []

    def number(label: str, va: float | None, vb: float | None, fmt: Any) -> None:
        lines.append((label, [fmt(v) if v is not None else "-" for v in (va, vb)], _ratio(va, vb)))

    number("IT energy", a.energy_j, b.energy_j, fmt_energy)
    number("facility energy", a.facility_energy_j, b.facility_energy_j, fmt_energy)
    number("CO2e operational (location-based)", a.co2e_kg, b.co2e_kg, fmt_co2e)
    number("CO2e total (operational + embodied)", a.impact.co2e_total_kg.value if a.impact else None,
           b.impact.co2e_total_kg.value if b.impact else None, fmt_co2e)
    number("duration", a.duration_s, b.duration_s, fmt_duration)
    number("IT energy per sample", a.energy_per_sample_j, b.energy_per_sample_j, fmt_energy)
    lines.append(("where", [x.where for x in (a, b)], ""))
    number("grid intensity (gCO2e/kWh)", a.location.intensity_g_per_kwh, b.location.intensity_g_per_kwh, sig)
    number("PUE", a.pue, b.pue, sig)
    lines.append(("how the IT energy was obtained", [(x.impact.basis_detail or x.impact.basis) if x.impact else "-"
                                                     for x in (a, b)], ""))
    for label, va, vb in _groups(a, b):
        number(f"IT energy, {label}", va, vb, fmt_energy)
    for metric in sorted(set(a.metrics) | set(b.metrics)):
        number(metric, a.metrics.get(metric), b.metrics.get(metric), lambda v: f"{v:.4g}")
    return lines


def compare_plot(a: RunRecord, b: RunRecord) -> str | None:
    """IT energy of the two runs by component kind and by phase: where they differ."""
    from .plots import PALETTE, energy_unit, pyplot, svg

    groups = _groups(a, b)
    if not groups:
        return None
    factor, unit = energy_unit(max(max(va or 0.0, vb or 0.0) for _, va, vb in groups))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(groups) + 1.2))
    height = 0.4
    for i, x in enumerate((a, b)):
        values = [((va if i == 0 else vb) or 0.0) * factor for _, va, vb in groups]
        ax.barh([n + (i - 0.5) * height for n in range(len(groups))], values, height=height, color=PALETTE[i],
                label=f"{'ab'[i]}: {x.id} ({x.where})")
    ax.set_yticks(range(len(groups)), [g[0] for g in groups], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"IT energy ({unit})")
    ax.set_title("IT energy by component kind and by phase (largest first)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return svg(fig)


def create_app(store: str | None = None, host: str = "127.0.0.1", port: int = 8765) -> Any:
    """The dashboard's ASGI app over `store` (read-only), answering only the host names it serves."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from ..errors import MlfootprintError, RunNotFoundError
    from ..lookup import find
    from ..store import open_store
    from . import html_of

    env = _env()
    page = env.from_string(PAGE)
    cache = PageCache()
    ready = threading.Event()

    def warm_up() -> None:
        """Import matplotlib and compile the report's template while nobody waits (1 s on a busy 2-vCPU
        machine), so that the first page with a plot is not the one that pays for it."""
        try:
            from .html import template
            from .plots import pyplot

            pyplot()
            template()
        finally:
            ready.set()

    threading.Thread(target=warm_up, name="mlfootprint-dashboard-warm-up", daemon=True).start()

    def db() -> Any:
        return open_store(store)  # read-only; a store that is not there yet is reported on the page

    def html(status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(page.render(**context), status_code=status)

    def failure(exc: Exception) -> HTMLResponse:
        return html(404 if isinstance(exc, RunNotFoundError) else 500, page="error", title="not available",
                    message=str(exc))

    def runs(request: Request) -> HTMLResponse:
        q = {k: request.query_params.get(k, "").strip() for k in ("project", "host", "since")}
        try:
            rows = db().list_runs(limit=RUN_LIMIT, project=q["project"] or None)
        except MlfootprintError as exc:
            return failure(exc)
        rows = [r for r in rows if (not q["host"] or r.host == q["host"]) and (not q["since"] or
                                                                               r.started_at >= q["since"])]
        return html(page="runs", title="runs", rows=rows, q=q, truncated=len(rows) >= RUN_LIMIT)

    def jobs(request: Request) -> HTMLResponse:
        from ..jobs import list_jobs

        try:
            return html(page="jobs", title="distributed jobs", rows=list_jobs(db(), limit=200))
        except MlfootprintError as exc:
            return failure(exc)

    def projects(request: Request) -> HTMLResponse:
        try:
            days = db().project_days()
        except MlfootprintError as exc:
            return failure(exc)
        plot = cache.get(("projects", tuple(days)), lambda: projects_plot(days) or "")
        return html(page="projects", title="projects", rows=project_totals(days), svg=plot)

    def run_page(request: Request) -> HTMLResponse:
        try:
            store_ = db()
            found = find(store_, request.path_params["ident"])
            return HTMLResponse(cache.get(("run", content_key(found)), lambda: html_of(store_, found).replace(
                "<main>", "<main>" + NAV, 1)))
        except MlfootprintError as exc:
            return failure(exc)

    def compare(request: Request) -> HTMLResponse:
        try:
            store_ = db()
            a, b = (store_.get_run(request.query_params.get(k, "").strip() or "?") for k in ("a", "b"))
        except MlfootprintError as exc:
            return failure(exc)
        return HTMLResponse(cache.get(("compare", content_key(a, b)), lambda: page.render(
            page="compare", title=f"compare a: {a.id} with b: {b.id}", rows=[a, b], lines=compare_lines(a, b),
            svg=compare_plot(a, b))))

    app = Starlette(routes=[Route("/", runs), Route("/jobs", jobs), Route("/projects", projects),
                            Route("/run/{ident}", run_page), Route("/job/{ident:path}", run_page),
                            Route("/compare", compare)],
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host, port))])
    app.state.pages = cache  # the benchmark reports its hits and misses
    app.state.ready = ready  # set once matplotlib is imported
    return app
