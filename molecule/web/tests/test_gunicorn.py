"""Behaviour of the deployed stack under systemd: workers, health, rate limit, recovery."""

from __future__ import annotations

import json
import re
import time

from ahsp_testing import http, wait_for
from conftest import BASE, SERVICE, main_pid, worker_pids


def test_service_active_enabled_and_notify(host):
    service = host.service(SERVICE)
    assert service.is_running
    assert service.is_enabled
    assert host.check_output(f"systemctl show -p Type --value {SERVICE}") == "notify"


def test_runs_as_the_app_user_in_a_sandbox(host):
    props = host.check_output(
        f"systemctl show -p User -p ProtectSystem -p NoNewPrivileges -p PrivateTmp {SERVICE}"
    )
    assert "User=ahsp" in props
    assert "ProtectSystem=strict" in props
    assert "NoNewPrivileges=yes" in props
    assert "PrivateTmp=yes" in props
    owner = host.check_output(f"ps -o user= -p {main_pid(host)}")
    assert owner == "ahsp"


def test_control_socket_answers_in_the_runtime_directory(host):
    sock = host.file(f"/run/{SERVICE}/gunicorn.ctl")
    assert sock.is_socket
    assert (sock.user, sock.mode) == ("ahsp", 0o600)
    out = host.check_output(
        f"runuser -u ahsp -- /srv/ahsp/venv/bin/gunicornc -s /run/{SERVICE}/gunicorn.ctl"
        " -c 'show workers' -j"
    )
    assert len(json.loads(out)["workers"]) == 4
    errors = host.file("/var/log/ahsp/gunicorn-error.log").content_string
    assert "Control server error" not in errors
    assert "Failed to start control socket" not in errors


def test_exactly_workers_plus_one_processes(host):
    assert len(worker_pids(host)) == 4
    tasks = host.check_output(f"systemctl show -p TasksCurrent --value {SERVICE}")
    assert int(tasks) >= 5


def test_health_ok_with_every_check(host):
    (response,) = http(host, f"{BASE}/health/")
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "cache": "ok", "redis": "ok"}
    assert body["version"]


def test_static_asset_served_hashed_and_compressed(host):
    manifest = json.loads(host.file("/srv/ahsp/static/staticfiles.json").content_string)
    hashed = manifest["paths"]["css/app.css"]
    assert re.match(r"css/app\.[0-9a-f]{12}\.css$", hashed)
    (response,) = http(host, f"{BASE}/static/{hashed}", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "max-age=315360000" in response.headers.get("Cache-Control", "")


def test_rate_limit_10_then_429_across_workers(host, flush_rate_limits):
    host.check_output(": > /var/log/ahsp/gunicorn-access.log")
    responses = http(host, f"{BASE}/api/test/", method="POST", count=15)
    statuses = [r.status for r in responses]
    assert statuses == [200] * 10 + [429] * 5, statuses
    assert int(responses[-1].headers["Retry-After"]) >= 1
    assert responses[0].headers["X-RateLimit-Limit"] == "10"
    # The requests really were spread over several workers (pid in the access log).
    log = host.file("/var/log/ahsp/gunicorn-access.log").content_string
    pids = set(re.findall(r'"POST /api/test/ HTTP/1.1" \d+ .* pid=<?(\d+)>?', log))
    assert len(pids) >= 2, log


def test_concurrent_requests_allow_exactly_the_limit(host, flush_rate_limits):
    responses = http(host, f"{BASE}/api/test/", method="POST", count=100, parallel=20)
    statuses = [r.status for r in responses]
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 90, statuses


def test_killed_worker_is_replaced(host):
    master = main_pid(host)
    victim = sorted(worker_pids(host))[0]
    host.check_output(f"kill -9 {victim}")
    wait_for(
        lambda: victim not in (pids := worker_pids(host)) and len(pids) == 4,
        15,
        "a new worker replacing the killed one",
    )
    assert main_pid(host) == master


def test_log_rotation_reopens_logs_without_restart(host):
    master = main_pid(host)
    host.check_output(f"logrotate --force /etc/logrotate.d/{SERVICE}")
    assert host.file("/var/log/ahsp/gunicorn-access.log.1").exists
    time.sleep(1)
    http(host, f"{BASE}/health/?after-rotate")
    wait_for(
        lambda: "after-rotate" in host.file("/var/log/ahsp/gunicorn-access.log").content_string,
        10,
        "the access log reopened after USR1",
    )
    assert main_pid(host) == master


def test_killed_master_is_restarted_by_systemd(host):
    master = main_pid(host)
    host.check_output(f"kill -9 {master}")
    wait_for(lambda: main_pid(host) not in (0, master), 20, "systemd restarting gunicorn")
    wait_for(lambda: http(host, f"{BASE}/health/")[0].status == 200, 30, "health 200 again")
    wait_for(lambda: len(worker_pids(host)) == 4, 15, "4 workers again")
