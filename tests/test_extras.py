"""Optional dependencies: a core install (`pip install .`, no extras) says in one line what to install for
each feature that needs more, and never shows a traceback. A missing module is simulated by setting it
to None in sys.modules (import and find_spec then both fail, as on a machine without it); .ci/smoke.sh
checks the same on a real install without extras."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from mlfootprint.errors import MissingDependency, MlfootprintError
from mlfootprint.extras import EXTRAS, hint, missing, need, need_store_driver

ROOT = Path(__file__).resolve().parents[1]


def _extra_requirements(extras: dict[str, list[str]], name: str) -> set[str]:
    """The distributions an extra brings, its mlfootprint[...] references followed."""
    found: set[str] = set()
    for req in extras[name]:
        dist = re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")
        if dist == "mlfootprint":
            for inner in re.search(r"\[(.*)\]", req).group(1).split(","):  # type: ignore[union-attr]
                found |= _extra_requirements(extras, inner.strip())
        else:
            found.add(dist)
    return found


def test_extras_match_pyproject() -> None:
    """Every module EXTRAS names comes with the extra of that name (read from pyproject.toml, resolved
    through the distributions installed here), so a hint never names an extra that lacks the module."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    dists = packages_distributions()
    for extra, modules in EXTRAS.items():
        assert extra in extras, f"EXTRAS names {extra!r}, which pyproject.toml does not define"
        wanted = _extra_requirements(extras, extra)
        for module in modules:
            given = {d.lower().replace("_", "-") for d in dists.get(module.split(".")[0], [])}
            assert given, f"{module} is not installed here (make .venv/.installed installs every extra)"
            assert given & wanted, f"extra {extra!r} does not bring {module} ({sorted(given)} not in {sorted(wanted)})"


def test_the_core_dependencies_leave_the_optional_ones_out() -> None:
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in core}
    assert not names & {"jinja2", "prometheus-client", "matplotlib", "starlette", "uvicorn", "torch", "psycopg"}


def test_need_names_the_module_and_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert missing(["matplotlib", "json"]) == ["matplotlib"]
    with pytest.raises(MissingDependency) as caught:
        need("the HTML report", "plots")
    message = str(caught.value)
    assert message == f"the HTML report needs matplotlib, which is not installed: {hint('plots')}"
    assert isinstance(caught.value, MlfootprintError) and isinstance(caught.value, ImportError)
    need("a JSON file", "plots", ("json",))  # what is there passes
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(MissingDependency, match="needs matplotlib and jinja2, which are not installed"):
        need("the HTML report", "plots")


def test_a_missing_parent_package_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.delitem(sys.modules, "mlflow.entities", raising=False)  # as if never imported
    assert missing(["mlflow.entities", "no_such_module_here.sub"]) == ["mlflow.entities", "no_such_module_here.sub"]


@pytest.mark.parametrize("url, expected", [
    ("postgresql+psycopg://u@h/db", "a postgresql+psycopg:// store needs the psycopg driver, which is not "
                                    "installed: pip install 'mlfootprint[postgres]'"),
    ("postgresql://u@h/db", "needs the psycopg2 driver, which is not installed: write postgresql+psycopg://"),
    ("postgresql+pg8000://u@h/db", "pip install pg8000, or write postgresql+psycopg://"),
])
def test_a_postgres_url_without_its_driver_is_one_line(url: str, expected: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("psycopg", "psycopg2", "pg8000"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependency, match=re.escape(expected)):
        need_store_driver(url)
    for other in ("sqlite:///runs.db", "/tmp/runs.db", "mysql+pymysql://u@h/db"):
        need_store_driver(other)  # not ours to check


def test_an_output_whose_library_is_missing_warns_once_and_is_left_out(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from mlfootprint import outputs

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.setattr(outputs, "_warned", set())
    made = outputs.build(["html:r.html", "json:r.json", "textfile:m.prom"])
    assert [type(o).__name__ for o in made] == ["JsonOutput"]
    again = outputs.build(["html:r.html"])
    assert again == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2, warnings  # html and textfile, each once
    assert any("output html:r.html needs matplotlib" in w and hint("plots") in w for w in warnings)
    assert any("output textfile:m.prom needs prometheus_client" in w and hint("prometheus") in w for w in warnings)


# -- the CLI on an install without the module: one line, exit 2 (or, for an output, a warning) ---------------
def _cli_without(modules: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules) +
            "from mlfootprint.cli import main\nsys.argv = ['mlfootprint', *sys.argv[1:]]\nmain()\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def _one_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("modules, args, words", [
    (["matplotlib"], ["report", "abc"], ["the HTML report needs matplotlib", hint("plots")]),
    (["starlette"], ["dashboard", "--port", "1"], ["the dashboard needs starlette", hint("dashboard")]),
    (["prometheus_client"], ["serve", "--metrics-url", "http://127.0.0.1:1/metrics", "--requests-counter", "r",
                             "--", sys.executable, "-c", "print('server started')"],
     ["prometheus_client", hint("prometheus")]),
    (["matplotlib"], ["estimate", "--params", "1e8:1e9", "--tokens", "20x", "--hardware", "h100-sxm"],
     ["a --params sweep", hint("plots")]),
    (["torch"], ["reduce", "examples/digits.py", "--strategies", "batch,amp,quantize"],
     ["reduce --strategies amp,quantize needs torch", hint("torch")]),
    (["jinja2"], ["fleet", "--prometheus", "http://127.0.0.1:9", "--html", "f.html"],
     ["fleet --html (the HTML report) needs jinja2", hint("plots")]),
    (["psycopg"], ["runs", "--store", "postgresql+psycopg://u@127.0.0.1:1/db"], [hint("postgres")]),
    (["psycopg"], ["track", "--store", "postgresql+psycopg://u@127.0.0.1:1/db", "--", "true"], [hint("postgres")]),
])
def test_the_cli_says_what_to_install(modules: list[str], args: list[str], words: list[str]) -> None:
    if args[0] == "reduce":
        args[1] = str(ROOT / args[1])
    done = _cli_without(modules, *args)
    _one_line(done, *words)
    assert "server started" not in done.stdout  # serve refuses before it starts the server


def test_track_warns_about_an_output_it_cannot_write_and_still_runs(tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    done = _cli_without(["matplotlib"], "track", "--outputs", f"html:{page},json:{tmp_path / 'r.json'}", "--",
                        sys.executable, "-c", "print('the command ran')")
    assert done.returncode == 0 and "the command ran" in done.stdout, done.stderr
    warned = [line for line in done.stderr.splitlines() if "needs matplotlib" in line]
    assert len(warned) == 1 and hint("plots") in warned[0] and "Traceback" not in done.stderr
    assert not page.exists() and (tmp_path / "r.json").exists()
