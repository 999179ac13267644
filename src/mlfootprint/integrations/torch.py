"""Phases for a plain PyTorch loop without editing it: hooks on the model, optimizer and loader.

    with mlfootprint.track(project="x") as run:
        hooks = instrument(run, model, optimizer)
        for batch in instrument_loader(run, loader):      # "data": waiting for the next batch
            loss = loss_fn(model(batch.x), batch.y)        # "forward" (pre/post forward hooks)
            loss.backward()                                # "backward": from the output's gradient
            optimizer.step(); optimizer.zero_grad()        #   to the last parameter's; "optimizer"
        hooks.remove()

In eval mode the model's forward is recorded as "inference". Backward is bracketed by a hook on the
model output's gradient (start) and a multi-grad hook over the trainable parameters (end), so the
loss function's own backward, which is tiny, falls just outside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.autograd.graph import register_multi_grad_hook


class Instrumentation:
    """The hook handles; `remove()` detaches them all."""

    def __init__(self) -> None:
        self.handles: list[Any] = []

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()


def instrument(run: Any, model: nn.Module | None = None, optimizer: torch.optim.Optimizer | None = None) -> Instrumentation:
    hooks = Instrumentation()
    if model is not None:
        _hook_model(run, model, hooks)
    if optimizer is not None:
        hooks.handles.append(optimizer.register_step_pre_hook(lambda *_: run.phase_enter("optimizer")))
        hooks.handles.append(optimizer.register_step_post_hook(lambda *_: run.phase_exit("optimizer")))
    return hooks


def _hook_model(run: Any, model: nn.Module, hooks: Instrumentation) -> None:
    state = {"in_backward": False}

    def pre_forward(module: nn.Module, _args: Any) -> None:
        run.phase_enter("forward" if module.training else "inference")

    def post_forward(module: nn.Module, _args: Any, output: Any) -> None:
        run.phase_exit("forward" if module.training else "inference")
        if module.training and torch.is_grad_enabled():
            tensor = _first_tensor_needing_grad(output)
            if tensor is not None:
                tensor.register_hook(start_backward)

    def start_backward(grad: torch.Tensor) -> None:
        if not state["in_backward"]:
            state["in_backward"] = True
            run.phase_enter("backward")

    def end_backward(_grads: Any) -> None:
        if state["in_backward"]:
            state["in_backward"] = False
            run.phase_exit("backward")

    hooks.handles.append(model.register_forward_pre_hook(pre_forward))
    hooks.handles.append(model.register_forward_hook(post_forward))
    params = [p for p in model.parameters() if p.requires_grad]
    if params:
        hooks.handles.append(register_multi_grad_hook(params, end_backward, mode="all"))


def _first_tensor_needing_grad(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output if output.requires_grad else None
    values = output.values() if isinstance(output, dict) else output if isinstance(output, (list, tuple)) else ()
    for value in values:
        found = _first_tensor_needing_grad(value)
        if found is not None:
            return found
    return None


class instrument_loader:
    """Iterate `loader`, charging the wait for each batch to `phase` ("data" by default)."""

    def __init__(self, run: Any, loader: Iterable[Any], phase: str = "data") -> None:
        self.run, self.loader, self.phase = run, loader, phase

    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self.loader)
        while True:
            self.run.phase_enter(self.phase)
            try:
                batch = next(iterator)
            except StopIteration:
                return
            finally:
                self.run.phase_exit(self.phase)
            yield batch

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]
