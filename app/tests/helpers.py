"""Process helpers for tests: gunicorn, `manage.py` (a subprocess, or in-process), ports, waiting.

Every process started here is bounded by timeouts and stopped with
terminate → wait → kill, so a failing test never leaves servers behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
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
from typing import IO, TYPE_CHECKING

from config.env import ENV_FILES_VARIABLE, load_contract

if TYPE_CHECKING:
    import pytest

APP_DIR = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 15.0

# Every variable the app reads, from its declaration (config/environment.toml);
# subprocesses start from a copy of the environment with all of these removed
# so nothing leaks in from the runner.
SETTINGS_ENV_NAMES = (*load_contract(), "DJANGO_SETTINGS_MODULE")


def strong_secret_key() -> str:
    return secrets.token_urlsafe(50)


def clean_env(**overrides: str) -> dict[str, str]:
    """The runner's environment minus every settings variable, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV_NAMES}
    env[ENV_FILES_VARIABLE] = ""  # never read app/.env in tests
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(overrides)
    return env


def _run_app_python(
    argv: list[str], env: dict[str, str], timeout: float, cwd: Path = APP_DIR
) -> subprocess.CompletedProcess[str]:
    """The test interpreter in app/ (or a copy of it), output captured: how settings are
    checked from outside.
    """
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_manage(
    *args: str, env: dict[str, str], timeout: float = 60, cwd: Path = APP_DIR
) -> subprocess.CompletedProcess[str]:
    return _run_app_python(["manage.py", *args], env, timeout, cwd)


def command_output(monkeypatch: pytest.MonkeyPatch, name: str, *args: str, stdin: str = "") -> str:
    """``manage.py <name> <args>`` inside the test process (its database, its settings),
    ``stdin`` as standard input; what the command printed, stripped.
    """
    from django.core.management import call_command  # settings.py imports this module

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue().strip()


def run_python(
    code: str, *, env: dict[str, str], timeout: float = 60, cwd: Path = APP_DIR
) -> subprocess.CompletedProcess[str]:
    return _run_app_python(["-c", code], env, timeout, cwd)


def copy_of_app(destination: Path) -> Path:
    """The app's code in a scratch directory, as a release is laid out (no local state),
    so a test can add a RELEASE file or a .env without touching the working copy.
    """
    return Path(
        shutil.copytree(
            APP_DIR,
            destination,
            ignore=shutil.ignore_patterns(
                ".env",
                "RELEASE",
                "db.sqlite3",
                "staticfiles",
                "media",
                "__pycache__",
                "tests",
                ".pytest_cache",
                ".hypothesis",
            ),
        )
    )


def die_with_parent() -> None:
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
def gunicorn(
    env: dict[str, str],
    workers: int = 4,
    forwarded_allow_ips: str = "",
    *,
    config: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[GunicornServer]:
    """Run ``config.wsgi:application`` under gunicorn on a free loopback port; always stop it.

    ``forwarded_allow_ips`` is what the deployment sets it to (TRUSTED_PROXIES);
    gunicorn's own default would trust X-Forwarded-Proto from loopback.
    ``config`` is a gunicorn.conf.py (its hooks; the command line wins over its
    settings), ``extra_args`` more command-line settings.
    """
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                *(["--config", str(config)] if config is not None else []),
                "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers),
                "--timeout", "30",
                "--graceful-timeout", "5",
                "--log-level", "info",
                "--forwarded-allow-ips", forwarded_allow_ips,
                *extra_args,
            ],
            cwd=APP_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # started from the main thread, before any pool
        )  # fmt: skip
        try:
            yield GunicornServer(base_url=f"http://127.0.0.1:{port}", proc=proc, log=log)
        finally:
            stop_process(proc)
