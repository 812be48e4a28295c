"""DB_PASSWORD_FALLBACK: a PostgreSQL password rotation without a failed request.

Against a real PostgreSQL (the throw-away cluster of ``tests/postgres.py``,
scram-sha-256, every connection logged). Each test gets a role of its own, so
changing its password touches no other test. The backend is exercised
directly (``config.db`` through Django's ConnectionHandler) for the counting,
and over gunicorn for the whole three-step rotation under load.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from config.db import base as fallback_backend
from django.db import OperationalError
from django.db.utils import ConnectionHandler
from dotenv import dotenv_values

from tests.api import bearer_header, tree_url
from tests.helpers import GunicornServer, gunicorn, wait_for
from tests.httpclient import request
from tests.postgres import PostgresServer
from tests.redis_servers import RedisServer
from tests.stack import Seed, host_env, seed, wait_healthy
from tests.test_env import write_env

_roles = itertools.count()


@pytest.fixture
def role(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A login role of this test's own, with a random "old" password."""
    name = f"rot{os.getpid()}_{next(_roles)}"
    old = secrets.token_urlsafe(12)
    postgres_server.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{old}'")
    try:
        yield name, old
    finally:
        postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        postgres_server.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture(autouse=True)
def _fresh_warning_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warning is once per process; each test starts as a fresh process would."""
    monkeypatch.setattr(fallback_backend, "_warned", False)


@pytest.fixture(autouse=True)
def _database_access(django_db_blocker: Any) -> Iterator[None]:
    """These tests open their own connections to their own roles, outside the test database."""
    with django_db_blocker.unblock():
        yield


def connect(
    server: PostgresServer, user: str, password: str, fallback: str, name: str = "ahsp"
) -> str:
    """Open one new connection with the app's backend; the role PostgreSQL says we are."""
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "config.db", "NAME": name, "USER": user, "PASSWORD": password,
                "PASSWORD_FALLBACK": fallback, "HOST": "127.0.0.1", "PORT": server.port,
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )  # fmt: skip
    connection = handler["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            return str(cursor.fetchone()[0])
    finally:
        connection.close()


def refusals(server: PostgresServer, user: str) -> int:
    return server.log_text().count(f'password authentication failed for user "{user}"')


def test_the_main_password_is_tried_first(
    postgres_server: PostgresServer, role: tuple[str, str], caplog: Any
) -> None:
    user, old = role
    before = postgres_server.connections_received()
    assert connect(postgres_server, user, old, fallback="anything") == user
    assert postgres_server.connections_received() - before == 1
    assert refusals(postgres_server, user) == 0
    assert "DB_PASSWORD_FALLBACK" not in caplog.text


def test_a_refused_password_is_tried_again_with_the_fallback_and_warned_about_once(
    postgres_server: PostgresServer, role: tuple[str, str], caplog: Any
) -> None:
    user, old = role
    new = secrets.token_urlsafe(12)
    before = postgres_server.connections_received()
    for _ in range(3):
        assert connect(postgres_server, user, new, fallback=old) == user
    assert postgres_server.connections_received() - before == 6  # refused + fallback, 3 times
    assert refusals(postgres_server, user) == 3
    warnings = [r for r in caplog.records if "DB_PASSWORD_FALLBACK" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
    assert old not in caplog.text and new not in caplog.text


def test_without_a_fallback_a_refusal_is_raised_as_before(
    postgres_server: PostgresServer, role: tuple[str, str]
) -> None:
    user, _ = role
    before = postgres_server.connections_received()
    with pytest.raises(OperationalError, match="password authentication failed"):
        connect(postgres_server, user, "not-the-password", fallback="")
    assert postgres_server.connections_received() - before == 1


def test_a_wrong_pair_fails_with_the_usual_error_after_two_attempts(
    postgres_server: PostgresServer, role: tuple[str, str]
) -> None:
    user, _ = role
    wrong_new, wrong_old = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    before = postgres_server.connections_received()
    started = time.monotonic()
    with pytest.raises(OperationalError, match="password authentication failed") as raised:
        connect(postgres_server, user, wrong_new, fallback=wrong_old)
    assert time.monotonic() - started < 2
    assert postgres_server.connections_received() - before == 2  # no further retries
    printed = "".join(traceback.format_exception(raised.value))
    assert "DB_PASSWORD_FALLBACK was not accepted either" in printed
    assert wrong_new not in printed and wrong_old not in printed


def test_other_connection_errors_do_not_use_the_fallback(
    postgres_server: PostgresServer, role: tuple[str, str]
) -> None:
    user, old = role
    before = postgres_server.connections_received()
    with pytest.raises(OperationalError, match="does not exist"):
        connect(postgres_server, user, old, fallback="old", name="no_such_database")
    assert postgres_server.connections_received() - before == 1


def rotation_host(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    role: tuple[str, str],
    static_root: Path,
    workdir: Path,
) -> tuple[dict[str, str], Seed]:
    """An app host whose database belongs to ``role`` (old password), seeded; a new
    database connection for every request (DB_CONN_MAX_AGE=0), no rate limit in the way.
    """
    user, old = role
    postgres_server.execute(f"CREATE DATABASE {user} OWNER {user}")
    database = {
        "DB_HOST": "127.0.0.1", "DB_PORT": str(postgres_server.port), "DB_NAME": user,
        "DB_USER": user, "DB_PASSWORD": old,
    }  # fmt: skip
    env = host_env(
        workdir, redis_server, db=12, static_root=static_root, database=database,
        DB_CONN_MAX_AGE="0", RATELIMIT_REQUESTS="100000",
    )  # fmt: skip
    return env, seed(env)


def rewrite_secrets(secrets_file: Path, **values: str) -> None:
    """The host's secrets file with ``values`` set and any DB_PASSWORD_FALLBACK dropped."""
    current = {k: v for k, v in dotenv_values(secrets_file).items() if v is not None}
    current.pop("DB_PASSWORD_FALLBACK", None)
    write_env(secrets_file, {**current, **values})


class SteadyLoad:
    """Clients requesting ``paths`` in turn until stopped; every outcome is kept with the
    moment its request started.
    """

    def __init__(self, base_url: str, paths: tuple[str, ...], headers: dict[str, str]) -> None:
        self.base_url, self.paths, self.headers = base_url, paths, headers
        self.done: list[tuple[float, str]] = []  # (when the request started, its outcome)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for path in self.paths:
                started = time.monotonic()
                try:
                    reply = request(self.base_url, path, headers=self.headers, timeout=10)
                    status = str(reply.status)
                except OSError as exc:
                    status = f"error {exc}"
                self.done.append((started, f"{path} {status}"))

    def served_after(self, since: float, count: int = 10) -> None:
        """Wait until ``count`` requests that started after ``since`` have been answered."""
        wait_for(lambda: sum(t >= since for t, _ in self.done) >= count, 60, "requests")

    def outcomes(self) -> Counter[str]:
        return Counter(outcome for _, outcome in self.done)


@contextlib.contextmanager
def steady_load(load: SteadyLoad, clients: int = 3) -> Iterator[SteadyLoad]:
    """``clients`` threads running ``load`` for the duration of the block."""
    threads = [threading.Thread(target=load.run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield load
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=15)


def graceful_reload(server: GunicornServer, exited: int) -> float:
    """SIGHUP; returns when ``exited`` workers in all have exited, so every request from then
    on is served by a worker that read the rewritten env files.
    """
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_for(lambda: server.log_text().count("Worker exiting") >= exited, 30, "reload")
    return time.monotonic()


def rotate(
    server: GunicornServer,
    postgres_server: PostgresServer,
    load: SteadyLoad,
    role: tuple[str, str],
    new: str,
    secrets_file: Path,
) -> tuple[int, int]:
    """The deployment's three steps, each waiting for requests served after it; the
    password refusals PostgreSQL had logged after step 1 and after step 2.
    """
    user, old = role
    # 1. App hosts: new password first, the old one as fallback; graceful reload.
    rewrite_secrets(secrets_file, DB_PASSWORD=new, DB_PASSWORD_FALLBACK=old)
    load.served_after(graceful_reload(server, exited=2))
    step1_refusals = refusals(postgres_server, user)
    # 2. PostgreSQL: the role gets the new password.
    postgres_server.execute(f"ALTER ROLE {user} PASSWORD '{new}'")
    load.served_after(time.monotonic())
    step2_refusals = refusals(postgres_server, user)
    # 3. App hosts: the fallback goes; graceful reload.
    rewrite_secrets(secrets_file, DB_PASSWORD=new)
    load.served_after(graceful_reload(server, exited=4))
    return step1_refusals, step2_refusals


@pytest.mark.slow
def test_rotation_under_load_over_gunicorn(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    role: tuple[str, str],
    static_root: Path,
    tmp_path: Path,
    record_property: Any,
) -> None:
    """The three steps the deployment runs, with requests flowing the whole time and every
    request opening a new database connection (DB_CONN_MAX_AGE=0): not one may fail.
    """
    user, old = role
    new = secrets.token_urlsafe(12)
    env, account = rotation_host(postgres_server, redis_server, role, static_root, tmp_path)
    with gunicorn(env, workers=2) as server:
        wait_healthy(server)
        paths = (tree_url(account.project_id), "/health/")
        load = SteadyLoad(server.base_url, paths, bearer_header(account.token))
        with steady_load(load):
            load.served_after(time.monotonic())
            step1_refusals, step2_refusals = rotate(
                server, postgres_server, load, role, new, tmp_path / "secrets.env"
            )
        log = server.log_text()

    outcomes = load.outcomes()
    failed = {k: v for k, v in outcomes.items() if not k.endswith(" 200")}
    assert failed == {}, (outcomes, log[-3000:])
    assert step1_refusals >= 3  # step 1 really ran on the fallback (once per new connection)
    assert refusals(postgres_server, user) == step2_refusals  # then the new password only
    assert "connected with DB_PASSWORD_FALLBACK" in log
    assert old not in log and new not in log
    record_property("rotation_requests", len(load.done))
    record_property("rotation_refused_then_fallback_connections", step1_refusals)
