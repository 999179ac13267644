"""Scripted training runs whose end is known: step times, power, evaluations, sampled like the meter.

Each scenario yields observations (steps done, t_s, energy_j) once a second, and the true total
duration and energy, so a forecast made after any fraction can be scored exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: int = 2000
    step_s: float = 0.05
    power_w: float = 300.0
    warmup_steps: int = 0  # these take `warmup_factor` × longer (compilation, caches)
    warmup_factor: float = 1.0
    eval_every: int = 0  # an evaluation every this many steps (0: none)
    eval_s: float = 0.0
    eval_power_w: float = 150.0
    drift: float = 0.0  # power grows linearly by this fraction over the run

    def segments(self) -> list[tuple[float, float, int]]:
        """(duration_s, power_w, steps completed at its end) for every step and evaluation."""
        out = []
        for i in range(self.steps):
            slow = self.warmup_factor if i < self.warmup_steps else 1.0
            out.append((self.step_s * slow, self.power_w * (1 + self.drift * i / self.steps), 1))
            if self.eval_every and (i + 1) % self.eval_every == 0 and i + 1 < self.steps:
                out.append((self.eval_s, self.eval_power_w, 0))
        return out

    def truth(self) -> tuple[float, float]:
        segs = self.segments()
        return sum(d for d, _, _ in segs), sum(d * p for d, p, _ in segs)

    def observations(self, every_s: float = 1.0) -> list[tuple[float, float, float]]:
        """What the sampler sees: the steps done, the time and the energy, every `every_s`."""
        obs, t, e, steps, next_t = [], 0.0, 0.0, 0, every_s
        for duration, power, done in self.segments():
            end = t + duration
            while next_t <= end:  # samples inside this segment: steps not yet done
                obs.append((float(steps), next_t, e + power * (next_t - t)))
                next_t += every_s
            t, e, steps = end, e + power * duration, steps + done
        obs.append((float(steps), t, e))
        return obs


SCENARIOS = [
    Scenario("steady"),
    Scenario("warm-up", warmup_steps=40, warmup_factor=15.0),
    Scenario("periodic evaluation", eval_every=200, eval_s=4.0),
    Scenario("drift", drift=0.5),
]
