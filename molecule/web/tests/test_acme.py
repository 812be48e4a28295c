"""ACME issuance and renewal for the front, against Debian's pebble test CA on the same host.

pebble runs for this test only (a transient unit), with a TLS certificate
made here; it validates each name by HTTP-01 on port 80 of the name, which
/etc/hosts points at this host's front. The test then puts the scenario's
own certificate source (the local CA) back.
"""

from __future__ import annotations

import base64
import json
import shlex

import pytest
from ahsp_certs import cert_pem, ec_key, issue, key_pem
from ahsp_testing import run_playbook, wait_for
from cryptography import x509

NAME = "front.ahsp.test"
PEBBLE_DIR = "/root/pebble"
ACME = {
    "nginx_tls_source": "acme",
    "nginx_acme_server": "https://localhost:14000/dir",
    "nginx_acme_email": "ops@ahsp.test",
    "nginx_acme_ca_bundle": f"{PEBBLE_DIR}/ca.pem",
    "nginx_server_names": [NAME],
}

# Runs on the host: the certificate the front serves for NAME (not checked:
# the test reads its issuer), as base64 DER.
_SERVED = r"""
import base64, socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", 443), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=sys.argv[1]) as tls:
        print(base64.b64encode(tls.getpeercert(binary_form=True)).decode())
"""


def _served(host) -> x509.Certificate:
    der = host.check_output(f"python3 -c {shlex.quote(_SERVED)} {NAME}")
    return x509.load_der_x509_certificate(base64.b64decode(der))


def _pebble_tls() -> dict[str, str]:
    """A CA and pebble's own server certificate for localhost, as PEM."""
    ca_key, key = ec_key(), ec_key()
    ca = issue(ca_key, "pebble test TLS CA", ca=True)
    leaf = issue(key, "localhost", signer=(ca_key, ca), sans=["localhost"])
    return {"ca.pem": cert_pem(ca), "cert.pem": cert_pem(leaf), "key.pem": key_pem(key)}


def _put(host, path: str, content: str, mode: str = "0600") -> None:
    host.ansible("copy", f"content={shlex.quote(content)} dest={path} mode={mode}", check=False)


@pytest.fixture
def pebble(host):
    """pebble on 127.0.0.1:14000, validating HTTP-01 on port 80; stopped after the test."""
    host.check_output(f"mkdir -p {PEBBLE_DIR}")
    for name, content in _pebble_tls().items():
        _put(host, f"{PEBBLE_DIR}/{name}", content)
    config = {
        "pebble": {
            "listenAddress": "127.0.0.1:14000",
            "managementListenAddress": "127.0.0.1:15000",
            "certificate": f"{PEBBLE_DIR}/cert.pem",
            "privateKey": f"{PEBBLE_DIR}/key.pem",
            "httpPort": 80,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    _put(host, f"{PEBBLE_DIR}/config.json", json.dumps(config))
    host.check_output(f"grep -q ' {NAME}$' /etc/hosts || echo '127.0.0.1 {NAME}' >> /etc/hosts")
    host.check_output(
        "systemd-run --unit=ahsp-pebble --property=RuntimeMaxSec=900 "
        "-E PEBBLE_VA_NOSLEEP=1 -E PEBBLE_WFE_NONCEREJECT=0 "
        f"/usr/bin/pebble -config {PEBBLE_DIR}/config.json"
    )
    wait_for(lambda: host.socket("tcp://127.0.0.1:14000").is_listening, 30, "pebble listening")
    yield
    host.run("systemctl stop ahsp-pebble")


def test_acme_issues_renews_and_hands_back(host, pebble, tmp_path):
    extra = tmp_path / "acme.json"
    extra.write_text(json.dumps(ACME))
    try:
        issued = run_playbook("converge.yml", "-e", f"@{extra}")
        assert issued.rc == 0, issued.tail()
        first = _served(host)
        assert "Pebble" in first.issuer.rfc4514_string(), first.issuer
        assert host.service("certbot.timer").is_enabled

        again = run_playbook("converge.yml", "-e", f"@{extra}")
        assert again.rc == 0 and again.changed() == 0, again.tail()

        # A renewal (forced: pebble's certificates are not close to expiry)
        # goes live through the deploy hook, by reload.
        master = host.check_output("systemctl show -p MainPID --value nginx")
        host.check_output(
            f"REQUESTS_CA_BUNDLE={PEBBLE_DIR}/ca.pem certbot renew --force-renewal "
            "--no-random-sleep-on-renew --cert-name ahsp --quiet"
        )
        renewed = _served(host)
        assert renewed.serial_number != first.serial_number
        assert "Pebble" in renewed.issuer.rfc4514_string()
        assert host.check_output("systemctl show -p MainPID --value nginx") == master
    finally:
        back = run_playbook("converge.yml")
    assert back.rc == 0, back.tail()
    assert "AHSP local CA" in _served(host).issuer.rfc4514_string()
    assert not host.file("/usr/local/sbin/ahsp-nginx-certificate").exists
