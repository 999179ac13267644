"""`reduce` on the digits CNN, through the library and through the command line: real trials, real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mlfootprint.reduce import Experiment, strategies as s  # noqa: E402
from mlfootprint.reduce.verdict import pct  # noqa: E402
from tests.reduce.test_strategies import EXAMPLES, FreezeFirstConv, digits  # noqa: E402


@pytest.mark.slow
def test_experiment_on_digits_end_to_end(isolated_env: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console

    from mlfootprint.report.pareto import write_pareto_plot
    from mlfootprint.report.reduce_view import print_result
    from mlfootprint.store import open_store

    exp = Experiment(digits.train_trial, digits.evaluate, predict_fn=digits.predict, target={"accuracy": 0.9},
                     repeats=2, reruns=0, epochs=2, inference_s=0.2, budget_s=300, country="FR")
    result = exp.run([s.batch_size(128), s.quantize_dynamic(), s.threads(1), s.data_fraction(0.5),
                      FreezeFirstConv(), s.power_limit(0.7), s.region("SE")])
    by_name = {r["strategy"]: r for r in result.records()}
    assert set(by_name) == {"baseline", "batch 128", "dynamic int8", "1 thread", "data 50%", "freeze first conv",
                            "GPU power limit 70%", "run in SE"}
    assert by_name["GPU power limit 70%"]["energy_j"] is None and "skipped" in by_name["GPU power limit 70%"]["verdict"]
    base = by_name["baseline"]
    assert base["repeats"] == 2 and base["energy_j"] > 0 and 0.8 < base["quality"]["accuracy"] <= 1.0
    assert base["inference_j_per_1000"] > 0
    assert by_name["run in SE"]["energy_j"] == base["energy_j"] and by_name["run in SE"]["co2e_kg"] < base["co2e_kg"]
    assert "Sweden" in by_name["run in SE"]["verdict"]
    compared = {n: r for n, r in by_name.items() if r["change"] is not None}
    assert "batch 128" in compared and "baseline" not in compared
    assert all(r["verdict"].startswith(pct(r["change"])) for r in compared.values()), "the change the verdict states"
    trials = [t for t in result.trials if t.ran]
    assert all(t.epochs == 2 and t.run_id for t in trials)
    # one experiment: the trials keep the user's project, and each run's settings say which trial it was
    store = open_store(str(isolated_env))
    stored = [store.get_run(t.run_id) for t in trials[:3]]  # type: ignore[arg-type]
    assert {r.project for r in stored} == {"default"}
    assert {r.settings["reduce_experiment"].value for r in stored} == {exp.id}
    assert {r.settings["reduce_strategy"].value for r in stored} <= set(by_name)
    # one entry in `runs`: the experiment, with its trials under it and their energy counted once
    assert {(r.kind, r.parent_id) for r in stored} == {("trial", exp.id)}
    listed = store.list_runs(top_level_only=True)
    assert [(r.id, r.kind) for r in listed] == [(exp.id, "experiment")] and listed[0].energy_j == 0
    inner = store.child_totals([exp.id])[exp.id]
    stored_ids = {t.run_id for t in result.trials if t.run_id}  # a strategy skipped before its run has none
    assert inner.children == len(stored_ids) and inner.energy_j == pytest.approx(
        sum(store.get_run(i).energy_j for i in stored_ids))
    print_result(result, Console(width=160))
    out = capsys.readouterr().out
    assert "baseline" in out and "dynamic int8" in out and "J/1k pred" in out
    assert write_pareto_plot(result.reports, str(tmp_path / "pareto.png")) is not None
    recommended = [r.strategy for r in result.reports if r.recommended]
    text = result.recommendation()
    assert all(f"  {n}: " in text for n in recommended), "every recommendable strategy is in the recommendation"
    assert text.startswith("Recommended on this workload" if recommended else "No change is recommended")


def test_reduce_cli(isolated_env: Path, tmp_path: Path) -> None:
    script = tmp_path / "tiny.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(EXAMPLES)!r})\n"
                      "import digits\ndigits.REDUCE_EPOCHS = 1\n"
                      "from digits import train_trial, evaluate\n")
    env = dict(os.environ, COLUMNS="120")
    run = subprocess.run([sys.executable, "-m", "mlfootprint", "reduce", str(script), "--strategies", "batch,region:SE",
                          "--target", "accuracy=0.5", "--repeats", "1", "--json-file", str(tmp_path / "r.json"),
                          "--plot", str(tmp_path / "p.png")], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "batch 512" in run.stdout and "run in SE" in run.stdout
    records = json.loads((tmp_path / "r.json").read_text())
    assert {r["strategy"] for r in records} >= {"baseline", "batch 32", "batch 128", "batch 512", "run in SE"}
    assert (tmp_path / "p.png").stat().st_size > 0
    for args, message in ((["--strategies", "warp-drive"], "unknown strategy 'warp-drive'"),
                          (["--target", "accuracy"], "invalid target 'accuracy'"),
                          (["--strategies", "region:SE:XX"], "unknown country 'XX'"),
                          (["--min-saving", "0.9"], "--min-saving must be a fraction")):
        bad = subprocess.run([sys.executable, "-m", "mlfootprint", "reduce", str(script), *args],
                             capture_output=True, text=True, env=env, timeout=60)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "empty.py").write_text("x = 1\n")
    bad = subprocess.run([sys.executable, "-m", "mlfootprint", "reduce", str(tmp_path / "empty.py")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "defines no train_trial()" in bad.stderr


def test_the_commands_help_states_the_librarys_defaults() -> None:
    """The command line names the defaults without importing the experiment machinery at start-up."""
    from typer.testing import CliRunner

    from mlfootprint.cli import app
    from mlfootprint.reduce.design import DEFAULT_MAX_REPEATS, DEFAULT_MIN_REPEATS, DEFAULT_MIN_SAVING

    shown = " ".join(CliRunner().invoke(app, ["reduce", "--help"], env={"COLUMNS": "200"}).output.split())
    assert f"(default {DEFAULT_MAX_REPEATS})" in shown and f"from round {DEFAULT_MIN_REPEATS}" in shown
    assert f"(default {DEFAULT_MIN_SAVING:g})" in shown
