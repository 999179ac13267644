"""Read the ML.ENERGY Leaderboard's published LLM measurements into data/published_inference_leaderboard.csv.

The leaderboard (github.com/ml-energy/leaderboard, data as of its public/data/index.json "last_updated")
publishes every measured configuration as JSON: per model, task, GPU model and count, vLLM max_num_seqs,
the batch that actually ran (avg_batch_size), mean output length, mean GPU power of all the run's GPUs,
output throughput and GPU energy per output token (Zeus/NVML: GPU energy only). This script turns the LLM
text tasks into rows for the serving model's validation, all of them held out (set check-leaderboard):

* configurations the model was fitted on (data/published_inference.csv, set fit: the same model, GPU,
  count and precision) are left out whatever the task: they are the same measurement campaign;
* configurations already in that file as held-out rows (same task) are left out: no row counts twice;
* architectures the model does not describe are left out, and the script says which: hybrid Mamba
  models (their KV cache covers only the attention layers) and MXFP4 weights (no fp4 in our catalogue);
* the code-completion task is left out: its prompt lengths are not published.

The batch is the one that ran (avg_batch_size, rounded), the output length each configuration's own mean,
the prompt length the task mean the blog states (the same as tools/extract_mlenergy_figures.py). Model
shapes (layers, hidden size, key/value width = KV heads x head dim) are each model's published Hugging Face
configuration; DeepSeek's multi-head latent attention caches a 512-wide latent and a 64-wide RoPE key per
layer and token, 576 values, entered as a key/value width of 288 (the model counts keys and values).

    python tools/extract_mlenergy_leaderboard.py /path/to/leaderboard/public/data \\
        > src/mlfootprint/data/published_inference_leaderboard.csv
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "mlfootprint" / "data"
# model_id prefix -> (name, params, active params or None, layers, d_model, kv_dim, expert share = routed experts
# per token / routed experts), from the published configurations
Shape = tuple[str, float, "float | None", int, int, int, "float | None"]
SHAPES: dict[str, Shape] = {
    "Qwen/Qwen3-8B": ("Qwen 3 8B", 8.19e9, None, 36, 4096, 1024, None),
    "Qwen/Qwen3-14B": ("Qwen 3 14B", 14.8e9, None, 40, 5120, 1024, None),
    "Qwen/Qwen3-32B": ("Qwen 3 32B", 32.8e9, None, 64, 5120, 1024, None),
    "Qwen/Qwen3-30B-A3B": ("Qwen 3 30B A3B", 30.5e9, 3.3e9, 48, 2048, 512, 8 / 128),
    "Qwen/Qwen3-235B-A22B": ("Qwen 3 235B A22B", 235.1e9, 22.2e9, 94, 4096, 512, 8 / 128),
    "google/gemma-3-12b": ("Gemma 3 12B", 12.2e9, None, 48, 3840, 2048, None),
    "google/gemma-3-27b": ("Gemma 3 27B", 27.4e9, None, 62, 5376, 2048, None),
    "meta-llama/Llama-3.1-8B": ("Llama 3.1 8B", 8.03e9, None, 32, 4096, 1024, None),
    "meta-llama/Llama-3.1-70B": ("Llama 3.1 70B", 70.6e9, None, 80, 8192, 1024, None),
    "meta-llama/Llama-3.1-405B": ("Llama 3.1 405B", 405.9e9, None, 126, 16384, 1024, None),
    "meta-llama/Llama-3.3-70B": ("Llama 3.3 70B", 70.6e9, None, 80, 8192, 1024, None),
    "meta-llama/Llama-4-Scout-17B-16E": ("Llama 4 Scout", 109e9, 17e9, 48, 5120, 1024, 1 / 16),
    "meta-llama/Llama-4-Maverick-17B-128E": ("Llama 4 Maverick", 400e9, 17e9, 48, 5120, 1024, 1 / 128),
    "deepseek-ai/DeepSeek-V3.1": ("DeepSeek V3.1", 671e9, 37e9, 61, 7168, 288, 8 / 256),
    "deepseek-ai/DeepSeek-R1": ("DeepSeek R1", 671e9, 37e9, 61, 7168, 288, 8 / 256),
}
TASKS = {"lm-arena-chat": ("text conversation", 224), "gpqa": ("problem solving", 634)}  # prompt: the blog's means
HARDWARE = {"H100": "h100-sxm", "B200": "b200"}
PRECISION = {"bfloat16": "bf16", "fp8": "fp8"}
COLUMNS = ("set,model,hardware,accelerators,precision,software,task,batch,prompt_tokens,output_tokens,params,"
           "active_params,layers,d_model,kv_dim,expert_share,energy_j_per_token,tokens_per_s,power_w,source").split(",")


def shape(model_id: str) -> Shape | None:
    return next((v for k, v in SHAPES.items() if model_id.startswith(k)), None)


def main(root: Path) -> None:
    updated = json.loads((root / "index.json").read_text())["last_updated"]
    source = f"ML.ENERGY Leaderboard data (github.com/ml-energy/leaderboard public/data, last updated {updated})"
    with open(DATA / "published_inference.csv", newline="") as f:
        known = list(csv.DictReader(line for line in f if not line.startswith("#")))
    fitted = {(r["model"], r["hardware"], r["accelerators"], r["precision"]) for r in known if r["set"] == "fit"}
    held = {(r["model"], r["hardware"], r["accelerators"], r["precision"], r["task"]) for r in known if r["set"] != "fit"}
    skipped: dict[str, int] = {}
    out = []
    for task, (task_name, prompt) in TASKS.items():
        for c in json.loads((root / "tasks" / f"{task}.json").read_text())["configurations"]:
            found = shape(c["model_id"])
            precision = PRECISION.get(c["weight_precision"])
            why = ("hybrid Mamba: its KV cache covers only the attention layers" if "Mamba" in c["architecture"]
                   else f"{c['weight_precision']} weights: no such precision in the catalogue" if precision is None
                   else "no published shape entered here" if found is None
                   else f"GPU {c['gpu_model']} not in the catalogue" if c["gpu_model"] not in HARDWARE else None)
            if why:
                skipped[f"{c['model_id']}: {why}"] = skipped.get(f"{c['model_id']}: {why}", 0) + 1
                continue
            name, params, active, layers, d_model, kv_dim, share = found  # type: ignore[misc]
            key = (name, HARDWARE[c["gpu_model"]], str(c["num_gpus"]), precision)
            if key in fitted or key + (task_name,) in held:
                skipped[f"{name} {c['num_gpus']}x {c['gpu_model']} {precision}: already in published_inference.csv"
                        f"{' (fitted on)' if key in fitted else ''}"] = 1
                continue
            out.append({"set": "check-leaderboard", "model": name, "hardware": key[1], "accelerators": c["num_gpus"],
                        "precision": precision, "software": "vLLM (leaderboard v3)", "task": task_name,
                        "batch": max(1, round(c["avg_batch_size"])), "prompt_tokens": prompt,
                        "output_tokens": f"{c['avg_output_len']:.0f}", "params": f"{params:.4g}",
                        "active_params": "" if active is None else f"{active:.3g}", "layers": layers,
                        "d_model": d_model, "kv_dim": kv_dim, "expert_share": "" if share is None else f"{share:.4g}",
                        "energy_j_per_token": f"{c['energy_per_token_joules']:.4g}",
                        "tokens_per_s": f"{c['output_throughput_tokens_per_sec']:.5g}",
                        "power_w": f"{c['avg_power_watts']:.5g}",
                        "source": f"{source}, {c['model_id']}, {task}, max_num_seqs {c['max_num_seqs']}"})
    out.sort(key=lambda r: (r["model"], r["hardware"], r["accelerators"], r["precision"], r["task"], r["batch"]))
    print("# ML.ENERGY Leaderboard measurements, all held out from the serving model's fit (set check-leaderboard):\n"
          "# GPU energy per output token (Zeus/NVML, GPU only), output throughput and mean power of all the run's\n"
          "# GPUs, at the batch that ran (avg_batch_size). Written by tools/extract_mlenergy_leaderboard.py, which\n"
          "# says what it leaves out and why; prompt tokens are the task means the blog states. The data: The ML.ENERGY\n"
          "# Benchmark dataset v3 (Chung et al., NeurIPS Datasets and Benchmarks 2025), Apache-2.0.")
    w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(out)
    for why, n in sorted(skipped.items()):
        print(f"left out: {why}" + (f" ({n} configurations)" if n > 1 else ""), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "index.json").is_file():
        sys.exit("usage: python tools/extract_mlenergy_leaderboard.py LEADERBOARD/public/data (the folder with index.json)")
    main(Path(sys.argv[1]))
