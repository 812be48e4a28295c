"""ahsp.stack.nginx_upstream_servers: the one writer of the fronts' upstream list."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.ahsp.stack.plugins.filter.nginx import (
    app_upstreams,
    nginx_upstream_servers,
)


def test_every_upstream_in_service():
    text = nginx_upstream_servers(["10.0.0.1:8000", "[fd00::2]:8000"])
    assert text == (
        "server 10.0.0.1:8000 max_fails=1 fail_timeout=5s;\n"
        "server [fd00::2]:8000 max_fails=1 fail_timeout=5s;\n"
    )


def test_drained_upstreams_are_down_and_the_others_untouched():
    text = nginx_upstream_servers(["10.0.0.1:8000", "10.0.0.2:8000"], ["10.0.0.2:8000"])
    assert text.splitlines() == [
        "server 10.0.0.1:8000 max_fails=1 fail_timeout=5s;",
        "server 10.0.0.2:8000 max_fails=1 fail_timeout=5s down;",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "localhost:8000",
        "10.0.0.1:0",
        "10.0.0.1:70000",
        "010.0.0.1:8000",
        "10.0.0.1:80; include x",
        "[fd00::02]:80",
    ],
)
def test_anything_but_a_canonical_ip_port_fails(bad):
    with pytest.raises(AnsibleFilterError):
        nginx_upstream_servers([bad])
    with pytest.raises(AnsibleFilterError):
        nginx_upstream_servers(["10.0.0.1:8000"], [bad])


def test_app_hosts_are_reached_on_their_private_address():
    addresses = {"app1": "10.0.0.1", "app2": "10.0.0.2"}
    assert app_upstreams(addresses, ["web1"], 8000) == ["10.0.0.1:8000", "10.0.0.2:8000"]
    assert app_upstreams(addresses, ["app1", "web1"], 8000) == ["10.0.0.1:8000", "10.0.0.2:8000"]


def test_the_only_front_reaches_its_own_app_on_loopback():
    addresses = {"app1": "10.0.0.1", "app2": "10.0.0.2"}
    assert app_upstreams(addresses, ["app1"], 8001) == ["127.0.0.1:8001", "10.0.0.2:8001"]
