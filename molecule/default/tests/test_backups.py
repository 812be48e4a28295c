"""Restore drills: the database's backups are counted only once restored.

A writer on an app host inserts rows through the app's own database
connection, one transaction each, and prints every id whose commit it saw.
Each drill pauses it to read a time T, lets it write on, destroys the data
and restores with playbooks/restore.yml; then the rows are counted against
what the writer saw. Restores run from this scenario's inventory exactly as
an operator runs them.

The drills run first in the scenario (this file sorts first) and leave the
stack whole for the other tests; the drill that destroys the database host
runs after them (`after_all`), followed only by the log inspection.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from ahsp_testing import ROOT_DIR, exposure, http, run_playbook, wait_for
from conftest import (
    APP1,
    APPS,
    BACKUP,
    DB,
    PG_DB,
    PG_PORT,
    REDIS,
    REDIS_CLI,
    SKIP_TAGS_BUT_BACKUPS,
    WEB,
    health,
    silences,
)

PG_DATA = "/var/lib/postgresql/15/main"  # stack-db runs Debian 12
PSQL = f"runuser -u postgres -- psql -X -qAt -p {PG_PORT} -d {PG_DB}"
WRITER_UNIT = "ahsp-drill-writer"
# On the app host: /var/tmp, which the writer (the app's user) reads too.
DRILL_DIR = "/var/tmp"  # noqa: S108 - a directory of the test container
WRITER_SCRIPT = f"{DRILL_DIR}/ahsp-drill-writer.py"
WRITER_LOG = f"{DRILL_DIR}/ahsp-drill-writer.log"
PAUSE, STOP = f"{DRILL_DIR}/ahsp-drill-pause", f"{DRILL_DIR}/ahsp-drill-stop"
# The writer's bounds: rows and seconds (a drill never needs more).
WRITER_ROWS, WRITER_SECONDS = 20000, 600
# What a restored database may lack when its host is lost: the WAL of the
# last archive_timeout (the inventory's default, 60 s), plus the push.
ARCHIVE_TIMEOUT = 60
# A migration no release of the app has: restored data holding it must not
# get the live release back without force.
NEWER = ("detail_project", "9999_from_a_newer_release")
NEWER_SQL = (
    "INSERT INTO django_migrations (app, name, applied)"
    " VALUES ('detail_project', '9999_from_a_newer_release', now())"
)

WRITER = """
import os, sys, time
from django.db import connection
tag, rows, seconds = {tag!r}, {rows}, {seconds}
with connection.cursor() as cursor:
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS drill (id bigserial PRIMARY KEY, tag text NOT NULL,"
        " at timestamptz NOT NULL DEFAULT clock_timestamp())")
deadline, written = time.monotonic() + seconds, 0
while written < rows and time.monotonic() < deadline and not os.path.exists({stop!r}):
    if os.path.exists({pause!r}):
        print("PAUSED", flush=True)
        waited = time.monotonic()
        while os.path.exists({pause!r}) and time.monotonic() - waited < 60:
            time.sleep(0.05)
        print("RESUMED", flush=True)
        continue
    try:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO drill (tag) VALUES (%s) RETURNING id", [tag])
            row_id = cursor.fetchone()[0]
        print(row_id, time.time(), flush=True)
        written += 1
    except Exception as exc:
        print("ERROR", type(exc).__name__, flush=True)
        connection.close()
        time.sleep(0.5)
    time.sleep(0.01)
