"""Tables of the run store, as of SCHEMA_VERSION (layout.py says what each version added).

A change of the tables: bump SCHEMA_VERSION in layout.py, add the upgrade from the previous version in
migrations.py, list a new column with its old-row value in layout.ADDED_COLUMNS, and commit a fixture
store of the old version under tests/store/fixtures/.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

from .layout import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "components", "meta", "metadata", "phases", "run_values", "runs", "samples",
           "serving_windows"]

metadata = MetaData()

meta = Table(
    "mlfootprint_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(200), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # running | completed | failed | interrupted
    Column("started_at", String(40), nullable=False),  # ISO 8601, UTC
    Column("ended_at", String(40)),
    Column("heartbeat_at", String(40)),  # last flush; a running run whose heartbeat stopped died
    Column("duration_s", Float, nullable=False, default=0.0),
    Column("energy_j", Float, nullable=False, default=0.0),
    Column("energy_uncertainty_j", Float, nullable=False, default=0.0),
    Column("facility_energy_j", Float, nullable=False, default=0.0),
    Column("pue", Float, nullable=False),
    Column("co2e_kg", Float, nullable=False, default=0.0),
    Column("country", String(16)),
    Column("region", String(64)),
    Column("intensity_g_per_kwh", Float, nullable=False),
    Column("intensity_source", Text, nullable=False),
    Column("scope", String(16), nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("command", Text),
    Column("exit_code", Integer),
    Column("settings_json", Text),  # each setting that was set, with where it came from
    Column("warnings_json", Text),
    Column("impact_json", Text),  # impact.assess() at the last flush: CO2e, embodied, water, cost, equivalents
    Column("job_id", String(128)),  # the distributed job this run is a rank of (jobenv.detect); NULL: alone
    Column("job_rank", Integer),
    Column("job_json", Text),  # launcher, detected_from, local rank, world sizes, node rank, devices owned
    # the run this one is nested in (a track inside a track, a server's middleware run under `serve`) or the
    # experiment it is a trial of; NULL: a top-level run
    Column("parent_id", String(32)),
    Column("kind", String(16), nullable=False, default="run", server_default="run"),  # run | experiment
    Column("serving_estimate_json", Text),  # the serving estimate, computed once at the run's end
    Column("overlaps_json", Text),  # unrelated runs that measured the same machine at the same time
)
Index("ix_runs_job", runs.c.job_id)
Index("ix_runs_parent", runs.c.parent_id)
Index("ix_runs_started", runs.c.started_at)  # listings: the newest N runs without sorting them all

components = Table(
    "components", metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("name", String(255), nullable=False),
    Column("method", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("uncertainty_rel", Float, nullable=False),
    Column("energy_j", Float, nullable=False),
    Column("note", Text),
    # the run this component's energy is charged to when it is not this one (a nested run reads the machine
    # for its phases, the outer run owns the devices); NULL: this run
    Column("charged_to", String(32)),
)

samples = Table(
    "samples", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("t_s", Float, nullable=False),
    Column("key", String(64), nullable=False),
    Column("energy_j", Float, nullable=False),
    Column("power_w", Float, nullable=False),
    Column("span_s", Float),  # seconds the sample covers, once rolled up (NULL: one sampling interval)
    Column("phase", String(255)),  # the phase that held most of the interval (NULL: none, or rolled up)
)
Index("ix_samples_run", samples.c.run_id, samples.c.t_s)

phases = Table(
    "phases", metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(255), primary_key=True),  # "" = time outside every phase
    Column("duration_s", Float, nullable=False),  # exclusive: time it was the innermost phase
    Column("energy_j", Float, nullable=False),  # exclusive
    Column("gpu_energy_j", Float, nullable=False, default=0.0),
    Column("cpu_energy_j", Float, nullable=False, default=0.0),
    Column("ram_energy_j", Float, nullable=False, default=0.0),
    Column("entries", Integer, nullable=False, default=0),
    Column("items", Float, nullable=False, default=0.0),  # e.g. requests served in an inference phase
)

run_values = Table(
    "run_values", metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "metric" (log_metrics), "count" (count) or "forecast"
    Column("name", String(200), primary_key=True),
    Column("value", Float),  # NULL: logged, but not a finite number (a diverged loss)
)

serving_windows = Table(
    "serving_windows", metadata,  # `mlfootprint serve`: what a server answered in each time window
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("i", Integer, primary_key=True),  # window number, from 0
    Column("t_s", Float, nullable=False),  # end of the window, seconds since the run started
    Column("duration_s", Float, nullable=False),
    Column("energy_j", Float, nullable=False),  # IT energy measured in the window
    Column("requests", Float, nullable=False),  # counter increase over the window
    Column("tokens", Float),  # NULL: no token counter named
)
