"""The bench harness's own tests: its parsing, its verdicts and its limiters.

They run in `make test` (a few seconds, no containers) so the benchmark cannot
rot between `make bench` runs. Limiters are exercised against a real,
throw-away redis-server on loopback.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

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


class Recorder(BaseHTTPRequestHandler):
    """Records each request's Host and X-Forwarded-For; 429 after `limit` requests.

    /health/ answers a release id as the app's health probe does.
    """

    seen: ClassVar[list[tuple[str, str]]] = []
    lock = threading.Lock()
    limit: int | None = None

    def do_GET(self) -> None:
        with self.lock:
            self.seen.append((self.headers["Host"], self.headers.get("X-Forwarded-For", "")))
            status = 200 if self.limit is None or len(self.seen) <= self.limit else 429
        body = json.dumps({"version": "r1"}).encode() if self.path == "/health/" else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    """A loopback HTTP server (Recorder) for the test; yields its port."""
    Recorder.seen = []
    Recorder.limit = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.daemon_threads = True
    # A short poll interval: shutdown() waits for the loop to notice.
    serve = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    serve.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
