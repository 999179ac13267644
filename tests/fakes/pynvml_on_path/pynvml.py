"""A fake `pynvml` for whole programs: put this folder first on PYTHONPATH and every process that
imports pynvml (a benchmark, the ranks torchrun starts, a server and `mlfootprint serve`) reads one
simulated GPU whose power follows wall-clock time (tests/fakes/pynvml_fake.py: SUITE_POWER).

`SIMULATED` says so: a program can tell it is not reading a real board, and must say so in what it writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:  # the fakes live in the repository's tests package
    sys.path.append(_ROOT)

from tests.fakes.pynvml_fake import SUITE_POWER, FakeGpu, WallClockNvml  # noqa: E402

SIMULATED = (f"fake NVML (tests/fakes/pynvml_on_path): one board drawing {SUITE_POWER.base_w:g} W "
             f"+ {SUITE_POWER.amplitude_w:g} W x sin(2 pi t / {SUITE_POWER.period_s:g} s), t = wall-clock time")

_nvml = WallClockNvml([FakeGpu("Simulated GPU (fake NVML)", "GPU-5151a7ed-0000-4000-8000-000000000000",
                               SUITE_POWER.base_w)], SUITE_POWER)
NVMLError = _nvml.NVMLError
for _name in dir(_nvml):
    if _name.startswith("nvml"):
        globals()[_name] = getattr(_nvml, _name)
