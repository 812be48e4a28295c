"""The nginx front on the single-host stack: TLS, redirects, static files, 503 pages, sandbox.

Every request is made from inside the host, through the front on ports 80
and 443, trusting only the CA the playbook made on the control machine.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import pytest
from ahsp_testing import exposure, http, run_playbook, wait_for
from conftest import SERVICE
from cryptography import x509

CA_ON_HOST = "/root/ahsp-local-ca.crt"

# Runs on the host: one request through the front, without following
# redirects, trusting the local CA; prints status, headers, body and the TLS
# version and ALPN protocol of the connection.
_FRONT_CLIENT = r"""
import http.client, json, ssl, sys
url, method, headers, tls_max = json.loads(sys.argv[1])
scheme, _, rest = url.partition("://")
hostport, _, path = rest.partition("/")
host, _, port = hostport.partition(":")
if scheme == "https":
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if tls_max:
        ctx.maximum_version = getattr(ssl.TLSVersion, tls_max)
    import socket
    raw = socket.create_connection((host, int(port or 443)), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname=host)
    version, alpn = tls.version(), tls.selected_alpn_protocol()
    tls.close()
    # The request itself over HTTP/1.1 (http.client speaks no HTTP/2).
    ctx.set_alpn_protocols(["http/1.1"])
    conn = http.client.HTTPSConnection(host, int(port or 443), context=ctx, timeout=10)
else:
    version, alpn = None, None
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=10)
conn.request(method, "/" + path, headers=headers)
r = conn.getresponse()
body = r.read()
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
                  "body": body.decode("utf-8", "replace")[:4000], "tls": version, "alpn": alpn}))
"""


def front(
    host, url: str, method: str = "GET", headers: dict | None = None, tls_max: str = ""
) -> dict:
    """One request through the front, from inside the host."""
    payload = json.dumps([url, method, headers or {}, tls_max])
    out = host.check_output(
        f"python3 -c {shlex.quote(_FRONT_CLIENT)} {shlex.quote(payload)} {CA_ON_HOST}"
    )
    return json.loads(out)


@pytest.fixture(scope="module", autouse=True)
def local_ca_on_host(host):
    """The local CA's certificate, as the playbook left it on the controller, copied to the host."""
    ca = (
        Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
        / "inventory"
        / ".secrets"
        / "local-ca"
        / "ca.crt"
    )
    assert ca.is_file(), f"the local CA was not made at {ca}"
    host.ansible(
        "copy", f"content={shlex.quote(ca.read_text())} dest={CA_ON_HOST} mode=0644", check=False
    )


def test_https_with_the_local_ca_tls12_tls13_and_http2(host):
    modern = front(host, "https://localhost/health/live/")
    assert modern["status"] == 200, modern
    assert modern["tls"] == "TLSv1.3" and modern["alpn"] == "h2", modern
    older = front(host, "https://127.0.0.1/health/live/", tls_max="TLSv1_2")
    assert older["status"] == 200 and older["tls"] == "TLSv1.2", older


def test_the_certificate_end_of_validity_is_written_for_the_monitoring(host):
    """node_exporter's textfile collector reads it: the served certificate's notAfter."""
    metric = host.file("/var/lib/prometheus/node-exporter/ahsp_tls.prom")
    assert metric.mode == 0o644 and metric.user == "root"
    value = next(
        line.split()[1]
        for line in metric.content_string.splitlines()
        if line.startswith("ahsp_tls_certificate_not_after_seconds ")
    )
    served = x509.load_pem_x509_certificate(host.file("/etc/nginx/tls/ahsp.crt").content)
    assert int(value) == int(served.not_valid_after_utc.timestamp())


def test_nginx_counters_on_loopback_only(host):
    """stub_status for the nginx exporter: 127.0.0.1:8081, nowhere else."""
    (status,) = http(host, "http://127.0.0.1:8081/stub_status")
    assert status.status == 200 and "Active connections:" in status.body
    address = host.check_output("hostname -I").split()[0]
    (elsewhere,) = http(host, f"http://{address}:8081/stub_status")
    assert elsewhere.status == -1, "refused on the host's own address"
    assert front(host, "https://localhost/stub_status")["status"] != 200


def test_the_private_key_is_root_only(host):
    key = host.file("/etc/nginx/tls/ahsp.key")
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)


