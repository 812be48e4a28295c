"""The converged stack, end to end: health, admin, API, shared rate limit, tier wiring."""

from __future__ import annotations

import os
import shlex
import subprocess
import time

import pytest
from ahsp_testing import ROOT_DIR, http
from conftest import (
    APP1,
    APP2,
    APP_ENV,
    APPS,
    DB,
    PG_DB,
    PG_PORT,
    PG_USER,
    REDIS,
    REDIS_CLI,
    REDIS_PORT,
    WEB,
    health,
    live_release,
    private_address,
    url,
)

MANAGED = "Managed by Ansible (ahsp-infra): local edits will be overwritten"


def pg_hba(db_host) -> str:
    return db_host.check_output("cat /etc/postgresql/*/main/pg_hba.conf")


@pytest.mark.parametrize("app", APPS)
def test_health_ok_with_every_check(client, app):
    response = health(client, app)
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "ok"}


def test_both_app_hosts_serve_the_live_release(hosts, client):
    versions = {health(client, app).json()["version"] for app in APPS}
    assert versions == {live_release(hosts[APP1])} == {live_release(hosts[APP2])}, versions


@pytest.mark.parametrize("app", APPS)
def test_admin_answers(client, app):
    (response,) = http(client, url(app, "/admin/"))
    assert response.status == 200, response.body[:500]
    assert "login" in response.url or "csrfmiddlewaretoken" in response.body


