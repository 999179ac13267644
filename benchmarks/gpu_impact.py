"""On a real GPU: the impact record of a measured run, and the estimator's rated-power assumption
checked against the NVML energy counter.

    python benchmarks/gpu_impact.py [seconds]

Runs bf16 matmuls under `mlfootprint.track`, then prints: the GPU the catalogue matched (for
embodied CO2e), the measured GPU energy and mean power, the achieved TFLOP/s and MFU against the
catalogue's dense peak, and what `estimate` would have said for the same accelerator-hours at TDP.
"""

from __future__ import annotations

import json
import sys
import time

import torch

import mlfootprint
from mlfootprint import hardware
from mlfootprint.estimate import HoursWorkload, estimate
from mlfootprint.estimate.validation import published_place
from mlfootprint.record import dumps

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
n = 8192
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
for _ in range(20):
    a @ b
torch.cuda.synchronize()

with mlfootprint.track(project="gpu-impact", country="US", pue=1.0, interval_s=0.1) as run:
    iters, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(50):
            a @ b
        torch.cuda.synchronize()
        iters += 50

record = run.record
gpu = [c for c in record.components if c.kind == "gpu"]
gpu_j = sum(c.energy_j for c in gpu)
acc = hardware.match_device(gpu[0].name) if gpu else None
achieved = 2 * n**3 * iters / run.duration_s
print(f"device: {gpu[0].name if gpu else 'none'} -> catalogue {acc.key if acc else None}")
print(f"run {run.duration_s:.1f} s, GPU energy {gpu_j:,.0f} J ({gpu[0].method if gpu else ''}), "
      f"mean {gpu_j / run.duration_s:.0f} W; all components {record.energy_j:,.0f} J")
if acc is not None:
    peak = acc.peak_flops("bf16") or 0
    print(f"achieved {achieved / 1e12:.0f} TFLOP/s bf16 = {achieved / peak:.1%} of the {peak / 1e12:.1f} dense peak")
    est = estimate(HoursWorkload(hardware=acc.key, accelerator_hours=run.duration_s / 3600), published_place(1.0, 0.3844))
    print(f"estimate for the same GPU-hours at TDP ({acc.tdp_w:.0f} W): {est.energy_j:,.0f} J = "
          f"{est.energy_j / gpu_j:.3f} x measured GPU energy")
imp = record.impact
assert imp is not None
print("embodied items:", dumps(imp.embodied_items))
for label, f in (("CO2e operational", imp.co2e_operational_kg), ("CO2e embodied", imp.co2e_embodied_kg),
                 ("CO2e total", imp.co2e_total_kg), ("water", imp.water_l)):
    print(f"{label}: {f.value:.3e} ({f.low:.3e} - {f.high:.3e}) {f.unit} [{f.basis}]")