def test_plain_http_redirects_to_https_but_health_probes_answer(host):
    page = front(host, "http://localhost/api/test/")
    assert page["status"] == 301, page
    assert page["headers"]["location"] == "https://localhost/api/test/"
    probe = front(host, "http://localhost/health/live/")
    assert probe["status"] == 200, probe


def test_the_app_answers_through_the_front_with_one_hsts_header(host):
    answer = front(host, "https://localhost/health/")
    assert answer["status"] == 200, answer
    assert (
        json.loads(answer["body"])["version"]
        == host.file("/srv/ahsp/current").linked_to.rsplit("/", 1)[1]
    )
    assert "server" not in answer["headers"] or "nginx/" not in answer["headers"]["server"]


def test_static_files_are_immutable_and_compressed(host):
    release = host.file("/srv/ahsp/current").linked_to
    paths = json.loads(host.file(f"{release}/staticfiles/staticfiles.json").content_string)["paths"]
    hashed = next(v for k, v in sorted(paths.items()) if k.endswith(".css"))
    url = f"https://localhost/static/{hashed}"
    first = front(host, url, headers={"Accept-Encoding": "gzip"})
    assert first["status"] == 200, first
    assert first["headers"]["cache-control"] == "public, max-age=31536000, immutable"
    assert first["headers"].get("content-encoding") == "gzip", first["headers"]
    again = front(host, url, headers={"Accept-Encoding": "gzip"})
    assert (
        again["status"] == 200
        and again["headers"]["cache-control"] == first["headers"]["cache-control"]
    )


def test_maintenance_page_on_and_off(host):
    on = run_playbook("../../playbooks/maintenance.yml", "-e", "maintenance=on")
    assert on.rc == 0, on.tail()
    try:
        page = front(host, "https://localhost/api/test/")
        assert page["status"] == 503, page
        assert page["headers"]["retry-after"] == "120"
        assert "Back soon" in page["body"]
        # A run of the stack does not end a maintenance.
        again = run_playbook("converge.yml")
        assert again.rc == 0, again.tail()
        assert front(host, "https://localhost/health/")["status"] == 503
    finally:
        off = run_playbook("../../playbooks/maintenance.yml", "-e", "maintenance=off")
    assert off.rc == 0, off.tail()
    assert front(host, "https://localhost/health/")["status"] == 200


def test_maintenance_needs_on_or_off():
    run = run_playbook("../../playbooks/maintenance.yml", "-e", "maintenance=yes")
    assert run.rc != 0
    assert "maintenance=on or -e maintenance=off" in run.output, run.tail()


def test_no_bare_502_when_no_app_host_answers(host):
    """No app host: 503 with the static page; static files still come from disk."""
    release = host.file("/srv/ahsp/current").linked_to
    paths = json.loads(host.file(f"{release}/staticfiles/staticfiles.json").content_string)["paths"]
    hashed = paths["css/app.css"]
    host.check_output(f"systemctl stop {SERVICE}.socket {SERVICE}.service")
    try:
        page = front(host, "https://localhost/api/test/")
        assert page["status"] == 503, page
        assert page["headers"]["retry-after"] == "120"
        assert "Back soon" in page["body"]
        # The front shares the host with the app: the live release's files
        # are read from disk (www-data passes through the app's tree).
        asset = front(
            host, f"https://localhost/static/{hashed}", headers={"Accept-Encoding": "gzip"}
        )
        assert asset["status"] == 200, asset
        assert asset["headers"]["cache-control"] == "public, max-age=31536000, immutable"
        assert asset["headers"]["x-content-type-options"] == "nosniff"
        assert asset["headers"].get("content-encoding") == "gzip", asset["headers"]
        # A name no release has is asked of the app hosts: none answers.
        assert front(host, "https://localhost/static/css/none.css")["status"] == 503
    finally:
        host.check_output(f"systemctl start {SERVICE}.socket {SERVICE}.service")
    wait_for(lambda: front(host, "https://localhost/health/")["status"] == 200, 60, "the app back")


def _probe_while(host, attack: str) -> list:
    """Run `attack` (slowhttptest, from 127.0.0.1) and probe from the host's own address meanwhile.

    Bounded: the attack stops after 30 s at the latest, the probes after 40.
    """
    script = r"""
import http.client, json, subprocess, sys, time
me = subprocess.check_output(["hostname", "-I"]).split()[0].decode()
quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
attack = subprocess.Popen(["timeout", "30", *sys.argv[1].split()], **quiet)
time.sleep(8)  # the attack's connections are open
probes = []
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection(me, 80, timeout=5)
        conn.request("GET", "/health/live/", headers={"Host": "localhost"})
        status = conn.getresponse().status
    except OSError as exc:
        status = repr(exc)
    probes.append([status, round(time.monotonic() - start, 3)])
    time.sleep(0.5)
attack.wait(timeout=40)
print(json.dumps({"me": me, "probes": probes}))
"""
    out = host.check_output(f"python3 -c {shlex.quote(script)} {shlex.quote(attack)}")
    return json.loads(out)["probes"]


