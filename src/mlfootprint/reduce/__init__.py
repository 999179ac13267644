"""Reduce the footprint without losing quality: strategy experiments on your own workload.

    from mlfootprint.reduce import Experiment, strategies as s
    exp = Experiment(train_fn, eval_fn, target={"accuracy": 0.95}, budget_s=600)
    result = exp.run([s.baseline(), s.mixed_precision("bf16"), s.batch_size(32, 128, 512)])
    result.table(); result.pareto_plot("pareto.png"); print(result.recommendation())
"""

from . import strategies
from .experiment import Experiment, Trial
from .result import Result
from .setup import Setup
from .strategies import Strategy, StrategyUnavailable

__all__ = ["Experiment", "Result", "Setup", "Strategy", "StrategyUnavailable", "Trial", "strategies"]
