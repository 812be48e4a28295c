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
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "inventories" / "bench"
NETWORK = "ahsp-bench"
REDIS_HOST = "bench-redis"
DB_HOST = "bench-db"
APP_HOSTS = ("bench-app1", "bench-app2")
ALL_HOSTS = (REDIS_HOST, DB_HOST, *APP_HOSTS)
REDIS_PORT = 6379
REDIS_DB = 1  # the app's database (group_vars/all: app_redis_url ends in /1)
APP_PORT = 8000
GUNICORN_SERVICE = "ahsp-gunicorn"
GUNICORN_ERROR_LOG = "/var/log/ahsp/gunicorn-error.log"


class BenchError(RuntimeError):
    """A phase could not produce a valid figure; the run stops with this message."""


def log(message: str) -> None:
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


def redis_password() -> str:
    """The password the inventory generated (ansible.builtin.password lookup file)."""
    path = INVENTORY / ".secrets" / "redis_requirepass"
    try:
        return path.read_text().split(" salt=")[0].strip()
    except FileNotFoundError as exc:
        raise BenchError(f"{path} is missing: the stack was never converged") from exc


def redis_params() -> dict:
    """Where the stack's Redis is, for redis.Redis(**params): the app's database."""
    return {
        "host": container_ip(REDIS_HOST),
        "port": REDIS_PORT,
        "db": REDIS_DB,
        "password": redis_password(),
    }


def redis_client() -> redis.Redis:
    """One connection to the stack's Redis, like an app worker's."""
    return redis.Redis(**redis_params(), socket_timeout=10, single_connection_client=True)


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.5):
    """Poll `predicate` until truthy; bounded by `timeout` seconds."""
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
