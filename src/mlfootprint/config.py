"""Settings, layered: explicit arguments > MLFOOTPRINT_* environment > config file > defaults.

The config file is `mlfootprint.toml` in the working directory, else `[tool.mlfootprint]` in its
`pyproject.toml`. Every value is validated here, once, and the origin of each setting is kept so the
record (and any error) can say where a value came from.

Each setting is declared once, in `SETTINGS` below (name, type, default, what it means, what is
accepted); the `Settings` dataclass, the environment variables, the config-file keys and the README
table all follow from it. This module imports only the standard library: it sits on the start path
of every run, where pulling in a validation framework would cost more than the whole run start.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Mapping

from .constants import DEFAULT_PUE, DEFAULT_WUE
from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "MLFOOTPRINT_"


@dataclass(frozen=True)
class Settings:
    """Validated settings of one run. Build with `load_settings()`; see `SETTINGS` for each meaning."""

    project: str = "default"
    country: str | None = None
    region: str | None = None
    pue: float = DEFAULT_PUE.value
    interval_s: float = 1.0
    flush_interval_s: float = 5.0
    store: str | None = None
    scope: Literal["machine", "process"] = "machine"
    gpu: bool = True
    sync_cuda: bool = False
    budget_kwh: float | None = None
    budget_co2e_kg: float | None = None
    stop_over_budget: bool = False
    progress_bar: bool = False
    wue: float | None = None
    price_per_kwh: float | None = None
    currency: str | None = None
    instance_price_per_hour: float | None = None
    renewable_share: float | None = None
    intensity_csv: str | None = None
    job: str | None = None
    outputs: tuple[str, ...] = ()

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


class _Invalid(ValueError):
    """A value a setting does not accept; the message says what would be accepted."""


# -- value parsers: each takes a raw value (a Python value, or text from the environment) -------------
def _text(max_len: int = 1000) -> Callable[[Any], str | None]:
    def parse(v: Any) -> str | None:
        if not isinstance(v, str):
            raise _Invalid("must be text")
        v = v.strip()
        if len(v) > max_len:
            raise _Invalid(f"must be at most {max_len} characters")
        return v or None
    return parse


def _number(v: Any) -> float:
    if isinstance(v, bool):
        raise _Invalid("must be a number")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise _Invalid("must be a number") from None
    if not math.isfinite(x):
        raise _Invalid("must be a finite number")
    return x


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(v, str) and v.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise _Invalid("must be true or false (1/0, yes/no, on/off)")


def _between(lo: float, hi: float, message: str, *, hi_open: bool = False) -> Callable[[Any], float]:
    def parse(v: Any) -> float:
        x = _number(v)
        if not (lo <= x < hi if hi_open else lo <= x <= hi):
            raise _Invalid(message)
        return x
    return parse


def _positive(v: Any) -> float:
    x = _number(v)
    if not x > 0:
        raise _Invalid("must be a positive number")
    return x


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        if not isinstance(v, str) or v.strip().lower() not in allowed:
            raise _Invalid(f"must be one of {', '.join(allowed)}")
        return v.strip().lower()
    return parse


def _project(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Invalid("must be a non-empty name")
    if len(v) > 200:
        raise _Invalid("must be at most 200 characters")
    return v


def _currency(v: Any) -> str:
    if not isinstance(v, str) or not (len(v.strip()) == 3 and v.strip().isalpha()):
        raise _Invalid("must be an ISO 4217 currency code such as USD, EUR, GBP")
    return v.strip().upper()


def _location(kind: str) -> Callable[[Any], str | None]:
    def parse(v: Any) -> str | None:
        text = _text(100)(v)
        if text is None:
            return None
        from .grid import resolve_location  # tables load on first use, not at import

        location, _ = resolve_location(**{kind: text})  # raises ConfigError for unknown codes
        return location.region if kind == "region" else location.country
    return parse


def _series(v: Any) -> str | None:
    text = _text(4096)(v)
    if text is None:
        return None
    from .grid.series import SeriesError, from_csv

    try:
        from_csv(text)
    except SeriesError as exc:
        raise ConfigError(str(exc)) from None
    return text


def _outputs(v: Any) -> tuple[str, ...]:
    items = v.split(",") if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise _Invalid("must be a list of outputs, or text with outputs separated by commas")
    from .outputs import parse  # the names only: no output's library is imported here

    out = []
    for item in (i.strip() for i in items):
        if item:
            try:
                parse(item)
            except ValueError as exc:
                raise _Invalid(str(exc)) from None
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class Spec:
    """One setting: how to parse it, and a line for the docs (README's table comes from these)."""

    name: str
    parse: Callable[[Any], Any]
    doc: str
    default_doc: str | None = None  # how to show the default when it is not a plain value


def markdown_table() -> str:
    """The README's configuration table (tests/test_docs.py checks the README holds exactly this)."""
    lines = ["| setting | env var | default | meaning |", "| --- | --- | --- | --- |"]
    for spec in SETTINGS.values():
        default = SETTINGS_DEFAULTS[spec.name]
        shown = spec.default_doc or ("—" if default is None else str(default).lower() if isinstance(default, bool)
                                     else f"{default:g}" if isinstance(default, float) else str(default))
        lines.append(f"| `{spec.name}` | `{ENV_PREFIX}{spec.name.upper()}` | {shown} | {spec.doc} |")
    return "\n".join(lines)


_PUE = ("must be between 1.0 and 3.0 (facility energy / IT energy; 1.0 for a laptop or a machine with no "
        "cooling overhead, 1.1-1.2 for hyperscale clouds)")
SETTINGS: dict[str, Spec] = {s.name: s for s in (
    Spec("project", _project, "project name to file runs under"),
    Spec("country", _location("country"), "ISO 3166 code (FR, FRA) or zone (US-CA) where the run happens",
         "world average"),
    Spec("region", _location("region"), "cloud region (gcp:europe-west1, aws:us-east-1, azure:westeurope)"),
    Spec("pue", _between(1.0, 3.0, _PUE), "power usage effectiveness of the facility, 1.0-3.0",
         f"{DEFAULT_PUE.value:g} (Uptime Institute 2024)"),
    Spec("interval_s", _between(0.01, 3600, "must be between 0.01 and 3600 seconds"), "seconds between sensor reads"),
    Spec("flush_interval_s", _between(0.01, 3600, "must be between 0.01 and 3600 seconds"),
         "seconds between writes to the store"),
    Spec("store", _text(4096), "run store: a SQLite path or a SQLAlchemy URL", "`runs.db` in the user data dir"),
    Spec("scope", _choice("machine", "process"), "charge the whole machine, or the tracked process tree's share"),
    Spec("gpu", _bool, "read GPUs"),
    Spec("sync_cuda", _bool, "synchronize CUDA at phase markers (exact GPU phases, costs throughput)"),
    Spec("budget_kwh", _positive, "warn once the forecast facility energy exceeds this many kWh"),
    Spec("budget_co2e_kg", _positive, "warn once the forecast CO2e exceeds this many kg"),
    Spec("stop_over_budget", _bool, "then also ask the run to stop (progress() returns False; CLI: SIGTERM)"),
    Spec("progress_bar", _bool, "a progress bar with energy so far and the forecast"),
    Spec("wue", _between(0, 1e6, "must be a number >= 0", hi_open=True),
         "on-site water usage effectiveness, L/kWh of IT energy", f"{DEFAULT_WUE.value:g} (Shehabi et al. 2016)"),
    Spec("price_per_kwh", _between(0, 1e6, "must be a number >= 0", hi_open=True),
         "electricity price per kWh (needs currency)", "cited price for US states, else none"),
    Spec("currency", _currency, "ISO 4217 code of the prices given"),
    Spec("instance_price_per_hour", _between(0, 1e6, "must be a number >= 0", hi_open=True),
         "what the machine costs per hour (needs currency)"),
    Spec("renewable_share", _between(0, 1, "must be between 0 and 1 (e.g. 0.6 for 60% covered by renewable "
                                           "contracts)"), "share covered by renewable contracts: adds market-based CO2e"),
    Spec("intensity_csv", _series, "hourly intensity CSV: each sample is charged at the intensity of its hour"),
    Spec("job", _text(128), "id grouping the runs of a distributed job's ranks; `off` measures the process alone",
         "detected from torchrun, Slurm, Open MPI or PMI variables"),
    Spec("outputs", _outputs, "where figures go besides the store, comma-separated: `prometheus[:HOST:PORT]`, "
         "`textfile:PATH`, `mlflow`, `wandb`, `json:PATH`, `codecarbon:PATH`, `html:PATH`", "none"),
)}
assert list(SETTINGS) == Settings.names(), "SETTINGS and Settings must list the same settings in the same order"


def _file_layer(cwd: Path) -> tuple[dict[str, Any], str | None]:
    for name, table in (("mlfootprint.toml", None), ("pyproject.toml", ("tool", "mlfootprint"))):
        path = cwd / name
        if not path.is_file():
            continue
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        if table:
            for part in table:
                data = data.get(part, {}) if isinstance(data, dict) else {}
            if not data:
                continue
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: expected a table of settings")
        return {k.replace("-", "_"): v for k, v in data.items()}, str(path)
    return {}, None


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in SETTINGS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = raw
    return values


def load_settings(overrides: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> tuple[Settings, dict[str, str]]:
    """Validated settings and, per setting that is not a default, where it came from."""
    env = os.environ if env is None else env
    file_values, file_name = _file_layer(cwd or Path.cwd())
    layers = [(file_name or "config file", file_values), ("environment", _env_layer(env)),
              ("argument", {k: v for k, v in (overrides or {}).items() if v is not None})]
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, values in layers:
        for key, value in values.items():
            merged[key] = value
            origins[key] = origin if origin != "environment" else f"{ENV_PREFIX}{key.upper()}"
    unknown = [k for k in merged if k not in SETTINGS]
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r} (from {origins.get(unknown[0], '?')}); known settings: "
                          f"{', '.join(SETTINGS)}")
    parsed: dict[str, Any] = {}
    for name, raw in merged.items():
        try:
            parsed[name] = SETTINGS[name].parse(raw)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (from {origins[name]})") from None
        except _Invalid as exc:
            raise ConfigError(f"invalid {name}={raw!r} (from {origins[name]}): {exc}") from None
    settings = Settings(**{k: v for k, v in parsed.items() if v is not None or SETTINGS_DEFAULTS[k] is None})
    if (settings.price_per_kwh is not None or settings.instance_price_per_hour is not None) and not settings.currency:
        raise ConfigError("price_per_kwh / instance_price_per_hour need a currency (e.g. --currency EUR)")
    return settings, {k: v for k, v in origins.items() if parsed.get(k) is not None}


SETTINGS_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings)}
