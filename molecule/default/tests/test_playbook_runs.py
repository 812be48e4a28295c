"""Runs of site.yml from a test: drift on every tier, and a release that fails its health gate.

These run first (alphabetical); the other tests then check the repaired stack.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ahsp_testing import ROOT_DIR, run_playbook
from conftest import APP1, APP2, APPS, DB, REDIS, health, wait_for

PG_HBA = "/etc/postgresql/*/main/pg_hba.conf"


def _no_secret_in(output: str, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        assert value not in output, f"{name} leaked into the playbook output"


def test_drift_on_every_tier_is_repaired_then_clean(hosts, client, secrets):
    redis, db, app1, app2 = hosts[REDIS], hosts[DB], hosts[APP1], hosts[APP2]
    redis.check_output("sed -i 's/^maxmemory .*/maxmemory 1mb/' /etc/redis/redis.conf")
    redis.check_output("chmod 0644 /etc/redis/redis-auth.conf")
    redis.check_output("systemctl stop redis-server")
    db.check_output(f"for f in {PG_HBA}; do echo 'host all all 0.0.0.0/0 trust' >> $f; done")
    app1.check_output("sed -i '/^RATELIMIT_REQUESTS=/d' /etc/ahsp/app.env")
    app1.check_output("chmod 0644 /etc/ahsp/secrets.env")
    app2.check_output("sed -i 's/^workers = .*/workers = 1/' /etc/ahsp/gunicorn.conf.py")
    app2.check_output("systemctl stop ahsp-gunicorn")

    repair = run_playbook("converge.yml", "--diff")
    assert repair.rc == 0, repair.tail()
    recap = repair.recap()
    for name in (REDIS, DB, APP1, APP2):
        assert recap[name]["changed"] > 0, (name, repair.tail())
    _no_secret_in(repair.output, secrets)

    assert "maxmemory 256mb" in redis.file("/etc/redis/redis.conf").content_string
    assert redis.file("/etc/redis/redis-auth.conf").mode == 0o640
    assert redis.service("redis-server").is_running
    assert "trust" not in db.check_output(f"grep -v '^#' {PG_HBA}")
    assert "RATELIMIT_REQUESTS='10'" in app1.file("/etc/ahsp/app.env").content_string
    assert app1.file("/etc/ahsp/secrets.env").mode == 0o640
    assert "workers = 3" in app2.file("/etc/ahsp/gunicorn.conf.py").content_string
    assert app2.service("ahsp-gunicorn").is_running
    for app in APPS:
        assert health(client, app).status == 200

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()


def test_failing_release_stops_the_rollout_after_the_first_host(
    hosts, client, secrets, tmp_path: Path
):
    before = {app: health(client, app).json()["version"] for app in APPS}
    source = tmp_path / "app"
    ignore = shutil.ignore_patterns("__pycache__", ".env", "*.sqlite3")
    shutil.copytree(ROOT_DIR / "app", source, ignore=ignore)
    with (source / "detail_project" / "health.py").open("a") as health_py:
        health_py.write(
            "\n\ndef check_release() -> None:\n"
            '    raise RuntimeError("molecule: this release fails its health check")\n\n\n'
            'CHECKS["release"] = check_release\n'
        )

    broken = run_playbook(
        "converge.yml",
        "--extra-vars",
        # JSON, so the timeout stays an integer.
        json.dumps({"app_source_dir": str(source), "gunicorn_systemd_health_timeout": 10}),
    )
    try:
        assert broken.rc != 0, broken.tail()
        assert f"Rolling deploy stopped: {APP1} failed" in broken.output, broken.tail()
        recap = broken.recap()
        assert recap[APP1]["failed"] >= 1, broken.tail()
        assert recap.get(APP2, {}).get("failed", 0) == 0, broken.tail()
        _no_secret_in(broken.output, secrets)

        # The first host runs the new release and reports it unhealthy...
        first = health(client, APP1)
        assert first.status == 503
        assert first.json()["version"] != before[APP1]
        # ...the second was never touched: old release, healthy.
        second = health(client, APP2)
        assert second.status == 200, second.body
        assert second.json()["version"] == before[APP2]
        assert hosts[APP2].file("/srv/ahsp/current").linked_to.endswith(before[APP2])
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    wait_for(lambda: health(client, APP1).status == 200, 30, f"{APP1} healthy again")
    assert {app: health(client, app).json()["version"] for app in APPS} == before
