# One-command set-up and test for the course. See README.md.
#   make lab    set up (venv, packages, course data) and start JupyterLab on notebooks/
#   make test   set up, then ruff, unit tests and every notebook under nbval (in parallel)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8888
# Workers for pytest-xdist ("auto" = one per core).
JOBS ?= auto
# Run the test stage without network access when the machine allows it (root or user namespaces).
# OFFLINE=auto: use `unshare` if it works, else run normally; OFFLINE=1: require it; OFFLINE=0: never.
OFFLINE ?= auto
STAMP := $(VENV)/.course-installed
# Jupyter refuses to run as root unless told; containers and CI often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

.PHONY: setup lab test lint unit notebooks data student-notebooks assignments grade html budget clean help

help:
	@echo "make lab     - set up and start JupyterLab (HOST=$(HOST) PORT=$(PORT))"
	@echo "make test    - set up, lint, unit tests and all notebooks under nbval"
	@echo "make budget  - time and peak memory of each notebook (benchmarks/notebook_budget.py)"
	@echo "make bench   - every benchmark and notebook in one run -> benchmarks/RESULTS.md"
	@echo "make hub     - JupyterHub for a class (as root; README); make test-hub - its smoke test"
	@echo "make student-notebooks - copies without solutions in notebooks/student/"
	@echo "make assignments - nbgrader student copies in build/student/, solutions in build/solutions/"
	@echo "make grade SUBMISSION=path - grade a submitted notebook or a folder of them (reports in build/grades/)"
	@echo "make html    - every notebook executed, as offline HTML pages with an index, in build/html/"
	@echo "make slides  - every notebook executed, as offline reveal.js slide decks, in build/slides/"
	@echo "make test-browser - every notebook run in JupyterLab in Chromium, widgets moved, pages opened offline"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the requirements or the package metadata change.
$(STAMP): $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/python -m course_utils.install

# JupyterLab settings for everyone who uses this venv (lab-settings/overrides.json: no news pop-up).
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_OVERRIDES): lab-settings/overrides.json $(STAMP)
	mkdir -p $(dir $@) && cp $< $@

setup: $(STAMP) data $(LAB_OVERRIDES)

lab: setup
	$(BIN)/jupyter lab --no-browser --ip=$(HOST) --port=$(PORT) --notebook-dir=notebooks $(ALLOW_ROOT)

lint: setup
	$(BIN)/ruff check .

# The test stage: unit tests and notebooks in one pytest run so xdist keeps both cores busy.
# --dist loadscope keeps every cell of one notebook on the same worker (one kernel, in order).
PYTEST_ARGS := -n $(JOBS) --dist loadscope tests notebooks \
	--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

test: setup lint
	$(BIN)/python scripts/offline.py --mode $(OFFLINE) -- $(BIN)/python -m pytest $(PYTEST_ARGS)

unit: setup
	$(BIN)/python -m pytest -n $(JOBS) tests

notebooks: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope notebooks --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

budget: setup
	$(BIN)/python benchmarks/notebook_budget.py

# Every benchmark and every notebook's time and memory in one run, written to benchmarks/RESULTS.md
# (about as long as all of them together: use a quiet machine). BENCH_ARGS=--fresh-clone also times
# `make lab` and `make test` from fresh clones.
.PHONY: bench
bench: setup
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

student-notebooks: setup
	$(BIN)/python scripts/make_student_notebooks.py notebooks notebooks/student

# Assignments with nbgrader (scripts/assignments.py, scripts/grade.py; README "For instructors").
# Per-cell and per-submission limits in seconds for grading; the grading runs offline like the tests.
GRADE_CELL_TIMEOUT ?= 300
GRADE_TOTAL_TIMEOUT ?= 900
GRADES ?= build/grades

assignments: setup
	$(BIN)/python scripts/assignments.py --notebooks notebooks --out build

