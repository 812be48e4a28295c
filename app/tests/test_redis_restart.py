"""Over gunicorn: the first requests after Redis lost every connection succeed at once.

Two ways to lose them: redis-server restarted on the same port (every client
socket closed with a FIN), and the network forgetting them (no FIN, the next
command answered by a reset; ``tests/tcp_proxy.py``). The limiter fails
closed and the breaker would skip Redis for a minute, so a single failed Redis
call would show up as a 503: none may.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.api import bearer_header, tree_url
from tests.helpers import gunicorn
from tests.httpclient import request
from tests.redis_servers import RedisServer
from tests.stack import Seed, copy_database, host_env, wait_healthy
from tests.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("event", ["restart", "reset"])
def test_requests_after_redis_dropped_every_connection(
    event: str,
    own_redis: RedisServer,
    static_root: Path,
    tmp_path: Path,
    seeded_sqlite: tuple[Path, Seed],
    record_property: Any,
) -> None:
    template, seed = seeded_sqlite
    tree = tree_url(seed.project_id)
    bearer = bearer_header(seed.token)
    with tcp_proxy(own_redis.port) as proxy:
        port = proxy.port if event == "reset" else own_redis.port
        env = host_env(
            tmp_path, own_redis, db=1, static_root=static_root,
            database={"SQLITE_PATH": str(copy_database(template, tmp_path))},
            REDIS_URL=f"redis://127.0.0.1:{port}/1", REDIS_BREAKER_SECONDS="60",
            RATELIMIT_FAIL_OPEN="false", RATELIMIT_REQUESTS="1000",
        )  # fmt: skip

        def round_of_requests() -> list[tuple[str, Any]]:
            return [
                (path, request(server.base_url, path, headers=bearer))
                for _ in range(4)
                for path in ("/api/test/", tree, "/health/")
            ]

        with gunicorn(env, workers=2) as server:
            wait_healthy(server)
            with ThreadPoolExecutor(4) as pool:  # concurrent, so both workers connect
                before = [
                    r for batch in pool.map(lambda _: round_of_requests(), range(4)) for r in batch
                ]
            if event == "restart":
                own_redis.restart()
            else:
                record_property("redis_reset_connections_dropped", proxy.forget())
            after = round_of_requests()
            log = server.log_text()

    assert [r.status for _, r in before] == [200] * len(before), log
    assert [(path, r.status) for path, r in after] == [(path, 200) for path, _ in after], log
    assert all("X-RateLimit-Remaining" in r.headers for path, r in after if path != "/health/")
    assert all(json.loads(r.body)["checks"]["redis"] == "ok" for p, r in after if p == "/health/")
    assert "skipping it" not in log  # the breaker never opened
    slowest = max(r.seconds for _, r in after)
    assert slowest < 0.5, slowest  # no timeout, no breaker period
    record_property(f"redis_{event}_first_requests_max_s", round(slowest, 3))
