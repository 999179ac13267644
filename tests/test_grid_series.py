from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlfootprint.grid import series as series_mod
from mlfootprint.grid.advice import parse_duration, when, where
from mlfootprint.grid.series import SeriesError, electricitymaps_forecast, from_csv, gb_forecast
from tests.fakes.grid_api import TOKEN, FakeGridApi

UTC = timezone.utc
NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


@pytest.fixture
def api():  # type: ignore[no-untyped-def]
    with FakeGridApi() as server:
        yield server


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ci.csv"
    path.write_text(text)
    return path


def test_csv_series_and_the_best_window(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "datetime,intensity_g_per_kwh\n" + "".join(
        f"2026-11-23T{h:02d}:00Z,{v}\n" for h, v in enumerate([300, 280, 120, 100, 110, 250, 320])))
    s = from_csv(path)
    assert len(s.points) == 7 and s.points[-1].end == datetime(2026, 11, 23, 7, tzinfo=UTC)
    advice = when(s, timedelta(hours=2), NOW, timedelta(hours=5))
    assert advice.start == datetime(2026, 11, 23, 3, tzinfo=UTC)
    assert advice.intensity_g_per_kwh == pytest.approx(105)
    assert advice.now_intensity_g_per_kwh == pytest.approx(290)
    assert advice.saving == pytest.approx(1 - 105 / 290)
    # a window that starts mid-hour is time-weighted
    assert s.average(datetime(2026, 11, 23, 0, 30, tzinfo=UTC), timedelta(hours=1)) == pytest.approx(290)


@pytest.mark.parametrize("text,message", [
    ("when,value\n2026-11-23T00:00Z,1\n", "expected a time column"),
    ("datetime,intensity\n2026-11-23T00:00Z,abc\n", "line 2: intensity='abc' is not a number"),
    ("datetime,intensity\nyesterday,100\n", "invalid time 'yesterday'"),
    ("datetime,intensity\n2026-11-23T00:00Z,-5\n", "outside 0-5000"),
    ("datetime,intensity\n2026-11-23T00:00Z,5\n2026-11-23T00:00Z,6\n", "two values for"),
    ("datetime,intensity\n", "has no rows"),
])
def test_malformed_csv_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SeriesError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_csv(write_csv(tmp_path, text))


def test_window_outside_the_series_is_refused(tmp_path: Path) -> None:
    s = from_csv(write_csv(tmp_path, "\ufeffdatetime,intensity\n2026-11-23T00:00Z,100\n2026-11-23T01:00Z,100\n"))
    with pytest.raises(SeriesError, match="no window of 3:00:00 fits"):
        when(s, timedelta(hours=3), NOW, timedelta(hours=1))
    with pytest.raises(SeriesError, match="more than an hour after now"):
        when(s, timedelta(hours=1), NOW - timedelta(hours=3), timedelta(hours=1))
    # a forecast that starts within the hour is taken to start now
    assert when(s, timedelta(hours=1), NOW - timedelta(minutes=20), timedelta(hours=1)).now_start == NOW


def test_gb_api_forecast_from_the_fake_server(api) -> None:  # type: ignore[no-untyped-def]
    s = gb_forecast(NOW, base_url=api.url)
    assert len(s.points) == 96 and s.points[0].end - s.points[0].start == timedelta(minutes=30)
    advice = when(s, timedelta(hours=3), NOW, timedelta(hours=24))
    assert advice.start == datetime(2026, 11, 23, 2, tzinfo=UTC) and advice.intensity_g_per_kwh == 60
    # starting now, 00:00-03:00 already catches the first low hour: (2 h × 250 + 1 h × 60) / 3
    assert advice.now_intensity_g_per_kwh == pytest.approx((2 * 250 + 60) / 3)
    assert advice.saving == pytest.approx(1 - 60 / ((2 * 250 + 60) / 3))


