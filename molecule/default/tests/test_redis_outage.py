"""Redis down: every app host's /health/ says so, the API answers without a 500.

Redis back: healthy again.
"""

from __future__ import annotations

from ahsp_testing import http
from conftest import APPS, REDIS, health, url, wait_for


def test_redis_outage_and_recovery(hosts, client):
    redis = hosts[REDIS]
    redis.check_output("systemctl stop redis-server")
    try:
        for app in APPS:
            response = health(client, app)
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
