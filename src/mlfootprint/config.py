"""Settings, layered: explicit arguments > MLFOOTPRINT_* environment > config file > defaults.

The config file is `mlfootprint.toml` in the working directory, else `[tool.mlfootprint]` in its
`pyproject.toml`. Every value is validated here, once, and the origin of each setting is kept so the
record (and any error) can say where a value came from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .constants import DEFAULT_PUE
from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "MLFOOTPRINT_"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field("default", min_length=1, max_length=200)
    country: str | None = None
    region: str | None = None
    pue: float = DEFAULT_PUE.value
    interval_s: float = 1.0
    flush_interval_s: float = 5.0
    store: str | None = None
    scope: Literal["machine", "process"] = "machine"
    gpu: bool = True
    sync_cuda: bool = False  # synchronize CUDA at phase markers (exact GPU phases, costs throughput)
    budget_kwh: float | None = None  # warn once the forecast facility energy exceeds it
    budget_co2e_kg: float | None = None  # warn once the forecast CO2e exceeds it
    stop_over_budget: bool = False  # then also ask the run to stop (progress() returns False; CLI: SIGTERM)
    progress_bar: bool = False  # a rich progress bar with energy so far and the forecast
    wue: float | None = None  # on-site water usage effectiveness, L/kWh of IT energy (default: cited average)
    price_per_kwh: float | None = None  # electricity price; else the cited table for the zone, if any
    currency: str | None = None  # ISO 4217 code of price_per_kwh / instance_price_per_hour
    instance_price_per_hour: float | None = None  # what the machine costs per hour (cloud list price)
    renewable_share: float | None = None  # share of the energy covered by renewable contracts (PPA): market-based CO2e
    intensity_csv: str | None = None  # hourly intensity series; each sample gets the intensity of its hour

    @field_validator("wue", "price_per_kwh", "instance_price_per_hour")
    @classmethod
    def _non_negative(cls, v: float | None) -> float | None:
        if v is not None and not 0 <= v < 1e6:
            raise ValueError("must be a number >= 0")
        return v

    @field_validator("renewable_share")
    @classmethod
    def _share(cls, v: float | None) -> float | None:
        if v is not None and not 0 <= v <= 1:
            raise ValueError("must be between 0 and 1 (e.g. 0.6 for 60% covered by renewable contracts)")
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        if v is not None and not (len(v.strip()) == 3 and v.strip().isalpha()):
            raise ValueError("must be an ISO 4217 currency code such as USD, EUR, GBP")
        return v.strip().upper() if v else v

    @field_validator("intensity_csv")
    @classmethod
    def _series(cls, v: str | None) -> str | None:
        if v:
            from .grid.series import SeriesError, from_csv

            try:
                from_csv(v)
            except SeriesError as exc:
                raise ConfigError(str(exc)) from None
        return v or None

    @model_validator(mode="after")
    def _priced_in_a_currency(self) -> "Settings":
        if (self.price_per_kwh is not None or self.instance_price_per_hour is not None) and not self.currency:
            raise ValueError("price_per_kwh / instance_price_per_hour need a currency (e.g. --currency EUR)")
        return self

    @field_validator("budget_kwh", "budget_co2e_kg")
    @classmethod
    def _positive_budget(cls, v: float | None) -> float | None:
        if v is not None and not v > 0:
            raise ValueError("must be a positive number")
        return v

    @field_validator("pue")
    @classmethod
    def _pue_range(cls, v: float) -> float:
        if not 1.0 <= v <= 3.0:
            raise ValueError("must be between 1.0 and 3.0 (facility energy / IT energy; 1.0 for a laptop or "
                             "a machine with no cooling overhead, 1.1-1.2 for hyperscale clouds)")
        return v

    @field_validator("interval_s", "flush_interval_s")
    @classmethod
    def _positive_interval(cls, v: float) -> float:
        if not 0.01 <= v <= 3600:
            raise ValueError("must be between 0.01 and 3600 seconds")
        return v

    @field_validator("country", "region")
    @classmethod
    def _known_location(cls, v: str | None, info: Any) -> str | None:
        if v is None or not v.strip():
            return None
        from .grid import resolve_location  # tables load on first use, not at import

        location, _ = resolve_location(**{info.field_name: v})  # raises ConfigError for unknown codes
        return location.region if info.field_name == "region" else location.country


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
    for field in Settings.model_fields:
        raw = env.get(ENV_PREFIX + field.upper())
        if raw is not None and raw != "":
            values[field] = raw
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
    try:
        return Settings(**merged), origins
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a rule across settings
            cause = err.get("ctx", {}).get("error")
            raise ConfigError(str(cause) if cause else err["msg"]) from None
        field = str(err["loc"][0])
        if err["type"] == "extra_forbidden":
            known = ", ".join(Settings.model_fields)
            raise ConfigError(f"unknown setting {field!r} (from {origins.get(field, '?')}); known settings: {known}") from None
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            raise ConfigError(f"{cause} (from {origins.get(field, '?')})") from None
        message = str(cause) if cause else err["msg"]
        raise ConfigError(f"invalid {field}={merged.get(field)!r} (from {origins.get(field, '?')}): {message}") from None
