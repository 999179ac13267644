"""Settings, layered: explicit arguments > MLFOOTPRINT_* environment > config file > defaults.

The config file is `mlfootprint.toml` in the working directory, else `[tool.mlfootprint]` in its
`pyproject.toml`. Every value is validated here, once, and the origin of each setting is kept so the
record (and any error) can say where a value came from.

Each setting is declared once, as a field of one of four small frozen groups below (`Site`: where the
energy is drawn and what it costs; `Sampling`: how it is measured; `Budget`: limits and the progress
bar; `Recording`: where the record goes), with its type, default, parser and a line of docs in the
field's metadata. `Settings` holds the project and the four groups; `SETTINGS` (name -> Spec), the
environment variables, the config-file keys, `track()`'s keyword arguments, the CLI's overrides and
the README table all follow from those fields. Names stay flat (`pue`, `interval_s`) wherever a user
writes one. This module imports only the standard library: it sits on the start path
of every run, where pulling in a validation framework would cost more than the whole run start.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Mapping

from .constants import DEFAULT_PUE, DEFAULT_WUE
from .errors import ConfigError
from .userfile import read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "MLFOOTPRINT_"


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


def _store(v: Any) -> str | None:
    text = _text(4096)(v)
    if text is not None:
        from .extras import need_store_driver

        need_store_driver(text)  # a PostgreSQL URL without its driver: refused now, with the install to run
    return text


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


OUTPUT_NAMES = ("prometheus", "textfile", "mlflow", "wandb", "json", "codecarbon", "html")
DEFAULT_PROMETHEUS_ADDRESS = ("127.0.0.1", 9464)


def prometheus_address(arg: str | None) -> tuple[str, int]:
    """':9464', '9464', '0.0.0.0:9464' -> (host, port)."""
    if not arg:
        return DEFAULT_PROMETHEUS_ADDRESS
    host, _, port = arg.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"prometheus address {arg!r}: expected [HOST:]PORT, e.g. 9464 or 127.0.0.1:9464") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"prometheus port {number} is not between 1 and 65535")
    return (host or DEFAULT_PROMETHEUS_ADDRESS[0]), number


def parse_output(spec: str) -> tuple[str, str | None]:
    """'prometheus:127.0.0.1:9464' -> ('prometheus', '127.0.0.1:9464'); checks the name and argument (no
    output's library is imported: an output is only built when a run starts, by outputs.build)."""
    name, _, arg = spec.strip().partition(":")
    name = name.lower()
    if name not in OUTPUT_NAMES:
        raise ValueError(f"unknown output {spec!r}: expected one of {', '.join(OUTPUT_NAMES)} (e.g. prometheus:9464, "
                         "json:run.json)")
    if name in ("textfile", "json", "codecarbon", "html") and not arg:
        raise ValueError(f"output {name} needs a file: {name}:PATH")
    if name == "prometheus":  # refused with the other settings, before the run starts
        prometheus_address(arg)
    return name, arg or None


def _outputs(v: Any) -> tuple[str, ...]:
    items = v.split(",") if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise _Invalid("must be a list of outputs, or text with outputs separated by commas")
    out = []
    for item in (i.strip() for i in items):
        if item:
            try:
                parse_output(item)
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
    default: Any = None


def _setting(default: Any, parse: Callable[[Any], Any], doc: str, default_doc: str | None = None) -> Any:
    """A group field declaring one setting (its name is the field's)."""
    return field(default=default, metadata={"spec": (parse, doc, default_doc)})


_PUE = ("must be between 1.0 and 3.0 (facility energy / IT energy; 1.0 for a laptop or a machine with no "
        "cooling overhead, 1.1-1.2 for hyperscale clouds)")


@dataclass(frozen=True)
class Site:
    """Where the energy is drawn, and the factors and prices that turn it into impact there."""

    country: str | None = _setting(None, _location("country"), "ISO 3166 code (FR, FRA) or zone (US-CA) where the "
                                   "run happens", "world average")
    region: str | None = _setting(None, _location("region"), "cloud region (gcp:europe-west1, aws:us-east-1, "
                                  "azure:westeurope)")
    pue: float = _setting(DEFAULT_PUE.value, _between(1.0, 3.0, _PUE), "power usage effectiveness of the facility, "
                          "1.0-3.0", f"{DEFAULT_PUE.value:g} (Uptime Institute 2024)")
    wue: float | None = _setting(None, _between(0, 1e6, "must be a number >= 0", hi_open=True),
                                 "on-site water usage effectiveness, L/kWh of IT energy",
                                 f"{DEFAULT_WUE.value:g} (Shehabi et al. 2016)")
    price_per_kwh: float | None = _setting(None, _between(0, 1e6, "must be a number >= 0", hi_open=True),
                                           "electricity price per kWh (needs currency)",
                                           "cited price for US states, else none")
    currency: str | None = _setting(None, _currency, "ISO 4217 code of the prices given")
    instance_price_per_hour: float | None = _setting(None, _between(0, 1e6, "must be a number >= 0", hi_open=True),
                                                     "what the machine costs per hour (needs currency)")
    renewable_share: float | None = _setting(None, _between(0, 1, "must be between 0 and 1 (e.g. 0.6 for 60% covered "
                                                              "by renewable contracts)"),
                                             "share covered by renewable contracts: adds market-based CO2e")
    intensity_csv: str | None = _setting(None, _series, "hourly intensity CSV: each sample is charged at the "
                                         "intensity of its hour")


@dataclass(frozen=True)
class Sampling:
    """How the energy is measured."""

    interval_s: float = _setting(1.0, _between(0.01, 3600, "must be between 0.01 and 3600 seconds"),
                                 "seconds between sensor reads")
    flush_interval_s: float = _setting(5.0, _between(0.01, 3600, "must be between 0.01 and 3600 seconds"),
                                       "seconds between writes to the store")
    scope: Literal["machine", "process"] = _setting("machine", _choice("machine", "process"),
                                                    "charge the whole machine, or the tracked process tree's share")
    gpu: bool = _setting(True, _bool, "read GPUs")
    sync_cuda: bool = _setting(False, _bool, "synchronize CUDA at phase markers (exact GPU phases, costs throughput)")


@dataclass(frozen=True)
class Budget:
    """Limits on the forecast, and the progress bar that shows it."""

    budget_kwh: float | None = _setting(None, _positive, "warn once the forecast facility energy exceeds this many kWh")
    budget_co2e_kg: float | None = _setting(None, _positive, "warn once the forecast operational CO2e exceeds this "
                                            "many kg")
    stop_over_budget: bool = _setting(False, _bool, "then also ask the run to stop (progress() returns False; "
                                      "CLI: SIGTERM)")
    progress_bar: bool = _setting(False, _bool, "a progress bar with facility energy so far and the forecast")


@dataclass(frozen=True)
class Recording:
    """Where the record goes, and which job it belongs to."""

    store: str | None = _setting(None, _store, "run store: a SQLite path or a SQLAlchemy URL",
                                 "`runs.db` in the user data dir")
    job: str | None = _setting(None, _text(128), "id grouping the runs of a distributed job's ranks; `off` measures "
                               "the process alone", "detected from torchrun, Slurm, Open MPI or PMI variables")
    outputs: tuple[str, ...] = _setting((), _outputs, "where figures go besides the store, comma-separated: "
                                        "`prometheus[:HOST:PORT]`, `textfile:PATH`, `mlflow`, `wandb`, `json:PATH`, "
                                        "`codecarbon:PATH`, `html:PATH`", "none")


GROUPS: dict[str, type] = {"site": Site, "sampling": Sampling, "budget": Budget, "recording": Recording}


@dataclass(frozen=True)
class Settings:
    """Validated settings of one run. Build with `load_settings()`; see each group for what a setting means."""

    project: str = "default"
    site: Site = field(default_factory=Site)
    sampling: Sampling = field(default_factory=Sampling)
    budget: Budget = field(default_factory=Budget)
    recording: Recording = field(default_factory=Recording)

    @classmethod
    def names(cls) -> list[str]:
        """Every setting's flat name, in the order of the README table."""
        return list(SETTINGS)

    def flat(self) -> dict[str, Any]:
        """{name: value} of every setting (what a record's `settings` show)."""
        out: dict[str, Any] = {"project": self.project}
        for group in GROUPS:
            values = getattr(self, group)
            out.update({f.name: getattr(values, f.name) for f in fields(values)})
        return out


def _specs() -> dict[str, Spec]:
    specs = {"project": Spec("project", _project, "project name to file runs under", default="default")}
    for group in GROUPS.values():
        for f in fields(group):
            parse, doc, default_doc = f.metadata["spec"]
            specs[f.name] = Spec(f.name, parse, doc, default_doc, f.default)
    return specs


SETTINGS: dict[str, Spec] = _specs()
SETTINGS_DEFAULTS: dict[str, Any] = {name: spec.default for name, spec in SETTINGS.items()}
_GROUP_OF: dict[str, str] = {f.name: group for group, cls in GROUPS.items() for f in fields(cls)}


def markdown_table() -> str:
    """The README's configuration table (tests/test_docs.py checks the README holds exactly this)."""
    lines = ["| setting | env var | default | meaning |", "| --- | --- | --- | --- |"]
    for spec in SETTINGS.values():
        default = spec.default
        shown = spec.default_doc or ("—" if default is None else str(default).lower() if isinstance(default, bool)
                                     else f"{default:g}" if isinstance(default, float) else str(default))
        lines.append(f"| `{spec.name}` | `{ENV_PREFIX}{spec.name.upper()}` | {shown} | {spec.doc} |")
    return "\n".join(lines)


def build_settings(values: Mapping[str, Any]) -> Settings:
    """Settings from parsed values by flat name (missing ones take their defaults)."""
    groups: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
    for name, value in values.items():
        if name != "project":
            groups[_GROUP_OF[name]][name] = value
    return Settings(project=values.get("project") or "default",
                    **{g: cls(**groups[g]) for g, cls in GROUPS.items()})


MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a pyproject.toml is kilobytes


def _file_layer(cwd: Path) -> tuple[dict[str, Any], str | None]:
    for name, table in (("mlfootprint.toml", None), ("pyproject.toml", ("tool", "mlfootprint"))):
        path = cwd / name
        if not path.is_file():
            continue
        text = read_text(path, "config file", MAX_CONFIG_BYTES, ConfigError)  # bounded, never a FIFO
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
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
    settings = build_settings({k: v for k, v in parsed.items() if v is not None or SETTINGS_DEFAULTS[k] is None})
    site = settings.site
    if (site.price_per_kwh is not None or site.instance_price_per_hour is not None) and not site.currency:
        raise ConfigError("price_per_kwh / instance_price_per_hour need a currency (e.g. --currency EUR)")
    return settings, {k: v for k, v in origins.items() if parsed.get(k) is not None}
