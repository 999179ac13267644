"""CPU package and DRAM energy from Linux powercap (Intel RAPL; AMD Zen exposes the same files).

Counted: every top-level `intel-rapl:N` domain named `package-*` (one per socket or die) and every
`dram` domain. Not counted, to avoid double counting: `core`/`uncore` sub-domains (already inside
their package), `psys` (the whole platform, which contains the packages) and `intel-rapl-mmio:*`
(a second view of the same package counter on recent Intel parts).

Counters wrap at `max_energy_range_uj` (about 262 kJ: 22 minutes at 200 W). We unwrap assuming at
most one wrap between reads; the meter calls `poll()` at least every POLL_S seconds between samples,
so that holds whatever `interval_s` is (up to 4 kW per package).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..constants import UNCERTAINTY_MEASURED
from .base import Channel, Reading

log = logging.getLogger("mlfootprint")

POWERCAP_ROOT = Path("/sys/class/powercap")

PERMISSION_HINT = (
    "RAPL energy counters under {root} exist but are not readable by this user (root-only since "
    "Linux 5.10, CVE-2020-8694); CPU energy will be modelled instead. To measure it, run "
    "'sudo chmod a+r {root}/intel-rapl:*/energy_uj {root}/intel-rapl:*/*/energy_uj' "
    "(or add a udev rule) and start again."
)


@dataclass
class _Domain:
    key: str
    kind: str  # "cpu" or "ram"
    name: str
    energy_file: Path
    max_range_uj: int
    last_raw_uj: int
    total_uj: int = 0


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def _candidate_domains(root: Path) -> list[tuple[Path, str]]:
    """(directory, name) of the package and dram domains, sub-domains included, psys excluded."""
    found: list[tuple[Path, str]] = []
    for top in sorted(root.glob("intel-rapl:*")):
        if top.name.count(":") != 1:  # sub-domains are visited through their parent
            continue
        name = _name_of(top)
        if name.startswith("package"):
            found.append((top, name))
        elif name == "dram":
            found.append((top, name))
        for sub in sorted(top.glob(f"{top.name}:*")):
            if _name_of(sub) == "dram":
                found.append((sub, f"{name}/dram" if name.startswith("package") else "dram"))
    return found


def _name_of(domain_dir: Path) -> str:
    try:
        return (domain_dir / "name").read_text().strip()
    except OSError:
        return domain_dir.name


class RaplSensor:
    """Reads the powercap counters. Build it with `RaplSensor.discover()`."""

    def __init__(self, domains: list[_Domain], root: Path) -> None:
        self._domains = domains
        self._root = root

    @classmethod
    def discover(cls, root: Path = POWERCAP_ROOT) -> tuple[RaplSensor | None, list[str]]:
        """The sensor if at least one counter can be read, and warnings worth showing once."""
        warnings: list[str] = []
        if not root.is_dir():
            return None, warnings
        domains: list[_Domain] = []
        unreadable = False
        for directory, name in _candidate_domains(root):
            energy_file = directory / "energy_uj"
            try:
                raw = _read_int(energy_file)
                max_range = _read_int(directory / "max_energy_range_uj")
            except PermissionError:
                unreadable = True
                continue
            except (OSError, ValueError):
                continue
            kind = "ram" if name.endswith("dram") else "cpu"
            key = f"{kind}:rapl:{directory.name}"
            domains.append(_Domain(key, kind, name, energy_file, max_range, raw))
        if unreadable and not domains:
            warnings.append(PERMISSION_HINT.format(root=root))
        if not domains:
            return None, warnings
        return cls(domains, root), warnings

    def channels(self) -> list[Channel]:
        return [
            Channel(d.key, d.kind, d.name, "measured", f"rapl:{d.name}", UNCERTAINTY_MEASURED)  # type: ignore[arg-type]
            for d in self._domains
        ]

    def read(self) -> list[Reading]:
        readings = []
        for d in self._domains:
            error = self._advance(d)
            readings.append(Reading(d.key, error=error) if error else Reading(d.key, energy_j=d.total_uj / 1e6))
        return readings

    def poll(self) -> None:
        """Read the counters without reporting: keeps the unwrapping right between far-apart samples."""
        for d in self._domains:
            self._advance(d)

    @staticmethod
    def _advance(d: _Domain) -> str | None:
        try:
            raw = _read_int(d.energy_file)
        except (OSError, ValueError) as exc:
            return f"{d.energy_file}: {exc}"
        delta = raw - d.last_raw_uj
        if delta < 0:  # wrapped at max_energy_range_uj: the counter ran on from 0 (range + 1 values)
            delta += d.max_range_uj + 1
        d.total_uj += delta
        d.last_raw_uj = raw
        return None

    def close(self) -> None:
        pass
