"""The bench harness's own tests: its parsing, its verdicts and its limiters.

They run in `make test` (a few seconds, no containers) so the benchmark cannot
rot between `make bench` runs. Limiters are exercised against a real,
throw-away redis-server on loopback; the front's probe and wrk's TLS against
a loopback HTTPS server whose certificate a throw-away CA signed.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import secrets
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import front
import pytest
import redis
from ahsp_certs import cert_pem, ec_key, issue, key_pem
from httpload import WrkRun, WrkSeries


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


class TlsRecorder(BaseHTTPRequestHandler):
    """Records, per request: the TLS server name, whether the session was resumed,
    the Host header, the path, and which connection (handler) carried it.
    Answers 200 with a hashed static file's Cache-Control, gzip-encoded when asked.
    """

    protocol_version = "HTTP/1.1"  # keep-alive unless the client asks to close
    seen: ClassVar[list[dict[str, object]]] = []
    lock = threading.Lock()
    connections = itertools.count()

    def setup(self) -> None:
        super().setup()
        self.number = next(self.connections)  # one handler per connection

    def do_GET(self) -> None:
        body = b"body of the file"
        with self.lock:
            self.seen.append(
                {
                    "sni": getattr(self.connection, "sni", None),
                    "reused": self.connection.session_reused,
                    "host": self.headers["Host"],
                    "path": self.path,
                    "connection": self.number,
                }
            )
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=31536000, immutable")
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA (ca.crt), a server certificate it signed for bench-web (server.crt,
    server.key), and another CA that signed nothing here (other-ca.crt).
    """
    out = tmp_path_factory.mktemp("local-ca")
    ca_key, server_key, other_key = ec_key(), ec_key(), ec_key()
    ca = issue(ca_key, "bench CA", ca=True)
    server = issue(server_key, "bench-web", signer=(ca_key, ca), sans=["bench-web"])
    files = {
        "ca.crt": cert_pem(ca),
        "server.crt": cert_pem(server),
        "other-ca.crt": cert_pem(issue(other_key, "other CA", ca=True)),
        "server.key": key_pem(server_key),
    }
    for name, text in files.items():
        (out / name).write_text(text)
    return {name: str(out / name) for name in files}


@pytest.fixture
def tls_server(local_ca: dict[str, str]) -> Iterator[int]:
    """A loopback HTTPS server (TlsRecorder) with the local CA's certificate; yields its port."""
    TlsRecorder.seen = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(local_ca["server.crt"], local_ca["server.key"])

    def note_name(sock: ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
        sock.sni = name  # type: ignore[attr-defined]

    context.sni_callback = note_name
    server = ThreadingHTTPServer(("127.0.0.1", 0), TlsRecorder)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    serve.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def fake_front_figures() -> front.FrontFigures:
    """A front record from three made-up rounds, every figure inside its target:
    HTTP 0.95, HTTPS 0.92, static files 5.0 and handshakes 2.0 x straight.
    """
    straight = [1000.0, 1200.0, 800.0]
    factors = {"straight": 1.0, "http": 0.95, "https": 0.92, "static": 5.0, "handshakes": 2.0}
    cpu = {"straight": 0.0, "http": 60.0, "https": 90.0, "static": 40.0, "handshakes": 200.0}
    apps = [("10.0.0.3", "bench-app1"), ("10.0.0.4", "bench-app2")]
    loads = {x.key: x for x in front.phase_loads(apps, "10.0.0.9", "/static/x.0123456789ab.css")}
    series = {
        key: WrkSeries(
            loads[key].name,
            loads[key].path,
            2,
            16,
            [
                WrkRun(
                    int(rps * factor * 5),
                    5.0,
                    round(rps * factor, 1),
                    2.0,
                    3.0,
                    4.0,
                    2.5,
                    {},
                    {"bench-web": cpu[key], "bench-app1": 600.0, "bench-app2": 600.0, "wrk": 80.0},
                )
                for rps in straight
            ],
        )
        for key, factor in factors.items()
    }
    static = front.StaticFile("/static/x.0123456789ab.css", 512, "gzip", front.IMMUTABLE, 0)
    figures = front.figures(series, static, "TLSv1.3", ["bench-app1", "bench-app2"])
    return dataclasses.replace(figures, web_time_wait=1234, web_tcp_tw_reuse="2")
