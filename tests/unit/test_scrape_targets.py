"""ahsp.stack.scrape_targets: the monitoring's targets are where the exporters listen."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.ahsp.stack.plugins.filter.monitoring import scrape_targets


def test_private_addresses_and_inventory_names():
    targets = scrape_targets({"db-1": "10.0.0.5", "db-2": "fd00::6"}, ["mon-1"], 9187)
    assert targets == [
        {"address": "10.0.0.5:9187", "instance": "db-1"},
        {"address": "[fd00::6]:9187", "instance": "db-2"},
    ]


def test_the_only_monitoring_host_scrapes_itself_on_loopback():
    targets = scrape_targets({"one": "10.0.0.5", "two": "10.0.0.6"}, ["one"], 9100)
    assert [t["address"] for t in targets] == ["127.0.0.1:9100", "10.0.0.6:9100"]
    # With two monitoring hosts every exporter listens on its private address.
    targets = scrape_targets({"one": "10.0.0.5"}, ["one", "two"], 9100)
    assert targets[0]["address"] == "10.0.0.5:9100"


@pytest.mark.parametrize(
    ("address", "port"),
    [("10.0.0.05", 9100), ("host.example", 9100), ("10.0.0.5", 0), ("10.0.0.5", 70000)],
)
def test_anything_but_a_canonical_address_and_port_fails(address, port):
    with pytest.raises(AnsibleFilterError):
        scrape_targets({"h": address}, ["m"], port)


def test_one_job_per_tier_with_hosts_and_the_monitoring_on_its_private_address():
    from ansible_collections.ahsp.stack.plugins.filter.monitoring import scrape_jobs

    addresses = {"r1": "10.0.0.1", "a1": "10.0.0.2", "m1": "10.0.0.3"}
    groups = {"redis": ["r1"], "app": ["a1"], "db": [], "monitoring": ["m1"]}
    jobs = [
        {"job": "node", "port": 9100},
        {"job": "redis", "group": "redis", "port": 9121},
        {"job": "postgres", "group": "db", "port": 9187},
        {"job": "prometheus", "group": "monitoring", "port": 9090, "local": False},
    ]
    result = {job["job"]: [t["address"] for t in job["targets"]] for job in scrape_jobs(
        addresses, groups, jobs)}  # fmt: skip
    assert result == {
        "node": ["10.0.0.1:9100", "10.0.0.2:9100", "127.0.0.1:9100"],
        "redis": ["10.0.0.1:9121"],
        "prometheus": ["10.0.0.3:9090"],
    }
