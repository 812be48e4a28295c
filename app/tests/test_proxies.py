"""Trusted proxies: who the client is and whether it used HTTPS, per detail_project/proxies.py."""

from __future__ import annotations

import pytest
from detail_project.proxies import client_ip, client_network, parse_address
from django.test import Client, RequestFactory, override_settings

TRUSTED = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.10"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.5", "203.0.113.5"),
        (" 203.0.113.5 ", "203.0.113.5"),
        ("203.0.113.5:4711", "203.0.113.5"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("unknown", None),
        ("", None),
        ("_hidden", None),
        ("[2001:db8::1", None),
    ],
)
def test_parse_address(text: str, expected: str | None) -> None:
    parsed = parse_address(text)
    assert (str(parsed) if parsed else None) == expected


@override_settings(TRUSTED_PROXIES=TRUSTED)
@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.1.1.1", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "1.1.1.1, 203.0.113.5", "203.0.113.5"),  # right-most untrusted hop
        ("10.0.0.2", "203.0.113.5, 10.9.9.9, 192.0.2.10", "203.0.113.5"),  # skip our hops
        ("10.0.0.2", "10.1.1.1, 10.2.2.2", "10.1.1.1"),  # all ours: the left-most
        ("10.0.0.2", "1.1.1.1, garbage", "10.0.0.2"),  # stop at what we cannot read
        ("10.0.0.2", "[2001:db8::5]:80, 203.0.113.7:1234", "203.0.113.7"),
        ("::ffff:10.0.0.2", "203.0.113.8", "203.0.113.8"),  # IPv4-mapped peer
        ("2001:db8::2", "2001:db9::1", "2001:db9::1"),
    ],
)
def test_client_ip(remote: str, forwarded: str, expected: str) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@override_settings(SECURE_SSL_REDIRECT=True, TRUSTED_PROXIES=["10.0.0.0/8"])
def test_forged_forwarded_proto_from_an_untrusted_peer_does_not_make_it_https() -> None:
    client = Client()
    forged = client.get("/api/test/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.9")
    assert forged.status_code == 301
    assert forged["Location"] == "https://testserver/api/test/"
    trusted = client.get("/api/test/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.0.0.2")
    assert trusted.status_code == 200
    says_http = client.get("/api/test/", HTTP_X_FORWARDED_PROTO="http", REMOTE_ADDR="10.0.0.2")
    assert says_http.status_code == 301
    odd = client.get("/api/test/", HTTP_X_FORWARDED_PROTO="gopher", REMOTE_ADDR="10.0.0.2")
    assert odd.status_code == 301


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"], SESSION_COOKIE_SECURE=True)
def test_https_behind_the_proxy_is_https_to_django(rf: RequestFactory) -> None:
    """The CSRF origin check compares with the scheme Django believes."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.0.0.2")
    assert page.status_code == 200
    assert page.wsgi_request.is_secure()
    direct = client.get("/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.9")
    assert not direct.wsgi_request.is_secure()


@override_settings(TRUSTED_PROXIES=TRUSTED)
def test_a_peer_seen_before_is_still_judged_by_its_own_headers() -> None:
    """The parsed peer is cached per REMOTE_ADDR; the forwarded header is not."""
    factory = RequestFactory()
    for forwarded, expected in [("", "10.0.0.2"), ("203.0.113.5", "203.0.113.5"), ("", "10.0.0.2")]:
        request = factory.get("/", REMOTE_ADDR="::ffff:10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
        assert client_ip(request) == expected
    assert client_ip(factory.get("/", REMOTE_ADDR="not an address")) == "not an address"
    assert client_ip(factory.get("/", REMOTE_ADDR="")) == "unknown"


@pytest.mark.parametrize(
    ("remote", "prefix", "expected"),
    [
        ("203.0.113.5", 64, "203.0.113.5"),
        ("::ffff:203.0.113.5", 64, "203.0.113.5"),
        ("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::9]:443", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"),
        ("2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"),
        ("not:an:address", 64, "not:an:address"),
        ("", 64, "unknown"),
    ],
)
def test_client_network(remote: str, prefix: int, expected: str) -> None:
    with override_settings(RATELIMIT_IPV6_PREFIX=prefix):
        assert client_network(RequestFactory().get("/", REMOTE_ADDR=remote)) == expected
