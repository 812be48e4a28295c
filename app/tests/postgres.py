"""A throw-away PostgreSQL cluster for the tests that need the real server.

Uses the Debian server binaries (package ``postgresql``) when present; tests
that need it are skipped otherwise. initdb refuses to run as root, so as root
the cluster is created and run as the ``postgres`` system user (``setpriv``),
in a directory of its own under /tmp. Loopback TCP only, scram-sha-256, every
connection logged (``log_connections``) so tests can count them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import STARTUP_TIMEOUT, die_with_parent, free_port, stop_process, wait_for

DB_NAME = "ahsp"
DB_USER = "ahsp"


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _as_owner(owner: pwd.struct_passwd | None) -> list[str]:
    if owner is None:
        return []
    return [
        "setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--init-groups", "--",
    ]  # fmt: skip


@dataclass
class PostgresServer:
    port: int
    password: str
    datadir: Path
    proc: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        """The DB_* variables of an app host using this server."""
        return {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(self.port),
            "DB_NAME": DB_NAME,
            "DB_USER": DB_USER,
            "DB_PASSWORD": self.password,
        }

    def log_text(self) -> str:
        return (self.datadir / "server.log").read_text(errors="replace")

    def connections_received(self) -> int:
        return self.log_text().count("connection received:")

    def processes(self) -> list[int]:
        """The postmaster and every backend it forked (one per client connection)."""
        pids = [self.proc.pid]
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                fields = dict(
                    line.split(":\t", 1)
                    for line in status.read_text().splitlines()
                    if ":\t" in line
                )
                if fields.get("PPid", "").strip() == str(self.proc.pid):
                    pids.append(int(status.parent.name))
        return pids

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """One statement as the cluster's superuser (CREATE ROLE, ALTER ROLE ... PASSWORD)."""
        with _connect(self, dbname) as conn:
            conn.autocommit = True
            conn.execute(sql)  # type: ignore[arg-type]

    def terminate_app_sessions(self) -> int:
        """What a database restart does to the app's open sessions: they are cut."""
        with _connect(self, "postgres") as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (DB_NAME,),
            ).fetchall()
        return len(rows)

    def pause(self) -> None:
        """SIGSTOP the whole server: sockets stay open, the kernel still ACKs, nothing answers."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        stop_process(self.proc, timeout=15)
        shutil.rmtree(self.datadir, ignore_errors=True)


def start_postgres() -> PostgresServer:
    binaries = server_binaries()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL server binaries not found (Debian package postgresql)")
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    datadir = Path(tempfile.mkdtemp(prefix="ahsp-test-pg-"))
    password = secrets.token_urlsafe(18)
    pwfile = datadir / "pwfile"
    pwfile.write_text(password + "\n")
    cluster = datadir / "cluster"
    if owner is not None:
        os.chown(datadir, owner.pw_uid, owner.pw_gid)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        [*_as_owner(owner), str(binaries / "initdb"), "-D", str(cluster), "-U", DB_USER,
         "--pwfile", str(pwfile), "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
         "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    log = open(datadir / "server.log", "ab")  # noqa: SIM115 - owned by the server process
    proc = subprocess.Popen(
        [*_as_owner(owner), str(binaries / "postgres"), "-D", str(cluster), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={datadir}",
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
         "-c", "log_connections=on", "-c", "max_connections=40", "-c", "shared_buffers=16MB"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
    )  # fmt: skip
    log.close()
    server = PostgresServer(port=port, password=password, datadir=datadir, proc=proc)
    try:
        wait_for(lambda: _accepts(server), STARTUP_TIMEOUT * 2, "PostgreSQL start")
        with _connect(server, "postgres") as conn:
            conn.autocommit = True
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    except Exception:
        server.stop()
        raise
    return server


def _connect(server: PostgresServer, dbname: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host="127.0.0.1", port=server.port, user=DB_USER, password=server.password,
        dbname=dbname, connect_timeout=2,
    )  # fmt: skip


def _accepts(server: PostgresServer) -> bool:
    if server.proc.poll() is not None:
        raise RuntimeError(f"postgres exited:\n{server.log_text()}")
    try:
        with _connect(server, "postgres"):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
