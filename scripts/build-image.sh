#!/usr/bin/env bash
# Build the systemd base image for Molecule and the demo from Debian's own
# packages (no registry is needed): debootstrap a minbase root, import it.
# Usage: build-image.sh SUITE   (bookworm | trixie)
set -euo pipefail

suite="${1:?usage: build-image.sh SUITE}"
image="${IMAGE_REPO:-ahsp/debian-systemd}:${suite}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1 && [ "${FORCE:-0}" != 1 ]; then
  echo "image: $image exists (FORCE=1 rebuilds)"
  exit 0
fi

root="$(mktemp -d /var/tmp/ahsp-rootfs.XXXXXX)"
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT

echo "image: debootstrap $suite into $root"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"

# Sources as a Debian installer writes them (security updates included), and
# name resolution for the apt-get update below.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
SOURCES

# A container is not a machine: drop units that only make sense on hardware,
# keep apt lean, and give it a machine-id at first boot.
chroot "$root" /bin/sh -eu <<'CHROOT'
rm -f /etc/machine-id /var/lib/dbus/machine-id
: > /etc/machine-id
for u in getty.target systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
         e2scrub_all.timer fstrim.timer systemd-remount-fs.service; do
  ln -sf /dev/null "/etc/systemd/system/$u"
done
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > /etc/apt/apt.conf.d/90ahsp-no-recommends
# Fresh package lists, as a newly installed host has them.
apt-get update -qq
apt-get clean
rm -f /var/cache/apt/*.bin
CHROOT

echo "image: importing $image"
tar -C "$root" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  - "$image" >/dev/null
echo "image: built $image"
