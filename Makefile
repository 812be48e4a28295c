# Every entry point of the project. `make test` and `make demo` set up a fresh
# Debian 12 machine by themselves (apt packages, Docker engine, venv, images).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV ?= .venv
# Debian releases the base images are built for (ahsp/debian-systemd:<suite>).
SUITES ?= bookworm trixie
# Molecule scenarios (molecule/<name>), run one after the other. Each lists
# its own platforms: redis and postgresql run on Debian 12 and 13 at once,
# app on 12, web (the single-host stack) on 13, default (the full stack) on
# both, mixed.
MOLECULE_RUNS ?= redis postgresql app web default ha
# One Docker engine, two cores: Molecule suites never run at the same time.
MOLECULE_LOCK ?= /tmp/ahsp-molecule.lock

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1
export NO_COLOR := 1

VENV_STAMP := $(VENV)/.installed
# Where scripts/timed-step.sh collects the step times of one `make test`.
export STEP_TIMES ?= $(CURDIR)/build/step-times.txt

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z_-]*:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# Each step prints its wall time; the whole run ends with a table of them.
STEP = bash scripts/timed-step.sh

.PHONY: test
test: ## Everything CI runs: set-up, lint, app and bench-harness tests, every Molecule scenario (per-step times)
	@rm -f $(STEP_TIMES)
	@$(STEP) bootstrap $(MAKE) bootstrap
	@$(STEP) lint $(MAKE) lint
	@$(STEP) test-app $(MAKE) test-app
	@$(STEP) test-bench $(MAKE) test-bench
	@$(MAKE) molecule
	@bash scripts/timed-step.sh --report
	@echo "make test: all passed"

.PHONY: bootstrap
bootstrap: host venv image ## Install apt packages, start dockerd, create .venv, build base images

.PHONY: host
host: ## apt packages and a running Docker engine (needs root)
	@bash scripts/bootstrap-host.sh

.PHONY: venv
venv: $(VENV_STAMP) ## Python tooling in .venv (pinned)

$(VENV_STAMP): requirements-dev.txt app/requirements.txt app/requirements-test.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q --require-hashes -r app/requirements.txt
	$(VENV)/bin/python -m pip install -q -r requirements-dev.txt -r app/requirements-test.txt
	$(VENV)/bin/ansible-galaxy collection install --offline -r requirements.yml
	@touch $@

.PHONY: image
image: host ## Build the systemd base images (FORCE=1 rebuilds)
	@# Side by side: most of a build waits on the mirror.
	@pids=""; for suite in $(SUITES); do bash scripts/build-image.sh $$suite & pids="$$pids $$!"; done; \
	  status=0; for pid in $$pids; do wait $$pid || status=1; done; exit $$status

.PHONY: lint
lint: venv ## yamllint, ansible-lint (production profile), ruff, README tables, ansible-test sanity, alert rules (promtool), unit tests
	yamllint --strict .
	ansible-lint --offline
	ruff check .
	ruff format --check .
	$(VENV)/bin/python scripts/argspec_docs.py --check
	$(VENV)/bin/python scripts/env_docs.py --check
	$(VENV)/bin/python scripts/plugin_docs.py --check
	@bash scripts/check-scenarios.sh
	@bash scripts/sanity.sh
	@bash scripts/promtool.sh
	$(VENV)/bin/python -m pytest -q -n auto --durations=10 tests/unit

.PHONY: docs
docs: venv ## Regenerate the README tables: role variables (meta/argument_specs.yml), the collection's plugins
	$(VENV)/bin/python scripts/argspec_docs.py --write
	$(VENV)/bin/python scripts/plugin_docs.py --write

.PHONY: test-app
test-app: venv ## Django app tests against a real redis-server
	cd app && ../$(VENV)/bin/python -m pytest -n auto

.PHONY: test-bench
test-bench: venv ## The benchmark harness's own tests (parsing, verdicts, limiters on a real redis-server)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider bench/tests

.PHONY: molecule
molecule: venv image ## Every Molecule scenario (MOLECULE_RUNS="redis" for one)
	@for scenario in $(MOLECULE_RUNS); do \
	  $(STEP) "molecule $$scenario" flock $(MOLECULE_LOCK) molecule test -s $$scenario \
	    || { echo "FAILED: molecule $$scenario"; exit 1; }; \
	done

# Fragments for the full stack (demo, bench) live in mk/.
-include mk/*.mk

.PHONY: clean
clean: ## Remove the venv and caches (images stay; docker rmi them by hand)
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
