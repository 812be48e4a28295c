"""A burst of /health/ over gunicorn opens no connections: every probe reuses the pools;
and it checks the backends once per worker and HEALTH_CACHE_SECONDS, not once per probe.

Counted from the servers' side: Redis' ``total_connections_received`` and
``commandstats``, PostgreSQL's connection log (``log_connections``).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from tests.helpers import gunicorn
from tests.httpclient import request
from tests.postgres import PostgresServer
from tests.redis_servers import RedisServer
from tests.stack import host_env, wait_healthy

pytestmark = pytest.mark.slow

BURST = 1000
WORKERS = 2


def test_a_thousand_health_probes_open_no_connections(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    static_root: Path,
    tmp_path: Path,
) -> None:
    env = host_env(
        tmp_path, redis_server, db=8, static_root=static_root, database=postgres_server.env()
    )
    admin = redis_server.client(8)
    admin.ping()  # our own connection exists before counting starts
    with gunicorn(env, workers=WORKERS) as server:
        wait_healthy(server)

        def probe(_: int) -> int:
            return request(server.base_url, "/health/").status

        with ThreadPoolExecutor(max_workers=8) as pool:  # reaches every worker
            assert set(pool.map(probe, range(200), timeout=60)) == {200}
        admin.config_resetstat()  # zeroes the connection count too: read it after this
        redis_before = admin.info("stats")["total_connections_received"]
        postgres_before = postgres_server.connections_received()
        started = time.monotonic()

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(probe, range(BURST), timeout=120))

        intervals = math.ceil((time.monotonic() - started) / settings.HEALTH_CACHE_SECONDS)
        checks = admin.info("commandstats").get("cmdstat_set", {}).get("calls", 0)

        redis_after = admin.info("stats")["total_connections_received"]
        postgres_after = postgres_server.connections_received()
        app_clients = [
            c for c in admin.client_list() if c.get("user") == "ahsp" and c.get("db") == "8"
        ]

    assert statuses == [200] * BURST
    assert checks <= WORKERS * (intervals + 1), (checks, intervals)  # not one per probe
    assert postgres_before >= WORKERS  # the log does count connections: each probe thread's
    assert redis_after - redis_before == 0
    assert postgres_after - postgres_before == 0
    assert len(app_clients) <= WORKERS  # one pooled connection per worker process
