#!/usr/bin/env bash
# A Molecule scenario whose verifier finds no test passes silently (Molecule
# skips the verify step). Fail instead: every scenario (molecule/<name>/) must
# have test_*.py files with at least one test function in its tests/
# directory, and `make molecule` must run every one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
count=0
runs="$(make -s --no-print-directory -f Makefile -f - print-molecule-runs <<'MAKE'
print-molecule-runs: ; @echo $(MOLECULE_RUNS)
MAKE
)"
for scenario in molecule/*/molecule.yml; do
  dir="$(dirname "$scenario")"
  name="$(basename "$dir")"
  count=$((count + 1))
  if ! grep -qsE '^def test_' "$dir"/tests/test_*.py; then
    echo "scenario $dir has no testinfra tests (tests/test_*.py with def test_...)" >&2
    status=1
  fi
  if ! grep -qw -- "$name" <<<"$runs"; then
    echo "scenario $name is not in MOLECULE_RUNS (make test would never run it)" >&2
    status=1
  fi
done
[ "$count" -gt 0 ] || { echo "no Molecule scenarios found" >&2; exit 1; }
echo "molecule scenarios: $count, each with tests, all in MOLECULE_RUNS"
exit $status