@pytest.mark.parametrize(
    "attack",
    [
        # 500 connections sending their headers a few bytes at a time.
        "slowhttptest -H -c 500 -r 250 -i 5 -s 8192 -l 30 -u http://127.0.0.1/health/live/",
        # 500 POSTs sending their bodies a few bytes at a time.
        "slowhttptest -B -c 500 -r 250 -i 5 -s 8192 -l 30 -u http://127.0.0.1/api/test/",
    ],
    ids=["slow-headers", "slow-bodies"],
)
def test_slow_clients_from_one_address_never_starve_the_others(host, attack):
    """The attacker is held and capped at the front; other clients answer in under 1 s."""
    probes = _probe_while(host, attack)
    assert len(probes) >= 20, probes
    assert all(status == 200 for status, _ in probes), probes
    assert max(seconds for _, seconds in probes) < 1.0, probes


def test_unit_is_sandboxed(host):
    assert host.service("nginx").is_running
    assert host.service("nginx").is_enabled
    assert exposure(host, "nginx.service") <= 3.0


# Runs on the host as a transient unit: HTTPS requests at a steady rate, each
# on a new connection (a new TLS handshake), until a stop file appears or at
# most for a bounded time; the counts go to a file.
_TLS_LOAD = r"""
import json, os, ssl, sys, time, http.client
seconds, rate, out, cafile, stop = float(sys.argv[1]), float(sys.argv[2]), *sys.argv[3:6]
ctx = ssl.create_default_context(cafile=cafile)
sent = failed = 0
errors = []
start = time.monotonic()
while time.monotonic() - start < seconds and not os.path.exists(stop):
    due = start + sent / rate
    if due > time.monotonic():
        time.sleep(due - time.monotonic())
    sent += 1
    try:
        conn = http.client.HTTPSConnection("localhost", 443, context=ctx, timeout=5)
        conn.request("GET", "/health/live/")
        if conn.getresponse().status != 200:
            failed += 1
        conn.close()
    except OSError as exc:
        failed += 1
        errors.append(repr(exc))
json.dump({"sent": sent, "failed": failed, "errors": errors[:5]}, open(out, "w"))
"""


def _served_certificate(host) -> str:
    script = (
        f"import hashlib, ssl, socket; ctx = ssl.create_default_context(cafile='{CA_ON_HOST}'); "
        "raw = socket.create_connection(('localhost', 443)); "
        "s = ctx.wrap_socket(raw, server_hostname='localhost'); "
        "print(hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest())"
    )
    return host.check_output(f"python3 -c {shlex.quote(script)}")


def test_a_new_certificate_goes_live_by_reload_without_a_failed_request(host):
    before = _served_certificate(host)
    master = host.check_output("systemctl show -p MainPID --value nginx")
    local_ca = (
        Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory" / ".secrets" / "local-ca"
    )
    (local_ca / "server.crt").unlink()  # the next run issues a new one, as a renewal does
    out, stop = "/root/tls-load.json", "/root/tls-load.stop"
    host.check_output(f"rm -f {out} {stop}")
    host.check_output(
        "systemd-run --unit=ahsp-tls-load --property=RuntimeMaxSec=200 "
        f"python3 -c {shlex.quote(_TLS_LOAD)} 180 50 {out} {CA_ON_HOST} {stop}"
    )
    started = time.monotonic()
    run = run_playbook("converge.yml")
    # The load spans the whole run, the reload included, then stops.
    host.check_output(f"touch {stop}")
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.tail()
    wait_for(lambda: host.file(out).exists, 30, "the load to finish")
    load = json.loads(host.file(out).content_string)
    assert load["failed"] == 0, load
    assert elapsed < 170, "the run outlasted the load"
    assert load["sent"] >= 50 * (elapsed - 10), (load, elapsed)
    assert _served_certificate(host) != before
    assert host.check_output("systemctl show -p MainPID --value nginx") == master, (
        "a reload, not a restart"
    )
