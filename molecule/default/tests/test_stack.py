"""The converged stack, end to end: health, admin, API, shared rate limit, tier wiring."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest
from ahsp_testing import ROOT_DIR, http
from conftest import APP1, APP2, APPS, DB, REDIS, REDIS_AUTH, health, private_address, url

MANAGED = "Managed by Ansible (ahsp-infra): local edits will be overwritten"

TREE = {
    "classifications": [
        {
            "name": "Pekerjaan Persiapan",
            "sub_classifications": [
                {
                    "name": "Pembersihan",
                    "items": [
                        {
                            "code": "A.1",
                            "name": "Pembersihan lapangan",
                            "unit": "m2",
                            "volume": "120.5",
                            "unit_price": "15000.00",
                        }
                    ],
                }
            ],
        }
    ]
}


def pg_hba(db_host) -> str:
    return db_host.check_output("cat /etc/postgresql/*/main/pg_hba.conf")


@pytest.mark.parametrize("app", APPS)
def test_health_ok_with_every_check(client, app):
    response = health(client, app)
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "cache": "ok", "redis": "ok"}


def test_both_app_hosts_serve_the_same_release(client):
    versions = {health(client, app).json()["version"] for app in APPS}
    assert len(versions) == 1, versions


@pytest.mark.parametrize("app", APPS)
def test_admin_answers(client, app):
    (response,) = http(client, url(app, "/admin/"))
    assert response.status == 200, response.body[:500]
    assert "login" in response.url or "csrfmiddlewaretoken" in response.body


@pytest.fixture(scope="module")
def api_token(hosts) -> tuple[int, str]:
    """A project with a tree and a bearer token, made on the first app host."""
    script = (
        "from django.contrib.auth import get_user_model; "
        "from detail_project.models import Project; "
        "from detail_project.tree import parse_tree, replace_tree; "
        "user = get_user_model().objects.get(username='admin'); "
        "project, _ = Project.objects.get_or_create(owner=user, name='molecule stack'); "
        "import json; "
        f"replace_tree(project, parse_tree(json.loads({json.dumps(json.dumps(TREE))}))); "
        "print(project.pk)"
    )
    app1 = hosts[APP1]
    out = app1.check_output(f"ahsp-manage shell -c {shlex.quote(script)}")
    project_id = int(out.splitlines()[-1])
    token = app1.check_output("ahsp-manage create_api_token admin --name molecule").splitlines()[-1]
    return project_id, token


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


def test_concurrent_requests_across_hosts_allow_exactly_the_limit(client, flush_rate_limits):
    urls = [url(APP1, "/api/test/"), url(APP2, "/api/test/")]
    responses = http(client, urls, method="POST", count=200, parallel=40)
    statuses = [r.status for r in responses]
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 190, statuses


def test_top_level_group_vars_apply(hosts):
    """group_vars/ next to site.yml reached every tier (a silently ignored file would not)."""
    header = f"# {MANAGED}"
    assert header in hosts[REDIS].file("/etc/redis/redis.conf").content_string.splitlines()[:3]
    assert header in pg_hba(hosts[DB]).splitlines()[:3]
    for app in APPS:
        assert header in hosts[app].file("/etc/ahsp/app.env").content_string.splitlines()[:3]


@pytest.mark.parametrize("playbook_dir", [".", "playbooks", "molecule/default"])
def test_every_entry_point_loads_the_top_level_group_vars(playbook_dir):
    """site.yml (repo root), a tier playbook run alone (playbooks/) and this scenario's converge."""
    out = subprocess.run(
        [
            "ansible",
            REDIS,
            "--inventory",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "--playbook-dir",
            str(ROOT_DIR / playbook_dir),
            "-m",
            "ansible.builtin.debug",
            "-a",
            "var=ansible_managed",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert MANAGED in out.stdout, out.stdout


def test_app_hosts_use_the_redis_and_db_hosts(hosts):
    redis_ip, db_ip = private_address(hosts[REDIS]), private_address(hosts[DB])
    for app in APPS:
        env = hosts[app].file("/etc/ahsp/app.env").content_string
        assert f"REDIS_URL='redis://{redis_ip}:6379/1'" in env
        assert f"DB_HOST='{db_ip}'" in env
        assert "SQLITE_PATH" not in env


def test_redis_binds_its_private_address_and_requires_the_password(hosts):
    redis = hosts[REDIS]
    redis_ip = private_address(redis)
    listening = redis.check_output("ss -Hltn 'sport = :6379'")
    assert f"{redis_ip}:6379" in listening
    assert "127.0.0.1:6379" in listening
    protected = redis.check_output(f"{REDIS_AUTH} redis-cli --no-raw config get protected-mode")
    assert protected.split()[-1] == '"yes"'
    # Another host of the network without the password: refused.
    probe = (
        f"import socket; s = socket.create_connection(('{redis_ip}', 6379), 5); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())"
    )
    assert "NOAUTH" in hosts[DB].check_output(f"python3 -c {shlex.quote(probe)}")
    # An app host with the password it was given (read from its secrets file, not argv).
    probe_auth = (
        f"import os, socket, time; s = socket.create_connection(('{redis_ip}', 6379), 5); "
        "s.sendall(('AUTH ' + os.environ['REDIS_PASSWORD'] + '\\r\\nPING\\r\\n').encode()); "
        "time.sleep(0.3); print(s.recv(200).decode())"
    )
    env = "set -a; . /etc/ahsp/secrets.env; set +a"
    out = hosts[APP1].check_output(f"{env}; python3 -c {shlex.quote(probe_auth)}")
    assert "+PONG" in out


def test_postgresql_admits_exactly_the_app_hosts(hosts):
    hba = pg_hba(hosts[DB])
    for app in APPS:
        assert f"{private_address(hosts[app])}/32" in hba
    assert f"{private_address(hosts[REDIS])}/32" not in hba
