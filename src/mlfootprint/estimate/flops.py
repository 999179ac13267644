"""How many floating-point operations a workload needs.

Training a dense transformer costs 6 FLOPs per parameter per token (2 forward, 4 backward), plus the
attention scores when the sequence length and shape are known: 12 x layers x d_model x seq_len per
token (Chowdhery et al. 2022, PaLM, Appendix B; the same count the MFU figures we cite use).
A mixture of experts is charged for the parameters active per token. Inference costs the forward
pass only: 2 FLOPs per active parameter per token, plus 4 x layers x d_model x context.
"""

from __future__ import annotations


def training_flops(params: float, tokens: float, *, active_params: float | None = None, layers: int | None = None,
                   d_model: int | None = None, seq_len: int | None = None) -> float:
    per_token = 6 * (active_params or params)
    if layers and d_model and seq_len:
        per_token += 12 * layers * d_model * seq_len
    return per_token * tokens


def inference_flops(params: float, tokens: float, *, active_params: float | None = None, layers: int | None = None,
                    d_model: int | None = None, context: int | None = None) -> float:
    per_token = 2 * (active_params or params)
    if layers and d_model and context:
        per_token += 4 * layers * d_model * context
    return per_token * tokens
