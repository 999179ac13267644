"""FLOP counts of training and inference (estimate/flops.py)."""

from __future__ import annotations

import pytest

from mlfootprint.estimate import inference_flops, training_flops


def test_flop_counts() -> None:
    assert training_flops(7e9, 1e12) == pytest.approx(6 * 7e9 * 1e12)
    # attention term: 12 x layers x d_model x seq_len per token
    assert training_flops(7e9, 1e12, layers=32, d_model=4096, seq_len=4096) == pytest.approx(
        (6 * 7e9 + 12 * 32 * 4096 * 4096) * 1e12)
    assert training_flops(46.7e9, 1e12, active_params=12.9e9) == pytest.approx(6 * 12.9e9 * 1e12)
    assert inference_flops(7e9, 500) == pytest.approx(2 * 7e9 * 500)
    assert inference_flops(7e9, 500, layers=32, d_model=4096, context=1000) == pytest.approx(
        (2 * 7e9 + 4 * 32 * 4096 * 1000) * 500)
