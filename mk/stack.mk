# Full-stack targets (included by the top-level Makefile: -include mk/*.mk).
# `make demo` needs nothing but a fresh Debian 12 machine: `bootstrap` installs
# the rest. The container's state persists between runs; a second `make demo`
# converges with no changes.

DEMO_INVENTORY ?= inventories/local

.PHONY: demo
demo: bootstrap ## Local stack in a container (inventories/local): converge site.yml, smoke test
	@start=$$(date +%s); \
	flock $(MOLECULE_LOCK) ansible-playbook -i $(DEMO_INVENTORY) playbooks/local-containers.yml; \
	flock $(MOLECULE_LOCK) ansible-playbook -i $(DEMO_INVENTORY) site.yml; \
	ansible-playbook -i $(DEMO_INVENTORY) playbooks/local-smoke.yml; \
	echo "make demo: done in $$(( $$(date +%s) - start )) s; tear down with: make demo-down"

.PHONY: demo-down
demo-down: venv ## Remove the demo container and network (generated secrets stay in inventories/local/.secrets)
	flock $(MOLECULE_LOCK) ansible-playbook -i $(DEMO_INVENTORY) playbooks/local-containers.yml -e local_state=absent
