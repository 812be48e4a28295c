"""Logs that follow one request through the stack, and no secret in any log.

The front names each request (nginx's $request_id), logs it as `rid=` and
passes it on as X-Request-ID; the app believes it from the front, logs every
line of that request as one JSON object carrying it (`request_id`), and
gunicorn's access log shows it again (`rid=`, from the app's response).
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from ahsp_testing import http
from conftest import APPS, DB, WEB

# Where each host logs: the journal, and the files the roles configure.
LOG_FILES = (
    "/var/log/nginx/*.log /var/log/ahsp/*.log /var/log/postgresql/*.log /var/log/redis/*.log"
    " /var/log/pgbackrest/*.log"
)


def _nginx_rid(hosts, marker: str) -> str:
    line = next(
        line
        for line in hosts[WEB].file("/var/log/nginx/access.log").content_string.splitlines()
        if marker in line
    )
    return re.search(r" rid=([0-9a-f]{32}) ", line)[1]


def test_one_request_is_followed_from_the_front_to_every_app_log_line(hosts):
    marker = f"follow-{uuid.uuid4().hex}"
    (answer,) = http(hosts[DB], f"http://{WEB}/{marker}/")
    assert answer.status == 404
    rid = _nginx_rid(hosts, marker)
    assert {k.lower(): v for k, v in answer.headers.items()}["x-request-id"] == rid

    served_by = [app for app in APPS if marker in hosts[app].file(
        "/var/log/ahsp/gunicorn-access.log").content_string]  # fmt: skip
    assert len(served_by) == 1, served_by
    app = hosts[served_by[0]]
    access = next(
        line
        for line in app.file("/var/log/ahsp/gunicorn-access.log").content_string.splitlines()
        if marker in line
    )
    assert access.endswith(f"rid={rid}")
    journal = app.check_output(
        "journalctl -u ahsp-gunicorn --no-pager -o cat --since '-10min'"
    ).splitlines()
    lines = [json.loads(line) for line in journal if rid in line]
    assert lines, "the app logged the 404 under the front's request id"
    assert all(line["request_id"] == rid for line in lines)
    assert any(marker in line["message"] for line in lines)


def _host_logs(host) -> str:
    """Everything the host logged: its whole journal and the roles' log files."""
    journal = host.check_output("journalctl --no-pager -o cat")
    files = host.run(f"cat {LOG_FILES} 2>/dev/null").stdout
    return journal + "\n" + files


@pytest.mark.after_all
def test_no_secret_in_any_log_of_any_tier(hosts, secrets):
    """After every other test of the scenario (deploys, rotations, outages, bad inputs)."""
    found = {}
    for name, host in hosts.items():
        logs = _host_logs(host)
        leaked = [secret for secret, value in secrets.items() if value in logs]
        if leaked:
            found[name] = leaked
    assert found == {}, f"secret values (by name) in the logs: {found}"
