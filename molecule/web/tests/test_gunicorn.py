"""Behaviour of the deployed stack under systemd: sockets, workers, health, rate limit, recovery."""

from __future__ import annotations

import json
import re
import time

from ahsp_load import Load
from ahsp_testing import exposure, http, wait_for
from conftest import BASE, SERVICE, live_release, main_pid, worker_pids


def test_service_active_enabled_and_notify(host):
    service = host.service(SERVICE)
    assert service.is_running
    assert service.is_enabled
    assert host.check_output(f"systemctl show -p Type --value {SERVICE}") == "notify"


def test_systemd_holds_the_listening_socket(host):
    socket = host.service(f"{SERVICE}.socket")
    assert socket.is_running
    assert socket.is_enabled
    listen = host.check_output(f"systemctl show -p Listen --value {SERVICE}.socket")
    assert "0.0.0.0:8000 (Stream)" in listen
    # gunicorn took the socket over from systemd (LISTEN_FDS) instead of binding it.
    journal = host.check_output(f"journalctl -u {SERVICE} -o cat --no-pager")
    assert "(systemd)" in journal or "Listening at" in journal


def test_restart_refuses_no_connection(host):
    """While gunicorn restarts, systemd queues connections: no request fails under load."""
    address = host.check_output("hostname -I").split()[0]
    with Load([f"http://{address}:8000/health/live/"], rate=50, max_seconds=60) as load:
        time.sleep(1)
        host.check_output(f"systemctl restart {SERVICE}")
        time.sleep(2)
    summary = load.summary
    assert summary.sent >= 100, summary.describe()
    assert summary.failures == [], summary.describe()


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


def test_sandbox_exposure(host):
    """systemd's own score of the service's sandbox (0 safest, 10 none)."""
    assert exposure(host, f"{SERVICE}.service") <= 1.5


def test_master_records_what_it_runs(host):
    state = json.loads(host.file(f"/run/{SERVICE}/state.json").content_string)
    assert state["pid"] == main_pid(host)
    assert state["release"] == live_release(host)
    assert state["venv"] == host.file(f"{live_release(host)}/venv").linked_to


def test_control_socket_answers_in_the_runtime_directory(host):
    sock = host.file(f"/run/{SERVICE}/gunicorn.ctl")
    assert sock.is_socket
    assert (sock.user, sock.mode) == ("ahsp", 0o600)
    out = host.check_output(
        f"runuser -u ahsp -- /srv/ahsp/current/venv/bin/gunicornc -s /run/{SERVICE}/gunicorn.ctl"
        " -c 'show workers' -j"
    )
    assert len(json.loads(out)["workers"]) == 4
    journal = host.check_output(f"journalctl -u {SERVICE} -o cat --no-pager")
    assert "Control server error" not in journal
    assert "Failed to start control socket" not in journal


def test_exactly_workers_plus_one_processes(host):
    assert len(worker_pids(host)) == 4
    tasks = host.check_output(f"systemctl show -p TasksCurrent --value {SERVICE}")
    assert int(tasks) >= 5


def test_health_ok_and_reports_the_live_release(host):
    (response,) = http(host, f"{BASE}/health/")
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"].values()) == {"ok"}
    assert body["version"] == live_release(host).rsplit("/", 1)[1]


def test_static_asset_served_hashed_and_compressed(host):
    manifest = json.loads(
        host.file("/srv/ahsp/current/staticfiles/staticfiles.json").content_string
    )
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
