"""/health/ and `manage.py healthcheck`: contract, cost per probe, Redis outage, no leaks."""

from __future__ import annotations

import json
import threading
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from detail_project.health import latest_report
from django.core.management import call_command
from django.db.backends.signals import connection_created
from django.test import Client, override_settings
from django_redis import get_redis_connection

from tests.api import tree_url
from tests.conftest import caches_for
from tests.helpers import clean_env, free_port, run_manage, strong_secret_key
from tests.redis_servers import RedisServer, redis_env

pytestmark = pytest.mark.django_db

LEAK_MARKERS = ("Error", "refused", "Traceback", "127.0.0.1", "Connection", "redis://")


def test_health_ok(client: Client) -> None:
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
        "version": "test-1.2.3",
    }
    assert "no-cache" in response["Cache-Control"]


def test_health_needs_no_auth_and_survives_ssl_redirect(client: Client) -> None:
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/health/").status_code == 200  # exempt: plain-HTTP probes work
        assert client.get("/").status_code == 301  # everything else is redirected


def test_live_answers_without_redis_or_database(client: Client, redis_server: RedisServer) -> None:
    r = redis_server.client()
    r.ping()
    before = r.info("commandstats")
    with override_settings(SECURE_SSL_REDIRECT=True):
        response = client.get("/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert "ratelimit" not in " ".join(response.headers).lower()
    after = r.info("commandstats")
    # Only our own INFO call reached Redis.
    changed = {k for k in after if after[k]["calls"] != before.get(k, {}).get("calls")}
    assert changed <= {"cmdstat_info"}


def test_health_reuses_the_pool(client: Client, redis_server: RedisServer) -> None:
    r = redis_server.client()
    client.get("/health/")
    before = r.info("stats")["total_connections_received"]
    for _ in range(10):
        assert client.get("/health/").status_code == 200
    after = r.info("stats")["total_connections_received"]
    assert after - before <= 1  # ours (the info call) at most; the app opened none


@override_settings(HEALTH_CACHE_SECONDS=0)
def test_health_is_one_redis_write_and_no_new_database_connection(
    client: Client, redis_server: RedisServer
) -> None:
    """The Redis check is a single SET (a write, so a read-only Redis fails it); the
    database probe keeps its own connection open across probes. With the report
    not reused, every request probes.
    """
    opened: list[object] = []

    def count(sender: object, connection: object, **kwargs: object) -> None:
        opened.append(connection)

    r = redis_server.client()
    assert client.get("/health/").status_code == 200  # the probe thread connects once
    r.config_resetstat()
    connection_created.connect(count)
    try:
        for _ in range(20):
            assert client.get("/health/").status_code == 200
    finally:
        connection_created.disconnect(count)
    calls = {
        name.removeprefix("cmdstat_"): v["calls"]
        for name, v in r.info("commandstats").items()
        if not name.startswith(("cmdstat_config", "cmdstat_info"))
    }
    assert calls == {"set": 20}
    assert opened == []
    assert r.pttl("ahsp:health") > 0  # the probe key expires by itself


def test_health_503_when_redis_stops(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(raise_request_exception=False)  # a 500 must show up as a status, not hide
    caches = caches_for(own_redis.url(), own_redis.app_password)
    with override_settings(CACHES=caches, HEALTH_CACHE_SECONDS=0):
        assert client.get("/health/").status_code == 200
        assert client.get("/api/test/").status_code == 200

        own_redis.stop()
        assert not own_redis.running

        started = time.monotonic()
        response = client.get("/health/")
        assert time.monotonic() - started < 10
        assert response.status_code == 503
        assert response.json() == {
            "status": "error",
            "checks": {"database": "ok", "redis": "error"},
            "version": "test-1.2.3",
        }
        text = response.content.decode()
        assert not [m for m in LEAK_MARKERS if m in text]
        # The details went to the log instead.
        assert any("health check" in r.getMessage() and r.exc_info for r in caplog.records)

        # Nothing else 500s while Redis is down either.
        other = [
            client.get("/api/test/"),  # fails open by default
            client.get("/"),
            client.get(tree_url(1)),
        ]
        assert [r.status_code for r in other] == [200, 200, 401]

        with pytest.raises(SystemExit) as exit_info:
            call_command("healthcheck", stdout=StringIO())
        assert exit_info.value.code == 1


def test_healthcheck_command_healthy_prints_json() -> None:
    out = StringIO()
    call_command("healthcheck", stdout=out)  # returns normally → exit status 0
    assert json.loads(out.getvalue())["status"] == "ok"


@pytest.mark.slow
def test_healthcheck_command_exit_codes_in_subprocess(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    base = {
        "SECRET_KEY": strong_secret_key(),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        **redis_env(redis_server),
    }
    healthy = run_manage("healthcheck", env=clean_env(**base))
    assert healthy.returncode == 0, healthy.stderr
    assert json.loads(healthy.stdout) == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
        "version": "dev",  # no RELEASE file in a working copy
    }

    dead = f"redis://127.0.0.1:{free_port()}/1"
    unhealthy = run_manage("healthcheck", env=clean_env(**{**base, "REDIS_URL": dead}))
    assert unhealthy.returncode == 1
    body = json.loads(unhealthy.stdout)
    assert body["status"] == "error"
    assert body["checks"]["redis"] == "error"


def redis_calls(r: Any) -> dict[str, int]:
    """Commands Redis ran since the last CONFIG RESETSTAT, bookkeeping excluded."""
    return {
        name.removeprefix("cmdstat_"): v["calls"]
        for name, v in r.info("commandstats").items()
        if not name.startswith(("cmdstat_config", "cmdstat_info"))
    }


@override_settings(HEALTH_CACHE_SECONDS=2)
def test_a_burst_of_health_probes_checks_once_per_interval(
    client: Client, redis_server: RedisServer
) -> None:
    r = redis_server.client()
    r.config_resetstat()
    started = time.monotonic()
    statuses = [client.get("/health/").status_code for _ in range(50)]
    assert time.monotonic() - started < 2, "the burst must fit in one interval"
    assert statuses == [200] * 50
    assert redis_calls(r) == {"set": 1}
    time.sleep(max(0.0, started + 2.1 - time.monotonic()))
    assert client.get("/health/").status_code == 200
    assert redis_calls(r) == {"set": 2}  # the interval is over: checked again


@override_settings(HEALTH_CACHE_SECONDS=2)
def test_concurrent_requests_wait_for_one_check(redis_server: RedisServer) -> None:
    """Threads of one worker asking at once share the one check that runs."""
    r = redis_server.client()
    r.config_resetstat()
    start = threading.Barrier(16)
    healthy: list[bool] = []

    def ask() -> None:
        start.wait()
        healthy.append(latest_report().healthy)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Each thread checked a connection out of the app's pool; later tests count them.
    get_redis_connection("default").connection_pool.disconnect()
    assert healthy == [True] * 16
    assert redis_calls(r) == {"set": 1}


def test_a_redis_outage_is_a_503_once_the_interval_is_over(own_redis: RedisServer) -> None:
    """Reusing the report trades at most one interval of staleness for cheap bursts."""
    client = Client(raise_request_exception=False)
    caches = caches_for(own_redis.url(), own_redis.app_password)
    with override_settings(CACHES=caches, HEALTH_CACHE_SECONDS=1):
        assert client.get("/health/").status_code == 200
        checked = time.monotonic()
        own_redis.pause()  # hung: a fresh check would wait for the socket timeout
        try:
            reused = client.get("/health/")
            assert time.monotonic() - checked < 0.4  # reused, Redis was not asked
            assert reused.status_code == 200
            time.sleep(max(0.0, checked + 1.05 - time.monotonic()))
            response = client.get("/health/")
        finally:
            own_redis.resume()
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "error"}
