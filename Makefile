# Quick start: `make demo` (set up, then train a real model under the meter) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

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

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache
