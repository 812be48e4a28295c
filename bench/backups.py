"""Backups at size: a database of about 1 GB backed up, archived under load and restored.

Everything runs on the bench's database host, whose repository is local (the
bench inventory has no backup host): `pgbench -i` makes the database, the
role's own unit takes the full backup (`ahsp-pgbackrest-backup@full`, as its
timer does), a `pgbench` write load runs while the archiver's lag is
sampled, then the cluster is restored to its latest state with pgBackRest,
as playbooks/restore.yml does, and timed until it answers again. The
database is dropped at the end; the app's own database comes back whole
(restored to the latest state). Every loop is bounded in count and time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from common import DB_HOST, BenchError, docker_exec, log, wait_until

DATABASE = "ahsp_bench_pgbench"
SCALE = 70  # pgbench's scale: about 15 MB per unit, so about 1 GB
LOAD_SECONDS = 60
LOAD_CLIENTS = 4
SAMPLE_EVERY = 2.0
STANZA = "ahsp"


@dataclass(frozen=True)
class BackupFigures:
    """One full backup and one restore of a database of `database_bytes`."""

    database_bytes: int
    full_backup_seconds: float
    repository_bytes: int  # what the full backup takes in the repository (compressed, encrypted)
    archive_lag_max_seconds: float  # the oldest unarchived WAL's age, at worst, under the load
    archive_lag_samples: int
    load_transactions: int  # pgbench transactions during the load
    restore_seconds: float  # PostgreSQL stopped, restored, replayed, answering again


def _psql(sql: str, database: str = "postgres", timeout: float = 60) -> str:
    argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-qAt", "-d", database, "-c", sql]
    return docker_exec(DB_HOST, argv, timeout=timeout).strip()


def _bin(name: str) -> str:
    """A PostgreSQL program of the server's own version (pgbench ships with the server)."""
    version = _psql("SHOW server_version_num")[:-4]
    return f"/usr/lib/postgresql/{version}/bin/{name}"


def _as_postgres(argv: list[str], timeout: float) -> str:
    return docker_exec(DB_HOST, ["runuser", "-u", "postgres", "--", *argv], timeout=timeout)


def _make_database() -> int:
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    _psql(f"CREATE DATABASE {DATABASE}")
    log(f"backups: pgbench -i -s {SCALE} (about 1 GB)")
    _as_postgres([_bin("pgbench"), "-i", "-q", "-s", str(SCALE), DATABASE], timeout=1200)
    return int(_psql(f"SELECT pg_database_size('{DATABASE}')"))


def _newest_full() -> dict:
    info = json.loads(
        _as_postgres(["pgbackrest", f"--stanza={STANZA}", "--output=json", "info"], 60)
    )
    fulls = [b for b in info[0].get("backup", []) if b["type"] == "full"]
    if not fulls:
        raise BenchError("the repository holds no full backup")
    return fulls[-1]


def _full_backup() -> tuple[float, int]:
    log("backups: a full backup through ahsp-pgbackrest-backup@full")
    started = time.monotonic()
    docker_exec(
        DB_HOST, ["systemctl", "start", "ahsp-pgbackrest-backup@full.service"], timeout=1800
    )
    seconds = round(time.monotonic() - started, 1)
    return seconds, int(_newest_full()["info"]["repository"]["delta"])


def _archive_lag_under_load() -> tuple[float, int, int]:
    """The longest a completed WAL segment waited for the archive while pgbench wrote."""
    log(f"backups: {LOAD_SECONDS} s of pgbench writes, archive lag sampled")
    pgbench = [_bin("pgbench"), "-c", str(LOAD_CLIENTS), "-T", str(LOAD_SECONDS), "-n", DATABASE]
    out_file = "/var/tmp/ahsp-bench-pgbench.out"  # noqa: S108 - inside the bench container
    docker_exec(
        DB_HOST,
        ["sh", "-c", f"runuser -u postgres -- {' '.join(pgbench)} > {out_file} 2>&1 &"],
    )
    # The oldest completed segment still waiting for the archive: its
    # pg_wal/archive_status/*.ready file's age (0 when none waits).
    query = (
        "SELECT coalesce(extract(epoch FROM now() - min(modification)), 0)"
        " FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"
    )
    lags, deadline = [], time.monotonic() + LOAD_SECONDS + 30
    while time.monotonic() < deadline and len(lags) < 100:
        lags.append(float(_psql(query)))
        if "tps" in docker_exec(DB_HOST, ["cat", out_file]):
            break
        time.sleep(SAMPLE_EVERY)
    report = docker_exec(DB_HOST, ["cat", out_file])
    done = [
        line for line in report.splitlines() if "number of transactions actually processed" in line
    ]
    if not done:
        raise BenchError(f"pgbench did not finish: {report[-300:]}")
    return round(max(lags), 1), len(lags), int(done[0].split(":")[1].split("/")[0])


def _restore_latest() -> float:
    """Stop, restore to the latest state, start, and wait until the cluster takes writes."""
    log("backups: restore to the latest state")
    units = "systemctl list-units --plain --no-legend 'postgresql@*-main.service' | cut -d' ' -f1"
    unit = docker_exec(DB_HOST, ["sh", "-c", units]).strip()
    started = time.monotonic()
    docker_exec(DB_HOST, ["systemctl", "stop", unit], timeout=120)
    _as_postgres(["pgbackrest", f"--stanza={STANZA}", "--delta", "restore"], timeout=1800)
    docker_exec(DB_HOST, ["systemctl", "start", unit], timeout=600)

    def writable() -> bool:
        try:
            return _psql("SELECT pg_is_in_recovery()") == "f"
        except BenchError:
            return False

    wait_until(writable, timeout=1800, what="the restored cluster to take writes")
    return round(time.monotonic() - started, 1)


def measure() -> BackupFigures:
    """The whole phase; the test database is dropped whatever happens."""
    try:
        size = _make_database()
        backup_seconds, repository_bytes = _full_backup()
        lag, samples, transactions = _archive_lag_under_load()
        restore_seconds = _restore_latest()
    finally:
        _psql(f"DROP DATABASE IF EXISTS {DATABASE}", timeout=300)
    figures = BackupFigures(
        database_bytes=size,
        full_backup_seconds=backup_seconds,
        repository_bytes=repository_bytes,
        archive_lag_max_seconds=lag,
        archive_lag_samples=samples,
        load_transactions=transactions,
        restore_seconds=restore_seconds,
    )
    log(f"backups: {figures}")
    return figures
