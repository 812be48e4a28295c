"""Login throttling (django-axes on Redis): per address and per username, reset on success."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.conftest import caches_for
from tests.helpers import gunicorn
from tests.httpclient import request
from tests.redis_servers import RedisServer
from tests.stack import Seed, copy_database, host_env, wait_healthy

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
LIMIT = settings.LOGIN_FAILURE_LIMIT


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(
        username="boss", password="right-password-1", is_staff=True
    )


def attempt(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_wrong_passwords_are_locked_out_at_the_limit(client: Client, staff: Any) -> None:
    statuses = [attempt(client, "boss", f"wrong-{i}").status_code for i in range(30)]
    # Failures below the limit re-show the form; the limit-th failure is locked out.
    assert statuses == [200] * (LIMIT - 1) + [429] * (30 - LIMIT + 1)
    locked = attempt(client, "boss", "right-password-1")
    assert locked.status_code == 429  # even the right password, until the lockout ends
    assert locked["Retry-After"] == str(settings.LOGIN_LOCKOUT_SECONDS)
    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_success_resets_the_count(client: Client, staff: Any) -> None:
    for i in range(LIMIT - 1):
        assert attempt(client, "boss", f"wrong-{i}").status_code == 200
    assert attempt(client, "boss", "right-password-1").status_code == 302
    client.logout()
    for i in range(LIMIT - 1):
        assert attempt(client, "boss", f"again-{i}").status_code == 200
    assert attempt(client, "boss", "right-password-1").status_code == 302


def test_a_username_is_locked_out_whatever_the_address(client: Client, staff: Any) -> None:
    for i in range(LIMIT):
        attempt(client, "boss", "wrong", REMOTE_ADDR=f"192.0.2.{i + 1}")
    assert attempt(client, "boss", "right-password-1", REMOTE_ADDR="192.0.2.99").status_code == 429
    assert attempt(client, "someone-else", "x", REMOTE_ADDR="192.0.2.99").status_code == 200


def test_an_address_is_locked_out_whatever_the_username(client: Client, staff: Any) -> None:
    for i in range(LIMIT):
        attempt(client, f"guess-{i}", "wrong", REMOTE_ADDR="192.0.2.7")
    assert attempt(client, "boss", "right-password-1", REMOTE_ADDR="192.0.2.7").status_code == 429
    assert attempt(client, "boss", "right-password-1", REMOTE_ADDR="192.0.2.8").status_code == 302


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(client: Client, staff: Any) -> None:
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for i in range(LIMIT):
        attempt(client, f"guess-{i}", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    blocked = attempt(
        client, "boss", "right-password-1", HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy
    )
    other = attempt(client, "boss", "right-password-1", HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy)
    assert (blocked.status_code, other.status_code) == (429, 302)


def test_redis_down_refuses_logins_with_503_not_500(staff: Any, dead_redis_url: str) -> None:
    """Fail closed: sessions and the counters live in Redis, so no login can work anyway."""
    client = Client(raise_request_exception=False)
    with override_settings(CACHES=caches_for(dead_redis_url, "x")):
        page = client.get(LOGIN)
        response = attempt(client, "boss", "right-password-1")
    assert page.status_code == 200  # no session yet: the form needs no Redis
    assert response.status_code == 503
    assert response["Retry-After"]


def csrf_login(base_url: str, username: str, password: str) -> int:
    """A browser's admin login over HTTP: fetch the form for its CSRF token, then post it."""
    form = request(base_url, LOGIN)
    token = form.cookies()["csrftoken"]
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
    assert match, form.body[:500]
    body = f"csrfmiddlewaretoken={match.group(1).decode()}&username={username}&password={password}"
    reply = request(
        base_url, LOGIN, method="POST", body=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": f"csrftoken={token}"},
    )  # fmt: skip
    return reply.status


@pytest.mark.slow
def test_two_servers_share_the_count(
    redis_server: RedisServer,
    static_root: Path,
    tmp_path: Path,
    seeded_sqlite: tuple[Path, Seed],
) -> None:
    """Two gunicorn instances (two hosts, one worker each) on one Redis and one database:
    failures alternate between them and the lockout still comes at the limit.
    """
    template, seed = seeded_sqlite
    redis_server.client(4).flushdb()
    database = {"SQLITE_PATH": str(copy_database(template, tmp_path))}
    servers = []
    for name in ("host1", "host2"):
        workdir = tmp_path / name
        workdir.mkdir()
        servers.append(
            host_env(workdir, redis_server, db=4, static_root=static_root, database=database)
        )
    with gunicorn(servers[0], workers=1) as one, gunicorn(servers[1], workers=1) as two:
        wait_healthy(one)
        wait_healthy(two)
        hosts = [one.base_url, two.base_url]
        statuses = [csrf_login(hosts[i % 2], seed.username, f"wrong-{i}") for i in range(LIMIT + 2)]
        last = csrf_login(hosts[LIMIT % 2], seed.username, seed.password)
    assert statuses == [200] * (LIMIT - 1) + [429] * 3
    assert last == 429
