# Thin targets over Python tools. Each one sets up its own .venv first (created, or refreshed when
# pyproject.toml changes), so `make lab` and `make test` work on a fresh machine with Python >= 3.11.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
JOBS   ?= 2

.PHONY: help setup lab test lint format unit nbval exercises notebooks bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed: run make PYTHON=python3.11 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)  ## create or refresh .venv with the course and its tools

lab: $(STAMP)  ## open the course in JupyterLab (http://127.0.0.1:8888)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" chapters/00_setup_check.ipynb

test: $(STAMP)  ## everything CI checks: lint, unit and structure tests, every notebook under nbval
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -n $(JOBS) tests
	$(PY) -m pytest -n $(JOBS) --dist loadscope $(NBVAL) chapters solutions

lint: $(STAMP)  ## ruff over .py and .ipynb
	$(PY) -m ruff check .

format: $(STAMP)  ## format .py and .ipynb with ruff
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

exercises: $(STAMP)  ## regenerate exercises/ from solutions/ (keeps a backup of edited exercise notebooks)
	$(PY) tools/make_exercises.py

notebooks: $(STAMP)  ## re-execute chapters/ and solutions/ in place, saving fresh outputs
	$(PY) tools/run_notebooks.py --all

bench: $(STAMP)  ## time every notebook and widget compute function; print a table
	$(PY) tools/bench.py

clean:  ## remove caches and outputs (keeps .venv)
	rm -rf outputs .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
