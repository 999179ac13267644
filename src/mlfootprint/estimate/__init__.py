"""Estimate a run that has not happened: workload -> FLOPs -> accelerator-hours -> energy -> impact."""

from .estimator import Workload, estimate
from .flops import inference_flops, training_flops

__all__ = ["Workload", "estimate", "inference_flops", "training_flops"]
