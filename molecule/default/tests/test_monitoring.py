"""Monitoring: exporters on every host, Prometheus and Alertmanager on the front host.

The scenario shortens the scrape and evaluation intervals and Alertmanager's
grouping (inventory values); the rules' `for:` durations are the shipped
ones. Alerts go to a webhook receiver the tests run on the database host,
as an operator's receiver would get them.
"""

from __future__ import annotations

import json
import shlex
import time
import urllib.parse
from datetime import UTC, datetime

import pytest
from ahsp_testing import exposure, http, run_playbook, wait_for
from conftest import APP2, APPS, DB, REDIS, REDIS_CLI, WEB, silences, url

WEBHOOK_PORT = 9999
ALERTS_FILE = "/root/alerts.jsonl"
# Records every notification Alertmanager posts, one JSON object per line.
_WEBHOOK = r"""
import http.server, sys
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[1], "ab") as out:
            out.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), Receiver).serve_forever()
"""
# An alert reaches the receiver within this many seconds of its cause.
ALERT_SECONDS = 120
SCORE_MAX = 2.5


def _prometheus(hosts) -> str:
    address = hosts[WEB].check_output("hostname -I").split()[0]
    return f"http://{address}:9090"


def _query(hosts, expression: str) -> list[dict]:
    """An instant query, asked from the monitoring host itself."""
    query = urllib.parse.urlencode({"query": expression})
    (answer,) = http(hosts[WEB], f"{_prometheus(hosts)}/api/v1/query?{query}")
    assert answer.status == 200, answer.body[:500]
    return answer.json()["data"]["result"]


@pytest.fixture(scope="module")
def webhook(hosts):
    """The test's alert receiver on the database host (bounded: stops after 30 minutes)."""
    db = hosts[DB]
    db.check_output(f": > {ALERTS_FILE}")
    db.check_output(f"cat > /root/webhook.py <<'EOF'\n{_WEBHOOK}\nEOF")
    db.check_output(
        "systemd-run --unit=ahsp-test-webhook --property=RuntimeMaxSec=1800 "
        f"python3 /root/webhook.py {ALERTS_FILE} {WEBHOOK_PORT}"
    )
    yield db
    db.run("systemctl stop ahsp-test-webhook")


def _notifications(db) -> list[dict]:
    return [json.loads(line) for line in db.file(ALERTS_FILE).content_string.splitlines() if line]


def _alert_seen(db, name: str, status: str, since: float, instance: str = "") -> bool:
    """Whether the receiver got `name` with `status` (firing, resolved) started after `since`."""
    for notification in _notifications(db):
        for alert in notification.get("alerts", []):
            labels = alert.get("labels", {})
            if labels.get("alertname") != name or alert.get("status") != status:
                continue
            if instance and labels.get("instance") != instance:
                continue
            if status == "firing" and _epoch(alert["startsAt"]) < since - 30:
                continue
            return True
    return False


def _epoch(stamp: str) -> float:
    """Alertmanager's RFC 3339 time (nanoseconds, Z) in seconds, to the second."""
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()


def test_every_target_is_up(hosts):
    def all_up():
        (answer,) = http(hosts[WEB], f"{_prometheus(hosts)}/api/v1/targets?state=active")
        targets = answer.json()["data"]["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(all_up, 60, "every scrape target up")
    jobs = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets}
    for name in hosts:
        assert ("node", name) in jobs
    assert ("redis", REDIS) in jobs and ("postgres", DB) in jobs and ("nginx", WEB) in jobs
    assert {("app", app) for app in APPS} <= jobs


def test_exporters_listen_on_private_addresses_only(hosts):
    wildcard = {"0.0.0.0", "*", "[::]"}  # noqa: S104 (what must not appear)
    for name, host in hosts.items():
        for port in (9100, 9121, 9187, 9113):
            for line in host.check_output(f"ss -Hltn 'sport = :{port}'").splitlines():
                local = line.split()[3].rsplit(":", 1)[0]
                assert local not in wildcard, f"{name}: {line}"


def _live_total(hosts) -> float:
    result = _query(hosts, 'sum(ahsp_http_requests_total{view="live"})')
    return float(result[0]["value"][1]) if result else 0.0


def _steady_total(hosts) -> list[float] | None:
    """[the total] when two reads a scrape interval apart agree (a list: 0 is a total too)."""
    first = _live_total(hosts)
    time.sleep(12)
    return [first] if _live_total(hosts) == first else None


def test_app_metrics_are_exact_across_every_worker_of_every_app_host(hosts):
    """1,000 requests over both app hosts (three workers each) sum to exactly 1,000."""
    [before] = wait_for(lambda: _steady_total(hosts), 90, "a steady count before")
    urls = [url(app, "/health/live/") for app in APPS]
    answers = http(hosts[DB], urls, count=1000, parallel=12)
    assert [a.status for a in answers] == [200] * 1000
    wait_for(lambda: _live_total(hosts) - before >= 1000, 90, "the scrape to count them")
    [after] = wait_for(lambda: _steady_total(hosts), 90, "a steady count after")
    assert after - before == 1000


