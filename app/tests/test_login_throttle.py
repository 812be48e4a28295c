"""Login throttling on Redis: address lockouts, growing per-username delays, known browsers."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from detail_project.login_throttle import DEVICE_COOKIE, admit
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django_redis import get_redis_connection

from tests.conftest import caches_for
from tests.helpers import gunicorn
from tests.httpclient import request
from tests.redis_servers import RedisServer
from tests.stack import Seed, copy_database, host_env, wait_healthy

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
LIMIT = settings.LOGIN_FAILURE_LIMIT
PASSWORD = "right-password-1"
# Slack around each delay for the time a request takes in between.
MARGIN = 0.15


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="boss", password=PASSWORD, is_staff=True)


@pytest.fixture
def mallory(django_user_model: Any) -> Any:
    """The attacker's own, genuine account."""
    return django_user_model.objects.create_user(
        username="mallory", password="mallory-password-1", is_staff=True
    )


@pytest.fixture
def addresses() -> Iterator[str]:
    """A fresh client address for every call: guessing spread over many addresses."""
    return iter(f"198.51.100.{i}" for i in range(1, 255))


def attempt(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def known_browser(username: str, password: str) -> Client:
    """A browser that logged in as ``username`` once and whose session has ended since:
    it keeps only the known-browser cookie (the test client's logout drops every cookie).
    """
    first = Client()
    assert attempt(first, username, password, REMOTE_ADDR="203.0.113.1").status_code == 302
    browser = Client()
    browser.cookies[DEVICE_COOKIE] = first.cookies[DEVICE_COOKIE].value
    return browser


def test_wrong_passwords_from_one_address_lock_it_out(client: Client, staff: Any) -> None:
    statuses = [attempt(client, "boss", f"wrong-{i}").status_code for i in range(30)]
    # The limit-th failure still gets the form back; every attempt after it is refused.
    assert statuses == [200] * LIMIT + [429] * (30 - LIMIT)
    locked = attempt(client, "boss", PASSWORD)
    assert locked.status_code == 429  # even the right password, until the lockout ends
    assert locked["Retry-After"] == str(settings.LOGIN_LOCKOUT_SECONDS)
    assert "Too many failed login attempts from your address" in locked.content.decode()
    assert not logged_in(client)


def test_an_address_is_locked_out_whatever_the_username(client: Client, staff: Any) -> None:
    for i in range(LIMIT):
        assert attempt(client, f"guess-{i}", "wrong", REMOTE_ADDR="192.0.2.7").status_code == 200
    locked = attempt(
        client, "boss", PASSWORD, REMOTE_ADDR="192.0.2.7", HTTP_ACCEPT="application/json"
    )
    assert locked.status_code == 429
    assert locked.json()["error"] == "login_locked"
    assert locked.json()["retry_after"] == settings.LOGIN_LOCKOUT_SECONDS
    assert attempt(client, "boss", PASSWORD, REMOTE_ADDR="192.0.2.8").status_code == 302


def test_an_ipv6_client_is_locked_out_by_its_64(client: Client, staff: Any) -> None:
    """Fresh addresses from the same /64 do not escape the lockout; the next /64 is free."""
    for i in range(LIMIT):
        attempt(client, f"guess-{i}", "wrong", REMOTE_ADDR=f"2001:db8:7:8::{i + 1}")
    same_64 = attempt(client, "boss", PASSWORD, REMOTE_ADDR="2001:db8:7:8:ffff::1")
    other_64 = attempt(client, "boss", PASSWORD, REMOTE_ADDR="2001:db8:7:9::1")
    assert (same_64.status_code, other_64.status_code) == (429, 302)


@override_settings(LOGIN_LOCKOUT_SECONDS=1)
def test_every_attempt_during_an_address_lockout_restarts_it(client: Client, staff: Any) -> None:
    for i in range(LIMIT):
        attempt(client, f"guess-{i}", "wrong")
    locked_at = time.monotonic()
    sleep_until(locked_at + 0.6)
    assert attempt(client, "boss", PASSWORD).status_code == 429  # restarts: 1 s from now
    sleep_until(locked_at + 1.2)  # past the first lockout's end
    assert attempt(client, "boss", PASSWORD).status_code == 429  # restarts again
    sleep_until(locked_at + 1.2 + 1 + 2 * MARGIN)
    assert attempt(client, "boss", PASSWORD).status_code == 302


@override_settings(LOGIN_DELAY_SECONDS=0.3, LOGIN_DELAY_MAX_SECONDS=1.2)
def test_guessing_from_many_addresses_is_delayed_more_and_more_never_locked(
    client: Client, staff: Any, addresses: Iterator[str]
) -> None:
    def guess() -> int:
        return attempt(client, "boss", "wrong", REMOTE_ADDR=next(addresses)).status_code

    for _ in range(LIMIT):
        assert guess() == 200
    last = time.monotonic()
    # After LIMIT failures each attempt waits for the previous one: 0.3 s doubling, at most 1.2.
    for delay in (0.3, 0.6, 1.2, 1.2):
        refused = attempt(
            client, "boss", PASSWORD, REMOTE_ADDR=next(addresses), HTTP_ACCEPT="application/json"
        )
        assert refused.status_code == 429
        assert refused.json()["error"] == "login_delayed"
        assert refused["Retry-After"] == str(math.ceil(delay))
        sleep_until(last + delay - MARGIN)
        assert guess() == 429  # still too early, from yet another address
        sleep_until(last + delay + MARGIN)
        assert guess() == 200  # admitted: the password is checked (and wrong)
        last = time.monotonic()
    # The owner, on a browser that never logged in before, waits at most the longest delay.
    owner = Client()
    sleep_until(last + 1.2 + MARGIN)
    assert attempt(owner, "boss", PASSWORD, REMOTE_ADDR=next(addresses)).status_code == 302
    assert logged_in(owner)


def test_a_browser_that_logged_in_before_skips_the_username_delay(
    staff: Any, mallory: Any, addresses: Iterator[str]
) -> None:
    known = known_browser("boss", PASSWORD)
    attacker = Client()
    for _ in range(LIMIT):
        attempt(attacker, "boss", "wrong", REMOTE_ADDR=next(addresses))
    assert attempt(attacker, "boss", PASSWORD, REMOTE_ADDR=next(addresses)).status_code == 429
    # The owner's browser gets in at once, from its own address or another.
    assert attempt(known, "boss", PASSWORD, REMOTE_ADDR="203.0.113.2").status_code == 302
    assert logged_in(known)


def test_a_known_browser_cookie_counts_only_for_its_account_and_only_if_genuine(
    staff: Any, mallory: Any, addresses: Iterator[str]
) -> None:
    known = known_browser("boss", PASSWORD)
    attacker = Client()
    for username in ("boss", "mallory"):
        for _ in range(LIMIT):
            attempt(attacker, username, "wrong", REMOTE_ADDR=next(addresses))
    # boss's cookie does not skip mallory's delay.
    assert attempt(known, "mallory", "mallory-password-1").status_code == 429
    # A cookie whose value was changed (here: the signature) is ignored.
    forged = Client()
    forged.cookies[DEVICE_COOKIE] = known.cookies[DEVICE_COOKIE].value[:-1] + "x"
    assert attempt(forged, "boss", PASSWORD, REMOTE_ADDR=next(addresses)).status_code == 429


def test_a_known_browser_cookie_used_for_guessing_stops_skipping_the_delay(
    staff: Any, addresses: Iterator[str]
) -> None:
    """A stolen cookie gives a guesser LIMIT more tries, not an unthrottled account."""
    stolen = known_browser("boss", PASSWORD)
    for _ in range(LIMIT):
        attempt(Client(), "boss", "wrong", REMOTE_ADDR=next(addresses))
    assert attempt(Client(), "boss", "wrong", REMOTE_ADDR=next(addresses)).status_code == 429
    for _ in range(LIMIT):  # delayed for everyone else, not for the cookie...
        assert attempt(stolen, "boss", "wrong", REMOTE_ADDR=next(addresses)).status_code == 200
    # ...until the cookie itself has LIMIT failures.
    assert attempt(stolen, "boss", PASSWORD, REMOTE_ADDR=next(addresses)).status_code == 429


def test_logging_into_ones_own_account_does_not_reset_the_address_count(
    client: Client, staff: Any, mallory: Any
) -> None:
    for i in range(LIMIT - 1):
        assert attempt(client, "boss", f"wrong-{i}").status_code == 200
    assert attempt(client, "mallory", "mallory-password-1").status_code == 302
    client.logout()
    assert attempt(client, "boss", "wrong-again").status_code == 200  # the LIMIT-th boss failure
    assert attempt(client, "mallory", "mallory-password-1").status_code == 429


def test_another_accounts_login_does_not_reset_a_usernames_delay(
    staff: Any, mallory: Any, addresses: Iterator[str]
) -> None:
    guesser = Client()
    used = [next(addresses) for _ in range(LIMIT)]
    for address in used:
        attempt(guesser, "boss", "wrong", REMOTE_ADDR=address)
    for address in used:
        own = Client()
        assert attempt(own, "mallory", "mallory-password-1", REMOTE_ADDR=address).status_code == 302
    assert attempt(guesser, "boss", PASSWORD, REMOTE_ADDR=used[0]).status_code == 429


@override_settings(LOGIN_DELAY_SECONDS=0.3)
def test_a_login_resets_its_own_accounts_counts(
    client: Client, staff: Any, addresses: Iterator[str]
) -> None:
    for i in range(LIMIT - 1):
        assert attempt(client, "boss", f"wrong-{i}").status_code == 200
    assert attempt(client, "boss", PASSWORD).status_code == 302
    client.logout()
    for i in range(LIMIT - 1):
        assert attempt(client, "boss", f"again-{i}").status_code == 200
    assert attempt(client, "boss", PASSWORD).status_code == 302
    client.logout()
    # Delayed after LIMIT failures from elsewhere; one login and the delay is gone.
    for _ in range(LIMIT):
        attempt(Client(), "boss", "wrong", REMOTE_ADDR=next(addresses))
    time.sleep(0.3 + MARGIN)
    assert attempt(Client(), "boss", PASSWORD, REMOTE_ADDR=next(addresses)).status_code == 302
    assert attempt(Client(), "boss", "wrong", REMOTE_ADDR=next(addresses)).status_code == 200
    assert attempt(Client(), "boss", "wrong", REMOTE_ADDR=next(addresses)).status_code == 200


def admitted_in_parallel(requests: list[Any], username: str | None = None) -> int:
    """How many of ``requests`` the throttle admits when all ask at the same moment."""
    start = threading.Barrier(len(requests))
    verdicts: list[object] = []

    def ask(index: int) -> None:
        start.wait()
        verdicts.append(admit(requests[index], username or f"user-{index}"))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Each thread opened a pooled connection; later tests count the app's connections.
    get_redis_connection("default").connection_pool.disconnect()
    assert len(verdicts) == len(requests)
    return verdicts.count(None)


@override_settings(LOGIN_DELAY_SECONDS=0.3)
def test_parallel_attempts_cannot_pass_a_limit_together(addresses: Iterator[str]) -> None:
    factory = RequestFactory()
    same_address = [factory.post(LOGIN, REMOTE_ADDR="192.0.2.50") for _ in range(20)]
    assert admitted_in_parallel(same_address) == LIMIT
    for _ in range(LIMIT):
        assert admit(factory.post(LOGIN, REMOTE_ADDR=next(addresses)), "boss") is None
    time.sleep(0.3 + MARGIN)
    many_addresses = [factory.post(LOGIN, REMOTE_ADDR=next(addresses)) for _ in range(20)]
    assert admitted_in_parallel(many_addresses, "boss") == 1


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(client: Client, staff: Any) -> None:
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for i in range(LIMIT):
        attempt(client, f"guess-{i}", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    blocked = attempt(client, "boss", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    other = attempt(client, "boss", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy)
    assert (blocked.status_code, other.status_code) == (429, 302)


def test_redis_down_refuses_logins_with_503_not_500(staff: Any, dead_redis_url: str) -> None:
    """Fail closed: sessions and the counters live in Redis, so no login can work anyway."""
    client = Client(raise_request_exception=False)
    with override_settings(CACHES=caches_for(dead_redis_url, "x")):
        page = client.get(LOGIN)
        response = attempt(client, "boss", PASSWORD)
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
    assert statuses == [200] * LIMIT + [429] * 2
    assert last == 429
