"""What both ML.ENERGY extraction tools (extract_mlenergy_figures.py, extract_mlenergy_leaderboard.py)
need about the models and tasks they read: each model's published configuration, in one place.

Shape: parameters, active parameters (a mixture of experts; None for a dense model), layers, hidden
size, key/value width (KV heads x head dim), expert share (routed experts per token / routed experts),
routed experts per layer, and attention width (query heads x head dim: what a decoding step's attention
scores and weighted sum run over, per token of context). Each from the model's published config.json.
DeepSeek's multi-head latent attention caches a 512-wide latent and a 64-wide RoPE key per layer and
token, 576 values, entered as a key/value width of 288 (the serving model counts keys and values); decoded
with the up-projections absorbed, each of its 128 heads scores 576 values and sums 512 per context token,
an attention width of 128 x (576 + 512) / 2 = 69,632.

Deployment: every mixture of experts in the ML.ENERGY benchmark runs with vLLM's expert parallelism (the
configs under configs/vllm/ in github.com/ml-energy/benchmark set enable-expert-parallel: true), so its
rows say expert_parallel 1 (`expert_parallel` below).
"""

from __future__ import annotations

from typing import NamedTuple


class Shape(NamedTuple):
    params: float
    active: float | None
    layers: int
    d_model: int
    kv_dim: int
    expert_share: float | None
    experts: int | None
    attention_width: int


SHAPES: dict[str, Shape] = {
    "Llama 3.1 8B": Shape(8.03e9, None, 32, 4096, 1024, None, None, 4096),
    "Llama 3.1 70B": Shape(70.6e9, None, 80, 8192, 1024, None, None, 8192),
    "Llama 3.1 405B": Shape(405.9e9, None, 126, 16384, 1024, None, None, 16384),
    "Llama 3.3 70B": Shape(70.6e9, None, 80, 8192, 1024, None, None, 8192),
    "Llama 4 Scout": Shape(109e9, 17e9, 48, 5120, 1024, 1 / 16, 16, 5120),
    "Llama 4 Maverick": Shape(400e9, 17e9, 48, 5120, 1024, 1 / 128, 128, 5120),
    "Qwen 3 8B": Shape(8.19e9, None, 36, 4096, 1024, None, None, 4096),
    "Qwen 3 14B": Shape(14.8e9, None, 40, 5120, 1024, None, None, 5120),
    "Qwen 3 32B": Shape(32.8e9, None, 64, 5120, 1024, None, None, 8192),
    "Qwen 3 30B A3B": Shape(30.5e9, 3.3e9, 48, 2048, 512, 8 / 128, 128, 4096),
    "Qwen 3 235B A22B": Shape(235.1e9, 22.2e9, 94, 4096, 512, 8 / 128, 128, 8192),
    "Gemma 3 12B": Shape(12.2e9, None, 48, 3840, 2048, None, None, 4096),
    "Gemma 3 27B": Shape(27.4e9, None, 62, 5376, 2048, None, None, 4096),
    "DeepSeek V3.1": Shape(671e9, 37e9, 61, 7168, 288, 8 / 256, 256, 69632),
    "DeepSeek R1": Shape(671e9, 37e9, 61, 7168, 288, 8 / 256, 256, 69632),
}

# prompt tokens per request: the task means the ML.ENERGY blog states (its posts give no per-model lengths)
PROMPT_TOKENS = {"text conversation": 224, "problem solving": 634}


def shape_row(model: str) -> dict[str, str]:
    """The CSV cells of a model's configuration, by column name."""
    s = SHAPES[model]
    return {"params": f"{s.params:.4g}", "active_params": "" if s.active is None else f"{s.active:.3g}",
            "layers": str(s.layers), "d_model": str(s.d_model), "kv_dim": str(s.kv_dim),
            "expert_share": "" if s.expert_share is None else f"{s.expert_share:.4g}",
            "experts": "" if s.experts is None else str(s.experts), "attention_width": str(s.attention_width)}


def expert_parallel(model: str) -> str:
    """The expert_parallel cell of a row of `model` in the ML.ENERGY benchmark: 1 for a mixture of experts."""
    return "1" if SHAPES[model].active is not None else ""


def shape_cells(model: str) -> str:
    """The same cells, comma-joined in the data files' column order."""
    return ",".join(shape_row(model).values())
