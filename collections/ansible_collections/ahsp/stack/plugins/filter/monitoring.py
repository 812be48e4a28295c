"""Where the monitoring hosts scrape each host of a tier, from the inventory.

An exporter (and the app's gunicorn) listens on loopback when the host is
the only monitoring host, and on its private address otherwise (the wiring
decides both with the same rule): the scrape target follows, so that the
targets Prometheus gets are exactly the addresses the exporters bind.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def _target(address: str, port: int) -> str:
    """IP:PORT, or [IPv6]:PORT, for a canonical address and a port in range."""
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        raise AnsibleFilterError(f"scrape_targets: {address!r} is not an IP address") from None
    if str(ip) != str(address) or not 1 <= int(port) <= 65535:
        raise AnsibleFilterError(f"scrape_targets: {address!r} port {port!r} is not canonical")
    return f"[{ip}]:{int(port)}" if ip.version == 6 else f"{ip}:{int(port)}"


def scrape_targets(
    addresses: Mapping[str, str], monitoring: Iterable[str], port: int
) -> list[dict[str, str]]:
    """One target per host, in the order given: ``{"address": "IP:PORT", "instance": name}``.

    ``addresses`` maps each host's inventory name to its private address; a
    host that is the only monitoring host is scraped on 127.0.0.1.
    """
    only = list(monitoring)
    return [
        {"address": _target("127.0.0.1" if only == [name] else address, port), "instance": name}
        for name, address in addresses.items()
    ]


def scrape_jobs(
    addresses: Mapping[str, str],
    groups: Mapping[str, Iterable[str]],
    jobs: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Prometheus's scrape jobs: ``{"job", "targets"}`` for each job that has hosts.

    Each of ``jobs`` names its ``job``, the inventory ``group`` it scrapes
    (none: every host in ``addresses``) and the ``port``; ``local: false``
    for a service that always listens on the private address (Prometheus
    and Alertmanager themselves), never on loopback.
    """
    monitoring = list(groups.get("monitoring", []))
    result = []
    for job in jobs:
        members = set(groups.get(job["group"], [])) if job.get("group") else set(addresses)
        hosts = {name: address for name, address in addresses.items() if name in members}
        targets = scrape_targets(hosts, monitoring if job.get("local", True) else [], job["port"])
        if targets:
            result.append({"job": str(job["job"]), "targets": targets})
    return result


class FilterModule:
    """The monitoring's scrape targets."""

    def filters(self) -> dict[str, Any]:
        return {"scrape_targets": scrape_targets, "scrape_jobs": scrape_jobs}
