"""ahsp.stack.certificate_problems against real keys and certificates.

The preflight refuses a bad TLS certificate or key for the nginx front
before any host changes, so every fault nginx or a browser would find must
be found here, and named by its variable. The keys and certificates are made
with `cryptography` for each run (a CA, leaves signed by it), at a fixed
moment, so the validity cases do not depend on the day the tests run. The
private key is a secret: every test that passes one also checks that no
message carries any part of it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ahsp_certs
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.ahsp.stack.plugins.filter.certificates import (
    FilterModule,
    _covered,
    certificate_problems,
)
from ansible_json import ansible_json
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = ["app.example.org", "a.static.example.org", "192.0.2.10", "2001:DB8::1", "APP.Example.Org"]
SANS = ["app.example.org", "*.static.example.org", "192.0.2.10", "2001:db8::1"]
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2026, 4, 1, tzinfo=UTC)
# The DER of the prime256v1 curve's OID: what `openssl ecparam -genkey` writes before the key.
EC_PARAMETERS = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"


def issue(
    key: Any,
    signer: tuple[Any, x509.Certificate] | None,
    sans: Sequence[str] | None = SANS,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    ca: bool = False,
) -> x509.Certificate:
    """A certificate for ``key`` signed by ``signer`` (CA key and certificate), or self-signed."""
    return ahsp_certs.issue(
        key,
        "AHSP test CA" if ca else "app.example.org",
        signer=signer,
        sans=sans,
        not_before=not_before,
        not_after=not_after,
        ca=ca,
    )


cert_pem = ahsp_certs.cert_pem
key_pem = ahsp_certs.key_pem


def assert_no_key_text(problems: Sequence[str], key_text: str) -> None:
    """No 12 characters in a row of the key's PEM body appear in any message."""
    body = "".join(line for line in key_text.splitlines() if not line.startswith("-----"))
    shown = "".join("".join(problems).split())
    leaked = {body[i : i + 12] for i in range(len(body) - 11)} & {
        shown[i : i + 12] for i in range(len(shown) - 11)
    }
    assert not leaked


def check(cert: str, key: str, names: Sequence[str] = NAMES, **kwargs: Any) -> list[str]:
    """The filter's problems at NOW, after checking they carry nothing of the key."""
    problems = certificate_problems(cert, key, names, **{"now": NOW, **kwargs})
    assert_no_key_text(problems, key)
    return problems


@pytest.fixture(scope="module")
def ca() -> tuple[Any, x509.Certificate]:
    """A self-signed CA, as an operator's own or an intermediate would be."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key, issue(key, None, sans=None, not_after=datetime(2036, 1, 1, tzinfo=UTC), ca=True)


@pytest.fixture(scope="module")
def leaf_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def leaf(leaf_key, ca) -> x509.Certificate:
    """The server's certificate: SANs with a host name, a wildcard, an IPv4 and an IPv6 address."""
    return issue(leaf_key, ca)


@pytest.fixture(scope="module")
def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_a_good_certificate_and_key_have_no_problems(leaf, leaf_key):
    assert check(cert_pem(leaf), key_pem(leaf_key)) == []


def test_a_chain_after_the_servers_certificate_is_accepted(leaf, leaf_key, ca):
    assert check(cert_pem(leaf, ca[1]), key_pem(leaf_key)) == []


def test_the_filter_is_registered():
    assert FilterModule().filters()["certificate_problems"] is certificate_problems


@pytest.mark.parametrize(
    "form", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_ec_and_ed25519_pairs_are_accepted(ca, form):
    ec_key = ec.generate_private_key(ec.SECP384R1())
    assert check(cert_pem(issue(ec_key, ca)), key_pem(ec_key, form)) == []
    assert check(cert_pem(issue(ec_key, ca)), EC_PARAMETERS + key_pem(ec_key, form)) == []
    ed_key = ed25519.Ed25519PrivateKey.generate()
    assert check(cert_pem(issue(ed_key, ca)), key_pem(ed_key)) == []


@pytest.mark.parametrize(
    "text",
    [
        "Garbage-not-a-certificate 7f3a",
        "",
        "-----BEGIN CERTIFICATE-----\nGarbage7f3aGarbage\n-----END CERTIFICATE-----\n",
    ],
    ids=["garbage", "empty", "garbled-block"],
)
def test_text_that_is_no_certificate_is_refused_without_echoing_it(text, leaf_key):
    (problem,) = check(text, key_pem(leaf_key), variable="front_cert")
    assert problem.startswith("front_cert: ")
    assert "7f3a" not in problem
    assert "PEM certificate" in problem or "does not parse" in problem


def test_a_chain_certificate_that_does_not_parse_is_refused(leaf, leaf_key):
    broken = "-----BEGIN CERTIFICATE-----\nMIIBzzCCAXWgAwIBAgIU\n-----END CERTIFICATE-----\n"
    (problem,) = check(cert_pem(leaf) + broken, key_pem(leaf_key))
    assert problem == (
        "nginx_tls_certificate: certificate 2 of 2 (a chain certificate) "
        "does not parse as an X.509 certificate"
    )


def test_a_private_key_in_the_certificate_variable_is_refused(leaf, leaf_key):
    key = key_pem(leaf_key)
    problems = check(cert_pem(leaf) + key, key)
    assert problems == [
        "nginx_tls_certificate: holds a private key; the key belongs in nginx_tls_private_key "
        "only, remove it from nginx_tls_certificate"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Garbage-not-a-key 7f3a",
        "",
        "-----BEGIN PRIVATE KEY-----\nGarbage7f3a\n-----END PRIVATE KEY-----",
    ],
    ids=["garbage", "empty", "garbled-block"],
)
def test_text_that_is_no_private_key_is_refused(leaf, text):
    (problem,) = check(cert_pem(leaf), text, key_variable="front_key")
    assert problem.startswith("front_key: ")
    assert "7f3a" not in problem


