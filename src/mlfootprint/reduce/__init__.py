"""Reduce the footprint without losing quality: strategy experiments on your own workload.

    from mlfootprint.reduce import Experiment, strategies as s
    from mlfootprint.report.pareto import write_pareto_plot
    from mlfootprint.report.reduce_view import print_result

    exp = Experiment(train_fn, eval_fn, target={"accuracy": 0.95}, budget_s=600)
    result = exp.run([s.baseline(), s.mixed_precision("bf16"), s.batch_size(32, 128, 512)])
    print_result(result); write_pareto_plot(result.reports, "pareto.png"); print(result.recommendation())
"""

from . import strategies
from .design import Design
from .experiment import Experiment
from .result import Result, StrategyReport
from .summary import summarize
from .setup import TYPICAL_LR, Setup
from .strategies import Region, Strategy, StrategyUnavailable
from .trial import Trial
from .verdict import Verdict

__all__ = ["Design", "Experiment", "Region", "Result", "Setup", "Strategy", "StrategyReport", "StrategyUnavailable",
           "TYPICAL_LR", "Trial", "Verdict", "strategies", "summarize"]
