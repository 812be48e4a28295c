"""A hung backend (SIGSTOP: connections accepted, nothing ever answered), over real HTTP.

Redis hung: /api/test/ answers within 1 s by the fail policy, /health/ says 503
within 2 s, pages that need only the database keep working; after SIGCONT
everything recovers without a restart. PostgreSQL hung: /health/ still says
503 within 2 s. The measured seconds are recorded as test properties
(``--junitxml`` shows them).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.api import bearer_header, tree_url
from tests.helpers import GunicornServer, gunicorn, run_manage, wait_for
from tests.httpclient import Reply, request
from tests.postgres import PostgresServer
from tests.redis_servers import RedisServer
from tests.stack import Seed, copy_database, host_env, wait_healthy

pytestmark = pytest.mark.slow

BREAKER_SECONDS = "1.0"  # short, so the recovery half of the test is quick


def fail_policy_hosts(
    redis_node: RedisServer, static_root: Path, workdir: Path, template: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Two hosts on one copy of the seeded database ``template`` and one Redis, each with a
    short breaker: the limiter failing open (the default), and failing closed.
    """
    database = {"SQLITE_PATH": str(copy_database(template, workdir))}
    common = dict(static_root=static_root, database=database, RATELIMIT_REQUESTS="1000")
    (workdir / "open").mkdir()
    (workdir / "closed").mkdir()
    fail_open = host_env(
        workdir / "open", redis_node, db=1, **common, REDIS_BREAKER_SECONDS=BREAKER_SECONDS
    )
    fail_closed = host_env(
        workdir / "closed", redis_node, db=2, **common,
        REDIS_BREAKER_SECONDS=BREAKER_SECONDS, RATELIMIT_FAIL_OPEN="false",
    )  # fmt: skip
    return fail_open, fail_closed


def hold_pooled_connections(*servers: GunicornServer) -> None:
    """Enough /api/test/ requests that every worker holds a pooled Redis connection."""
    for server in servers:
        for _ in range(6):
            assert request(server.base_url, "/api/test/").status == 200


@dataclass
class WhileHung:
    """What the two hosts answered while Redis was hung."""

    api_open: list[Reply]
    api_closed: list[Reply]
    health: list[Reply]
    live: Reply
    tree: Reply


def requests_while_hung(
    redis_node: RedisServer, opened: GunicornServer, closed: GunicornServer, seed: Seed
) -> WhileHung:
    """SIGSTOP Redis, send the requests, SIGCONT it (whatever happened)."""
    redis_node.pause()
    try:
        api_open = [request(opened.base_url, "/api/test/") for _ in range(6)]
        api_closed = [request(closed.base_url, "/api/test/") for _ in range(6)]
        # A worker reuses its last /health/ report for HEALTH_CACHE_SECONDS.
        time.sleep(settings.HEALTH_CACHE_SECONDS)
        health = [request(opened.base_url, "/health/") for _ in range(4)]
        live = request(opened.base_url, "/health/live/")
        tree = request(
            opened.base_url, tree_url(seed.project_id), headers=bearer_header(seed.token)
        )
    finally:
        redis_node.resume()
    return WhileHung(api_open, api_closed, health, live, tree)


def recovery(server: GunicornServer) -> tuple[float, list[Reply]]:
    """Recovery without a restart: each worker's breaker lets a probe through once its open
    period is over, and the probe succeeds. Seconds until /health/ says 200 again, and six
    /api/test/ once every worker's breaker is past its open period.
    """
    resumed = time.monotonic()
    wait_for(lambda: request(server.base_url, "/health/").status == 200, 10, "/health/ 200")
    recovered_after = time.monotonic() - resumed
    time.sleep(float(BREAKER_SECONDS))
    return recovered_after, [request(server.base_url, "/api/test/") for _ in range(6)]


