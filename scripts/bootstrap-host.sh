#!/usr/bin/env bash
# Install what the controller needs (apt packages, a running Docker engine).
# Idempotent: a second run installs nothing and leaves a running engine alone.
set -euo pipefail

packages=(docker.io debootstrap redis-server postgresql python3-venv ca-certificates iproute2 wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "bootstrap: need root to install: ${missing[*]}" >&2; exit 1; }
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian packages enable a system redis-server and PostgreSQL cluster; the
# project's tests start their own instances (redis-server, and PostgreSQL's
# initdb/pg_ctl in a temporary directory) on free ports, so the packaged
# services are not used here.

if ! docker info >/dev/null 2>&1; then
  echo "bootstrap: starting dockerd"
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "bootstrap: dockerd did not come up; see /var/log/dockerd.log" >&2; exit 1; }
fi
echo "bootstrap: host ready (docker $(docker version --format '{{.Server.Version}}'))"
