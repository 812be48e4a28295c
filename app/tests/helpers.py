"""Process helpers for tests: a real redis-server, gunicorn, and `manage.py` subprocesses.

Every process started here is bounded by timeouts and stopped with
terminate → wait → kill, so a failing test never leaves servers behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import redis

APP_DIR = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 15.0

# Every variable config/settings.py reads; subprocesses start from a copy of the
# environment with all of these removed so nothing leaks in from the runner.
SETTINGS_ENV_NAMES = (
    "DJANGO_ENV_FILE",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "APP_VERSION",
    "DATA_DIR",
    "SQLITE_PATH",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_HOST",
    "DB_PORT",
    "DB_CONN_MAX_AGE",
    "REDIS_URL",
    "REDIS_PASSWORD",
    "SESSION_ENGINE",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER_ENABLED",
    "LOG_LEVEL",
    "TIME_ZONE",
    "RATELIMIT_ENABLED",
    "RATELIMIT_REQUESTS",
    "RATELIMIT_WINDOW",
    "RATELIMIT_FAIL_OPEN",
    "RATELIMIT_TRUST_X_FORWARDED_FOR",
    "API_TEST_ENABLED",
    "DJANGO_SETTINGS_MODULE",
)


def strong_secret_key() -> str:
    return secrets.token_urlsafe(50)


def clean_env(**overrides: str) -> dict[str, str]:
    """The runner's environment minus every settings variable, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV_NAMES}
    env["DJANGO_ENV_FILE"] = ""  # never read app/.env in tests
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(overrides)
    return env


def _run_app_python(
    argv: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """The test interpreter in app/, output captured: how settings are checked from outside."""
    return subprocess.run(
        [sys.executable, *argv],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_manage(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return _run_app_python(["manage.py", *args], env, timeout)


def run_python(
    code: str, *, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return _run_app_python(["-c", code], env, timeout)


def _die_with_parent() -> None:
    """Linux PR_SET_PDEATHSIG: if pytest itself is killed, its servers get SIGTERM too."""
    with contextlib.suppress(OSError):  # not glibc: fall back to try/finally cleanup only
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def free_port() -> int:
    """A currently free loopback port (the OS picks it, so parallel runs don't collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10
) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def redis_binary() -> str:
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(path).is_file():
        raise RuntimeError("redis-server not found: install it (apt-get install redis-server)")
    return path


@dataclass
class RedisServer:
    port: int
    password: str
    proc: subprocess.Popen[bytes]

    def url(self, db: int = 1) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 1) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            db=db,
            password=self.password,
            socket_timeout=5,
            socket_connect_timeout=5,
        )

    def stop(self) -> None:
        stop_process(self.proc)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None


def start_redis(workdir: Path, attempts: int = 3) -> RedisServer:
    """Start a throw-away redis-server: loopback only, no persistence, password required."""
    last_error: Exception | None = None
    for _ in range(attempts):
        port = free_port()
        password = secrets.token_hex(16)
        proc = subprocess.Popen(
            [
                redis_binary(),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--requirepass", password,
                "--dir", str(workdir),
                "--daemonize", "no",
                "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # started from the main thread, before any pool
        )  # fmt: skip
        server = RedisServer(port=port, password=password, proc=proc)
        try:
            wait_for(lambda s=server: _pings(s), STARTUP_TIMEOUT, "redis-server start")
            return server
        except Exception as exc:  # port taken between free_port() and bind: retry
            last_error = exc
            server.stop()
    raise RuntimeError(f"could not start redis-server: {last_error}")


def _pings(server: RedisServer) -> bool:
    if not server.running:
        raise RuntimeError("redis-server exited")
    try:
        return bool(server.client().ping())
    except redis.RedisError:
        return False


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class GunicornServer:
    base_url: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int = 4) -> Iterator[GunicornServer]:
    """Run ``config.wsgi:application`` under gunicorn on a free loopback port; always stop it."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers),
                "--timeout", "30",
                "--graceful-timeout", "5",
                "--log-level", "info",
            ],
            cwd=APP_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # started from the main thread, before any pool
        )  # fmt: skip
        try:
            yield GunicornServer(base_url=f"http://127.0.0.1:{port}", proc=proc, log=log)
        finally:
            stop_process(proc)