def test_hung_redis(
    own_redis: RedisServer,
    static_root: Path,
    tmp_path: Path,
    seeded_sqlite: tuple[Path, Seed],
    record_property: Any,
) -> None:
    template, seed = seeded_sqlite
    fail_open, fail_closed = fail_policy_hosts(own_redis, static_root, tmp_path, template)
    with gunicorn(fail_open, workers=2) as opened, gunicorn(fail_closed, workers=2) as closed:
        wait_healthy(opened)
        wait_healthy(closed)
        hold_pooled_connections(opened, closed)
        hung = requests_while_hung(own_redis, opened, closed, seed)
        recovered_after, after = recovery(opened)
        log = opened.log_text() + closed.log_text()

    assert [r.status for r in hung.api_open] == [200] * 6, log
    assert all(json.loads(r.body) == {"status": "ok"} for r in hung.api_open)
    assert max(r.seconds for r in hung.api_open) < 1.0
    assert [r.status for r in hung.api_closed] == [503] * 6
    assert all(json.loads(r.body)["error"] == "rate_limiter_unavailable" for r in hung.api_closed)
    assert max(r.seconds for r in hung.api_closed) < 1.0
    assert [r.status for r in hung.health] == [503] * 4
    expected_checks = {"database": "ok", "redis": "error"}
    assert all(json.loads(r.body)["checks"] == expected_checks for r in hung.health)
    assert max(r.seconds for r in hung.health) < 2.0
    assert (hung.live.status, hung.live.seconds < 1.0) == (200, True)
    assert hung.tree.status == 200
    assert json.loads(hung.tree.body)["project"]["id"] == seed.project_id
    assert hung.tree.seconds < 1.0
    # The limiter decides again on every worker.
    assert all("X-RateLimit-Remaining" in r.headers for r in after), log
    record_property("hung_redis_api_test_max_s", round(max(r.seconds for r in hung.api_open), 3))
    record_property(
        "hung_redis_api_closed_max_s", round(max(r.seconds for r in hung.api_closed), 3)
    )
    record_property("hung_redis_health_max_s", round(max(r.seconds for r in hung.health), 3))
    record_property("hung_redis_tree_s", round(hung.tree.seconds, 3))
    record_property("redis_recovered_after_s", round(recovered_after, 2))


def test_hung_postgresql(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    static_root: Path,
    tmp_path: Path,
    record_property: Any,
) -> None:
    env = host_env(
        tmp_path, redis_server, db=6, static_root=static_root, database=postgres_server.env()
    )
    with gunicorn(env, workers=2) as server:
        wait_healthy(server)
        for _ in range(4):  # both workers' probe threads hold their connection
            assert request(server.base_url, "/health/").status == 200
        postgres_server.pause()
        try:
            time.sleep(settings.HEALTH_CACHE_SECONDS)  # past the reuse of the last report
            health = [request(server.base_url, "/health/") for _ in range(6)]
            live = request(server.base_url, "/health/live/")
            api = request(server.base_url, "/api/test/")
            started = time.monotonic()
            command = run_manage("healthcheck", env=env, timeout=30)
            command_seconds = time.monotonic() - started
        finally:
            postgres_server.resume()
        resumed = time.monotonic()
        wait_for(lambda: request(server.base_url, "/health/").status == 200, 15, "/health/ 200")
        recovered_after = time.monotonic() - resumed
        log = server.log_text()

    assert [r.status for r in health] == [503] * 6, log
    assert all(json.loads(r.body)["checks"] == {"database": "error", "redis": "ok"} for r in health)
    assert max(r.seconds for r in health) < 2.0
    assert (live.status, api.status) == (200, 200)
    # A fresh process (the deploy's healthcheck) is bounded too, connecting or not.
    assert command.returncode == 1, command.stderr
    assert json.loads(command.stdout)["checks"]["database"] == "error"
    assert command_seconds < 10  # interpreter and Django start-up included
    record_property("hung_postgres_health_max_s", round(max(r.seconds for r in health), 3))
    record_property("hung_postgres_healthcheck_command_s", round(command_seconds, 2))
    record_property("postgres_recovered_after_s", round(recovered_after, 2))


def test_cut_database_sessions_do_not_fail_a_probe(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    static_root: Path,
    tmp_path: Path,
) -> None:
    """After a database restart the probe's old session is dead; the probe replaces it
    at once instead of reporting one false failure per worker.
    """
    env = host_env(
        tmp_path, redis_server, db=9, static_root=static_root, database=postgres_server.env()
    )
    with gunicorn(env, workers=2) as server:
        wait_healthy(server)
        for _ in range(6):
            assert request(server.base_url, "/health/").status == 200
        assert postgres_server.terminate_app_sessions() >= 1
        time.sleep(settings.HEALTH_CACHE_SECONDS)  # each worker checks again, not reuses
        after = [request(server.base_url, "/health/").status for _ in range(6)]
    assert after == [200] * 6