def test_a_certificate_in_the_key_variable_is_refused(leaf):
    (problem,) = check(cert_pem(leaf), cert_pem(leaf))
    assert problem == (
        "nginx_tls_private_key: is not a PEM private key "
        "(expected one -----BEGIN ... PRIVATE KEY----- block, found none)"
    )


@pytest.mark.parametrize(
    "form", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_an_encrypted_key_is_refused(leaf, leaf_key, form):
    (problem,) = check(cert_pem(leaf), key_pem(leaf_key, form, passphrase=b"s3cret-pass"))
    assert problem.startswith("nginx_tls_private_key: the private key is encrypted")
    assert "s3cret" not in problem


def test_a_key_of_another_certificate_is_refused(leaf, other_key):
    (problem,) = check(cert_pem(leaf), key_pem(other_key))
    assert problem == (
        "nginx_tls_private_key: the private key does not match the certificate in "
        "nginx_tls_certificate (their public keys differ)"
    )


def test_a_chain_in_the_wrong_order_is_named(leaf, leaf_key, ca):
    problems = check(cert_pem(ca[1], leaf), key_pem(leaf_key))
    assert problems[0] == (
        "nginx_tls_private_key: the private key does not match the certificate in "
        "nginx_tls_certificate (their public keys differ); it is the key of certificate 2 in "
        "nginx_tls_certificate: the server's certificate must come first, then its chain"
    )


def test_an_expired_certificate_is_refused_with_its_date(leaf_key, ca):
    cert = issue(leaf_key, ca, not_after=datetime(2026, 2, 1, tzinfo=UTC))
    (problem,) = check(cert_pem(cert), key_pem(leaf_key))
    assert problem == (
        "nginx_tls_certificate: expired on 2026-02-01T00:00:00Z (now 2026-03-01T12:00:00Z)"
    )


def test_a_certificate_not_yet_valid_is_refused_with_its_date(leaf_key, ca):
    cert = issue(leaf_key, ca, not_before=datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    (problem,) = check(cert_pem(cert), key_pem(leaf_key))
    assert problem == (
        "nginx_tls_certificate: not valid yet: valid from 2026-03-02T08:30:00Z "
        "(now 2026-03-01T12:00:00Z)"
    )


def test_a_certificate_expiring_within_min_days_is_refused(leaf, leaf_key):
    key = key_pem(leaf_key)  # NOT_AFTER is 30.5 days after NOW
    assert check(cert_pem(leaf), key, min_days=30) == []
    (problem,) = check(cert_pem(leaf), key, min_days=31)
    assert problem == (
        "nginx_tls_certificate: expires on 2026-04-01T00:00:00Z, within 31 days "
        "(now 2026-03-01T12:00:00Z); renew it"
    )


def test_now_defaults_to_the_current_time_and_takes_iso_text(leaf_key, ca):
    today = datetime.now(UTC).replace(microsecond=0)
    start, end = today - timedelta(days=1), today + timedelta(days=9)
    cert, key = cert_pem(issue(leaf_key, ca, not_before=start, not_after=end)), key_pem(leaf_key)
    assert certificate_problems(cert, key, NAMES) == []
    assert certificate_problems(cert, key, NAMES, min_days=10) != []
    before = start - timedelta(hours=1)
    for text in (_iso(before), before.replace(tzinfo=None).isoformat()):  # no zone: UTC
        (problem,) = certificate_problems(cert, key, NAMES, now=text)
        assert problem == (
            f"nginx_tls_certificate: not valid yet: valid from {_iso(start)} (now {_iso(before)})"
        )


def _iso(moment: datetime) -> str:
    """A UTC moment as the messages give it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("now", "min_days"), [("yesterday", 0), (12, 0), (NOW, -1), (NOW, "x")])
def test_a_wrong_now_or_min_days_is_an_error(leaf, leaf_key, now, min_days):
    with pytest.raises(AnsibleFilterError, match="certificate_problems: "):
        certificate_problems(cert_pem(leaf), key_pem(leaf_key), NAMES, now=now, min_days=min_days)


@pytest.mark.parametrize(
    ("names", "missing"),
    [
        (["x.static.example.org", "X-1.STATIC.Example.org."], None),
        (["static.example.org"], "static.example.org"),
        (["a.b.static.example.org"], "a.b.static.example.org"),
        (["www.example.org", "app.example.org"], "www.example.org"),
        (["192.0.2.11", "192.0.2.10"], "192.0.2.11"),
        (["2001:db8::2"], "2001:db8::2"),
    ],
)
def test_every_server_name_must_be_covered(leaf, leaf_key, names, missing):
    problems = check(cert_pem(leaf), key_pem(leaf_key), names)
    if missing is None:
        assert problems == []
    else:
        assert problems == [
            f"nginx_tls_certificate: does not cover {missing} (its subjectAltName names "
            "app.example.org, *.static.example.org, 192.0.2.10, 2001:db8::1)"
        ]


@pytest.mark.parametrize(
    ("name", "entries", "covered"),
    [
        ("a.example.org", ["*.example.org"], True),
        ("example.org", ["*.example.org"], False),
        ("a.b.example.org", ["*.example.org"], False),
        ("example.org", ["*.org"], False),  # a wildcard needs two labels after it
        ("fa.example.org", ["f*.example.org"], False),  # only a whole label is a wildcard
        ("*.example.org", ["*.example.org"], True),  # a wildcard server name, the same entry
        ("*.example.org", ["a.example.org"], False),
        ("b\u00fccher.example.org", ["xn--bcher-kva.example.org"], True),
        ("192.0.2.10", ["192.0.2.10"], False),  # an IP in a DNS entry: browsers refuse it
        ("[2001:db8::1]", [], True),
    ],
)
def test_name_matching_follows_the_browsers(name, entries, covered):
    ips = [ipaddress.ip_address("2001:db8:0::1")]
    assert _covered(name, entries, ips) is covered


def test_a_certificate_without_subject_alt_name_is_refused(leaf_key, ca):
    cert = issue(leaf_key, ca, sans=None)  # its CN is app.example.org, which browsers ignore
    (problem,) = check(cert_pem(cert), key_pem(leaf_key), ["app.example.org"])
    assert problem.startswith("nginx_tls_certificate: the certificate has no subjectAltName")


def test_an_rsa_key_below_2048_bits_is_refused(ca):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    (problem,) = check(cert_pem(issue(weak, ca)), key_pem(weak))
    assert problem == (
        "nginx_tls_certificate: the certificate's RSA key has 1024 bits, below the 2048 required; "
        "issue a new certificate for a new key (nginx_tls_private_key)"
    )


def test_a_key_type_browsers_do_not_take_is_refused(ca):
    dsa_key = dsa.generate_private_key(key_size=2048)
    (problem,) = check(cert_pem(issue(dsa_key, ca)), key_pem(dsa_key))
    assert problem == (
        "nginx_tls_certificate: the certificate's key is DSA; the front takes RSA "
        "(2048 bits or more), EC or Ed25519 keys"
    )


def test_every_problem_at_once_names_its_variable(leaf_key, other_key, ca):
    cert = issue(
        leaf_key, ca, sans=["other.example.org"], not_after=datetime(2026, 2, 1, tzinfo=UTC)
    )
    problems = check(cert_pem(cert), key_pem(other_key), variable="c", key_variable="k")
    assert [p.split(":", 1)[0] for p in problems] == ["k", "c", "c"]


def test_the_filter_runs_in_ansible_from_the_collection(tmp_path, leaf, leaf_key, ca):
    key = key_pem(leaf_key)
    values = {"cert": cert_pem(leaf, ca[1]), "key": key, "names": NAMES, "at": NOW.isoformat()}
    (tmp_path / "vars.json").write_text(json.dumps(values))
    expression = (
        "{{ {'good': cert | ahsp.stack.certificate_problems(key, names, now=at),"
        " 'soon': cert | ahsp.stack.certificate_problems(key, names, now=at, min_days=60),"
        " 'garbage': 'nonsense' | ahsp.stack.certificate_problems(key, names, 'front_cert')} }}"
    )
    report = ansible_json(
        "ansible", "localhost", "-c", "local", "-m", "ansible.builtin.debug",
        "-a", f"msg={expression}", "-e", f"@{tmp_path / 'vars.json'}",
    )  # fmt: skip
    result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result.get("failed") is not True, result
    assert result["msg"]["good"] == []
    assert result["msg"]["soon"] == [
        "nginx_tls_certificate: expires on 2026-04-01T00:00:00Z, within 60 days "
        "(now 2026-03-01T12:00:00Z); renew it"
    ]
    (garbage,) = result["msg"]["garbage"]
    assert garbage.startswith("front_cert: is not a PEM certificate")
    assert_no_key_text([json.dumps(result["msg"])], key)


def test_without_cryptography_the_filter_says_so(monkeypatch, leaf, leaf_key):
    from ansible_collections.ahsp.stack.plugins.filter import certificates

    monkeypatch.setattr(certificates, "_CRYPTOGRAPHY_MISSING", ImportError("cryptography"))
    with pytest.raises(AnsibleFilterError, match="needs the Python package cryptography"):
        certificate_problems(cert_pem(leaf), key_pem(leaf_key), NAMES)
