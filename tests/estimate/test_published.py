"""from_catalogue(): a catalogue model as published, from Python as from the command line."""

from __future__ import annotations

import pytest

from mlfootprint.errors import ConfigError
from mlfootprint.estimate import PublishedEstimate, from_catalogue, place
from mlfootprint.estimate.models import catalogue
from mlfootprint.estimate.utilization import DATA
from mlfootprint.data import rows


def test_a_published_run_uses_its_hours_place_and_power() -> None:
    est = from_catalogue("llama-2-70b")
    assert isinstance(est, PublishedEstimate) and est.label == "Llama 2 70B"
    assert est.accelerator_hours == 1720320 and est.co2e_kg / 1000 == pytest.approx(291.42, rel=1e-3)
    assert est.published is not None and est.published.place_published
    size = est.published.from_params_and_tokens
    assert size is not None and size.range_note is not None and size.range_note.level == pytest.approx(0.9)
    assert size.range[0] < size.accelerator_hours < size.range[1]
    # a place the user gives wins over the published one
    france = from_catalogue("llama-2-70b", place(country="FR"))
    assert france.published is not None and france.published.co2e_difference is not None
    assert france.published.co2e_difference < -0.5


def test_a_size_of_your_own_is_estimated_not_copied() -> None:
    own = from_catalogue("llama-2-70b", tokens=4e12)
    assert own.accelerator_hours != 1720320 and own.tokens == 4e12
    assert own.range.level == pytest.approx(0.9)


def test_an_fp8_trained_run_is_estimated_as_trained() -> None:
    v3 = from_catalogue("deepseek-v3")
    size = v3.published.from_params_and_tokens if v3.published else None
    assert size is not None and size.range_note is not None
    assert any("FP8 training" in w for w in size.range_note.widened_by)
    assert any("mixture of experts" in w for w in size.range_note.widened_by)


def test_serving_a_catalogue_model_ignores_its_training_run() -> None:
    mixtral = from_catalogue("mixtral-8x7b", inference=True, hardware="h100-sxm", tokens_per_request=300, requests=10)
    assert mixtral.serving is not None and mixtral.serving.accelerators == 2  # 93 GB of weights in 70 % of 80 GB cards
    assert mixtral.published is None and "Jiang" in (mixtral.model_source or "")
    with pytest.raises(ConfigError, match="needs --tokens-per-request and --requests"):
        from_catalogue("llama-3.1-8b", inference=True)
    with pytest.raises(ConfigError, match="training tokens are not published"):
        from_catalogue("mixtral-8x7b", hardware="h100-sxm")


def test_every_published_run_is_a_model() -> None:
    names = {spec.name for spec in catalogue().values()}
    assert {r["model"] for r in rows(DATA)} <= names
    t5 = from_catalogue("t5-11b")  # TPU v3: no datasheet TDP, so the published power; published place
    assert t5.accelerator_hours == 245760 and t5.published is not None
    assert t5.published.co2e_kg == 46700 and abs(t5.published.co2e_difference or 1) < 0.01


def test_a_sweep_of_a_catalogue_model_takes_its_shape_not_its_hours() -> None:
    from mlfootprint.estimate import Request, sweep

    small, large = sweep(1e9, 1e10, 2, Request(), place(), model="llama-2-7b")
    assert small.hardware == large.hardware == "a100-80gb" and small.tokens == 2e12  # the model's hardware and tokens
    assert small.accelerator_hours < large.accelerator_hours != 184320  # estimated from each size, not published
