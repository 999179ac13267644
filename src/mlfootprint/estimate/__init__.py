"""Estimate a run that has not happened: workload -> FLOPs or decode steps -> accelerator-hours -> energy -> impact.

The public surface: `estimate(workload, place)` for a request of one of the three types (training from
parameters and tokens, known accelerator-hours, serving on the decode roofline); `from_catalogue(model,
...)` for a catalogue model as published, its figures beside the estimate; `Request` and `workload()`
for the command line's vocabulary; `serving_config()` for a model's checked serving shape; `sweep()` for a
range of sizes; `place()` for the factors of a location. Every result is an `Estimate` whose `range` says
its nominal level and what widened it.
"""

from .estimator import estimate
from .flops import inference_flops, training_flops
from .inference import Model
from .place import place
from .published import from_catalogue
from .request import Request, serving_config, workload
from .sweep import MAX_SWEEP_POINTS, sweep
from .result import Assumption, Estimate, FromSize, PublishedComparison, PublishedEstimate, RangeNote, ServingFigures
from .workload import HoursWorkload, ServingWorkload, TrainingWorkload, Workload

__all__ = ["Assumption", "Estimate", "FromSize", "HoursWorkload", "MAX_SWEEP_POINTS", "Model", "PublishedComparison",
           "PublishedEstimate", "RangeNote", "Request", "ServingFigures", "ServingWorkload", "TrainingWorkload",
           "Workload", "estimate", "from_catalogue", "inference_flops", "place", "serving_config", "sweep",
           "training_flops", "workload"]
