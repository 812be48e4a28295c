"""The bench harness's own tests: its parsing, its verdicts and its limiters.

They run in `make test` (a few seconds, no containers) so the benchmark cannot
rot between `make bench` runs. Limiters are exercised against a real,
throw-away redis-server on loopback.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A password-protected redis-server; its config (and password) arrive on stdin."""
    port, password = _free_port(), secrets.token_hex(16)
    workdir = tmp_path_factory.mktemp("redis")
    lines = ["bind 127.0.0.1", 'save ""', "appendonly no", f"dir {workdir}"]
    config = "\n".join([f"port {port}", *lines, f"requirepass {password}", ""])
    proc = subprocess.Popen(
        ["redis-server", "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    proc.stdin.write(config)
    proc.stdin.close()
    params = {"host": "127.0.0.1", "port": port, "password": password, "db": 1, "socket_timeout": 5}
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(**params).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    try:
        yield params
    finally:
        proc.terminate()
        proc.wait(timeout=10)
