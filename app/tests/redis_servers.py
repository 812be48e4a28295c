"""Real redis-server processes for the tests, secured the way production is.

Every server disables the ``default`` user and creates the app's user with
exactly the rules of ``config/redis_acl.txt``, so the whole suite proves the
app needs nothing more. An ``admin`` user (all commands) is for the tests'
own bookkeeping: flushing, counting connections, reading ``ACL LOG``.
Sentinel sets add a replica and one ``redis-server --sentinel`` with the
Sentinel users replication and monitoring need.

Processes are bounded by timeouts and stopped with terminate → wait → kill.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from config.redis_functions import library

from tests.helpers import (
    APP_DIR,
    STARTUP_TIMEOUT,
    die_with_parent,
    free_port,
    stop_process,
    wait_for,
)

APP_USER = "ahsp"
ADMIN_USER = "admin"
SERVICE = "ahsp"
APP_RULES = (APP_DIR / "config" / "redis_acl.txt").read_text().strip()
SENTINEL_CLIENT_RULES = (APP_DIR / "config" / "redis_sentinel_acl.txt").read_text().strip()
# What Sentinel and a replica need on the data nodes (Redis' Sentinel/replication docs).
SENTINEL_MONITOR_RULES = (
    "on allchannels +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish "
    "+info +client|setname +client|kill +script|kill"
)
REPLICATION_RULES = "on +psync +replconf +ping"


def redis_binary() -> str:
    for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if Path(candidate).is_file():
            return candidate
    raise RuntimeError("redis-server not found: install it (apt-get install redis-server)")


@dataclass
class RedisServer:
    """One redis-server (or Sentinel) process on a loopback port."""

    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path
    app_password: str
    admin_password: str
    extra: dict[str, str] = field(default_factory=dict)

    def url(self, db: int = 1) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 1) -> redis.Redis:
        """An admin connection for the tests' bookkeeping (not what the app uses)."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, db=db, username=ADMIN_USER,
            password=self.admin_password, socket_timeout=5, socket_connect_timeout=5,
        )  # fmt: skip

    def app_client(self, db: int = 1) -> redis.Redis:
        """A connection as the app's ACL user."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, db=db, username=APP_USER,
            password=self.app_password, socket_timeout=5, socket_connect_timeout=5,
        )  # fmt: skip

    def load_functions(self) -> None:
        """The app's function library, loaded as the deploy loads it: by the administrator."""
        self.client().function_load(library().code, replace=True)

    def stop(self) -> None:
        self.resume()
        stop_process(self.proc)

    def restart(self) -> None:
        """Stop (SIGTERM: Redis closes every client socket) and start again on the same port
        with the same configuration file, hence the same users and passwords; no data survives.
        """
        stop_process(self.proc)
        self.proc = _start_process(self.workdir / f"redis-{self.port}.conf", sentinel=False)
        wait_for(lambda: _pings(self), STARTUP_TIMEOUT, "redis-server restart")
        self.load_functions()  # a real server keeps them in its RDB and AOF

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing is ever answered."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.running:
            os.kill(self.proc.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None


def _users(app_password: str, admin_password: str, extra: dict[str, str]) -> list[str]:
    lines = [
        "user default off",
        f"user {APP_USER} {APP_RULES} >{app_password}",
        f"user {ADMIN_USER} on >{admin_password} ~* &* +@all",
    ]
    if "sentinel" in extra:
        lines.append(f"user sentinel {SENTINEL_MONITOR_RULES} >{extra['sentinel']}")
    if "replica" in extra:
        lines.append(f"user replica {REPLICATION_RULES} >{extra['replica']}")
    return lines


def _launch(workdir: Path, lines: list[str], sentinel: bool, port: int) -> subprocess.Popen[bytes]:
    config = workdir / f"redis-{port}.conf"
    config.write_text("\n".join(lines) + "\n")
    config.chmod(0o600)
    return _start_process(config, sentinel)


def _start_process(config: Path, sentinel: bool) -> subprocess.Popen[bytes]:
    argv = [redis_binary(), str(config)] + (["--sentinel"] if sentinel else [])
    return subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # started from the main thread, before any pool
    )