print("DONE", flush=True)
"""


@dataclass
class Writes:
    """What the writer printed: committed ids (with commit times) before and after the pause."""

    before: dict[int, float] = field(default_factory=dict)
    after: dict[int, float] = field(default_factory=dict)
    errors: int = 0


def _sql(hosts, query: str) -> str:
    return hosts[DB].check_output(f"{PSQL} -c {shlex.quote(query)}")


def _start_writer(hosts, tag: str) -> None:
    app = hosts[APP1]
    app.check_output(f"rm -f {PAUSE} {STOP} {WRITER_LOG}")
    code = WRITER.format(tag=tag, rows=WRITER_ROWS, seconds=WRITER_SECONDS, pause=PAUSE, stop=STOP)
    app.check_output(f"cat > {WRITER_SCRIPT} <<'EOF'\n{code}\nEOF")
    app.check_output(
        f"systemd-run --unit={WRITER_UNIT} --collect -p RuntimeMaxSec={WRITER_SECONDS + 60}"
        f" -p StandardOutput=append:{WRITER_LOG} -p StandardError=journal"
        f" /usr/local/bin/ahsp-manage shell -c \"exec(open('{WRITER_SCRIPT}').read())\""
    )


def _log(hosts) -> list[str]:
    return hosts[APP1].file(WRITER_LOG).content_string.splitlines()


# A committed row as the writer prints it: its id and commit time.
ROW = re.compile(r"^([0-9]+) ([0-9]+[.][0-9]+)$")


def _rows(hosts) -> int:
    return sum(1 for line in _log(hosts) if ROW.match(line))


def _wait_rows(hosts, more: int) -> None:
    target = _rows(hosts) + more
    wait_for(lambda: _rows(hosts) >= target, 60, f"{more} more rows from the writer")


def _stop_writer(hosts) -> Writes:
    app = hosts[APP1]
    app.check_output(f"touch {STOP}")
    wait_for(lambda: not app.service(WRITER_UNIT).is_running, 60, "the writer to stop")
    writes, side = Writes(), "before"
    for line in _log(hosts):
        if line == "PAUSED":
            side = "after"
        elif line.startswith("ERROR"):
            writes.errors += 1
        elif row := ROW.match(line):
            getattr(writes, side)[int(row[1])] = float(row[2])
    return writes


def _pause_and_mark(hosts) -> str:
    """Pause the writer, read T on the database host (between two commits), resume."""
    app = hosts[APP1]
    app.check_output(f"touch {PAUSE}")
    wait_for(lambda: "PAUSED" in _log(hosts), 30, "the writer to pause")
    time.sleep(0.5)
    mark = hosts[DB].check_output("date -u +%Y-%m-%dT%H:%M:%S.%6NZ")
    time.sleep(0.5)
    app.check_output(f"rm -f {PAUSE}")
    wait_for(lambda: "RESUMED" in _log(hosts), 30, "the writer to resume")
    return mark


def _rows_around_a_mark(hosts, drill: str) -> tuple[str, str, Writes]:
    """A writer of its own tag: 100 rows, the mark T in a pause, 100 more; what it saw."""
    tag = f"{drill}-{uuid.uuid4().hex[:8]}"
    _start_writer(hosts, tag)
    _wait_rows(hosts, 100)
    mark = _pause_and_mark(hosts)
    _wait_rows(hosts, 100)
    return tag, mark, _stop_writer(hosts)


def _record(drill: str, **figures: float) -> None:
    """A drill's figures, printed and kept in build/restore-drills.json for the reader of a run."""
    print(f"drill ({drill}): {figures}")
    report = ROOT_DIR / "build" / "restore-drills.json"
    report.parent.mkdir(exist_ok=True)
    drills = json.loads(report.read_text()) if report.is_file() else {}
    drills[drill] = figures
    report.write_text(json.dumps(drills, indent=2, sort_keys=True) + "\n")


def _assert_back_to_the_mark(hosts, tag: str, writes: Writes, drill: str) -> None:
    """Every row committed before the mark is there, and none after it."""
    restored = _restored_ids(hosts, tag)
    _record(drill, rows_before_mark=len(writes.before), rows_after_mark=len(writes.after))
    before = set(writes.before)
    assert restored == before, f"missing {len(before - restored)}, extra {len(restored - before)}"


def _restore(*extra: str):
    return run_playbook("../../playbooks/restore.yml", *extra, timeout=1200)


def _restored_ids(hosts, tag: str) -> set[int]:
    out = _sql(hosts, f"SELECT id FROM drill WHERE tag = '{tag}'")  # noqa: S608 - test constant
    return {int(line) for line in out.split()}


def _archived(hosts) -> None:
    """Everything committed so far is in the repository: the check unit, as its timer runs it."""
    hosts[BACKUP].check_output("systemctl start ahsp-pgbackrest-check.service")


def _front_status(hosts) -> int:
    return http(hosts[DB], f"http://{WEB}/health/")[0].status


def _app_healthy(hosts) -> None:
    for app in APPS:
        wait_for(lambda app=app: health(hosts[DB], app).status == 200, 120, f"{app} healthy")
    wait_for(lambda: _front_status(hosts) == 200, 60, "the front to serve the app")
    unapplied = hosts[APP1].check_output(
        "ahsp-manage showmigrations --plan | grep -c '\\[ \\]' || true"
    )
    assert unapplied.strip() == "0", "the live release's migrations all applied"


