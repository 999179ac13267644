"""Which hardware a run occupied, as items of embodied CO2e for impact.assess.

A measured run occupies the GPUs the meter read (whole, as their energy is charged whole) and a share
of a server: 1/8 of a node per GPU (nodes of 8 accelerators, as in the cited figure), or, without
GPUs, the logical CPUs it could use out of a reference two-socket server.
"""

from __future__ import annotations

from collections.abc import Iterable

from .constants import (ACCELERATORS_PER_SERVER, CPU_SERVER_EMBODIED_UNCERTAINTY, DEFAULT_ACCELERATOR_EMBODIED_KG,
                        REFERENCE_SERVER_LOGICAL_CPUS, SERVER_EMBODIED_KG)
from .hardware import Accelerator, match_device
from .impact import EmbodiedItem


def accelerator_item(acc: Accelerator | None, name: str, count: float = 1) -> EmbodiedItem:
    if acc is not None and acc.embodied_kg is not None:
        return EmbodiedItem(f"{count:g} x {name}", acc.embodied_kg * count, 1.0, acc.embodied_source or acc.source)
    return EmbodiedItem(f"{count:g} x {name}", DEFAULT_ACCELERATOR_EMBODIED_KG.value * count, 1.0,
                        f"no manufacturer figure for {name}: {DEFAULT_ACCELERATOR_EMBODIED_KG.source}")


def server_share_for_accelerators(count: float) -> EmbodiedItem:
    return EmbodiedItem(f"server share ({count:g}/{ACCELERATORS_PER_SERVER} of an {ACCELERATORS_PER_SERVER}-GPU node)",
                        SERVER_EMBODIED_KG.value, count / ACCELERATORS_PER_SERVER, SERVER_EMBODIED_KG.source)


def server_share_for_cpus(logical_cpus: int) -> EmbodiedItem:
    share = min(1.0, logical_cpus / REFERENCE_SERVER_LOGICAL_CPUS)
    u = CPU_SERVER_EMBODIED_UNCERTAINTY
    return EmbodiedItem(f"server share ({logical_cpus} of {REFERENCE_SERVER_LOGICAL_CPUS} logical CPUs of a reference "
                        "two-socket server, project assumption)", SERVER_EMBODIED_KG.value, share,
                        f"ASSUMPTION, no cited CPU-server figure: a GPU node's chassis figure stands in for a CPU "
                        f"server (range x{1 - u:g} to x{1 + u:g}). Figure: {SERVER_EMBODIED_KG.source}", u)


def items_for_run(components: Iterable[tuple[str, str]], logical_cpus: int) -> list[EmbodiedItem]:
    """Embodied items of a measured run, from its components' (kind, name)."""
    gpus = [name for kind, name in components if kind == "gpu"]
    items = [accelerator_item(match_device(name), name) for name in gpus]
    items.append(server_share_for_accelerators(len(gpus)) if gpus else server_share_for_cpus(logical_cpus))
    return items


def items_for_rank(components: Iterable[tuple[str, str]], logical_cpus: int, *, owns_host: bool,
                   host_gpus: int) -> list[EmbodiedItem]:
    """Embodied items of one rank of a distributed job: the GPUs it measures with their share of the
    node, and a CPU server's share only on the process that measures a GPU-less host. Summed over the
    job's ranks, every GPU and every server is charged once."""
    gpus = [name for kind, name in components if kind == "gpu"]
    items = [accelerator_item(match_device(name), name) for name in gpus]
    if gpus:
        items.append(server_share_for_accelerators(len(gpus)))
    elif owns_host and host_gpus == 0:
        items.append(server_share_for_cpus(logical_cpus))
    return items