@pytest.mark.parametrize("app", APPS)
def test_tree_api_with_a_bearer_token(client, api_token, app, flush_rate_limits):
    project_id, token = api_token
    path = f"/api/project/{project_id}/list-pekerjaan/tree/"
    (response,) = http(client, url(app, path), headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200, response.body
    tree = response.json()
    assert tree["project"]["id"] == project_id
    assert tree["total"] == "1807500.00"
    assert tree["classifications"][0]["sub_classifications"][0]["items"][0]["code"] == "A.1"
    (anonymous,) = http(client, url(app, path))
    assert anonymous.status == 401


def test_rate_limit_is_shared_by_both_app_hosts(client, flush_rate_limits):
    urls = [url(APP1, "/api/test/"), url(APP2, "/api/test/")]
    responses = http(client, urls, method="POST", count=15)
    statuses = [r.status for r in responses]
    assert statuses == [200] * 10 + [429] * 5, statuses
    assert {r.url for r in responses[:10]} == set(urls)
    assert int(responses[-1].headers["Retry-After"]) >= 1


def test_through_the_front_the_limiter_counts_the_client_not_the_header(client, flush_rate_limits):
    """A spoofed X-Forwarded-For reaches the app appended by the front: the client is still one."""
    responses = http(
        client,
        f"http://{WEB}/api/test/",
        method="POST",
        count=15,
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    statuses = [r.status for r in responses]
    assert statuses == [200] * 10 + [429] * 5, statuses


def test_the_front_spreads_requests_over_both_app_hosts(client, hosts):
    marker = f"balance-{time.monotonic_ns()}"
    responses = http(client, f"http://{WEB}/health/?{marker}", count=20)
    assert [r.status for r in responses] == [200] * 20
    for app in APPS:
        log = hosts[app].file("/var/log/ahsp/gunicorn-access.log").content_string
        assert marker in log, f"{app} got none of the front's requests"


def test_concurrent_requests_across_hosts_allow_exactly_the_limit(client, flush_rate_limits):
    urls = [url(APP1, "/api/test/"), url(APP2, "/api/test/")]
    responses = http(client, urls, method="POST", count=200, parallel=40)
    statuses = [r.status for r in responses]
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 190, statuses


def test_the_wiring_reached_every_tier(hosts):
    """The header the wiring sets (the ahsp.stack.wiring vars plugin) is on every tier's files."""
    header = f"# {MANAGED}"
    assert header in hosts[REDIS].file("/etc/redis/redis.conf").content_string.splitlines()[:3]
    assert header in pg_hba(hosts[DB]).splitlines()[:3]
    for app in APPS:
        assert header in hosts[app].file("/etc/ahsp/app.env").content_string.splitlines()[:3]


@pytest.mark.parametrize("playbook_dir", [".", "playbooks", "molecule/default"])
def test_every_entry_point_sees_the_wiring(playbook_dir):
    """site.yml (repo root), a tier playbook run alone (playbooks/) and this scenario's converge."""
    out = subprocess.run(
        [
            "ansible",
            APP1,
            "--inventory",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--playbook-dir",
            str(ROOT_DIR / playbook_dir),
            "-m",
            "ansible.builtin.debug",
            "-a",
            "var=ahsp_wiring_loaded",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert '"ahsp_wiring_loaded": true' in out.stdout, out.stdout


def test_app_hosts_use_the_inventorys_ports_and_names(hosts):
    """Non-default Redis and PostgreSQL ports, database and user: exactly these reach the app."""
    redis_ip, db_ip = private_address(hosts[REDIS]), private_address(hosts[DB])
    for app in APPS:
        env = hosts[app].file("/etc/ahsp/app.env").content_string.splitlines()
        assert f'REDIS_URL="redis://{redis_ip}:{REDIS_PORT}/1"' in env
        assert f'DB_HOST="{db_ip}"' in env
        assert f'DB_PORT="{PG_PORT}"' in env
        assert f'DB_NAME="{PG_DB}"' in env
        assert f'DB_USER="{PG_USER}"' in env
        assert not any(line.startswith("SQLITE_PATH=") for line in env)


def test_database_tier_runs_the_inventorys_port_database_and_user(hosts):
    db = hosts[DB]
    listening = db.check_output(f"ss -Hltn 'sport = :{PG_PORT}'")
    assert f"{private_address(db)}:{PG_PORT}" in listening
    sql = f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{PG_DB}'"  # noqa: S608
    owner = db.check_output(f'runuser -u postgres -- psql -X -At -p {PG_PORT} -c "{sql}"')
    assert owner == PG_USER


def test_mixed_debian_releases(hosts):
    """Redis and app1 on Debian 13, PostgreSQL and app2 on Debian 12: both release lines covered."""
    codenames = {name: hosts[name].system_info.codename for name in (REDIS, DB, APP1, APP2)}
    assert codenames == {REDIS: "trixie", APP1: "trixie", DB: "bookworm", APP2: "bookworm"}


# Runs on an app host with the app's Redis password, read the way the app
# reads it (never through a shell, never on a command line). Each argument
# "<user> <command...>" is sent on a new connection, after AUTH as <user>
# with that password; each answer is printed on its own line.
APP_REDIS_PROBE = r"""
import socket, subprocess, sys
env, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
password = subprocess.run(
    ["sh", "-c", env + " REDIS_PASSWORD"], capture_output=True, check=True
).stdout
def call(sock, *args):
    sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    return sock.recv(300).decode().strip()
for line in sys.argv[4:]:
    user, *words = [w.encode() for w in line.split()]
    s = socket.create_connection((host, port), 5)
    reply = call(s, b"AUTH", user, password)
    print(call(s, *words) if reply == "+OK" else reply)
    s.close()
"""


def _as_app(hosts, *commands: str) -> list[str]:
    """Each command on a new connection to Redis from app1: "<user or -> <command...>"."""
    redis_ip = private_address(hosts[REDIS])
    out = hosts[APP1].check_output(
        f"python3 -c {shlex.quote(APP_REDIS_PROBE)} {shlex.quote(APP_ENV)} {redis_ip} {REDIS_PORT} "
        + " ".join(shlex.quote(c) for c in commands)
    )
    return out.splitlines()


def test_redis_binds_its_private_address_and_refuses_anonymous_clients(hosts):
    redis = hosts[REDIS]
    redis_ip = private_address(redis)
    listening = redis.check_output(f"ss -Hltn 'sport = :{REDIS_PORT}'")
    assert f"{redis_ip}:{REDIS_PORT}" in listening
    assert f"127.0.0.1:{REDIS_PORT}" in listening
    protected = redis.check_output(f"{REDIS_CLI} --no-raw config get protected-mode")
    assert protected.split()[-1] == '"yes"'
    # Another host of the network without a user: refused.
    probe = (
        f"import socket; s = socket.create_connection(('{redis_ip}', {REDIS_PORT}), 5); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())"
    )
    assert "NOAUTH" in hosts[DB].check_output(f"python3 -c {shlex.quote(probe)}")


def test_app_user_is_limited_to_its_keys_and_commands(hosts):
    """ACL mode: the app's own user, the default user off, no admin or dangerous command."""
    env = hosts[APP1].file("/etc/ahsp/app.env").content_string
    assert 'REDIS_USERNAME="ahsp-app"' in env.splitlines()
    answers = _as_app(
        hosts,
        "ahsp-app SET ahsp:molecule:probe 1",
        "ahsp-app EXISTS ahsp:molecule:probe",
        "ahsp-app DEL ahsp:molecule:probe",
        "ahsp-app CONFIG GET maxmemory",
        "ahsp-app FLUSHALL",
        "ahsp-app KEYS *",
        "ahsp-app GET outside:the:prefix",
        "ahsp-app PING",
        "default PING",
    )
    # Only what app/config/redis_acl.txt allows, on the app's own keys.
    assert answers[:3] == ["+OK", ":1", ":1"], answers
    for denied in answers[3:8]:
        assert denied.startswith("-NOPERM"), answers
    assert answers[8].startswith(("-WRONGPASS", "-NOAUTH")), answers


def test_the_app_calls_the_deployed_functions_and_sends_no_code(hosts):
    """The deploy loaded the release's library on the primary; the app's user may only call it."""
    function = _app_library().function("sliding_log")
    answers = _as_app(
        hosts,
        f"ahsp-app FCALL {function} 1 ahsp:molecule:fcall 5 60000000",
        "ahsp-app DEL ahsp:molecule:fcall",
        "ahsp-app EVALSHA " + "0" * 40 + " 0",
        "ahsp-app SCRIPT LOAD x",
        "ahsp-app FUNCTION FLUSH",
        "ahsp-app FUNCTION DELETE " + function.rsplit("_", 2)[0],
    )
    assert answers[0].startswith(":") and int(answers[0][1:]) > 0, answers  # admitted
    assert answers[1] == ":1", answers
    for denied in answers[2:]:
        assert denied.startswith("-NOPERM"), answers


def _app_library():
    """The app's function library, as the deploy built it from app/config/redis/."""
    import importlib.util

    path = ROOT_DIR / "app" / "config" / "redis_functions.py"
    spec = importlib.util.spec_from_file_location("molecule_app_redis_functions", path)
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.library()


def test_postgresql_admits_exactly_the_app_hosts(hosts):
    hba = pg_hba(hosts[DB])
    for app in APPS:
        assert f"{private_address(hosts[app])}/32" in hba
    assert f"{private_address(hosts[REDIS])}/32" not in hba
