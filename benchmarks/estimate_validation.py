"""Estimates against published training footprints: per-model error and the mean absolute error.

    python benchmarks/estimate_validation.py [path/to/published_training_footprints.csv]

Reads tests/data/published_training_footprints.csv (a copy of shared/data/) by default. Two paths per
model: from the published accelerator-hours (our datasheet power), and from parameters and tokens
alone (6 N D, the hardware family's cited MFU). Goals: <= 10 % and <= 30 % mean absolute error.
Then a check outside that file: Llama 3 (Meta's model card hours), from parameters and tokens.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlfootprint.estimate import Workload, estimate
from mlfootprint.estimate.models import get
from mlfootprint.estimate.validation import compare, mape, published_place, table

path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "tests/data/published_training_footprints.csv"
results = compare(path)
print(table(results))
print(f"goal hours <= 10%: {'met' if mape(results, 'hours') <= 0.10 else 'MISSED'}; "
      f"goal flops <= 30%: {'met' if mape(results, 'flops') <= 0.30 else 'MISSED'}")
print("\noutside the file (Meta's Llama 3 model card: H100-80GB hours; 15T tokens):")
for key in ("llama-3-8b", "llama-3-70b"):
    spec = get(key)
    est = estimate(Workload(hardware=spec.hardware, params=spec.params, tokens=spec.tokens), published_place(1.0, 0.4))
    print(f"  {spec.name}: estimated {est['accelerator_hours']:,.0f} h vs published {spec.hours:,.0f} h "
          f"({(est['accelerator_hours'] - spec.hours) / spec.hours:+.1%})")
