#!/usr/bin/env bash
# `ansible-test sanity` for the ahsp.stack collection, every default test, in
# virtual environments ansible-test builds itself (--venv; no container
# registry here). Prints its wall time; exits non-zero on any finding.
#
# - The collection is copied into a temporary ansible_collections/ahsp/stack
#   tree, so ansible-test's output (tests/output) never lands in the work tree
#   and only the collection's own files are tested.
# - ansible-test runs with HOME set to a cache of its own (SANITY_HOME), which
#   keeps its per-test environments between runs and holds the stand-in for
#   the get-pip script it cannot download here (scripts/sanity_pip.py).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VENV:-$root/.venv}"
[[ "$venv" = /* ]] || venv="$root/$venv"
python_version="${SANITY_PYTHON:-3.11}"
collection="$root/collections/ansible_collections/ahsp/stack"
sanity_home="${SANITY_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/ahsp-sanity}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tree="$work/ansible_collections/ahsp/stack"
mkdir -p "$tree"
# The collection's files as committed or edited, without caches or old output.
tar -C "$collection" --exclude=__pycache__ --exclude=tests/output -cf - . | tar -C "$tree" -xf -

mkdir -p "$sanity_home"
"$venv/bin/python" "$root/scripts/sanity_pip.py" "$sanity_home/.ansible/test/cache"

start=$SECONDS
status=0
(
  cd "$tree"
  HOME="$sanity_home" "$venv/bin/ansible-test" sanity --venv --python "$python_version" --color no "$@"
) || status=$?
echo "ansible-test sanity (python $python_version, --venv): $((SECONDS - start)) s, exit $status"
exit "$status"