def test_metrics_and_backups_listed(hosts):
    """The check writes its metrics for node_exporter; backups.yml lists the repository."""
    _archived(hosts)
    metrics = hosts[BACKUP].file("/var/lib/prometheus/node-exporter/ahsp_backup.prom")
    assert metrics.mode == 0o644
    values = {
        line.split("{")[0]: float(line.split()[-1])
        for line in metrics.content_string.splitlines()
        if not line.startswith("#")
    }
    assert values["ahsp_backup_check_success"] == 1
    assert values["ahsp_backup_verify_success"] == 1
    assert values["ahsp_backup_good_count"] >= 1
    assert values["ahsp_backup_wal_archived_age_seconds"] < 120
    listing = run_playbook("../../playbooks/backups.yml")
    assert listing.rc == 0, listing.tail()
    assert "F " in listing.output or "F," in listing.output or "F)" in listing.output, (
        listing.tail()
    )


def test_units_are_sandboxed_and_the_repository_is_private(hosts):
    """Each backup unit scores at most 3.0; only postgres reads the repository and the secrets."""
    units = {
        BACKUP: [
            "pgbackrest.service",
            "ahsp-pgbackrest-backup@full.service",
            "ahsp-pgbackrest-check.service",
            "ahsp-redis-snapshot.service",
        ],
        DB: ["pgbackrest.service"],
    }
    scores = {
        f"{name} {unit}": exposure(hosts[name], unit) for name in units for unit in units[name]
    }
    assert all(score <= 3.0 for score in scores.values()), scores
    backup = hosts[BACKUP]
    repository = backup.file("/var/lib/pgbackrest")
    assert (repository.user, repository.mode) == ("postgres", 0o750)
    private = "/var/lib/pgbackrest /var/lib/pgbackrest-redis /etc/pgbackrest/conf.d"
    world = f"find {private} ! -type l -perm /o=rwx"
    assert backup.check_output(world) == ""
    for secret in (
        "/etc/pgbackrest/cipher-passphrase",
        "/etc/pgbackrest/redis-password",
        "/etc/pgbackrest/tls/stack-backup.key",
    ):
        assert (backup.file(secret).user, backup.file(secret).mode) == ("postgres", 0o600)
    # Only the backup host holds the passphrase.
    assert not hosts[DB].file("/etc/pgbackrest/conf.d/ahsp-cipher.conf").exists


def test_restore_to_a_time_after_a_dropped_table(hosts):
    """Rows committed before T are back, none after; newer-schema data keeps the app off."""
    _sql(hosts, NEWER_SQL)
    tag, mark, writes = _rows_around_a_mark(hosts, "drop")
    _sql(hosts, "DROP TABLE drill")

    refused = _restore("-e", f"restore_target={mark}")
    assert refused.rc != 0, refused.tail()
    assert ".".join(NEWER) in refused.output, refused.tail()
    _assert_back_to_the_mark(hosts, tag, writes, "dropped table")
    # The data is restored but the live release does not know its schema:
    # the front keeps the maintenance page up.
    assert _front_status(hosts) == 503


def test_restore_to_a_time_after_the_data_directory_is_lost(hosts):
    """The whole data directory removed: restored to T, with force past the newer schema."""
    tag, mark, writes = _rows_around_a_mark(hosts, "lost")
    _archived(hosts)
    hosts[DB].check_output(f"systemctl stop postgresql@15-main && rm -rf {PG_DATA}")

    run = _restore("-e", f"restore_target={mark}", "-e", "force=true")
    assert run.rc == 0, run.tail()
    _assert_back_to_the_mark(hosts, tag, writes, "data directory lost")
    _sql(hosts, f"DELETE FROM django_migrations WHERE name = '{NEWER[1]}'")  # noqa: S608
    _app_healthy(hosts)
    # The alerts it caused were silenced during the restore, and no longer are.
    restore_silences = silences(hosts, "playbooks/restore.yml")
    assert restore_silences, "the restore set a silence"
    assert all(s["status"]["state"] == "expired" for s in restore_silences), restore_silences


