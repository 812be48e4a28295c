"""Redis down: every app host's /health/ says so, the API answers without a 500.

Each worker reuses its last /health/ report for HEALTH_CACHE_SECONDS, so
the outage shows within that interval. Redis back: healthy again, in every
worker. A worker that saw Redis fail
skips it for app_redis_breaker_seconds (its circuit breaker), so each worker
is healthy again at most that long after Redis is: the test waits that
long, then asks every host several times.
"""

from __future__ import annotations

import re
import time

from ahsp_testing import http
from conftest import APPS, REDIS, health, url, wait_for


def test_redis_outage_and_recovery(hosts, client):
    env = hosts[APPS[0]].file("/etc/ahsp/app.env").content_string
    breaker_seconds = float(re.search(r'^REDIS_BREAKER_SECONDS="([0-9.]+)"', env, re.M)[1])
    redis = hosts[REDIS]
    redis.check_output("systemctl stop redis-server")
    try:
        for app in APPS:
            # A worker reuses its last report for HEALTH_CACHE_SECONDS (1 s by
            # default), so the outage shows within that interval.
            # The answer that showed the outage is the one checked: another
            # worker may still hold its cached report for up to that second.
            response = wait_for(
                lambda app=app: (r := health(client, app)).status == 503 and r,
                10,
                f"{app} reports the outage",
            )
            assert response.status == 503, response.body
            body = response.json()
            assert body["status"] == "error"
            assert body["checks"]["redis"] == "error"
            assert body["checks"]["database"] == "ok"
            # Fail open (the default): the API answers, never a 500.
            api = http(client, url(app, "/api/test/"), method="POST", count=3)
            assert [r.status for r in api] == [200, 200, 200], [r.body for r in api]
    finally:
        redis.check_output("systemctl start redis-server")
    for app in APPS:
        wait_for(
            lambda app=app: health(client, app).status == 200,
            30,
            f"{app} healthy after Redis is back",
        )
    time.sleep(breaker_seconds)
    for app in APPS:
        # More answers than workers: every worker is healthy again.
        statuses = [health(client, app).status for _ in range(12)]
        assert statuses == [200] * 12, f"{app} after the breaker interval: {statuses}"
