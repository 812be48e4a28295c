"""Rate limiting of /api/ against a real redis-server (in-process, Django test client)."""

from __future__ import annotations

import logging
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from tests.conftest import caches_for
from tests.helpers import RedisServer

TEST_URL = "/api/test/"


def test_seed_sequence_ten_ok_then_429(client: Client) -> None:
    statuses = [client.get(TEST_URL).status_code for _ in range(15)]
    assert statuses == [200] * 10 + [429] * 5


def test_allowed_responses_carry_ratelimit_headers(client: Client) -> None:
    for expected_remaining in range(9, -1, -1):
        response = client.get(TEST_URL)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response["X-RateLimit-Limit"] == "10"
        assert response["X-RateLimit-Remaining"] == str(expected_remaining)
        assert 1 <= int(response["X-RateLimit-Reset"]) <= 60


def test_429_body_and_retry_after(client: Client) -> None:
    for _ in range(10):
        client.post(TEST_URL)
    response = client.post(TEST_URL)
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "rate_limited"
    assert body["detail"]
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["retry_after"] == retry_after
    assert response["X-RateLimit-Remaining"] == "0"


def test_counter_lives_in_redis_under_the_documented_key(
    client: Client, redis_server: RedisServer
) -> None:
    for _ in range(3):
        client.get(TEST_URL)
    r = redis_server.client()
    key = "ahsp:rate_limit:api_test:ip:127.0.0.1"
    assert r.get(key) == b"3"
    assert 0 < r.pttl(key) <= 60_000


def test_one_redis_round_trip_per_request(client: Client, redis_server: RedisServer) -> None:
    r = redis_server.client()
    client.get(TEST_URL)  # loads the script once
    r.config_resetstat()
    for _ in range(5):
        client.get(TEST_URL)
    stats = r.info("commandstats")
    calls = {
        name.removeprefix("cmdstat_"): v["calls"]
        for name, v in stats.items()
        if not name.startswith(("cmdstat_config", "cmdstat_info"))
    }
    # One EVALSHA per request from the client; INCR and PTTL only run inside the
    # script (Redis counts those too). No GET/SET/EXPIRE round trips.
    assert calls == {"evalsha": 5, "incr": 5, "pttl": 5}


@override_settings(RATELIMIT_WINDOW=1)
def test_window_resets(client: Client) -> None:
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


def test_x_forwarded_for_ignored_unless_trusted(client: Client) -> None:
    for i in range(11):
        response = client.get(TEST_URL, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    assert response.status_code == 429  # spoofed XFF did not buy fresh identities


@override_settings(RATELIMIT_TRUST_X_FORWARDED_FOR=True)
def test_trusted_x_forwarded_for_uses_the_proxy_appended_address(
    client: Client, redis_server: RedisServer
) -> None:
    for _ in range(10):
        client.get(TEST_URL, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5")
    assert client.get(TEST_URL, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5").status_code == 429
    assert client.get(TEST_URL, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 200
    assert redis_server.client().exists("ahsp:rate_limit:api_test:ip:203.0.113.5")


@pytest.mark.django_db
def test_authenticated_clients_are_keyed_by_user(
    client: Client, owner: Any, project: Any, redis_server: RedisServer
) -> None:
    out = StringIO()
    call_command("create_api_token", owner.username, stdout=out)
    headers = {"Authorization": f"Bearer {out.getvalue().strip()}"}
    url = f"/api/project/{project.pk}/list-pekerjaan/tree/"
    statuses = [client.get(url, headers=headers).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    assert (
        redis_server.client().get(f"ahsp:rate_limit:list_pekerjaan_tree:user:{owner.pk}") == b"11"
    )
    # Same IP, anonymous, other endpoint: its own counter.
    assert client.get(TEST_URL).status_code == 200


@pytest.mark.django_db
def test_anonymous_401s_are_rate_limited_too(client: Client, project: Any) -> None:
    url = f"/api/project/{project.pk}/list-pekerjaan/tree/"
    statuses = [
        client.get(url, headers={"Authorization": "Bearer guess"}).status_code for _ in range(12)
    ]
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
        caplog.set_level(logging.WARNING, logger="detail_project.ratelimit")
        started = time.monotonic()
        statuses = [client.get(TEST_URL).status_code for _ in range(12)]
        assert time.monotonic() - started < 10
    assert statuses == [200] * 12
    assert any("failing open" in r.getMessage() for r in caplog.records)


def test_fail_closed_when_redis_unreachable(client: Client, dead_redis_url: str) -> None:
    with override_settings(CACHES=caches_for(dead_redis_url, "x"), RATELIMIT_FAIL_OPEN=False):
        response = client.get(TEST_URL)
    assert response.status_code == 503
    assert response.json()["error"] == "rate_limiter_unavailable"
    assert int(response["Retry-After"]) >= 1
    assert "Connection" not in response.content.decode()
