"""What every benchmark phase shares: where the stack is and how to reach it.

The benchmark only ever talks to the project's own containers (by their
addresses on the `ahsp-bench` Docker network) and to loopback; the names below
are the ones inventories/bench defines.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "inventories" / "bench"
NETWORK = "ahsp-bench"
REDIS_HOST = "bench-redis"
DB_HOST = "bench-db"
APP_HOSTS = ("bench-app1", "bench-app2")
WEB_HOST = "bench-web"  # the nginx front (group `web`); also the name it answers for
ALL_HOSTS = (REDIS_HOST, DB_HOST, *APP_HOSTS, WEB_HOST)
REDIS_PORT = 6379
REDIS_DB = 1  # the app's database (group_vars/all: app_redis_url ends in /1)
APP_PORT = 8000
FRONT_HTTP_PORT = 80  # the nginx role's defaults (nginx_http_port, nginx_https_port)
FRONT_HTTPS_PORT = 443
# The CA the playbook makes on the controller for nginx_tls_source `local_ca`.
LOCAL_CA = INVENTORY / ".secrets" / "local-ca" / "ca.crt"
API_PATH = "/api/test/"  # the rate-limited view
LIVE_PATH = "/health/live/"  # the same middleware and kind of view, without the limiter
HEALTH_PATH = "/health/"  # the probe that checks the database, the cache and Redis
GUNICORN_SERVICE = "ahsp-gunicorn"  # its error log goes to the journal
GUNICORN_ACCESS_LOG = "/var/log/ahsp/gunicorn-access.log"  # gunicorn_systemd_log_dir
LIVE_RELEASE = "/srv/ahsp/current"  # the app role's link to the live release


class BenchError(RuntimeError):
    """A phase could not produce a valid figure; the run stops with this message."""


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the results table."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def docker_exec(
    host: str, argv: list[str], *, stdin: str | None = None, timeout: float = 60
) -> str:
    """Run `argv` in a container; secrets go through `stdin`, never through argv."""
    proc = subprocess.run(
        ["docker", "exec", "-i", host, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"{host}: {' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    return proc.stdout


def container_ip(host: str) -> str:
    """The container's address on the bench network, where every phase reaches it."""
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", host],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    address = json.loads(out).get(NETWORK, {}).get("IPAddress", "")
    if not address:
        raise BenchError(f"{host} has no address on the {NETWORK} network")
    return address


TW_REUSE = Path("/proc/sys/net/ipv4/tcp_tw_reuse")


@dataclass(frozen=True)
class TimeWaitReuse:
    """The controller's net.ipv4.tcp_tw_reuse before the bench and while it ran.

    None when the setting cannot be read (no such file): the figures then
    say nothing about it.
    """

    before: str | None
    during: str | None


@contextmanager
def reuse_time_wait_ports(path: Path = TW_REUSE) -> Iterator[TimeWaitReuse]:
    """Let the controller's new connections reuse ports in TIME_WAIT while the block runs.

    gunicorn's sync workers close the connection after every response, so each
    request of a load is a new TCP connection from the controller to one
    address and port, and each leaves a port in TIME_WAIT for 60 s. Linux
    (tcp_tw_reuse = 2, its default) reuses such ports for loopback only: after
    some ten thousand connections, connect() walks past thousands of ports in
    TIME_WAIT for every new one, and the load generator spends milliseconds of
    kernel time per request (measured: wrk at 3-4 ms of CPU per request instead
    of 0.16 ms), so the figures measure the controller's port search rather
    than the app. With 1, a port in TIME_WAIT is taken again when TCP
    timestamps make that safe: what load generators and reverse proxies in
    front of gunicorn are set to. The previous value is put back on the way
    out, whatever happens. Yields both values for the results; if the setting
    cannot be written (not root), `during` is the unchanged value.
    """
    try:
        before: str | None = path.read_text().strip()
    except OSError:
        before = None
    during = before
    if before is not None and before != "1":
        try:
            path.write_text("1\n")
            during = "1"
        except OSError as exc:
            log(f"tcp_tw_reuse stays {before} ({exc}): HTTP figures may measure port search")
    try:
        yield TimeWaitReuse(before=before, during=during)
    finally:
        if during != before and before is not None:
            path.write_text(f"{before}\n")


_cgroup_files: dict[str, Path | None] = {}


def container_cpu_ns(host: str) -> int | None:
    """CPU time the container has used so far (nanoseconds), from its cgroup; None if unknown.

    cgroup v1 (cpuacct.usage) or v2 (cpu.stat usage_usec), for the cgroupfs and
    systemd drivers. Read from the controller's /sys/fs/cgroup: no exec, no load.
    """
    if host not in _cgroup_files:
        cid = subprocess.run(
            ["docker", "inspect", "--format", "{{.Id}}", host],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
        candidates = [
            Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage"),
            Path(f"/sys/fs/cgroup/cpuacct/system.slice/docker-{cid}.scope/cpuacct.usage"),
            Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"),
            Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat"),
        ]
        _cgroup_files[host] = next((p for p in candidates if cid and p.is_file()), None)
    path = _cgroup_files[host]
    if path is None:
        return None
    text = path.read_text()
    if path.name == "cpuacct.usage":
        return int(text.strip())
    fields = dict(line.split() for line in text.splitlines() if line.strip())
    return int(fields["usage_usec"]) * 1000


def redis_password() -> str:
    """The password the inventory generated (ansible.builtin.password lookup file)."""
    path = INVENTORY / ".secrets" / "redis_admin_password"
    try:
        return path.read_text().split(" salt=")[0].strip()
    except FileNotFoundError as exc:
        raise BenchError(f"{path} is missing: the stack was never converged") from exc


# Who the bench logs in to Redis as: the operator. In ACL mode (the wiring's
# default) that is the admin user, whose password is the inventory's
# redis_admin_password, `default` being off; in requirepass mode it is `default`.
REDIS_OPERATORS = ("ahsp-admin", "")
_operator: dict[str, dict[str, str]] = {}


def redis_params() -> dict[str, Any]:
    """Where the stack's Redis is, for redis.Redis(**params): the app's database, as operator."""
    base = {
        "host": container_ip(REDIS_HOST),
        "port": REDIS_PORT,
        "db": REDIS_DB,
        "password": redis_password(),
    }
    if base["host"] in _operator:
        return {**base, **_operator[base["host"]]}
    for user in REDIS_OPERATORS:
        login = {"username": user} if user else {}
        probe = redis.Redis(**base, **login, socket_timeout=10)
        try:
            probe.ping()
        except redis.AuthenticationError:
            continue
        finally:
            probe.close()
        _operator[base["host"]] = login
        return {**base, **login}
    raise BenchError(
        f"Redis refuses the operator logins {REDIS_OPERATORS} with redis_admin_password"
    )


def redis_client() -> redis.Redis:
    """One connection to the stack's Redis, like an app worker's."""
    return redis.Redis(**redis_params(), socket_timeout=10, single_connection_client=True)


Value = TypeVar("Value")


def wait_until(
    predicate: Callable[[], Value], *, timeout: float, what: str, interval: float = 0.5
) -> Value:
    """Poll `predicate` until truthy and return its value; bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise BenchError(f"not within {timeout:.0f} s: {what}")


def run_threads(target: Callable[[int], None], count: int, *, deadline: float) -> None:
    """Run target(0) .. target(count - 1) in threads; wait for them at most `deadline` s in all."""
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.1, deadline - (time.monotonic() - started)))
