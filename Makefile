# Thin targets over Python tools. Each one sets up its own .venv first (created, or refreshed when
# pyproject.toml changes), so `make lab` and `make test` work on a fresh machine with Python >= 3.11.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
JOBS   ?= 2
LAB_NEWS_PLUGIN := @jupyterlab/apputils-extension:announcements
# Jupyter refuses to run as root (containers, CI) unless told to.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root --no-browser,)

.PHONY: help setup lab test lint format unit nbval exercises notebooks bench clean site schedule reset-exercises zoo report

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed: run make PYTHON=python3.11 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# No "get notified about official Jupyter news?" prompt on every seat (and no news or update check over the
	@# network): JupyterLab's documented switch, written into .venv only (etc/jupyter/labconfig/page_config.json).
	$(VENV)/bin/jupyter labextension disable "$(LAB_NEWS_PLUGIN)" > /dev/null
	touch $@

setup: $(STAMP)  ## create or refresh .venv with the course and its tools

lab: $(STAMP)  ## open the course in JupyterLab (http://127.0.0.1:8888)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" $(LAB_FLAGS) chapters/00_setup_check.ipynb

# Both pytest sessions of `make test` run inside tests/support/offline.py: the network cut (where it cannot be cut, it
# says so loudly and the offline test is skipped). In the first, each chapter and solution runs twice: nbval's pass,
# then, on the same worker and in the same folder, tests/support/user_runs.py's re-run (same compared outputs, no new
# untracked files). The second holds the unit, structure, exercise and browser tests, and ends with a banner naming
# any check that was skipped. Both sessions always run; `make test` fails if either failed.
OFFLINE ?= $(PY) tests/support/offline.py

test: $(STAMP)  ## everything CI checks: lint; every notebook twice; unit, structure and browser tests; all offline
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(OFFLINE) $(PY) -m pytest -n $(JOBS) --dist loadscope -p tests.support.user_runs -rs $(NBVAL) chapters solutions; \
	status=$$?; \
	$(OFFLINE) $(PY) -m pytest -n $(JOBS) --dist loadgroup -p tests.support.user_runs -rs tests || status=1; \
	exit $$status

report: $(STAMP)  ## print what a bug report needs: course version, versions, platform, CPU/GPU, problems
	@$(PY) -m utils.course

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

zoo: $(STAMP)  ## rebuild the small pretrained models in utils/zoo/ and their manifest (same bytes on the same machine)
	$(PY) tools/make_zoo.py

site: $(STAMP)  ## build the static HTML edition from the saved outputs, offline, into outputs/site/
	$(PY) tools/build_site.py

schedule: $(STAMP)  ## print each notebook's teaching/exercise minutes, totals, a half-day and a full-day plan
	$(PY) tools/schedule.py

reset-exercises: $(STAMP)  ## fresh exercise notebooks for a class; learners' ones go to exercises/.backup/
	$(PY) tools/reset_exercises.py

clean:  ## remove caches and outputs (keeps .venv)
	rm -rf outputs .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
