#!/usr/bin/env bash
# Puts Debian's pgBackRest (this machine's release) in build/tools/, for the
# unit tests that read the pgbackrest role's rendered configuration back
# with pgBackRest's own parser (`pgbackrest --config=FILE help ...`), and
# its TLS server unit in build/tools/units/ (the sandbox score).
#
#   bash scripts/pgbackrest-tool.sh       (the tests run it when the binary is missing)
#
# The package is never installed here: `apt-get download` and `dpkg-deb -x`,
# then the binary alone is kept (its libraries are those of libpq5 and the
# compression libraries, which this machine has). Nothing is started.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$ROOT/build/tools

if [[ -x $TOOLS/pgbackrest && -f $TOOLS/units/pgbackrest.service ]]; then
  exit 0
fi
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
echo "pgbackrest-tool.sh: downloading pgbackrest (extracted into build/tools/, not installed)"
if ! (cd "$download" && apt-get download -q pgbackrest >/dev/null 2>&1); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "pgbackrest-tool.sh: apt-get download pgbackrest failed; run 'apt-get update' as root and try again" >&2
    exit 1
  fi
  apt-get update -qq
  (cd "$download" && apt-get download -q pgbackrest >/dev/null)
fi
dpkg-deb -x "$download"/pgbackrest_*.deb "$download/root"
mkdir -p "$TOOLS/units"
install -m 0755 "$download/root/usr/bin/pgbackrest" "$TOOLS/pgbackrest"
find "$download/root" -name 'pgbackrest.service' -exec install -m 0644 {} "$TOOLS/units/" \;
if ! "$TOOLS/pgbackrest" version >/dev/null; then
  echo "pgbackrest-tool.sh: build/tools/pgbackrest does not run here (a missing library? apt-get install libpq5)" >&2
  exit 1
fi
"$TOOLS/pgbackrest" version