def test_electricitymaps_forecast_token_and_errors(api, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    s = electricitymaps_forecast("DE", base_url=api.url + "/v3", token=TOKEN)
    assert len(s.points) == 24 and s.points[11].intensity_g_per_kwh == 250
    advice = when(s, timedelta(hours=4), NOW, timedelta(hours=20))
    assert advice.start == datetime(2026, 11, 23, 11, tzinfo=UTC)
    with pytest.raises(SeriesError, match="HTTP 401: Unauthorized: invalid auth-token"):
        electricitymaps_forecast("DE", base_url=api.url + "/v3", token="wrong")
    with pytest.raises(SeriesError, match="HTTP 404: Zone 'XX' does not exist"):
        electricitymaps_forecast("XX", base_url=api.url + "/v3", token=TOKEN)
    monkeypatch.delenv("ELECTRICITYMAPS_TOKEN", raising=False)
    with pytest.raises(SeriesError, match="set ELECTRICITYMAPS_TOKEN"):
        electricitymaps_forecast("DE", base_url=api.url + "/v3")


def test_timeouts_and_garbage_are_clear_errors(api, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(series_mod, "TIMEOUT_S", 0.3)
    with pytest.raises(SeriesError, match="did not answer within 0.3 s"):
        series_mod._get_json(api.url + "/slow", {}, "GB Carbon Intensity API")
    with pytest.raises(SeriesError, match="not JSON"):
        series_mod._get_json(api.url + "/notjson", {}, "GB Carbon Intensity API")
    with pytest.raises(SeriesError, match="cannot reach"):
        series_mod._get_json("http://127.0.0.1:9/x", {}, "GB Carbon Intensity API")


def test_where_ranks_candidates() -> None:
    options = where(100.0, ["DE", "FR", "gcp:europe-north1"], pue=1.0)
    ranked = sorted(options, key=lambda o: o.co2e_kg)
    assert [o.location.region or o.location.country for o in ranked] == ["gcp:europe-north1", "FR", "DE"]
    assert options[0].co2e_kg == pytest.approx(100 * 329.65 / 1000)


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90) and parse_duration("2") == timedelta(hours=2)
    for bad in ("soon", "0h", "5x"):
        with pytest.raises(Exception, match="invalid duration"):
            parse_duration(bad)


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlfootprint", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200", **env), timeout=60)


def test_when_and_where_cli(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli("when", "--duration", "3h", "--within", "24h", "--region", "GB", "--now", "2026-11-23T00:00Z",
              MLFOOTPRINT_GB_API_URL=api.url)
    assert out.returncode == 0 and "best start: 2026-11-23 02:00 UTC" in out.stdout and "saves 68%" in out.stdout
    out = cli("when", "--duration", "4h", "--zone", "DE", "--now", "2026-11-23T00:00Z",
              MLFOOTPRINT_ELECTRICITYMAPS_URL=api.url + "/v3", ELECTRICITYMAPS_TOKEN=TOKEN)
    assert out.returncode == 0 and "11:00 UTC" in out.stdout
    out = cli("where", "--energy-kwh", "500", "--candidates", "FR,DE,US-CA,gcp:europe-north1", "--here", "DE")
    assert out.returncode == 0 and "cleanest: gcp:europe-north1" in out.stdout
    for args, message in (
        (["when", "--duration", "3h"], "say where the forecast comes from"),
        (["when", "--duration", "3h", "--csv", str(tmp_path / "missing.csv")], "cannot read intensity CSV"),
        (["when", "--duration", "3h", "--zone", "DE"], "set ELECTRICITYMAPS_TOKEN"),
        (["where", "--energy-kwh", "5", "--candidates", "FR,ZZ"], "unknown country 'ZZ'"),
        (["where", "--energy-kwh", "-5", "--candidates", "FR"], "invalid energy"),
    ):
        bad = cli(*args, ELECTRICITYMAPS_TOKEN="")
        lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr and len(lines) == 1, bad.stderr
