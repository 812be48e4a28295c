#!/usr/bin/env bash
# A Molecule scenario whose verifier finds no test passes silently (Molecule
# skips the verify step). Fail instead: every scenario must have test_*.py
# files with at least one test function in its tests/ directory.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
count=0
while IFS= read -r scenario; do
  dir="$(dirname "$scenario")"
  count=$((count + 1))
  if ! grep -qsE '^def test_' "$dir"/tests/test_*.py; then
    echo "scenario $dir has no testinfra tests (tests/test_*.py with def test_...)" >&2
    status=1
  fi
done < <(find roles molecule -path '*/molecule/*/molecule.yml' -o -path 'molecule/*/molecule.yml' | sort -u)
[ "$count" -gt 0 ] || { echo "no Molecule scenarios found" >&2; exit 1; }
echo "molecule scenarios: $count, each with tests"
exit $status
