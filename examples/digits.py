"""Train a small CNN on scikit-learn's handwritten digits (shipped with the package: nothing is
downloaded) under mlfootprint's meter, then print where the energy went.

    python examples/digits.py [--epochs 30] [--country FR]

The training functions are importable so benchmarks measure exactly the same loop.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


@lru_cache(maxsize=4)
def load_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """8×8 digit images scaled to [0, 1], split 80/20, as (x_train, y_train, x_test, y_test)."""
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return x_tr, y_tr, x_te, y_te


def build_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10),
    )


Phase = Callable[[str], AbstractContextManager[object]]
_NO_PHASE = nullcontext()


def no_phase(_name: str) -> AbstractContextManager[object]:
    return _NO_PHASE


def augment(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Data preparation: a random shift of up to one pixel and a little noise."""
    shift = int(torch.randint(-1, 2, (1,), generator=generator))
    return torch.roll(images, shifts=shift, dims=3) + 0.02 * torch.randn(images.shape, generator=generator)


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                batch_size: int = 64, generator: torch.Generator | None = None, phase: Phase = no_phase,
                count: Callable[[int], None] | None = None) -> float:
    model.train()
    order = torch.randperm(len(x), generator=generator)
    loss_fn = nn.CrossEntropyLoss()
    total = 0.0
    for start in range(0, len(x), batch_size):
        with phase("data"):
            idx = order[start:start + batch_size]
            xb, yb = augment(x[idx], generator), y[idx]
        with phase("forward"):
            loss = loss_fn(model(xb), yb)
        with phase("backward"):
            opt.zero_grad()
            loss.backward()
        with phase("optimizer"):
            opt.step()
        total += loss.item() * len(idx)
        if count:
            count(len(idx))
    return total / len(x)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


def train(epochs: int, seed: int = 0, run: object | None = None) -> tuple[nn.Module, float, float]:
    """The whole run: returns the model, its test accuracy and its train accuracy.

    With an mlfootprint run, each step is split into data / forward / backward / optimizer phases,
    evaluation is its own phase, samples are counted and both accuracies are logged.
    """
    phase: Phase = run.phase if run is not None else no_phase  # type: ignore[attr-defined]
    count = (lambda n: run.count(samples=n)) if run is not None else None  # type: ignore[attr-defined]
    torch.manual_seed(seed)
    with phase("setup"):  # the first Adam() in a process costs ~1.8 s of lazy imports in torch 2.13
        x_tr, y_tr, x_te, y_te = load_data(seed)
        model = build_model()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        train_epoch(model, opt, x_tr, y_tr, generator=gen, phase=phase, count=count)
    with phase("evaluation"):
        test_acc, train_acc = accuracy(model, x_te, y_te), accuracy(model, x_tr, y_tr)
    if run is not None:
        run.log_metrics(accuracy=test_acc, train_accuracy=train_acc)  # type: ignore[attr-defined]
    return model, test_acc, train_acc


# -- the protocol `mlfootprint reduce examples/digits.py` uses ----------------------------------------
REDUCE_EPOCHS = 8


def train_trial(setup):  # type: ignore[no-untyped-def]
    """One trial of a reduction experiment: train with the knobs in `setup`, yield after each epoch."""
    torch.manual_seed(setup.seed)
    x_tr, y_tr, _, _ = load_data(0)  # the same split for every trial; the seed varies the training
    x_tr, y_tr = setup.reduce_data(x_tr, y_tr)
    model = build_model()
    if "freeze" in setup.extras:  # a user strategy (README example): keep this layer's initial weights
        model[int(setup.extras["freeze"])].requires_grad_(False)
    opt = setup.make_optimizer([p for p in model.parameters() if p.requires_grad], default="adam", lr=1e-3)
    batch_size = setup.batch_size or 64
    epochs = setup.epochs or REDUCE_EPOCHS
    steps_per_epoch = -(-len(x_tr) // batch_size)
    scheduler = setup.make_scheduler(opt, epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(setup.seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen)
        for start in range(0, len(x_tr), batch_size):
            idx = order[start:start + batch_size]
            with setup.autocast():
                loss = loss_fn(model(augment(x_tr[idx], gen)), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
        yield model


def evaluate(model: nn.Module) -> dict[str, float]:
    _, _, x_te, y_te = load_data(0)
    return {"accuracy": accuracy(model, x_te, y_te)}


@torch.no_grad()
def predict(model: nn.Module) -> int:
    """Classify the test set once; returns how many predictions were made."""
    model.eval()
    _, _, x_te, _ = load_data(0)
    model(x_te).argmax(1)
    return len(x_te)


def main() -> None:
    import mlfootprint
    from mlfootprint.report.terminal import print_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--country", default=None, help="ISO code where this runs, e.g. FR (default: MLFOOTPRINT_COUNTRY)")
    parser.add_argument("--project", default="digits-demo")
    parser.add_argument("--report", default="footprint-report.html", help="HTML report to write ('' for none)")
    args = parser.parse_args()

    print(f"training a CNN on scikit-learn digits for {args.epochs} epochs on {torch.get_num_threads()} CPU threads…")
    t0 = time.perf_counter()
    with mlfootprint.track(project=args.project, country=args.country) as run:
        _, test_acc, train_acc = train(args.epochs, run=run)
    print(f"done in {time.perf_counter() - t0:.1f} s: test accuracy {test_acc:.1%}, train accuracy {train_acc:.1%}\n")
    print_run(run.record, show_warnings=False)
    if args.report:
        from mlfootprint.report import write_report
        from mlfootprint.report.terminal import command_hint
        from mlfootprint.store import open_store

        run.wait_stored(30)
        path = write_report(open_store(run.store_url), run.id, args.report)
        print(f"report: {path} — open it in a browser (file://{path.resolve()}); "
              f"all runs: `{command_hint(run.record, 'dashboard')}`, then http://127.0.0.1:8765/")


if __name__ == "__main__":
    main()
