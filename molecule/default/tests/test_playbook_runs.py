"""Runs of site.yml from a test: drift on every tier, a release that fails its gate, --limit.

These run early (alphabetical); the behaviour tests then check the repaired stack.
"""

from __future__ import annotations

import json
import re

from ahsp_testing import break_health, copy_app, run_playbook
from conftest import APP1, APP2, APPS, DB, PG_PORT, REDIS, health, live_release, served, wait_for

PG_HBA = "/etc/postgresql/*/main/pg_hba.conf"

NOOP_MIGRATION = '''"""Added by a test: a migration that changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("detail_project", "{latest}")]
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
'''


def add_noop_migration(source) -> str:
    """A migration after the app's latest one; returns its name."""
    migrations = source / "detail_project" / "migrations"
    latest = sorted(p.stem for p in migrations.glob("[0-9][0-9][0-9][0-9]_*.py"))[-1]
    (migrations / "9999_molecule_noop.py").write_text(NOOP_MIGRATION.format(latest=latest))
    return "9999_molecule_noop"


def _no_secret_in(output: str, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        assert value not in output, f"{name} leaked into the playbook output"


def _applied(db_host, name: str) -> bool:
    sql = f"SELECT count(*) FROM django_migrations WHERE name = '{name}'"  # noqa: S608 - test constant
    out = db_host.check_output(
        f'runuser -u postgres -- psql -X -At -p {PG_PORT} -d ahsp_stack -c "{sql}"'
    )
    return out.strip() == "1"


def _go_live_hosts(output: str) -> set[str]:
    """Hosts that ran a task of the serial go-live play (its batches' output)."""
    hosts: set[str] = set()
    for section in output.split("\nPLAY [")[1:]:
        if section.startswith("App - go live"):
            # `[host]`, or `[host -> front]` for a task delegated to a front.
            results = r"^(?:ok|changed|failed|fatal|skipping): \[([^\]\s]+)"
            hosts.update(re.findall(results, section, re.M))
    return hosts


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
    assert 'RATELIMIT_REQUESTS="10"' in app1.file("/etc/ahsp/app.env").content_string
    assert app1.file("/etc/ahsp/secrets.env").mode == 0o640
    assert "workers = 3" in app2.file("/etc/ahsp/gunicorn.conf.py").content_string
    assert app2.service("ahsp-gunicorn").is_running
    for app in APPS:
        wait_for(lambda app=app: health(client, app).status == 200, 30, f"{app} healthy")

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()
    # Nothing to change anywhere: no host goes through the serial rollout.
    assert _go_live_hosts(again.output) == set(), again.tail()


def test_a_tag_runs_its_steps_alone_after_the_full_preflight(hosts):
    redis, db, app1 = hosts[REDIS], hosts[DB], hosts[APP1]
    tags = ("--tags", "redis_config,postgresql_config,app_configure")
    # The preflight runs in full whatever the tags select.
    refused = run_playbook(
        "converge.yml", *tags, "--extra-vars", json.dumps({"app_secret_key": "too-short"})
    )
    assert refused.rc != 0 and "app_secret_key" in refused.output, refused.tail()
    redis.check_output("chmod 0644 /etc/redis/redis.conf")
    db.check_output(f"chmod 0644 {PG_HBA}")
    app1.check_output("chmod 0644 /etc/ahsp/app.env")

    run = run_playbook("converge.yml", *tags)
    assert run.rc == 0, run.tail()
    for name in (REDIS, DB, APP1):
        assert run.recap()[name]["changed"] > 0, (name, run.tail())
    assert redis.file("/etc/redis/redis.conf").mode == 0o640
    assert db.check_output(f"stat -c %a {PG_HBA}").strip() == "640"
    assert app1.file("/etc/ahsp/app.env").mode == 0o640


def test_only_hosts_with_something_to_change_go_through_the_rollout(hosts, client):
    app2 = hosts[APP2]
    # The socket too: a connection to it (Prometheus scrapes every few
    # seconds) would start the service again before the run sees it stopped.
    app2.check_output("systemctl stop ahsp-gunicorn.socket ahsp-gunicorn.service")

    run = run_playbook("converge.yml")
    assert run.rc == 0, run.tail()
    assert _go_live_hosts(run.output) == {APP2}, run.tail()
    assert run.recap()[APP1]["changed"] == 0, run.tail()
    assert app2.service("ahsp-gunicorn").is_running
    wait_for(lambda: health(client, APP2).status == 200, 30, f"{APP2} healthy")


def test_failing_release_steps_back_and_stops_the_rollout(hosts, client, secrets, tmp_path):
    before = {app: live_release(hosts[app]) for app in APPS}
    source = break_health(copy_app(tmp_path))
    broken = run_playbook(
        "converge.yml",
        "--extra-vars",
        # JSON, so the timeout stays an integer.
        json.dumps({"app_source_dir": str(source), "gunicorn_systemd_health_timeout": 15}),
    )
    try:
        assert broken.rc != 0, broken.tail()
        assert f"failed on {APP1}" in broken.output, broken.tail()
        assert "Stepped back to" in broken.output, broken.tail()
        recap = broken.recap()
        assert recap[APP1]["failed"] >= 1, broken.tail()
        assert recap.get(APP2, {}).get("failed", 0) == 0, broken.tail()
        _no_secret_in(broken.output, secrets)

        # The first host is back on its release, serving it; the failed one is marked.
        assert live_release(hosts[APP1]) == before[APP1]
        assert served(client, APP1) == before[APP1]
        assert hosts[APP1].run("ls /srv/ahsp/releases/*.failed").rc == 0
        # The second was never switched: same release, healthy.
        assert live_release(hosts[APP2]) == before[APP2]
        second = health(client, APP2)
        assert second.status == 200, second.body
        assert second.json()["version"] == before[APP2]
    except BaseException:
        # Both hosts end on the inventory's release when the test passes;
        # otherwise a run puts it back for the tests that follow.
        run_playbook("converge.yml")
        raise
    assert {app: served(client, app) for app in APPS} == before


def test_limit_without_the_first_host_migrates_once_then_rollback_refuses(hosts, client, tmp_path):
    """--limit app2 alone: the migration runs there, before it switches; a rollback then refuses."""
    before = {app: live_release(hosts[app]) for app in APPS}
    source = copy_app(tmp_path)
    migration = add_noop_migration(source)
    run = run_playbook("converge.yml", "--limit", APP2, "--extra-vars", f"app_source_dir={source}")
    try:
        assert run.rc == 0, run.tail()
        assert "Apply migrations" in run.output and APP1 not in run.recap(), run.tail()
        assert _applied(hosts[DB], migration)
        new = live_release(hosts[APP2])
        assert new != before[APP2] and served(client, APP2) == new
        assert live_release(hosts[APP1]) == before[APP1], "app1 was outside --limit"

        # A release name that is not a release id never reaches a path.
        escape = run_playbook(
            "../../playbooks/rollback.yml", "--limit", APP2, "-e", "rollback_release=../../x"
        )
        assert escape.rc != 0 and "rollback_release must be a release id" in escape.output, (
            escape.tail()
        )
        assert served(client, APP2) == new

        # app2's previous release does not know 0002: the rollback lists it and refuses.
        refused = run_playbook("../../playbooks/rollback.yml", "--limit", APP2)
        assert refused.rc != 0, refused.tail()
        assert f"detail_project.{migration}" in refused.output, refused.tail()
        assert served(client, APP2) == new
        # Forced (the migration only adds): app2 goes back to its previous release.
        forced = run_playbook(
            "../../playbooks/rollback.yml",
            "--limit",
            APP2,
            "--extra-vars",
            "app_rollback_force=true",
        )
        assert forced.rc == 0, forced.tail()
        assert served(client, APP2) == before[APP2]
        listing = run_playbook("../../playbooks/releases.yml", "--limit", APP2)
        assert listing.rc == 0, listing.tail()
        assert f"{before[APP2]} " in listing.output and "live" in listing.output
        assert new in listing.output
    except BaseException:
        # The forced rollback ends app2 on the inventory's release when the
        # test passes; otherwise a run puts it back for the tests that follow.
        _forget_migration(hosts[DB], migration)
        run_playbook("converge.yml")
        raise
    _forget_migration(hosts[DB], migration)
    assert {app: served(client, app) for app in APPS} == before


def _forget_migration(db, migration: str) -> None:
    """The migration only existed in a test's release: later rollbacks see the app's own schema."""
    sql = f"DELETE FROM django_migrations WHERE name = '{migration}'"  # noqa: S608 - test constant
    db.check_output(f'runuser -u postgres -- psql -X -At -p {PG_PORT} -d ahsp_stack -c "{sql}"')