def test_refusals_before_anything_stops(hosts):
    """Targets the repository cannot reach are refused, naming what it can; nothing stops."""
    started = hosts[DB].check_output(
        "systemctl show -p ActiveEnterTimestampMonotonic postgresql@15-main"
    )
    cases = {
        "2001-01-01 00:00:00+00:00": "outside what the repository reaches",
        "2999-01-01 00:00:00Z": "in the future",
        "yesterday": "restore_target must be",
        "20200101-000000F": "no good backup is labelled",
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        runs = pool.map(
            lambda target: _restore("-e", json.dumps({"restore_target": target})), cases
        )
    for (target, problem), run in zip(cases.items(), runs, strict=True):
        assert run.rc != 0 and problem in run.output, f"{target}: {run.tail()}"
        assert "nothing was stopped" in run.output, run.tail()
    after = hosts[DB].check_output(
        "systemctl show -p ActiveEnterTimestampMonotonic postgresql@15-main"
    )
    assert after == started


def test_redis_snapshot_restored_with_one_command(hosts):
    """An encrypted snapshot on the backup host; restore-redis.yml brings Redis back to it."""
    redis = hosts[REDIS]
    redis.check_output(f"{REDIS_CLI} -n 2 SET drill:before kept")
    hosts[BACKUP].check_output("systemctl start ahsp-redis-snapshot.service")
    snapshots = hosts[BACKUP].check_output("ls /var/lib/pgbackrest-redis")
    assert snapshots.split() and all(name.endswith(".enc") for name in snapshots.split()), snapshots
    redis.check_output(f"{REDIS_CLI} -n 2 SET drill:after lost")
    run = run_playbook("../../playbooks/restore-redis.yml", "-e", "redis_snapshot=latest")
    assert run.rc == 0, run.tail()
    assert redis.check_output(f"{REDIS_CLI} -n 2 GET drill:before") == "kept"
    assert redis.check_output(f"{REDIS_CLI} -n 2 EXISTS drill:after") == "0"
    redis.check_output(f"{REDIS_CLI} -n 2 DEL drill:before")


@pytest.mark.after_all
def test_restore_latest_on_a_database_host_rebuilt_from_bare_debian(hosts):
    """The database host destroyed under load and rebuilt: at most archive_timeout is lost."""
    tag = f"rebuilt-{uuid.uuid4().hex[:8]}"
    _start_writer(hosts, tag)
    # Longer than archive_timeout, so that some of the rows are archived.
    started = time.monotonic()
    _wait_rows(hosts, 300)
    time.sleep(max(0.0, ARCHIVE_TIMEOUT + 15 - (time.monotonic() - started)))
    destroyed = time.time()
    subprocess.run(["docker", "rm", "--force", DB], check=True, capture_output=True, timeout=120)
    wait_for(
        lambda: any(line.startswith("ERROR") for line in _log(hosts)),
        60,
        "the writer to lose the database",
    )
    writes = _stop_writer(hosts)
    committed = {**writes.before, **writes.after}

    rebuilt = run_playbook("rebuild-db-host.yml")  # a new container from the bare base image
    assert rebuilt.rc == 0, rebuilt.tail()
    # A hurried operator runs the whole stack first: the database tier comes
    # up empty, and the app tier stops before migrating it.
    hurried = run_playbook(
        "converge.yml", timeout=1800, extra_env={"ANSIBLE_SKIP_TAGS": SKIP_TAGS_BUT_BACKUPS}
    )
    assert hurried.rc != 0, hurried.tail()
    assert "Not against a database that waits for its restore" in hurried.output, hurried.tail()
    assert "Apply migrations" not in hurried.output.split("waits for its restore")[-1]
    steps = [
        ("../../playbooks/restore.yml", "-e", "restore_target=latest"),
        ("../../playbooks/app.yml",),  # the app tier: the database may have a new address
    ]
    for step in steps:
        run = run_playbook(*step, timeout=1800)
        assert run.rc == 0, f"{step[0]}:\n{run.tail()}"

    restored = _restored_ids(hosts, tag)
    lost = set(committed) - restored
    assert restored, "the rows of the archived WAL are back"
    assert restored <= set(committed), "no row the writer did not see committed"
    assert all(row_id > max(restored) for row_id in lost), "only the newest rows may be lost"
    # The lost rows' span: from the first lost commit to the last commit.
    window = (max(committed.values()) - min(committed[i] for i in lost)) if lost else 0.0
    _record(
        "host rebuilt",
        rows_committed=len(committed),
        seconds_written=round(max(committed.values()) - min(committed.values()), 1),
        rows_lost=len(lost),
        seconds_lost=round(window, 1),
        archive_timeout=ARCHIVE_TIMEOUT,
    )
    assert window <= ARCHIVE_TIMEOUT + 10
    assert destroyed - max(committed.values()) < 5
    _app_healthy(hosts)
