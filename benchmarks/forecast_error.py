"""Forecast error on scripted runs whose end is known, after 10 %, 25 % and 50 % of the steps.

    python benchmarks/forecast_error.py

Scenarios (tests/fakes/traces.py): steady; a slow first 2 % of steps (15×); an evaluation every
10 % of the run; power drifting up 50 % over the run. Prints the error of the projected energy and
duration, whether the truth lies in the band, and the band's width. Then the same on a real run:
the digits CNN trained for 30 epochs under mlfootprint, forecast from its own progress reports.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from mlfootprint.forecast import Forecaster  # noqa: E402
from tests.fakes.traces import SCENARIOS  # noqa: E402


def scripted() -> None:
    print(f"{'scenario':<22}{'at':>5}{'energy err':>12}{'duration err':>14}{'truth in band':>15}{'band width':>12}")
    for s in SCENARIOS:
        duration, energy = s.truth()
        for fraction in (0.10, 0.25, 0.50):
            f = Forecaster(s.steps)
            for step, t, e in s.observations():
                if step > fraction * s.steps:
                    break
                f.observe(step, t, e)
            fc = f.forecast()
            assert fc is not None
            band = fc.total_energy_j
            print(f"{s.name:<22}{fraction:>5.0%}{(band.value - energy) / energy:>+12.1%}"
                  f"{(fc.duration_s.value - duration) / duration:>+14.1%}"
                  f"{'yes' if band.low <= energy <= band.high else 'no':>15}{(band.high - band.low) / energy:>12.1%}")


def real(epochs: int = 30) -> None:
    import digits

    import mlfootprint
    from mlfootprint import impact

    logging.getLogger("mlfootprint").setLevel(logging.ERROR)
    store = str(Path(tempfile.mkdtemp()) / "f.db")
    forecasts: dict[float, tuple[float, float]] = {}
    with mlfootprint.track(project="forecast-bench", store=store, interval_s=0.25) as run:
        torch = __import__("torch")
        torch.manual_seed(0)
        x_tr, y_tr, _, _ = digits.load_data(0)
        model = digits.build_model()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(0)
        for epoch in range(epochs):
            digits.train_epoch(model, opt, x_tr, y_tr, generator=gen)
            run.progress(epoch + 1, epochs)
            fc = run.forecast()
            for at in (0.10, 0.25, 0.50):
                if fc is not None and at not in forecasts and fc.progress >= at:
                    forecasts[at] = (fc.total_energy_j.value, fc.duration_s.value)
    basis, detail = impact.energy_basis((c.method, c.kind) for c in run.record.components)  # what produced the energy, not a literal
    print(f"\nreal run: digits CNN, {epochs} epochs, {run.energy_j:.1f} J, {run.duration_s:.1f} s ({detail})")
    for at, (energy, duration) in sorted(forecasts.items()):
        print(f"  forecast at {at:.0%}: energy {(energy - run.energy_j) / run.energy_j:+.1%}, "
              f"duration {(duration - run.duration_s) / run.duration_s:+.1%}")


if __name__ == "__main__":
    scripted()
    real()
