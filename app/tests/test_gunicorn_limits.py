"""The limiter and the trusted-proxy rules over real HTTP, across gunicorn worker processes."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from detail_project.sliding_log import admission_times

from tests.helpers import gunicorn
from tests.httpclient import Reply, request
from tests.redis_servers import RedisServer
from tests.stack import host_env, wait_healthy

pytestmark = pytest.mark.slow

REQUESTS = 200
CONCURRENCY = 50
TOTAL_BUDGET = 60.0
PROXY = "127.0.0.2"  # a second loopback address plays the reverse proxy


def test_exactly_ten_of_200_concurrent_requests_pass(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    redis_db = 2  # apart from the in-process tests' keys
    redis_server.client(redis_db).flushdb()
    env = host_env(tmp_path, redis_server, db=redis_db, static_root=static_root)
    with gunicorn(env, workers=4) as server:
        wait_healthy(server)
        # /health/ is not limited and did not touch the API's logs.
        assert redis_server.client(redis_db).keys("ahsp:rate_limit:*") == []

        def call(method: str) -> Reply:
            return request(server.base_url, "/api/test/", method=method)

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            methods = ["GET", "POST"] * (REQUESTS // 2)
            results = list(pool.map(call, methods, timeout=TOTAL_BUDGET))

        # A new X-Forwarded-For per request from an untrusted peer buys nothing.
        forged = [
            request(
                server.base_url, "/api/test/", headers={"X-Forwarded-For": f"198.51.100.{i}"}
            ).status
            for i in range(12)
        ]
        log = server.log_text()

    statuses = Counter(reply.status for reply in results)
    assert statuses == {200: 10, 429: REQUESTS - 10}, log
    for reply in results:
        if reply.status == 429:
            assert json.loads(reply.body)["error"] == "rate_limited"
            assert int(reply.headers["Retry-After"]) >= 1
        else:
            assert json.loads(reply.body) == {"status": "ok"}
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in results if r.status == 200)
    assert remaining == list(range(10))  # every admitted request saw a distinct count
    assert (
        len(admission_times(redis_server.client(redis_db), "ahsp:rate_limit:api_test:ip:127.0.0.1"))
        == 10
    )
    assert forged == [429] * 12
    assert log.count("Booting worker") == 4, log


def test_forwarded_headers_count_only_from_trusted_proxies(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    redis_db = 3
    redis_server.client(redis_db).flushdb()
    env = host_env(
        tmp_path, redis_server, db=redis_db, static_root=static_root,
        TRUSTED_PROXIES=PROXY, SECURE_SSL_REDIRECT="true",
    )  # fmt: skip
    with gunicorn(env, workers=2, forwarded_allow_ips=PROXY) as server:
        wait_healthy(server)
        url = server.base_url

        # Forged X-Forwarded-Proto from an untrusted peer: still plain HTTP, redirected.
        forged = request(url, "/api/test/", headers={"X-Forwarded-Proto": "https"})
        assert forged.status == 301
        assert forged.headers["Location"].startswith("https://")
        # Our proxy says the client used HTTP: redirected too.
        plain = request(url, "/api/test/", headers={"X-Forwarded-Proto": "http"}, source=PROXY)
        assert plain.status == 301

        def via_proxy(client: str) -> int:
            headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": f"6.6.6.6, {client}"}
            return request(url, "/api/test/", headers=headers, source=PROXY).status

        first = [via_proxy("203.0.113.5") for _ in range(11)]
        second = [via_proxy("203.0.113.6") for _ in range(11)]

    assert first == [200] * 10 + [429]
    assert second == [200] * 10 + [429]
    r = redis_server.client(redis_db)
    assert sorted(r.keys("ahsp:rate_limit:*")) == [
        b"ahsp:rate_limit:api_test:ip:203.0.113.5",
        b"ahsp:rate_limit:api_test:ip:203.0.113.6",
    ]
