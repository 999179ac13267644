"""Our own serving run against the serving model: a decoder-only transformer decoding with a KV cache.

    python benchmarks/inference_check.py > benchmarks/results/inference_check.txt

No weights can be downloaded here, so the model is a randomly initialised Llama-style decoder (the
arithmetic of decoding does not depend on the weights' values). For each batch size it decodes under
`mlfootprint.track` (a `decode` phase per run) and compares the measured throughput and energy per
token with what estimate/inference.py predicts for the same shape, batch and context.

The device's roofline figures come from the catalogue on a GPU (the NVML name matched as the tracker
does). A CPU has no catalogue row, so the script measures its two figures first: memory bandwidth
(streaming copy of a 512 MB tensor) and peak fp32 FLOP/s (large matrix products) — measured, and said so.
The calibration (efficiency, power share) is the shipped one, fitted on GPUs with vLLM: this run is
out of sample. On a machine without RAPL or NVML the energy is modelled (utilization x TDP), so there
the throughput is the real check and the energy comparison shows what the power model assumes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import typing

import torch
import torch.nn.functional as F

import mlfootprint
from mlfootprint.estimate import inference as inf
from mlfootprint.hardware import Accelerator, accelerators


class Decoder(torch.nn.Module):
    """Llama-style blocks (RMSNorm, grouped-query attention with a KV cache, SwiGLU), random weights."""

    def __init__(self, layers: int, d_model: int, heads: int, kv_heads: int, ffn: int, vocab: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d_model // heads
        self.embed = torch.nn.Embedding(vocab, d_model)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(torch.nn.ModuleDict({
                "qkv": torch.nn.Linear(d_model, d_model + 2 * kv_heads * self.head_dim, bias=False),
                "out": torch.nn.Linear(d_model, d_model, bias=False),
                "up": torch.nn.Linear(d_model, 2 * ffn, bias=False),
                "down": torch.nn.Linear(ffn, d_model, bias=False),
                "n1": torch.nn.RMSNorm(d_model), "n2": torch.nn.RMSNorm(d_model)}))
        self.norm = torch.nn.RMSNorm(d_model)
        self.head = torch.nn.Linear(d_model, vocab, bias=False)

    def forward(self, tokens: torch.Tensor, cache: list[tuple[torch.Tensor, torch.Tensor]] | None) -> tuple[torch.Tensor, list]:
        b, t = tokens.shape
        x = self.embed(tokens)
        new_cache = []
        kv_width = self.kv_heads * self.head_dim
        for i, block in enumerate(self.blocks):
            blk = typing.cast(torch.nn.ModuleDict, block)
            q, k, v = blk["qkv"](blk["n1"](x)).split([x.shape[-1], kv_width, kv_width], dim=-1)
            q = q.view(b, t, self.heads, self.head_dim).transpose(1, 2)
            k = k.view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
            v = v.view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
            if cache is not None:
                k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
            new_cache.append((k, v))
            attn = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None, enable_gqa=True)
            x = x + blk["out"](attn.transpose(1, 2).reshape(b, t, -1))
            gate, up = blk["up"](blk["n2"](x)).chunk(2, dim=-1)
            x = x + blk["down"](F.silu(gate) * up)
        return self.head(self.norm(x[:, -1])), new_cache


def measure_cpu(dtype: torch.dtype) -> tuple[float, float]:
    """(memory read bandwidth B/s, peak FLOP/s) of this CPU, best of a few repetitions.

    Decode reads the weights and the KV cache, so the bandwidth is a read: a 512 MB sum. (A copy
    also writes, and with write-allocate caches it moves more bytes than it can count.)"""
    a = torch.empty(128 * 2**20, dtype=torch.float32).fill_(1.0)  # 512 MB
    best_bw = 0.0
    for _ in range(7):
        t0 = time.perf_counter()
        a.sum()
        best_bw = max(best_bw, a.numel() * 4 / (time.perf_counter() - t0))
    m = torch.randn(2048, 2048, dtype=dtype)
    torch.mm(m, m)  # warm-up
    best_flops = 0.0
    for _ in range(10):
        t0 = time.perf_counter()
        torch.mm(m, m)
        best_flops = max(best_flops, 2 * 2048**3 / (time.perf_counter() - t0))
    return best_bw, best_flops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--d-model", type=int, default=1024)
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--output-tokens", type=int, default=64)
    ap.add_argument("--batches", default="1,4,16,64")
    ap.add_argument("--repeats", type=int, default=3, help="runs per batch size; the median throughput is reported")
    args = ap.parse_args()
    torch.manual_seed(0)
    gpu = torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    dtype = torch.bfloat16 if gpu else torch.float32
    heads, kv_heads = args.d_model // 64, max(1, args.d_model // 256)
    model = Decoder(args.layers, args.d_model, heads, kv_heads, 4 * args.d_model, 32000).to(device, dtype).eval()
    params = sum(p.numel() for p in model.parameters())
    precision = "bf16" if gpu else "fp32"

    if gpu:
        name = torch.cuda.get_device_name()
        import re
        acc = next((a for a in accelerators().values() if a.match and re.search(a.match, name, re.I)), None)
        if acc is None:
            raise SystemExit(f"no catalogue row matches {name!r}")
        how = f"{acc.name}: catalogue ({acc.source})"
    else:
        bw, flops = measure_cpu(dtype)
        import psutil

        acc = Accelerator("this-cpu", f"{os.cpu_count()}-vCPU host", "cpu", 0, None, psutil.virtual_memory().total / 1e9,
                          bw / 1e12, {"fp32": flops / 1e12, "tf32": None, "bf16": None, "fp8": None}, None, "", "measured", None)
        from mlfootprint.sensors.cpu_model import cpu_brand

        how = (f"this CPU ({cpu_brand() or 'unnamed'}, {os.cpu_count()} logical), measured: {bw / 1e9:.1f} GB/s "
               f"read, {flops / 1e9:.1f} GFLOP/s fp32 matmul")
    print("# written by: python benchmarks/inference_check.py")
    print(f"model: random-weight decoder, {params / 1e6:.0f}M parameters ({args.layers} layers, d_model {args.d_model}, "
          f"{heads} heads, {kv_heads} KV heads), {precision}, on {device}")
    print(f"roofline figures: {how}")
    print(f"prompt {args.prompt_tokens} tokens, {args.output_tokens} generated per sequence; calibration: {inf.source()}")
    shape = inf.Model(params, None, args.layers, args.d_model, kv_heads * (args.d_model // heads))
    print(f"\n{'batch':>5} {'measured tok/s':>14} {'model tok/s':>11} {'ratio':>6} {'measured J/tok':>14} "
          f"{'model J/tok':>11} {'ratio':>6} {'power W':>8} {'basis':>9}")
    ratios = []
    # the runs are kept apart from the user's store unless MLFOOTPRINT_STORE names one
    store = os.environ.get("MLFOOTPRINT_STORE") or os.path.join(tempfile.mkdtemp(prefix="inference-check-"), "runs.db")
    for batch in (int(b) for b in args.batches.split(",")):
        prompt = torch.randint(0, 32000, (batch, args.prompt_tokens), device=device)
        runs = []
        with torch.inference_mode():
            model(prompt, None)  # warm-up: allocations, kernels
            for _ in range(args.repeats):
                with mlfootprint.track(project="inference-check", store=store,
                                       progress_bar=False) as run:
                    with run.phase("decode", items=batch * args.output_tokens):
                        logits, cache = model(prompt, None)
                        for _ in range(args.output_tokens):
                            nxt = logits.argmax(-1, keepdim=True)
                            logits, cache = model(nxt, cache)
                        if gpu:
                            torch.cuda.synchronize()
                phase = next(p for p in run.record.phases if p.phase == "decode")
                runs.append((phase.duration_s, phase.energy_j, run.record.impact.basis if run.record.impact else "-"))
        seconds, energy, basis = sorted(runs)[len(runs) // 2]
        tokens = batch * args.output_tokens
        measured_tps, measured_jpt = tokens / seconds, energy / tokens
        power = energy / seconds
        st = inf.step(shape, acc, inf.Serving(batch, args.prompt_tokens, args.output_tokens, 1, precision),
                      inf.calibration(), power_w=None if gpu else power)
        ratios.append(st.tokens_per_s / measured_tps)
        print(f"{batch:5d} {measured_tps:14.1f} {st.tokens_per_s:11.1f} {st.tokens_per_s / measured_tps:6.2f} "
              f"{measured_jpt:14.4f} {st.energy_j_per_token:11.4f} {st.energy_j_per_token / measured_jpt:6.2f} "
              f"{power:8.1f} {basis:>9}")
    within = sum(0.5 <= r <= 2 for r in ratios)
    print(f"\nthroughput within 2x: {within}/{len(ratios)}; ratios {', '.join(f'{r:.2f}' for r in ratios)}")
    cal = inf.calibration()  # measured / model x the fitted efficiency: the share of the roofline this run reached
    print(f"share of the roofline reached: {', '.join(f'{cal.efficiency / r:.2f}' for r in ratios)} "
          f"(batch {args.batches}); the fit, vLLM on H100: {cal.efficiency:.2f}")
    if not gpu:
        print("energy: no RAPL here, so the measured energy is modelled (utilization x TDP); the model's J/token uses "
              "that same average power, so its J/token ratio equals its throughput ratio (inverted)")


if __name__ == "__main__":
    main()