grade: setup
	@test -n "$(SUBMISSION)" || { echo "usage: make grade SUBMISSION=path/to/notebook.ipynb (or a folder)"; exit 2; }
	$(BIN)/python scripts/offline.py --mode $(OFFLINE) -- $(BIN)/python scripts/grade.py "$(SUBMISSION)" \
		--out $(GRADES) --cell-timeout $(GRADE_CELL_TIMEOUT) --total-timeout $(GRADE_TOTAL_TIMEOUT)

# Offline reading copies (scripts/build_site.py): reveal.js, MathJax, require.js, jQuery, font-awesome and
# the widget renderer come from the npm packages pinned in package.json / package-lock.json, not CDNs.
# Both targets execute each notebook once and share the run (build/executed/).
WEB_STAMP := node_modules/.course-installed
$(WEB_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(WEB_STAMP)

.PHONY: slides test-browser
html: setup $(WEB_STAMP)
	$(BIN)/python scripts/build_site.py html

slides: setup $(WEB_STAMP)
	$(BIN)/python scripts/build_site.py slides

# The real-browser test (scripts/browser_test.py): first it proves it fails on broken fixtures
# (tests/test_browser.py), then every notebook runs in JupyterLab in headless Chromium (Debian's
# `chromium` package; .ci/run installs it), the first is presented live, and every built page and deck
# is opened offline. Screenshots: build/screenshots/. Network off where the machine allows it.
test-browser: setup slides html
	$(BIN)/python scripts/offline.py --mode $(OFFLINE) -- env COURSE_BROWSER_TESTS=1 \
		$(BIN)/python -m pytest -p no:cacheprovider tests/test_browser.py
	$(BIN)/python scripts/offline.py --mode $(OFFLINE) -- $(BIN)/python scripts/browser_test.py \
		--live-slides --static build/html/*.html build/slides/*.html

clean:
	rm -rf $(VENV) data/cache .pytest_cache .ruff_cache site notebooks/student build node_modules

# --- A class on one server: JupyterHub (README "A class on one server") ---------------------------
# The hub gets its own environment: requirements.txt plus hub/requirements-hub.txt, so `make lab`
# never installs JupyterHub. Every student account runs this environment's Python, so build it from
# an interpreter they may execute (not one under a private home such as /root): HUB_PYTHON=/usr/bin/python3.
# HUB_PYTHON is used only when $(HUB_VENV) does not exist yet; `rm -rf $(HUB_VENV)` to change it.
HUB_PYTHON ?= $(PYTHON)
HUB_VENV ?= .venv-hub
HUB_STAMP := $(HUB_VENV)/.hub-installed
.PHONY: hub-setup hub test-hub

$(HUB_STAMP): requirements.txt pyproject.toml hub/requirements-hub.txt hub/package.json
	test -x $(HUB_VENV)/bin/python || $(HUB_PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(HUB_VENV)/bin/pip install --quiet -r requirements.txt -r hub/requirements-hub.txt
	$(HUB_VENV)/bin/pip install --quiet --no-deps -e .
	$(HUB_VENV)/bin/python -m course_utils.install
	cd hub && npm ci --no-audit --no-fund
	touch $(HUB_STAMP)

hub-setup: $(HUB_STAMP)

# Run as root. Settings: COURSE_HUB_* variables (hub/course_hub.py), e.g. COURSE_HUB_IP=0.0.0.0.
hub: hub-setup
	COURSE_HUB_VENV=$(abspath $(HUB_VENV)) $(HUB_VENV)/bin/jupyterhub -f hub/jupyterhub_config.py

# Opt-in (needs root, creates and deletes 3 system users): JupyterHub on loopback, 3 students each
# run a notebook through the REST/kernel API; their files stay their own.
test-hub: hub-setup
	$(HUB_VENV)/bin/python -m pytest -p no:cacheprovider tests/test_hub.py
	$(HUB_VENV)/bin/python hub/smoke_test.py
