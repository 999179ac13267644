# Quick start: `make demo` (set up, then train a real model under the meter) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick typecheck smoke bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: 2.13.0 is a CPU build on this machine's disk; a looser pin would pull a CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[torch,dev]'
	touch $(STAMP)

# The demo keeps its runs in out/ (not in your own run store); `make demo DEMO_STORE=...` to change it.
DEMO_STORE ?= out/demo-runs.db

demo: $(STAMP)
	MLFOOTPRINT_STORE=$(DEMO_STORE) $(PY) examples/digits.py

# Static types first (pyproject's [tool.mypy]: every definition typed), then the suite.
test: $(STAMP)
	$(PY) -m mypy
	$(PY) -m pytest -q

# A first check in under a minute: settings, sensors (fakes), phases, impact, estimates, serving windows,
# files, the CLI's help and missing-extra messages, and one tracked command end to end. `make test` runs all.
QUICK := tests/test_impact.py tests/test_config_grid.py tests/test_phases.py tests/test_meter.py \
	tests/test_hardware.py tests/test_rapl.py tests/test_nvml.py tests/estimate/test_flops.py \
	tests/estimate/test_estimator.py tests/serving/test_windows.py tests/outputs/test_files.py \
	tests/test_extras.py tests/cli/test_app.py tests/test_public_api.py \
	tests/test_cli.py::test_track_streams_output_and_returns_the_exit_code tests/test_cli.py::test_runs_show_export

typecheck: $(STAMP)
	$(PY) -m mypy

test-quick: $(STAMP)
	$(PY) -m pytest -q $(QUICK)

# The wheel installed without extras in a fresh venv, and the CLI used as a newcomer would (.ci/run runs it).
smoke:
	bash .ci/smoke.sh

bench: $(STAMP)
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache
