# controller-examples — one command per job. `make help` lists them.
#
# Every target installs what it needs that is missing (a repo-local venv, the
# Go binaries, bats, the cluster binaries), so a fresh clone needs only:
#   make test          # all unit tests + the conformance suite + the course's checks
#   make conformance   # the conformance suite against a cluster, then its report
#   make check TRACK=basics LANG=python   # a learner: one cell, graded (docs/learn/)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CLUSTER ?= local
# Exported as the text it was given, never expanded by make (a `$(shell ...)` in it would run when exported), and
# read by the recipes from the environment ("$$CLUSTER"), never pasted into a shell word.
override CLUSTER := $(value CLUSTER)
export CLUSTER
PYTEST_ARGS ?=
# Scenarios run this many at a time (pytest-xdist); 0 runs them one by one.
CONFORMANCE_WORKERS ?= 2

VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
BATS := $(CURDIR)/tools/node_modules/bats/bin/bats
GO_BIN_DIR := $(CURDIR)/build/bin

.PHONY: check exercise verify-exercises learn-docs docrefs env restart-apiserver restart-controller-manager \
	stop-controller-manager start-controller-manager compact-etcd sa-kubeconfig
.PHONY: help setup venv go-build bats require-tools cluster-binaries cluster-up cluster-down \
	cluster-status unit unit-python unit-go unit-bash unit-tools conformance test bench bench-large bench-sweep \
	bench-report lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-26s %s\n", $$1, $$2}'

# ----- set-up -----------------------------------------------------------------
venv: $(VENV)/.installed ## the repo-local Python venv (pinned deps)
$(VENV)/.installed: python/pyproject.toml tools/pyproject.toml conformance/requirements.txt tools/requirements-lint.txt
	@echo "[setup] creating $(VENV) and installing pinned Python packages"
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-e 'python[dev]' -e tools -r conformance/requirements.txt -r tools/requirements-lint.txt
	touch $@

go-build: ## build the Go track's binaries into build/bin
	@echo "[setup] go build ./cmd/... -> $(GO_BIN_DIR)"
	cd go && go build -o $(GO_BIN_DIR)/ ./cmd/...

bats: $(BATS) ## bats-core, pinned in tools/package-lock.json
$(BATS): tools/package.json tools/package-lock.json
	@echo "[setup] installing bats from npm"
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $@

require-tools:
	@for tool in jq socat flock; do command -v $$tool >/dev/null || \
		{ echo "error: $$tool is required by the Bash track (Debian: apt-get install jq socat util-linux)" >&2; exit 1; }; done

cluster-binaries: venv ## build (or reuse) the local cluster's binaries
	$(PY) -m clusterkit build >/dev/null

setup: venv go-build bats require-tools ## everything the tests need
	@if [ "$$CLUSTER" = local ]; then $(MAKE) --no-print-directory cluster-binaries; fi

# ----- the cluster --------------------------------------------------------------
cluster-up: venv ## start the cluster (CLUSTER=local|kind|existing) and print its export line
	$(PY) -m clusterkit up

cluster-down: venv ## stop the cluster's processes
	$(PY) -m clusterkit down

cluster-status: venv ## show the cluster's processes and logs
	$(PY) -m clusterkit status

# ----- tests ------------------------------------------------------------------
unit: unit-python unit-go unit-bash unit-tools ## unit tests of every language

unit-python: venv
	cd python && $(PY) -m pytest -q

unit-go:
	cd go && go test ./...

unit-bash: bats require-tools
	$(BATS) bash/test

unit-tools: venv
	cd tools && $(PY) -m pytest -q tests

conformance: setup ## run the conformance suite and print its report
	cd conformance && status=0 && $(PY) -m pytest --cluster="$$CLUSTER" -n $(CONFORMANCE_WORKERS) $(PYTEST_ARGS) || status=$$?; \
		cat $(CURDIR)/build/conformance/report.md 2>/dev/null || true; exit $$status

test: unit conformance verify-exercises learn-docs ## all tests: unit tests, the conformance suite, the course's checks

# ----- the course (docs/learn/) ------------------------------------------------------
# LANG is also the locale's variable: the course tool treats a locale (C.UTF-8...) as "not given", and the
# programs it runs get a real locale back (LC_ALL wins over LANG).
COURSE := PYTHONPATH=$(CURDIR)/tools LC_ALL=C.UTF-8 $(PY) -m course
TRACK ?=
STEP ?=
IMPL ?=
IMPL_FILE ?=
CHECK_WORKERS ?= 0
LEVELS ?=
# make exports a variable given on its command line to every recipe, and expands it to do so (a `$(shell ...)` in
# it would run): the learner's values are not exported as themselves; the course targets pass them below, unexpanded.
# LANG from the environment is the locale, and stays exported.
unexport TRACK STEP LEVELS IMPL IMPL_FILE CHECK_WORKERS
ifeq ($(origin LANG),command line)
unexport LANG
endif

