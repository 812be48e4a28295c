# Benchmarks (included by the top-level Makefile: -include mk/*.mk). Not part
# of `make test`: speed targets are checked here, never by timed tests.
# `make bench` recreates the five containers (Redis, PostgreSQL, two app hosts, the front) of inventories/bench, so its
# first converge is a fresh one; it takes 15 to 20 minutes on 2 cores (the
# day-2 section, seven playbook runs under load, is half of it). It waits
# for the Molecule lock. BENCH_ARGS: --skip-provisioning, --skip-front, --skip-day2, --skip-backups,
# --noop-rounds N (see bench/README.md).

BENCH_ARGS ?=

.PHONY: bench
bench: bootstrap ## Benchmarks (inventories/bench): no-op breakdown and floor, limiter cost, HTTP, day-2 under load; table + JSON
	flock $(MOLECULE_LOCK) python bench/run.py $(BENCH_ARGS)

.PHONY: bench-down
bench-down: venv ## Remove the benchmark containers and network
	flock $(MOLECULE_LOCK) ansible-playbook -i inventories/bench playbooks/local-containers.yml -e local_state=absent
