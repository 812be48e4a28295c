#!/usr/bin/env bash
# Proves the prometheus role's files with the tools of Debian's own packages:
# renders prometheus.yml, alertmanager.yml and the alert rules with the
# role's defaults and tests/rules/sample.yml, then runs
#
#   promtool check rules     the rules parse, their templates too
#   promtool check config    prometheus.yml, and the rules it loads
#   promtool test rules      tests/rules/*.test.yml: every alert fires when
#                            it should and stays silent when it should not
#   amtool check-config      alertmanager.yml
#   amtool config routes     Watchdog reaches the dead man's switch only
#
#   bash scripts/promtool.sh          (`make lint` runs it)
#
# promtool and amtool come from this machine's Debian release (promtool is in
# the `prometheus` package on Debian 12, in `promtool` from Debian 13 on, and
# amtool in `prometheus-alertmanager`). The packages are never installed
# here, which would start their services: the first run downloads them with
# `apt-get download` and extracts the two binaries (and Debian's two units)
# into build/tools/ with dpkg-deb. Later runs reuse them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$ROOT/build/tools
WORK=$ROOT/build/promtool
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_CONFIG=${ANSIBLE_CONFIG:-$ROOT/ansible.cfg}

fetch_tools() {
  local download packages
  download=$(mktemp -d)
  trap 'rm -rf "$download"' RETURN
  packages=(prometheus-alertmanager)
  if apt-cache show promtool >/dev/null 2>&1; then
    packages+=(promtool)
  else
    packages+=(prometheus)
  fi
  echo "promtool.sh: downloading ${packages[*]} (extracted into build/tools/, not installed)"
  if ! (cd "$download" && apt-get download -q "${packages[@]}" >/dev/null 2>&1); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "promtool.sh: apt-get download ${packages[*]} failed; run 'apt-get update' as root and try again" >&2
      return 1
    fi
    apt-get update -qq
    (cd "$download" && apt-get download -q "${packages[@]}" >/dev/null)
  fi
  for deb in "$download"/*.deb; do
    dpkg-deb -x "$deb" "$download/root"
  done
  mkdir -p "$TOOLS/units"
  install -m 0755 "$download/root/usr/bin/promtool" "$download/root/usr/bin/amtool" "$TOOLS/"
  # Debian's units, for the unit tests that score the role's sandboxes
  # (systemd-analyze security --offline).
  find "$download/root" -name 'prometheus*.service' -exec install -m 0644 {} "$TOOLS/units/" \;
}

if [[ ! -x $TOOLS/promtool || ! -x $TOOLS/amtool || ! -f $TOOLS/units/prometheus.service ]]; then
  fetch_tools
fi
PROMTOOL=$TOOLS/promtool
AMTOOL=$TOOLS/amtool
echo "promtool.sh: $("$PROMTOOL" --version 2>&1 | head -n 1); $("$AMTOOL" --version 2>&1 | head -n 1)"

# The role's files, rendered as the role renders them (tests/rules/render.yml).
rm -rf "$WORK"
mkdir -p "$WORK"
if ! ansible-playbook "$ROOT/tests/rules/render.yml" -e "render_dir=$WORK" >"$WORK/render.log" 2>&1; then
  cat "$WORK/render.log" >&2
  exit 1
fi
# The SMTP password file alertmanager.yml names (its content is not read here).
echo sample >"$WORK/alertmanager-smtp-password"

"$PROMTOOL" check rules "$WORK/ahsp.rules.yml"
"$PROMTOOL" check config "$WORK/prometheus.yml"

# The behaviour tests compare alerts by their labels: they run on a copy of
# the rules without annotations; ahsp.annotations.test.yml runs on the
# shipped file.
"$PYTHON" - "$WORK/ahsp.rules.yml" "$WORK/ahsp.rules.behaviour.yml" <<'EOF'
import sys

import yaml


class Dumper(yaml.SafeDumper):
    pass


def text(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, text)
with open(sys.argv[1], encoding="utf-8") as source:
    rules = yaml.safe_load(source)
for group in rules["groups"]:
    for rule in group["rules"]:
        rule.pop("annotations", None)
with open(sys.argv[2], "w", encoding="utf-8") as target:
    yaml.dump(rules, target, Dumper=Dumper, sort_keys=False, width=1000)
EOF
cp "$ROOT"/tests/rules/*.test.yml "$WORK/"
(cd "$WORK" && "$PROMTOOL" test rules ./*.test.yml)

"$AMTOOL" check-config "$WORK/alertmanager.yml"
route() {
  local expected=$1
  shift
  local got
  got=$("$AMTOOL" config routes test --config.file="$WORK/alertmanager.yml" "$@" 2>/dev/null)
  if [[ $got != "$expected" ]]; then
    echo "promtool.sh: an alert with $* goes to '$got', not to '$expected'" >&2
    return 1
  fi
}
route watchdog alertname=Watchdog severity=none
route ahsp alertname=AppHostDown severity=critical instance=app-1
route ahsp alertname=DiskFillingUp severity=warning instance=db-1
echo "promtool.sh: rules, configuration, rule tests and routes passed"
