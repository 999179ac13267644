"""The accelerator catalogue (hardware.py, data/hardware.csv): each row from its datasheet, matched by the name
NVML reports, usable by the estimator or refused with what to give instead."""

from __future__ import annotations

import re

import pytest

from mlfootprint.errors import ConfigError
from mlfootprint.estimate import TrainingWorkload, estimate
from mlfootprint.estimate.validation import published_place
from mlfootprint.hardware import accelerators, get, match_device

PLACE = published_place(1.1, 0.4)


@pytest.mark.parametrize("key, device_name, bf16_tflops, tdp_w", [
    ("h800", "NVIDIA H800", 989.4, 700), ("a800", "NVIDIA A800-SXM4-80GB", 312, 400), ("h20", "NVIDIA H20", 148, 400),
    ("gh200", "NVIDIA GH200 480GB", 989.4, None), ("b100", "NVIDIA B100", 1750, 700), ("gb200", "NVIDIA GB200", 2500, None),
    ("mi325x", "AMD Instinct MI325X", 1307.4, 1000), ("gaudi2", "Intel Gaudi 2", 432, 600),
    ("gaudi3", "Intel Gaudi 3", 1835, 900), ("tpu-v6e", "TPU v6e", 918, None),
    # issue 22 point 7: the cards people run on, each from its vendor's datasheet
    ("a10", "NVIDIA A10", 125, 150), ("l40", "NVIDIA L40", 181.05, 300), ("l40s", "NVIDIA L40S", 362.05, 350),
    ("rtx-a6000", "NVIDIA RTX A6000", 154.8, 300), ("rtx-a5000", "NVIDIA RTX A5000", 111.1, 230),
    ("rtx-4090", "NVIDIA GeForce RTX 4090", 165.2, 450), ("rtx-3090", "NVIDIA GeForce RTX 3090", 71, 350),
    ("mi210", "AMD Instinct MI210", 181, 300),
])
def test_the_hardware_the_field_uses_is_catalogued(key: str, device_name: str, bf16_tflops: float,
                                                   tdp_w: float | None) -> None:
    acc = get(key)
    assert acc.peak_flops("bf16") == pytest.approx(bf16_tflops * 1e12) and acc.tdp_w == tdp_w
    assert match_device(device_name) is acc  # a measured run on it gets its embodied figure and name
    w = TrainingWorkload(key, 7e9, 1e12)
    if tdp_w is None:  # module power includes a CPU, or is not published: asked, never guessed
        with pytest.raises(ConfigError, match="give --power-w"):
            estimate(w, PLACE)
        w = TrainingWorkload(key, 7e9, 1e12, power_w=800)
    assert estimate(w, PLACE).accelerator_hours > 0


def test_what_a_datasheet_does_not_say_stays_empty_and_is_asked_for() -> None:
    a10g = get("a10g")  # AWS's A10G: only its memory is published
    assert a10g.memory_gb == 24 and a10g.tdp_w is None and a10g.memory_tb_s is None
    assert all(v is None for v in a10g.peak_tflops.values())
    with pytest.raises(ConfigError, match="no published dense bf16 peak for a10g"):
        estimate(TrainingWorkload("a10g", 7e9, 1e12), PLACE)
    ada = get("rtx-6000-ada")  # its datasheet gives one tensor figure, FP8 with sparsity
    assert ada.peak_tflops["bf16"] is None and ada.peak_flops("fp8") == pytest.approx(728.5e12)
    assert estimate(TrainingWorkload("rtx-6000-ada", 7e9, 1e12, precision="fp8", mfu=0.3), PLACE).accelerator_hours > 0


def test_device_names_match_one_row_each() -> None:
    for name, key in (("NVIDIA A10", "a10"), ("NVIDIA A10G", "a10g"), ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
                      ("NVIDIA L4", "l4"), ("NVIDIA L40", "l40"), ("NVIDIA L40S", "l40s"),
                      ("NVIDIA RTX 6000 Ada Generation", "rtx-6000-ada")):
        assert match_device(name) is get(key)
    assert match_device("NVIDIA GeForce RTX 4090 D") is None  # a cut-down 4090: not the datasheet's card
    assert match_device("NVIDIA GeForce RTX 3090 Ti") is None
    # every row's legend key resolves to its citation (an unresolved key would show as the bare key)
    assert not [a.key for a in accelerators().values() if re.fullmatch(r"[a-z0-9-]+", a.source)]
