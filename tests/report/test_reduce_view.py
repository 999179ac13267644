"""The terminal view of a reduce result: the verdicts' numbers, and user text shown as text."""

from __future__ import annotations

from rich.console import Console

from mlfootprint.reduce import Design, Strategy, Trial, strategies as s, summarize
from mlfootprint.report.reduce_view import print_result


def test_the_table_shows_each_change_with_its_interval_and_every_verdict() -> None:
    strategies = [s.baseline()]
    odd = Strategy()
    odd.name = "[red]x[/red]"  # a user's strategy name that looks like rich markup
    strategies.append(odd)
    trials = [Trial("baseline", "training", i, energy_j=100.0 + i, quality={"accuracy": 0.96}, duration_s=1.0)
              for i in range(3)]
    trials += [Trial(odd.name, "training", i, energy_j=70.0 + i, quality={"accuracy": 0.96}, duration_s=1.0)
               for i in range(3)]
    result = summarize(Design({"accuracy": 0.9}), strategies, trials)
    console = Console(record=True, width=200)
    print_result(result, console)
    text = console.export_text()
    report = result.report(odd.name)
    assert "[red]x[/red]" in text, "the name is shown as typed, not read as markup"
    assert f"✓ [red]x[/red]: {report.verdict}" in text
    c = report.change_range
    assert c is not None and f"{c.value * 100:+.0f}% [{c.low * 100:+.0f}%, {c.high * 100:+.0f}%]" in text
    assert "note: intervals:" in text