# Every value a learner gives (TRACK, LANG, STEP, LEVELS, IMPL, IMPL_FILE, CHECK_WORKERS) reaches the course tool
# through the environment, as data, never pasted into a shell word: IMPL is a command line with its own quotes, and
# a quote or `$(...)` in any of them stays text. `$(value ...)` keeps a `$` from make's own expansion too. The tool
# checks each one (a track, a language, an exercise, a number) and refuses anything else with a one-line error.
# CLUSTER is exported above: the tool reads it from the environment as well.
check: export CE_CHECK_TRACK = $(value TRACK)
check: export CE_CHECK_LANG = $(value LANG)
check: export CE_CHECK_LEVELS = $(value LEVELS)
check: export CE_CHECK_WORKERS = $(value CHECK_WORKERS)
check: export CE_CHECK_IMPL = $(value IMPL)
check: export CE_CHECK_IMPL_FILE = $(value IMPL_FILE)
check: export CE_IMPL_BASE = $(CURDIR)
check: venv ## grade one cell (TRACK=basics LANG=go), your program (TRACK=advanced IMPL="./ctl" [LEVELS=1]), or your exercise
	@$(COURSE) check

exercise: export CE_EXERCISE_LANG = $(value LANG)
exercise: export CE_EXERCISE_STEP = $(value STEP)
exercise: venv ## cut an exercise into workspace/ (LANG=python|go|bash STEP=pagination|finalizer|...)
	@$(COURSE) exercise

verify-exercises: venv ## CI: every exercise's stub fails its scenario or unit tests (and each wrong answer); the reference passes
	$(COURSE) verify-exercises

learn-docs: venv go-build ## CI: run every command block of docs/learn/ (each language's) and compare with the page
	$(COURSE) docrun

docrefs: venv ## every `file: function` in docs/ names a real definition
	$(COURSE) docrefs

# ----- break-glass: provoke what the docs describe (CLUSTER=local) ---------------------
env: venv ## print the export lines (KUBECONFIG, the pinned kubectl on PATH): eval "$(make -s env)"
	@$(PY) -m clusterkit env

restart-apiserver: venv ## restart the API server: every watch breaks and must resume
	@$(PY) -m clusterkit restart apiserver

restart-controller-manager: venv ## restart the controller-manager
	@$(PY) -m clusterkit restart controller-manager

stop-controller-manager: venv ## stop the controller-manager: no garbage collection, no ReplicaSets
	@$(PY) -m clusterkit stop controller-manager

start-controller-manager: venv ## start the controller-manager again
	@$(PY) -m clusterkit start controller-manager

compact-etcd: venv ## compact etcd: a watch resuming from an older resourceVersion gets a real 410 Gone
	@$(PY) -m clusterkit compact

sa-kubeconfig: venv ## a kubeconfig of the controller's ServiceAccount (shipped RBAC): run a controller as in-cluster
	@$(PY) -m clusterkit sa-kubeconfig

# ----- benchmark ----------------------------------------------------------------
# The plotting library is an extra of tools/ (only the bench needs it); the stamp
# says it is installed in the venv.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(VENV)/.installed tools/pyproject.toml
	@echo "[setup] installing the benchmark's extra: tools[bench] (matplotlib)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e 'tools[bench]'
	touch $@

# The defaults (N = 10, 100, 1,000; 5 repetitions; --workers 4; a 70-minute budget) are in
# tools/bench/settings.py; BENCH_SIZES, BENCH_REPS, BENCH_WORKERS, BENCH_SEED, BENCH_BUDGET_MINUTES,
# BENCH_ONLY and BENCH_PODS change them.
bench: $(BENCH_STAMP) go-build cluster-binaries require-tools ## run the measured comparison (a budget of 80 min on 2 cores)
	$(PY) -m bench

# The opt-in N = 10,000 (the floor, Python and Go, one repetition each) comes with one repetition of N = 100
# and 1,000 of the same three, for the growth curve within one run, and not with the default run; its report
# goes to docs/bench/large/. The cost model's linear estimate (some 100 minutes on 2 cores) is low: Go's create
# alone took 51 minutes at N = 10,000 (2026-12-02), as per-reconcile work grows with the sites of a namespace.
# BENCH_SIZES, BENCH_REPS and BENCH_ONLY, when set, still win.
bench-large: ## N = 100, 1,000 and the opt-in 10,000 for the floor, Python and Go, once each (docs/bench/large/)
	BENCH_LARGE=1 BENCH_ONLY=$${BENCH_ONLY:-python,go} BENCH_SIZES=$${BENCH_SIZES:-100,1000} \
		BENCH_REPS=$${BENCH_REPS:-1} $(MAKE) --no-print-directory bench

bench-sweep: ## make bench, plus --workers 1 and 16 at N = 1,000 for Python and Go (opt-in; docs/bench/sweep/)
	BENCH_SWEEP=1 $(MAKE) --no-print-directory bench

bench-report: $(BENCH_STAMP) ## render build/bench/report.md and the plot again from results.json (no measuring)
	$(PY) -m bench report

lint: venv ## pre-commit hooks (ruff, mypy, shellcheck, gofmt, go vet, yamllint), the docs' code references
	$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure
	$(COURSE) docrefs

clean: ## remove build outputs and the course workspace (not the binary cache in ~/.cache)
	rm -rf build workspace