def start_redis(
    workdir: Path,
    *,
    replica_of: RedisServer | None = None,
    attempts: int = 3,
) -> RedisServer:
    """A throw-away data node: loopback only, no persistence, ACL users only."""
    extra = {"sentinel": secrets.token_hex(12), "replica": secrets.token_hex(12)}
    if replica_of is not None:
        extra = dict(replica_of.extra)
    last_error: Exception | None = None
    for _ in range(attempts):
        port = free_port()
        app_password, admin_password = secrets.token_hex(16), secrets.token_hex(16)
        if replica_of is not None:
            app_password, admin_password = replica_of.app_password, replica_of.admin_password
        lines = [
            f"port {port}", "bind 127.0.0.1", "protected-mode yes", 'save ""',
            "appendonly no", f"dir {workdir}", "repl-diskless-sync-delay 0",
            "masteruser replica", f"masterauth {extra['replica']}",
            *_users(app_password, admin_password, extra),
        ]  # fmt: skip
        if replica_of is not None:
            lines.append(f"replicaof 127.0.0.1 {replica_of.port}")
        server = RedisServer(
            port, _launch(workdir, lines, False, port), workdir, app_password, admin_password, extra
        )
        try:
            wait_for(lambda s=server: _pings(s), STARTUP_TIMEOUT, "redis-server start")
            if replica_of is None:
                server.load_functions()
            return server
        except Exception as exc:  # port taken between free_port() and bind: retry
            last_error = exc
            server.stop()
    raise RuntimeError(f"could not start redis-server: {last_error}")


@contextlib.contextmanager
def running_redis(workdir: Path) -> Iterator[RedisServer]:
    """A data node (``start_redis``) for the duration of the block; always stopped."""
    server = start_redis(workdir)
    try:
        yield server
    finally:
        server.stop()


def _pings(server: RedisServer) -> bool:
    if not server.running:
        raise RuntimeError("redis-server exited")
    try:
        return bool(server.client().ping())
    except redis.RedisError:
        return False


@dataclass
class SentinelSet:
    """Primary, replica and one Sentinel; the app finds the primary by service name."""

    primary: RedisServer
    replica: RedisServer
    sentinel: RedisServer
    sentinel_app_password: str

    def master_address(self) -> tuple[str, int]:
        host, port = self.sentinel_admin().sentinel_get_master_addr_by_name(SERVICE)
        return str(host), int(port)

    def sentinel_admin(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.sentinel.port, username=ADMIN_USER,
            password=self.sentinel.admin_password, socket_timeout=5, decode_responses=True,
        )  # fmt: skip

    def node_at(self, port: int) -> RedisServer:
        return self.primary if self.primary.port == port else self.replica

    def stop(self) -> None:
        for server in (self.sentinel, self.replica, self.primary):
            server.stop()


def start_sentinel_set(workdir: Path) -> SentinelSet:
    primary = start_redis(workdir)
    replica = start_redis(workdir, replica_of=primary)
    wait_for(
        lambda: replica.client().info("replication").get("master_link_status") == "up",
        STARTUP_TIMEOUT,
        "replica in sync",
    )
    port = free_port()
    app_password = secrets.token_hex(16)
    lines = [
        f"port {port}", "bind 127.0.0.1", f"dir {workdir}",
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 1",
        f"sentinel auth-user {SERVICE} sentinel",
        f"sentinel auth-pass {SERVICE} {primary.extra['sentinel']}",
        f"sentinel down-after-milliseconds {SERVICE} 1000",
        f"sentinel failover-timeout {SERVICE} 5000",
        "user default off",
        f"user {APP_USER} {SENTINEL_CLIENT_RULES} >{app_password}",
        f"user {ADMIN_USER} on >{primary.admin_password} ~* &* +@all",
    ]  # fmt: skip
    sentinel = RedisServer(
        port, _launch(workdir, lines, True, port), workdir, app_password, primary.admin_password
    )
    sentinels = SentinelSet(primary, replica, sentinel, app_password)
    try:
        wait_for(lambda: _sees_replica(sentinels), STARTUP_TIMEOUT, "Sentinel sees the replica")
    except Exception:
        sentinels.stop()
        raise
    return sentinels


def _sees_replica(sentinels: SentinelSet) -> bool:
    if not sentinels.sentinel.running:
        raise RuntimeError("redis-server --sentinel exited")
    try:
        replicas = sentinels.sentinel_admin().sentinel_slaves(SERVICE)
    except redis.RedisError:
        return False
    return any(int(r["port"]) == sentinels.replica.port for r in replicas)


def redis_env(server: RedisServer, db: int = 1) -> dict[str, str]:
    """The REDIS_* variables a deployed host would have for ``server``."""
    return {
        "REDIS_URL": server.url(db),
        "REDIS_USERNAME": APP_USER,
        "REDIS_PASSWORD": server.app_password,
    }
