"""Strategies: each applies one change to a trial, through a small protocol users can implement.

    class Strategy:
        name: str                          # shown in tables, unique in an experiment
        kind: str                          # "training", "inference" or "environment"
        affects_inference: bool            # measure inference energy in every round (default: kind != "training")
        def configure(self, setup): ...    # set knobs before training
        def context(self): ...             # wrap the whole trial (threads, power limit)
        def after_training(self, model): ...  # change the trained model (prune, quantize)

Subclass `Strategy` and override what you need (see the README for an example). Constructors that
take several values (`batch_size(32, 128, 512)`) return one strategy per value.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from ..errors import MlfootprintError
from .setup import OPTIMIZERS, PRECISIONS, SCHEDULES, Setup

log = logging.getLogger("mlfootprint")


class StrategyUnavailable(MlfootprintError):
    """This strategy cannot run here (no GPU, no privileges): the trial is skipped with the reason."""


class Strategy:
    name = "strategy"
    kind = "training"
    # Whether the served model's energy per prediction can differ from the baseline's: inference
    # energy is then measured in every round. A training strategy leaves the model the script builds,
    # so its inference is measured once, in the first round, for the table (set True for a strategy
    # that changes the architecture, e.g. a smaller model).
    affects_inference: bool | None = None

    def measures_inference(self) -> bool:
        return self.affects_inference if self.affects_inference is not None else self.kind != "training"

    def configure(self, setup: Setup) -> None:
        pass

    def context(self) -> AbstractContextManager[object]:
        return nullcontext()

    def after_training(self, model: Any) -> Any:
        return model

    def knobs(self) -> frozenset[str]:
        """What this strategy changes; two strategies changing the same thing cannot be combined."""
        return frozenset({type(self).__name__})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class _Knob(Strategy):
    def __init__(self, name: str, **knobs: Any) -> None:
        self.name, self._knobs = name, knobs

    def configure(self, setup: Setup) -> None:
        for key, value in self._knobs.items():
            setattr(setup, key, value)

    def knobs(self) -> frozenset[str]:
        return frozenset(self._knobs)


class Combined(Strategy):
    """Several strategies applied together, e.g. bf16 + batch 128."""

    def __init__(self, *parts: Strategy) -> None:
        self.parts = parts
        self.name = " + ".join(p.name for p in parts)
        kinds = {p.kind for p in parts}
        self.kind = "training" if "training" in kinds else kinds.pop()

    def configure(self, setup: Setup) -> None:
        for p in self.parts:
            p.configure(setup)

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for p in self.parts:
                stack.enter_context(p.context())
            yield

    def after_training(self, model: Any) -> Any:
        for p in self.parts:
            model = p.after_training(model)
        return model

    def knobs(self) -> frozenset[str]:
        return frozenset().union(*(p.knobs() for p in self.parts))

    def measures_inference(self) -> bool:
        return any(p.measures_inference() for p in self.parts)


def baseline() -> Strategy:
    return _Knob("baseline")


def combine(*parts: Strategy) -> Strategy:
    seen: set[str] = set()
    for p in parts:
        if p.knobs() & seen:
            raise ValueError(f"cannot combine strategies that change the same thing: {', '.join(q.name for q in parts)}")
        seen |= p.knobs()
    return Combined(*parts)


def _check(value: Any, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}: expected one of {', '.join(allowed)}")


def mixed_precision(*precisions: str) -> list[Strategy]:
    """Autocast training in bf16 (works on CPU) or fp16 (GPU)."""
    for p in precisions:
        _check(p, PRECISIONS, "precision")
    return [_Knob(p, precision=p) for p in precisions or ("bf16",)]


def batch_size(*sizes: int) -> list[Strategy]:
    for size in sizes:
        if int(size) < 1:
            raise ValueError(f"batch size must be a positive integer, got {size!r}")
    return [_Knob(f"batch {int(b)}", batch_size=int(b)) for b in sizes]


def optimizer(*names: str, lr: dict[str, float] | None = None) -> list[Strategy]:
    """Train with another optimizer, at a learning rate that suits it: `lr` ({"sgd": 0.05}) where you
    know one, else the script's `make_optimizer(lr_by_optimizer=...)`, else the documented typical
    value (setup.TYPICAL_LR). A verdict on an optimizer is a verdict at that learning rate: it says so."""
    for n in names:
        _check(n, OPTIMIZERS, "optimizer")
    for n, value in (lr or {}).items():
        _check(n, OPTIMIZERS, "optimizer")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 100:
            raise ValueError(f"learning rate for {n} must be a number between 0 and 100, got {value!r}")
    return [_Knob(n, optimizer=n, lr=float(lr[n])) if lr and n in lr else _Knob(n, optimizer=n) for n in names]


def lr_schedule(*names: str) -> list[Strategy]:
    for n in names:
        _check(n, SCHEDULES, "lr schedule")
    return [_Knob(f"lr {n}", lr_schedule=n) for n in names]


def data_fraction(*fractions: float) -> list[Strategy]:
    """Train on a random subsample of the training data."""
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"data fraction must be in (0, 1], got {f!r}")
    return [_Knob(f"data {f:.0%}", data_fraction=float(f)) for f in fractions]


def deduplicate() -> Strategy:
    """Drop exact duplicate training examples."""
    return _Knob("deduplicated data", deduplicate=True)


class _Threads(Strategy):
    kind = "environment"  # threads change inference as much as training: measured in every round

    def __init__(self, n: int) -> None:
        self.n, self.name = n, f"{n} thread{'s' if n != 1 else ''}"

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def threads(*counts: int) -> list[Strategy]:
    """Intra-op CPU threads for PyTorch during the trial."""
    for n in counts:
        if int(n) < 1:
            raise ValueError(f"thread count must be a positive integer, got {n!r}")
    return [_Threads(int(n)) for n in counts]


class _Prune(Strategy):
    kind = "inference"

    def __init__(self, amount: float, structured: bool) -> None:
        self.amount, self.structured = amount, structured
        self.name = f"prune {amount:.0%}" + (" structured" if structured else "")

    def after_training(self, model: Any) -> Any:
        import torch.nn.utils.prune as prune
        from torch import nn

        layers = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        if self.structured:  # whole output channels / rows by L2 norm, layer by layer
            for module, name in layers:
                prune.ln_structured(module, name, amount=self.amount, n=2, dim=0)
        else:  # smallest weights across the whole model
            prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=self.amount)
        for module, name in layers:
            prune.remove(module, name)
        return model


def prune(*amounts: float, structured: bool = False) -> list[Strategy]:
    """Prune the trained model (torch.nn.utils.prune), no fine-tuning: shows the quality cost."""
    for a in amounts:
        if not 0 < a < 1:
            raise ValueError(f"prune amount must be in (0, 1), got {a!r}")
    return [_Prune(float(a), structured) for a in amounts or (0.5,)]


class _QuantizeDynamic(Strategy):
    kind = "inference"
    name = "dynamic int8"

    def after_training(self, model: Any) -> Any:
        import warnings

        import torch
        from torch import nn

        with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            return quantize_dynamic(model.cpu(), {nn.Linear}, dtype=torch.qint8)


def quantize_dynamic(dtype: str = "int8") -> Strategy:
    """Dynamic int8 quantization of Linear layers for CPU inference (torch.ao)."""
    if dtype != "int8":
        raise ValueError(f"dynamic quantization supports int8 only, got {dtype!r}")
    return _QuantizeDynamic()


class _PowerLimit(Strategy):
    kind = "environment"

    def __init__(self, fraction: float) -> None:
        self.fraction, self.name = fraction, f"GPU power limit {fraction:.0%}"

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """Cap the GPUs this process may use (as the sensors see them: CUDA_VISIBLE_DEVICES, or
        ROCR/HIP_VISIBLE_DEVICES) at a fraction of their default limit, through the sensor layer's
        power-limit API, and put back what they had after the trial."""
        from ..sensors.gpu import GpuControlError, GpuPermissionError

        sensor = visible_gpu_sensor()
        try:
            limits = sensor.power_limits_w()
            sensor.set_power_limit_w({p.index: min(p.max_w, max(p.min_w, p.default_w * self.fraction)) for p in limits})
        except GpuControlError as exc:
            try:
                sensor.reset_power_limit()  # a GPU capped before another refused
            except GpuControlError:
                pass
            why = "needs root" if isinstance(exc, GpuPermissionError) else "cannot be set here"
            raise StrategyUnavailable(f"the GPU power limit {why}: {exc}") from None
        try:
            yield
        finally:
            try:
                sensor.reset_power_limit()
            except GpuControlError as exc:
                log.warning("mlfootprint: %s; the GPU keeps the trial's power limit", exc)


def visible_gpu_sensor() -> Any:
    """The GPU sensor of the GPUs this process may use (NVML, else AMD SMI); StrategyUnavailable if none."""
    from ..sensors import AmdSmiSensor, NvmlSensor, amd_driver_present, nvidia_driver_present

    tried = []
    if nvidia_driver_present():
        sensor, _ = NvmlSensor.discover()
        if sensor is not None:
            return sensor
        tried.append("NVML")
    if amd_driver_present():
        amd, _ = AmdSmiSensor.discover()
        if amd is not None:
            return amd
        tried.append("AMD SMI")
    raise StrategyUnavailable("no GPU visible to this process" + (f" ({' and '.join(tried)} found none)" if tried else
                                                                   " (no NVIDIA or AMD GPU driver)"))


def power_limit(*fractions: float) -> list[Strategy]:
    """Cap the GPUs this process can see (CUDA_VISIBLE_DEVICES) at a fraction of their default power
    limit during the trial (NVML); other users' GPUs on the node are left alone."""
    for f in fractions:
        if not 0.1 <= f <= 1.0:
            raise ValueError(f"power limit fraction must be in [0.1, 1.0], got {f!r}")
    return [_PowerLimit(float(f)) for f in fractions]


class Region(Strategy):
    """Run the same training elsewhere: the baseline's measured energy, that place's grid intensity.
    Nothing is run for it: the experiment costs the baseline's trials there."""

    kind = "environment"

    def __init__(self, where: str) -> None:
        from ..grid import resolve_place

        self.location = resolve_place(where)
        self.name = f"run in {self.location.region or self.location.country}"
        self.basis = self.location.basis


def region(*where: str) -> list[Strategy]:
    """Carbon-aware placement: baseline energy re-costed at each candidate's grid intensity
    (country or zone codes, or cloud regions such as gcp:europe-north1)."""
    return [Region(w) for w in where]
