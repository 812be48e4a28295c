"""The limit holds across processes: 4 gunicorn workers, 120 concurrent requests, 10 pass."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import (
    GunicornServer,
    RedisServer,
    clean_env,
    gunicorn,
    strong_secret_key,
    wait_for,
)

pytestmark = pytest.mark.slow

REQUESTS = 120
CONCURRENCY = 40
REQUEST_TIMEOUT = 10.0
TOTAL_BUDGET = 60.0
REDIS_DB = 2  # keep the gunicorn run's keys apart from the in-process tests


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback URL built here
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _healthy(server: GunicornServer) -> bool:
    if server.proc.poll() is not None:
        raise RuntimeError(f"gunicorn exited early:\n{server.log_text()}")
    try:
        return fetch(f"{server.base_url}/health/")[0] == 200
    except OSError:
        return False


def test_exactly_ten_of_many_concurrent_requests_pass(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    redis_server.client(REDIS_DB).flushdb()
    env = clean_env(
        SECRET_KEY=strong_secret_key(),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        STATIC_ROOT=str(static_root),
        REDIS_URL=redis_server.url(REDIS_DB),
        REDIS_PASSWORD=redis_server.password,
        RATELIMIT_REQUESTS="10",
        RATELIMIT_WINDOW="60",
        LOG_LEVEL="WARNING",
    )
    started = time.monotonic()
    with gunicorn(env, workers=4) as server:
        wait_for(lambda: _healthy(server), 30, "gunicorn /health/")
        # /health/ is not limited and did not touch the API counter.
        assert redis_server.client(REDIS_DB).keys("ahsp:rate_limit:*") == []

        url = f"{server.base_url}/api/test/"
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            methods = ["GET", "POST"] * (REQUESTS // 2)
            results = list(pool.map(lambda m: fetch(url, m), methods, timeout=TOTAL_BUDGET))

        log = server.log_text()

    assert time.monotonic() - started < TOTAL_BUDGET + 30
    statuses = Counter(status for status, _, _ in results)
    assert statuses == {200: 10, 429: REQUESTS - 10}, log
    for status, headers, body in results:
        if status == 429:
            assert json.loads(body)["error"] == "rate_limited"
            assert int(headers["Retry-After"]) >= 1
        else:
            assert json.loads(body) == {"status": "ok"}
    remaining = sorted(int(h["X-RateLimit-Remaining"]) for s, h, _ in results if s == 200)
    assert remaining == list(range(10))  # every allowed request saw a distinct count
    assert (
        redis_server.client(REDIS_DB).get("ahsp:rate_limit:api_test:ip:127.0.0.1")
        == str(REQUESTS).encode()
    )
    assert log.count("Booting worker") == 4, log
