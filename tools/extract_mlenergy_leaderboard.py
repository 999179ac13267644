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
the prompt length the task mean the blog states. Model shapes (layers, hidden size, key/value width,
expert share) are each model's published configuration, in tools/mlenergy_models.py, which the blog
figures' tool (tools/extract_mlenergy_figures.py) reads too.

    python tools/extract_mlenergy_leaderboard.py /path/to/leaderboard/public/data \\
        > src/mlfootprint/data/published_inference_leaderboard.csv
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from mlenergy_models import PROMPT_TOKENS, expert_parallel, shape_row

DATA = Path(__file__).resolve().parents[1] / "src" / "mlfootprint" / "data"
MODELS = {  # model_id prefix -> the name tools/mlenergy_models.py keeps its published configuration under
    "Qwen/Qwen3-8B": "Qwen 3 8B", "Qwen/Qwen3-14B": "Qwen 3 14B", "Qwen/Qwen3-32B": "Qwen 3 32B",
    "Qwen/Qwen3-30B-A3B": "Qwen 3 30B A3B", "Qwen/Qwen3-235B-A22B": "Qwen 3 235B A22B",
    "google/gemma-3-12b": "Gemma 3 12B", "google/gemma-3-27b": "Gemma 3 27B",
    "meta-llama/Llama-3.1-8B": "Llama 3.1 8B", "meta-llama/Llama-3.1-70B": "Llama 3.1 70B",
    "meta-llama/Llama-3.1-405B": "Llama 3.1 405B", "meta-llama/Llama-3.3-70B": "Llama 3.3 70B",
    "meta-llama/Llama-4-Scout-17B-16E": "Llama 4 Scout", "meta-llama/Llama-4-Maverick-17B-128E": "Llama 4 Maverick",
    "deepseek-ai/DeepSeek-V3.1": "DeepSeek V3.1", "deepseek-ai/DeepSeek-R1": "DeepSeek R1",
}
TASKS = {"lm-arena-chat": "text conversation", "gpqa": "problem solving"}
HARDWARE = {"H100": "h100-sxm", "B200": "b200"}
PRECISION = {"bfloat16": "bf16", "fp8": "fp8"}
COLUMNS = ("set,model,hardware,accelerators,expert_parallel,precision,software,task,batch,prompt_tokens,output_tokens,"
           "params,active_params,layers,d_model,kv_dim,expert_share,experts,attention_width,energy_j_per_token,tokens_per_s,"
           "power_w,source").split(",")


def model_name(model_id: str) -> str | None:
    return next((name for prefix, name in MODELS.items() if model_id.startswith(prefix)), None)


def main(root: Path) -> None:
    updated = json.loads((root / "index.json").read_text())["last_updated"]
    source = f"ML.ENERGY Leaderboard data (github.com/ml-energy/leaderboard public/data, last updated {updated})"
    with open(DATA / "published_inference.csv", newline="") as f:
        known = list(csv.DictReader(line for line in f if not line.startswith("#")))
    fitted = {(r["model"], r["hardware"], r["accelerators"], r["precision"]) for r in known if r["set"] == "fit"}
    held = {(r["model"], r["hardware"], r["accelerators"], r["precision"], r["task"]) for r in known if r["set"] != "fit"}
    skipped: dict[str, int] = {}
    out = []
    for task, task_name in TASKS.items():
        prompt = PROMPT_TOKENS[task_name]
        for c in json.loads((root / "tasks" / f"{task}.json").read_text())["configurations"]:
            name = model_name(c["model_id"])
            precision = PRECISION.get(c["weight_precision"])
            why = ("hybrid Mamba: its KV cache covers only the attention layers" if "Mamba" in c["architecture"]
                   else f"{c['weight_precision']} weights: no such precision in the catalogue" if precision is None
                   else "no published shape entered here" if name is None
                   else f"GPU {c['gpu_model']} not in the catalogue" if c["gpu_model"] not in HARDWARE else None)
            if why:
                skipped[f"{c['model_id']}: {why}"] = skipped.get(f"{c['model_id']}: {why}", 0) + 1
                continue
            key = (name, HARDWARE[c["gpu_model"]], str(c["num_gpus"]), precision)
            if key in fitted or key + (task_name,) in held:
                skipped[f"{name} {c['num_gpus']}x {c['gpu_model']} {precision}: already in published_inference.csv"
                        f"{' (fitted on)' if key in fitted else ''}"] = 1
                continue
            out.append({"set": "check-leaderboard", "model": name, "hardware": key[1], "accelerators": c["num_gpus"],
                        "expert_parallel": expert_parallel(name), "precision": precision,
                        "software": "vLLM (leaderboard v3)", "task": task_name,
                        "batch": max(1, round(c["avg_batch_size"])), "prompt_tokens": prompt,
                        "output_tokens": f"{c['avg_output_len']:.0f}",
                        **shape_row(name),  # type: ignore[arg-type]
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
