"""Check data/grid_zones.csv's Ember rows against a second Ember/OWID-derived table.

    python tools/check_grid_zones.py PATH/TO/global_energy_mix.json [--out benchmarks/results/grid_zones_check.txt]

The second table is the one CodeCarbon 3.3.2 bundles (codecarbon/data/private_infra/global_energy_mix.json:
Our World in Data's energy dataset, carbon_intensity per ISO alpha-3 code, mostly data year 2022). The
two need not agree exactly (different data years, OWID revisions), so the check lists what deserves a
look: rows that differ by more than 25 %, rows whose data year is older than 2020, and round figures
(a whole hundred), which in Ember's data mark a placeholder rather than a measured mix.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("second", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "grid_zones_check.txt")
    args = parser.parse_args()
    other = json.loads(args.second.read_text())
    text = (ROOT / "src" / "mlfootprint" / "data" / "grid_zones.csv").read_text()
    rows = [r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
            if r["source"] == "ember-owid"]
    shown = str(args.second).split("site-packages/", 1)[-1]  # the same on every machine: the package's own path
    lines = [f"grid_zones.csv Ember rows ({len(rows)}) against {args.second.name} "
             f"(python tools/check_grid_zones.py SITE_PACKAGES/{shown})", ""]
    flagged = compared = 0
    for r in rows:
        ours, year = float(r["intensity_g_per_kwh"]), int(r["year"])
        theirs = other.get(r["alpha3"], {})
        value, their_year = theirs.get("carbon_intensity"), theirs.get("year")
        notes = []
        if value:
            compared += 1
            if abs(ours - value) / value > 0.25:
                notes.append(f"differs by {ours / value - 1:+.0%} from {value:g} ({their_year})")
        if year < 2020:
            notes.append(f"data year {year}")
        if ours >= 100 and ours % 100 == 0:
            notes.append("a round figure")
        if notes:
            flagged += 1
            lines.append(f"  {r['zone']} {r['name']}: {ours:g} g/kWh ({year}); " + "; ".join(notes))
    lines += ["", f"{compared} rows compared, {flagged} flagged"]
    out = "\n".join(lines) + "\n"
    print(out)
    args.out.write_text(out)


if __name__ == "__main__":
    main()
