"""Day-2 changes under live traffic: every step must finish with 0 failed requests.

A bounded load (60 requests/s from the controller, spread over both app
hosts, against /health/ and the tree API with a bearer token) runs while the
playbooks ship, one after the other: a code change with an environment
change (reload), a requirements change (new venv: restart, while systemd
queues connections) with a Redis run-time setting (CONFIG SET) and a
PostgreSQL reloadable setting (reload), a rollback, and the return to the
original inventory (every setting back, by the same means). A failure is a
5xx, a refused or reset connection, or a timeout.
The p99 latency of each step is reported against a quiet baseline (and
written to build/zero-downtime.json).
"""

from __future__ import annotations

import json
import os
import shlex
import time
import uuid
from pathlib import Path

import pytest
from ahsp_load import Load
from ahsp_testing import ROOT_DIR, copy_app, http, run_playbook
from conftest import APPS, DB, PG_DB, PG_PORT, PG_USER, REDIS, REDIS_CLI, live_release

RATE = 60.0
QUIET_SECONDS = 10.0
PG_STARTED = (
    f"runuser -u postgres -- psql -X -At -p {PG_PORT} -c 'SELECT pg_postmaster_start_time()'"
)


@pytest.fixture(scope="module")
def load_urls(front_address, api_token) -> tuple[list[str], dict[str, str]]:
    """Through the front, as clients come: it spreads them over both app hosts."""
    project_id, token = api_token
    tree = f"/api/project/{project_id}/list-pekerjaan/tree/"
    urls = [f"http://{front_address}{path}" for path in ("/health/", tree)]
    return urls, {"Authorization": f"Bearer {token}"}


# What the app hosts logged about a failing dependency (the cause of a 503).
JOURNAL_CAUSES = "breaker|health check|Service Unavailable|Traceback|Error"


def _journal_since(hosts, started: float) -> str:
    """The app hosts' gunicorn warnings since `started`, to explain a failed step."""
    lines = []
    for app in APPS:
        out = (
            hosts[app]
            .run(
                f"journalctl -u ahsp-gunicorn --since @{int(started)} --no-pager -o short-precise"
                f" | grep -E {shlex.quote(JOURNAL_CAUSES)} | head -n 15"
            )
            .stdout
        )
        lines += [f"{app}: {line}" for line in out.splitlines()]
    return "\n".join(lines)


def _under_load(load_urls, action, hosts) -> tuple[dict, object]:
    urls, headers = load_urls
    started = time.time()
    with Load(urls, rate=RATE, headers=headers, max_seconds=600) as load:
        time.sleep(2)
        result = action()
        time.sleep(2)
    summary = load.summary
    detail = summary.describe()
    if summary.failures:
        detail += "\n" + _journal_since(hosts, started)
    return {
        "sent": summary.sent,
        "failed": len(summary.failures),
        "statuses": {str(k): v for k, v in summary.statuses().items()},
        "p99_ms": round(summary.percentile(0.99) * 1000, 1),
        "seconds": round(summary.sent / RATE, 1),
        "detail": detail,
    }, result


def _live_css(host) -> str:
    """The hashed name of app.css in the release the host serves."""
    release = host.file("/srv/ahsp/current").linked_to
    manifest = json.loads(host.file(f"{release}/staticfiles/staticfiles.json").content_string)
    return manifest["paths"]["css/app.css"]


def _assets_missing(hosts, front_address, names: list[str]) -> list[str]:
    """The assets the front cannot serve. A query string of its own makes each
    request miss the front's cache, so an app host must have the file."""
    missing = []
    for name in names:
        fresh = f"http://{front_address}/static/{name}?fresh={uuid.uuid4().hex}"
        (answer,) = http(hosts[DB], fresh)
        if answer.status != 200:
            missing.append(f"{name}: {answer.status}")
    return missing


