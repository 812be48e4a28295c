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
# Molecule runs as ROLE:SUITE pairs; "stack" is the full-stack scenario in
# molecule/default. The redis role runs on both supported Debian releases.
MOLECULE_RUNS ?= redis:bookworm redis:trixie app:bookworm static_files:bookworm \
	gunicorn_systemd:bookworm postgresql:bookworm stack:bookworm
# One Docker engine, two cores: Molecule suites never run at the same time.
MOLECULE_LOCK ?= /tmp/ahsp-molecule.lock

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1
export NO_COLOR := 1

VENV_STAMP := $(VENV)/.installed

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z_-]*:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: test
test: bootstrap lint test-app test-bench molecule ## Everything CI runs: set-up, lint, app and bench-harness tests, every Molecule scenario
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
	@for suite in $(SUITES); do bash scripts/build-image.sh $$suite; done

.PHONY: lint
lint: venv ## yamllint, ansible-lint (production profile), ruff, README tables
	yamllint --strict .
	ansible-lint --offline
	ruff check .
	ruff format --check .
	$(VENV)/bin/python scripts/argspec_docs.py --check
	@bash scripts/check-scenarios.sh

.PHONY: docs
docs: venv ## Regenerate the role README variable tables from meta/argument_specs.yml
	$(VENV)/bin/python scripts/argspec_docs.py --write

.PHONY: test-app
test-app: venv ## Django app tests against a real redis-server
	cd app && ../$(VENV)/bin/python -m pytest

.PHONY: test-bench
test-bench: venv ## The benchmark harness's own tests (parsing, verdicts, limiters on a real redis-server)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider bench/tests

.PHONY: molecule
molecule: venv image ## Every Molecule scenario (MOLECULE_RUNS="redis:bookworm" for one)
	@for run in $(MOLECULE_RUNS); do \
	  role=$${run%%:*}; suite=$${run##*:}; \
	  if [ "$$role" = stack ]; then dir=.; else dir=roles/$$role; fi; \
	  echo "=== molecule test: $$role on $$suite ==="; \
	  start=$$(date +%s); \
	  (cd $$dir && MOLECULE_DISTRO=$$suite flock $(MOLECULE_LOCK) molecule test) || { echo "FAILED: molecule $$role on $$suite"; exit 1; }; \
	  echo "=== $$role on $$suite passed in $$(( $$(date +%s) - start )) s ==="; \
	done

# Fragments for the full stack (demo, bench) live in mk/.
-include mk/*.mk

.PHONY: clean
clean: ## Remove the venv and caches (images stay; docker rmi them by hand)
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
