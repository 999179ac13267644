"""A fake /sys/class/powercap tree laid out as the kernel lays it out."""

from __future__ import annotations

import os
from pathlib import Path


def make_domain(root: Path, dirname: str, name: str, energy_uj: int, max_range_uj: int = 262143328850) -> Path:
    d = root / dirname if dirname.count(":") == 1 else root / dirname.rsplit(":", 1)[0] / dirname
    d.mkdir(parents=True, exist_ok=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
    return d


def set_energy(domain_dir: Path, energy_uj: int) -> None:
    (domain_dir / "energy_uj").write_text(f"{energy_uj}\n")


def two_socket_tree(root: Path) -> dict[str, Path]:
    """Two packages with core/uncore/dram sub-domains, a psys domain and an MMIO duplicate."""
    domains = {
        "pkg0": make_domain(root, "intel-rapl:0", "package-0", 1_000_000),
        "core0": make_domain(root, "intel-rapl:0:0", "core", 500_000),
        "dram0": make_domain(root, "intel-rapl:0:1", "dram", 200_000),
        "pkg1": make_domain(root, "intel-rapl:1", "package-1", 3_000_000),
        "dram1": make_domain(root, "intel-rapl:1:0", "dram", 100_000),
        "psys": make_domain(root, "intel-rapl:2", "psys", 9_000_000),
        "mmio": make_domain(root, "intel-rapl-mmio:0", "package-0", 1_000_000),
    }
    return domains


def make_unreadable(domain_dir: Path) -> None:
    os.chmod(domain_dir / "energy_uj", 0o000)