def test_metrics_never_reach_the_public(hosts):
    (through_front,) = http(hosts[DB], f"http://{WEB}/metrics")
    assert through_front.status == 404
    # An app host answers /metrics to the monitoring host only.
    for app in APPS:
        (direct,) = http(hosts[DB], url(app, "/metrics"))
        assert direct.status == 404


def test_the_redis_exporter_user_reads_statistics_and_nothing_else(hosts):
    """Its ACL user, asked with ACL DRYRUN (as the admin): INFO yes, keys and admin never."""
    redis = hosts[REDIS]
    allowed = redis.check_output(f"{REDIS_CLI} acl dryrun ahsp-exporter info all")
    assert allowed == "OK", allowed
    for refused in ("get ahsp:x", "config get masterauth", "acl list", "keys '*'", "flushall"):
        answer = redis.check_output(f"{REDIS_CLI} acl dryrun ahsp-exporter {refused}")
        assert "no permissions" in answer, f"{refused}: {answer}"
    # And the exporter, logged in as that user, reads the server.
    address = redis.check_output("hostname -I").split()[0]
    (metrics,) = http(hosts[WEB], f"http://{address}:9121/metrics")
    assert metrics.status == 200 and "\nredis_up 1" in metrics.body


def test_the_postgres_exporter_role_is_in_pg_monitor_only(hosts):
    db = hosts[DB]
    sql = (
        "SELECT string_agg(b.rolname, ',') FROM pg_auth_members m"
        " JOIN pg_roles r ON r.oid = m.member JOIN pg_roles b ON b.oid = m.roleid"
        " WHERE r.rolname = 'prometheus'"
    )
    psql = "runuser -u postgres -- psql -X -At -p 5433 -c " + shlex.quote(sql)
    assert db.check_output(psql) == "pg_monitor"
    (answer,) = http(db, f"http://{db.check_output('hostname -I').split()[0]}:9187/metrics")
    assert answer.status == 200 and "\npg_up 1" in answer.body


# Two outages at once (each alert is independent of the other): Redis on
# its host, and an app host's gunicorn (socket and service, so that nothing
# starts it again).
OUTAGES = {
    "RedisDown": (REDIS, "redis-server"),
    "AppHostDown": (APP2, "ahsp-gunicorn.socket ahsp-gunicorn.service"),
}


def test_outages_alert_within_two_minutes_and_resolve(hosts, webhook):
    assert wait_for(lambda: _alert_seen(webhook, "Watchdog", "firing", 0), 60, "the Watchdog")
    started = time.time()
    fired: dict[str, float] = {}
    for host, units in OUTAGES.values():
        hosts[host].check_output(f"systemctl stop {units}")
    try:

        def all_fired() -> bool:
            for alert in OUTAGES:
                if alert not in fired and _alert_seen(webhook, alert, "firing", started):
                    fired[alert] = time.time() - started
            return len(fired) == len(OUTAGES)

        wait_for(all_fired, ALERT_SECONDS, f"{', '.join(OUTAGES)} at the receiver", interval=2)
    finally:
        for host, units in OUTAGES.values():
            hosts[host].check_output(f"systemctl start {units}")
    back = time.time()
    wait_for(
        lambda: all(_alert_seen(webhook, alert, "resolved", back) for alert in OUTAGES),
        ALERT_SECONDS,
        "both resolved at the receiver",
        interval=2,
    )
    print(f"\nat the receiver after the outage began: {fired} (seconds)")
    assert all(seconds <= ALERT_SECONDS for seconds in fired.values()), fired


@pytest.mark.parametrize(
    ("host", "unit"),
    [
        (WEB, "prometheus"),
        (WEB, "prometheus-alertmanager"),
        (WEB, "prometheus-nginx-exporter"),
        (REDIS, "prometheus-redis-exporter"),
        (DB, "prometheus-postgres-exporter"),
        (APP2, "prometheus-node-exporter"),
    ],
)
def test_units_are_sandboxed(hosts, host, unit):
    assert exposure(hosts[host], f"{unit}.service") <= SCORE_MAX


def test_maintenance_silences_the_app_alerts_until_it_ends(hosts):
    """maintenance.yml on: the app hosts' alerts are silenced; off: the silence is lifted."""
    by = "playbooks/maintenance.yml"
    on = run_playbook("../../playbooks/maintenance.yml", "-e", "maintenance=on")
    try:
        assert on.rc == 0, on.tail()
        active = [s for s in silences(hosts, by) if s["status"]["state"] == "active"]
        assert len(active) == 1, active
        matchers = {m["name"]: m["value"] for m in active[0]["matchers"]}
        assert "AppHostDown" in matchers["alertname"].split("|")
        assert set(matchers["instance"].replace("\\", "").split("|")) == set(APPS)
    finally:
        off = run_playbook("../../playbooks/maintenance.yml", "-e", "maintenance=off")
    assert off.rc == 0, off.tail()
    assert all(s["status"]["state"] == "expired" for s in silences(hosts, by))
    assert http(hosts[DB], f"http://{WEB}/health/")[0].status == 200
