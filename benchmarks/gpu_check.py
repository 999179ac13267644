"""Check the NVML path on a real GPU: our meter's energy counter against a 20 Hz integral of the same
board's power readings — a consistency check of our sampling and integration, not an independent
measurement (both come from the board's own sensor; only an external power meter would be one).

    python benchmarks/gpu_check.py [--seconds 20]

Runs bf16 matrix products on GPU 0 for a while under `mlfootprint.track`, while a separate thread
integrates nvmlDeviceGetPowerUsage at 20 Hz (trapezoids). Prints both, their ratio, the mean power,
the board's power limit, and the process list NVML reports. Needs PyTorch with CUDA.
"""

from __future__ import annotations

import argparse
import json
import threading
import time


def power_integral(handle, stop: threading.Event, result: dict) -> None:  # type: ignore[no-untyped-def]
    import pynvml

    last_t, last_p, energy_j, n = time.monotonic(), pynvml.nvmlDeviceGetPowerUsage(handle) / 1e3, 0.0, 0
    while not stop.wait(0.05):
        t, p = time.monotonic(), pynvml.nvmlDeviceGetPowerUsage(handle) / 1e3
        energy_j += (p + last_p) / 2 * (t - last_t)
        last_t, last_p, n = t, p, n + 1
    result.update(energy_j=energy_j, reads=n)


def main() -> None:
    import pynvml
    import torch

    import mlfootprint

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()

    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    print("GPU:", pynvml.nvmlDeviceGetName(handle), "driver", pynvml.nvmlSystemGetDriverVersion())
    print("power limit W:", pynvml.nvmlDeviceGetPowerManagementLimit(handle) / 1e3)
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()

    stop, ref = threading.Event(), dict[str, float]()
    sampler = threading.Thread(target=power_integral, args=(handle, stop, ref))
    sampler.start()
    t0 = time.monotonic()
    with mlfootprint.track(project="gpu-check", country="US", interval_s=args.interval, scope="process") as run:
        n = 0
        while time.monotonic() - t0 < args.seconds:
            for _ in range(20):
                a @ b
            n += 20
            torch.cuda.synchronize()
            if n == 20:
                procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
                print("NVML compute processes:", [p.pid for p in procs], "our pid:", __import__("os").getpid())
    stop.set()
    sampler.join()
    flops = 2 * 8192**3 * n
    record = run.record
    gpu = [c for c in record.components if c.kind == "gpu"]
    ours = sum(c.energy_j for c in gpu)
    print(json.dumps({"duration_s": record.duration_s, "energy_j": record.energy_j, "scope": record.scope}, indent=1))
    for c in record.components:
        print(f"  {c.key:<22} {c.energy_j:>10.1f} J  {c.method:<9} {c.source[:70]} {c.note or ''}")
    print(f"matmuls: {n}, {flops / (time.monotonic() - t0) / 1e12:.0f} TFLOP/s achieved")
    print(f"meter GPU energy (nvml counter): {ours:.1f} J, mean {ours / record.duration_s:.1f} W")
    print(f"consistency check, 20 Hz integral of the same board's power readings: {ref['energy_j']:.1f} J over "
          f"{ref['reads']} reads")
    print(f"ratio meter / power integral: {ours / ref['energy_j']:.4f}")
    print(f"energy per TFLOP: {ours / (flops / 1e12):.3f} J")


if __name__ == "__main__":
    main()
