"""Rate limiting of /api/ against a real redis-server (in-process, Django test client)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import redis
from detail_project.sliding_log import admission_times, hit, memory_per_client
from django.test import Client, override_settings

from tests.api import api_token, bearer_header, tree_url
from tests.conftest import caches_for
from tests.redis_servers import APP_USER, RedisServer

TEST_URL = "/api/test/"
KEY = "ahsp:rate_limit:api_test:ip:127.0.0.1"


def test_seed_sequence_ten_ok_then_429(client: Client) -> None:
    statuses = [client.get(TEST_URL).status_code for _ in range(15)]
    assert statuses == [200] * 10 + [429] * 5


def test_headers_are_exact(client: Client) -> None:
    """Within the first second of a 60 s window: Reset is the full window, Remaining counts down."""
    started = time.monotonic()
    for expected_remaining in range(9, -1, -1):
        response = client.get(TEST_URL)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response["X-RateLimit-Limit"] == "10"
        assert response["X-RateLimit-Remaining"] == str(expected_remaining)
        assert response["X-RateLimit-Reset"] == "60"
    limited = client.get(TEST_URL)
    assert time.monotonic() - started < 1.0, "too slow for the exact-second assertions"
    assert limited.status_code == 429
    assert limited["Retry-After"] == "60"
    assert limited["X-RateLimit-Remaining"] == "0"
    assert limited["X-RateLimit-Reset"] == "60"
    body = limited.json()
    assert body["error"] == "rate_limited"
    assert body["detail"]
    assert body["retry_after"] == 60


@override_settings(RATELIMIT_WINDOW=2)
def test_retry_after_counts_down_to_the_oldest_admission(client: Client) -> None:
    started = time.monotonic()
    for _ in range(10):
        assert client.get(TEST_URL).status_code == 200
    time.sleep(1.2)
    response = client.get(TEST_URL)
    assert time.monotonic() - started < 1.9
    assert response.status_code == 429
    assert response["Retry-After"] == "1"  # 2 s window, first admission ~1.2 s ago


@override_settings(RATELIMIT_WINDOW=2)
def test_no_burst_at_the_window_edge(client: Client) -> None:
    """1 request, 9 just before the window ends, 10 right after: only one more passes.

    A fixed window would let all of the last ten through (19 within ~0.3 s).
    Every admission is also checked against Redis' own log: no 2 s span holds
    more than 10.
    """
    assert client.get(TEST_URL).status_code == 200
    # Timed from the first answer: its admission happened before it, so even on a
    # loaded machine it has left the 2 s window by started + 2.1.
    started = time.monotonic()
    time.sleep(max(0.0, started + 1.7 - time.monotonic()))
    late = [client.get(TEST_URL).status_code for _ in range(9)]
    time.sleep(max(0.0, started + 2.1 - time.monotonic()))
    after_edge = [client.get(TEST_URL).status_code for _ in range(10)]
    assert time.monotonic() - started < 3.5, "the timings this test relies on were missed"
    assert late == [200] * 9
    assert after_edge == [200] + [429] * 9


def statuses_from(client: Client, remote: str, count: int) -> list[int]:
    return [client.get(TEST_URL, REMOTE_ADDR=remote).status_code for _ in range(count)]


def test_ipv6_addresses_of_one_64_share_one_budget(
    client: Client, redis_server: RedisServer
) -> None:
    """One host usually owns a whole /64: its addresses count as one client, another
    /64 (even the next one) is another client.
    """
    assert statuses_from(client, "2001:db8:1:2::1", 5) == [200] * 5
    assert statuses_from(client, "2001:db8:1:2:ffff:ffff:ffff:ffff", 5) == [200] * 5
    assert statuses_from(client, "2001:db8:1:2:a:b:c:d", 1) == [429]
    assert statuses_from(client, "2001:db8:1:3::1", 10) == [200] * 10
    assert redis_server.client().exists("ahsp:rate_limit:api_test:ip:2001:db8:1:2::/64")


def test_ipv4_clients_are_still_counted_per_address(client: Client) -> None:
    assert statuses_from(client, "192.0.2.1", 11) == [200] * 10 + [429]
    assert statuses_from(client, "192.0.2.2", 1) == [200]
    # An IPv4-mapped IPv6 peer is that IPv4 client, not a member of ::ffff:0:0/64.
    assert statuses_from(client, "::ffff:192.0.2.1", 1) == [429]
    assert statuses_from(client, "::ffff:192.0.2.3", 1) == [200]


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_forwarded_ipv6_client_is_counted_by_its_64(client: Client) -> None:
    def via_proxy(forwarded: str) -> int:
        return client.get(
            TEST_URL, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    assert [via_proxy(f"2001:db8:5:6::{i}") for i in range(1, 12)] == [200] * 10 + [429]
    assert via_proxy("2001:db8:5:7::1") == 200


@pytest.mark.parametrize(
    ("prefix", "other", "shared"),
    [
        (48, "2001:db8:1:ffff::1", True),
        (48, "2001:db8:2::1", False),
        (128, "2001:db8:1:2::2", False),
    ],
)
def test_the_ipv6_prefix_length_is_configurable(
    client: Client, prefix: int, other: str, shared: bool
) -> None:
    with override_settings(RATELIMIT_IPV6_PREFIX=prefix):
        assert statuses_from(client, "2001:db8:1:2::1", 10) == [200] * 10
        assert statuses_from(client, other, 1) == [429 if shared else 200]


def test_log_never_holds_more_than_the_limit_in_any_window(redis_server: RedisServer) -> None:
    """Randomly spaced decisions against the script directly; the admitted timestamps
    (Redis' clock, from the log itself) never exceed the limit within any window span.
    """
    client = redis_server.app_client()
    window = 1
    key = "ahsp:rate_limit:property"
    admitted: list[int] = []
    deadline = time.monotonic() + window * 2.5
    pauses = [0.0, 0.001, 0.05, 0.13, 0.0, 0.31, 0.002, 0.07]
    i = 0
    while time.monotonic() < deadline:
        if hit(client, key, 3, window).allowed:
            admitted.append(admission_times(client, key)[-1])
        time.sleep(pauses[i % len(pauses)])
        i += 1
    assert len(admitted) >= 3
    span = window * 1_000_000
    for start in admitted:
        assert sum(1 for t in admitted if start <= t < start + span) <= 3


def test_log_lives_in_redis_under_the_documented_key(
    client: Client, redis_server: RedisServer
) -> None:
    for _ in range(3):
        client.get(TEST_URL)
    r = redis_server.client()
    assert r.type(KEY) == b"string"
    times = admission_times(r, KEY)
    assert len(times) == 3
    assert times == sorted(times)
    now_us = int(r.time()[0]) * 1_000_000
    assert all(now_us - 5_000_000 < t <= now_us + 1_000_000 for t in times)
    assert 59_000 < r.pttl(KEY) <= 60_000


def test_one_redis_round_trip_per_request(client: Client, redis_server: RedisServer) -> None:
    r = redis_server.client()
    client.get(TEST_URL)
    r.config_resetstat()
    for _ in range(5):
        client.get(TEST_URL)
    stats = r.info("commandstats")
    calls = {
        name.removeprefix("cmdstat_"): v["calls"]
        for name, v in stats.items()
        if not name.startswith(("cmdstat_config", "cmdstat_info"))
    }
    # One FCALL per request from the client; TIME, GET and SET run inside
    # the function (Redis counts those too).
    assert calls == {"fcall": 5, "time": 5, "get": 5, "set": 5}


def test_without_its_functions_the_app_cannot_load_them_and_fails_as_configured(
    client: Client, redis_server: RedisServer
) -> None:
    """The app's user may only FCALL: a Redis that lost the library (FUNCTION FLUSH) is a
    limiter that is unavailable (fail open by default), until the administrator loads it.
    """
    admin = redis_server.client()
    assert client.get(TEST_URL).status_code == 200
    admin.function_flush()
    try:
        assert client.get(TEST_URL).status_code == 200  # failed open, not decided
        assert len(admission_times(admin, KEY)) == 1
        denied = [entry["object"] for entry in admin.acl_log()]
        assert denied == ["function|load"]  # the app tried FUNCTION LOAD and was refused
    finally:
        admin.acl_log_reset()
        redis_server.load_functions()
    assert client.get(TEST_URL).status_code == 200
    assert len(admission_times(admin, KEY)) == 2


def test_a_single_connection_client_loads_a_missing_library_where_it_may(
    redis_server: RedisServer,
) -> None:
    """`hit` with any redis.Redis: a single-connection client goes through redis-py's own
    path, and an administrator's connection (development) loads a missing library itself.
    """
    admin = redis_server.client()
    admin.function_flush()
    try:
        decisions = [hit(admin, "ahsp:rate_limit:single", 2, 60) for _ in range(3)]
    finally:
        admin.delete("ahsp:rate_limit:single")
        redis_server.load_functions()
    assert [d.allowed for d in decisions] == [True, True, False]
    app = redis.Redis(
        host="127.0.0.1", port=redis_server.port, db=1, username=APP_USER,
        password=redis_server.app_password, single_connection_client=True,
    )  # fmt: skip
    try:
        assert hit(app, "ahsp:rate_limit:single", 2, 60).allowed
    finally:
        app.close()
        admin.delete("ahsp:rate_limit:single")


@override_settings(RATELIMIT_WINDOW=1)
def test_window_slides(client: Client) -> None:
    deadline = time.monotonic() + 10
    statuses = [client.get(TEST_URL).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    time.sleep(1.1)
    assert time.monotonic() < deadline
    assert client.get(TEST_URL).status_code == 200


def test_limits_are_per_client_ip(client: Client) -> None:
    for _ in range(10):
        client.get(TEST_URL, REMOTE_ADDR="192.0.2.1")
    assert client.get(TEST_URL, REMOTE_ADDR="192.0.2.1").status_code == 429
    assert client.get(TEST_URL, REMOTE_ADDR="192.0.2.2").status_code == 200


def test_forged_x_forwarded_for_from_an_untrusted_peer_buys_nothing(client: Client) -> None:
    statuses = [
        client.get(TEST_URL, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(12)
    ]
    assert statuses == [200] * 10 + [429] * 2


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_clients_are_limited_separately(
    client: Client, redis_server: RedisServer
) -> None:
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(10):
        # The left-most entry is client-supplied; the proxy appended 203.0.113.5.
        assert client.get(TEST_URL, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5", **proxy)
    assert (
        client.get(TEST_URL, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.5", **proxy).status_code
        == 429
    )
    assert client.get(TEST_URL, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy).status_code == 200
    # Two proxies of ours in a row: the walk skips both.
    chained = "203.0.113.7, 10.1.1.1"
    assert client.get(TEST_URL, HTTP_X_FORWARDED_FOR=chained, **proxy).status_code == 200
    r = redis_server.client()
    assert len(admission_times(r, "ahsp:rate_limit:api_test:ip:203.0.113.5")) == 10
    assert r.exists("ahsp:rate_limit:api_test:ip:203.0.113.7")
    assert not r.exists("ahsp:rate_limit:api_test:ip:10.0.0.2")


@pytest.mark.django_db
def test_authenticated_clients_are_keyed_by_user(
    client: Client, owner: Any, project: Any, redis_server: RedisServer
) -> None:
    headers = bearer_header(api_token(owner.username))
    url = tree_url(project.pk)
    statuses = [client.get(url, headers=headers).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    key = f"ahsp:rate_limit:list_pekerjaan_tree:user:{owner.pk}"
    assert len(admission_times(redis_server.client(), key)) == 10
    # Same IP, anonymous, other endpoint: its own log.
    assert client.get(TEST_URL).status_code == 200


@pytest.mark.django_db
def test_anonymous_401s_are_rate_limited_too(client: Client, project: Any) -> None:
    url = tree_url(project.pk)
    statuses = [client.get(url, headers=bearer_header("guess")).status_code for _ in range(12)]
    assert statuses == [401] * 10 + [429] * 2


@pytest.mark.django_db
def test_health_is_never_rate_limited(client: Client) -> None:
    for _ in range(25):
        response = client.get("/health/")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response


@override_settings(RATELIMIT_ENABLED=False)
def test_disabled_limiter(client: Client) -> None:
    for _ in range(15):
        response = client.get(TEST_URL)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response


@override_settings(API_TEST_ENABLED=False)
def test_api_test_can_be_disabled(client: Client) -> None:
    response = client.get(TEST_URL)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_api_test_is_csrf_exempt() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(TEST_URL).status_code == 200


def test_fail_open_when_redis_unreachable(
    client: Client, dead_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(CACHES=caches_for(dead_redis_url, "x"), RATELIMIT_FAIL_OPEN=True):
        caplog.set_level(logging.DEBUG, logger="detail_project")
        started = time.monotonic()
        statuses = [client.get(TEST_URL).status_code for _ in range(12)]
        assert time.monotonic() - started < 2
    assert statuses == [200] * 12
    messages = [r.getMessage() for r in caplog.records]
    assert any("failing open" in m for m in messages)
    # The first failure opened the breaker; the rest skipped Redis.
    assert any("skipping it for" in m for m in messages)


def test_fail_closed_when_redis_unreachable(client: Client, dead_redis_url: str) -> None:
    with override_settings(CACHES=caches_for(dead_redis_url, "x"), RATELIMIT_FAIL_OPEN=False):
        response = client.get(TEST_URL)
    assert response.status_code == 503
    assert response.json()["error"] == "rate_limiter_unavailable"
    assert int(response["Retry-After"]) >= 1
    assert "Connection" not in response.content.decode()


def test_memory_per_tracked_client_is_small(redis_server: RedisServer) -> None:
    """What README's capacity figure is based on: one client at the default limit."""
    usage = memory_per_client(redis_server.client(), "ahsp:rate_limit:memory:probe")
    assert 0 < usage < 512


def test_decision_reply_carries_count_and_reset_for_any_limit_and_window(
    redis_server: RedisServer,
) -> None:
    """The script answers with one integer (admitted, count, reset); a large limit and a
    day-long window must decode exactly, and a refusal carries the full wait.
    """
    client = redis_server.app_client()
    key = "ahsp:rate_limit:reply:ip:192.0.2.9"
    first = hit(client, key, 10**9, 86_400)
    assert (first.allowed, first.remaining, first.reset_after) == (True, 10**9 - 1, 86_400)
    second = hit(client, key, 10**9, 86_400)
    assert (second.allowed, second.remaining) == (True, 10**9 - 2)
    assert 86_399 <= second.reset_after <= 86_400
    assert hit(client, "ahsp:rate_limit:reply:one", 1, 7).allowed
    refused = hit(client, "ahsp:rate_limit:reply:one", 1, 7)
    assert (refused.allowed, refused.remaining, refused.reset_after) == (False, 0, 7)
    assert 6_000 < redis_server.client().pttl("ahsp:rate_limit:reply:one") <= 7_000


def test_the_app_pool_keeps_one_connection_and_one_call_per_decision(
    redis_server: RedisServer,
) -> None:
    """Decisions go straight through the app's pool (breaker pool, ACL user): one FCALL
    each, and every connection goes back to the pool (one open connection for sequential
    calls).
    """
    from django_redis import get_redis_connection

    app = get_redis_connection("default")
    admin = redis_server.client()
    key = "ahsp:rate_limit:pool:ip:192.0.2.10"
    hit(app, key, 100, 60)
    admin.config_resetstat()
    for _ in range(20):
        assert hit(app, key, 100, 60).allowed
    calls = {name: v["calls"] for name, v in admin.info("commandstats").items()}
    assert calls["cmdstat_fcall"] == 20
    assert "cmdstat_function|load" not in calls
    assert len(admission_times(admin, key)) == 21
    app_connections = [c for c in admin.client_list() if c.get("user") == APP_USER]
    assert len(app_connections) == 1


def test_a_connection_redis_dropped_is_replaced_within_the_decision(
    redis_server: RedisServer,
) -> None:
    """CLIENT KILL between two decisions: the next one still answers (a fresh connection),
    and the admission is recorded exactly once.
    """
    from django_redis import get_redis_connection

    app = get_redis_connection("default")
    admin = redis_server.client()
    key = "ahsp:rate_limit:killed:ip:192.0.2.11"
    assert hit(app, key, 10, 60).allowed
    assert admin.client_kill_filter(user=APP_USER) >= 1
    assert hit(app, key, 10, 60).remaining == 8
    assert len(admission_times(admin, key)) == 2