def test_day2_changes_under_live_traffic(hosts, load_urls, front_address, tmp_path):
    results: dict[str, dict] = {}
    results["quiet baseline"], _ = _under_load(load_urls, lambda: time.sleep(QUIET_SECONDS), hosts)

    code = copy_app(tmp_path / "code")
    requirements = copy_app(tmp_path / "requirements")
    for source in (code, requirements):
        (source / "detail_project" / "zero_downtime.py").write_text('"""A code change."""\n')
        # New static files too: pages the previous release rendered keep theirs.
        css = source / "static" / "css" / "app.css"
        css.write_text(css.read_text() + "\n/* a code change */\n")
    lock = requirements / "requirements.txt"
    lock.write_text(lock.read_text() + "# a requirements change: new lock, new venv\n")

    limit = {"app_ratelimit_requests": 1000000}
    settings = {"redis_maxmemory": "200mb", "postgresql_extra_config": {"work_mem": "16MB"}}
    steps = [
        (
            "code and environment change (reload)",
            "converge.yml",
            {**limit, "app_source_dir": str(code)},
        ),
        (
            "requirements change (restart, socket held), Redis CONFIG SET, PostgreSQL reload",
            "converge.yml",
            {**limit, "app_source_dir": str(requirements), **settings},
        ),
        ("rollback to the previous release", "../../playbooks/rollback.yml", {**limit}),
        ("back to the inventory (code, venv, settings)", "converge.yml", {}),
    ]
    original_css = code_css = _live_css(hosts[APPS[0]])
    redis_pid = hosts[REDIS].check_output("systemctl show -p MainPID --value redis-server")
    pg_started = hosts[DB].check_output(PG_STARTED)
    for name, playbook, extra in steps:
        results[name], run = _under_load(
            load_urls,
            lambda p=playbook, e=extra: run_playbook(p, "--extra-vars", json.dumps(e)),
            hosts,
        )
        assert run.rc == 0, f"{name}:\n{run.tail()}"
        assert run.changed() > 0, f"{name} changed nothing:\n{run.tail()}"
        if name.startswith(("code", "requirements", "rollback")):
            # Each app host was drained from the front before it switched.
            assert run.output.count("-> stack-web") >= 2 * len(APPS), f"{name}:\n{run.tail()}"
        if name.startswith(("code", "back")):
            # Both releases' assets, on the front, after every host switched.
            assets = [original_css, _live_css(hosts[APPS[0]])]
            if name.startswith("back"):
                assets.append(code_css)
            assert _assets_missing(hosts, front_address, assets) == [], name
            if name.startswith("code"):
                code_css = assets[1]
        if name.startswith("requirements"):
            maxmemory = hosts[REDIS].check_output(f"{REDIS_CLI} --raw config get maxmemory")
            assert maxmemory.splitlines()[-1] == str(200 * 1024 * 1024)

    report = ROOT_DIR / "build" / "zero-downtime.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps(results, indent=2))
    table = "\n".join(
        f"{name:48} sent {r['sent']:5}  failed {r['failed']}  p99 {r['p99_ms']:7.1f} ms"
        for name, r in results.items()
    )
    print("\nzero downtime, 60 requests/s through the front over both app hosts:\n" + table)

    # Redis and PostgreSQL were changed without a restart.
    assert hosts[REDIS].check_output("systemctl show -p MainPID --value redis-server") == redis_pid
    assert hosts[DB].check_output(PG_STARTED) == pg_started
    failed = {name: r["detail"] for name, r in results.items() if r["failed"]}
    assert failed == {}, json.dumps(failed, indent=2)
    assert all(r["sent"] >= RATE * 4 for r in results.values()), table
    assert live_release(hosts[APPS[0]]) == live_release(hosts[APPS[1]])


def _extra_vars_file(path, values: dict) -> str:
    """Secrets for a run go in a 0600 file (`-e @file`), never on a command line."""
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return f"@{path}"


def _pg_accepts(hosts, password: str) -> bool:
    """Whether the app's role logs in with `password` (given on stdin, not argv)."""
    probe = (
        'PGPASSWORD="$(cat)" psql -X -At -h /var/run/postgresql'
        f" -p {PG_PORT} -U {PG_USER} -d {PG_DB} -c 'SELECT 1'"
    )
    return hosts[DB].run(f"printf %s {shlex.quote(password)} | {probe}").rc == 0


def _app_user_passwords(hosts) -> int:
    """How many passwords the app's Redis user accepts (ACL GETUSER lists their hashes)."""
    out = hosts[REDIS].check_output(f"{REDIS_CLI} --raw acl getuser ahsp-app")
    lines = out.splitlines()
    return len(lines[lines.index("passwords") + 1 : lines.index("commands")])


def test_secret_rotation_under_live_traffic(hosts, load_urls, secrets, tmp_path):
    """rotate-secrets.yml to new Redis and PostgreSQL passwords: 0 failed requests.

    As the playbook's header tells an operator: the new passwords go into the
    inventory (here the password lookup's files, which the scenario's
    inventory reads), the replaced ones are given in a file named by
    `previous_passwords` as *_previous. The inventory then
    matches the hosts again, so later runs of the scenario keep working.
    """
    names = ("redis_app_password", "postgresql_db_password")
    previous = {k: secrets[k] for k in names}
    target = {k: f"Rotated{v[:24]}x9" for k, v in previous.items()}
    previous_file = _extra_vars_file(
        tmp_path / "previous.json",
        {
            "redis_app_password_previous": previous["redis_app_password"],
            "postgresql_db_password_previous": previous["postgresql_db_password"],
        },
    )
    extra = _extra_vars_file(
        tmp_path / "rotation.json",
        {**target, "previous_passwords": previous_file[1:], "app_ratelimit_requests": 1000000},
    )
    name = "rotate to new passwords"
    results = {}
    results[name], run = _under_load(
        load_urls, lambda: run_playbook("../../playbooks/rotate-secrets.yml", "-e", extra), hosts
    )
    assert run.rc == 0, f"{name}:\n{run.tail()}"
    store = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
    for key, value in target.items():
        (store / key).write_text(value + "\n")
        secrets[key] = value
    assert _pg_accepts(hosts, target["postgresql_db_password"])
    assert not _pg_accepts(hosts, previous["postgresql_db_password"])
    assert _app_user_passwords(hosts) == 1
    for app in APPS:
        env = hosts[app].file("/etc/ahsp/secrets.env").content_string
        # The app role writes the fallback only while it is set.
        lines = env.splitlines()
        fallback = [line for line in lines if line.startswith("DB_PASSWORD_FALLBACK=")]
        assert fallback in ([], ['DB_PASSWORD_FALLBACK=""']), f"fallback left on {app}"
    for value in (*target.values(), *previous.values()):
        assert value not in run.output, "a password is in the output"
    table = "\n".join(
        f"{name:24} sent {r['sent']:5}  failed {r['failed']}  p99 {r['p99_ms']:7.1f} ms"
        for name, r in results.items()
    )
    print("\nsecret rotation, 60 requests/s over both app hosts:\n" + table)
    report = ROOT_DIR / "build" / "zero-downtime.json"
    data = json.loads(report.read_text()) if report.is_file() else {}
    report.write_text(json.dumps({**data, **results}, indent=2))
    failed = {name: r["detail"] for name, r in results.items() if r["failed"]}
    assert failed == {}, json.dumps(failed, indent=2)
