"""Redis through Sentinel, for real: a primary, a replica and one Sentinel, all ACL-protected.

The app is configured as a host would be (REDIS_URL names the service,
REDIS_SENTINELS lists the Sentinel); cache, sessions, the limiter and
/health/ go through it, and after a failover writes reach the new primary
without restarting anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from config.cache import RedisConfig, redis_caches
from detail_project.sliding_log import admission_times
from django.core.cache import cache
from django.test import Client, override_settings

from tests.api import tree_url
from tests.helpers import wait_for
from tests.redis_servers import APP_USER, SERVICE, SentinelSet, start_sentinel_set

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# django-redis keeps one pool per URL and process: this module's own database number.
DB = 5
FAILOVER_BUDGET = 15.0


@pytest.fixture(scope="module")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    group = start_sentinel_set(tmp_path_factory.mktemp("sentinel"))
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture
def via_sentinel(sentinels: SentinelSet) -> Iterator[SentinelSet]:
    caches = redis_caches(
        RedisConfig(
            url=f"redis://{SERVICE}/{DB}",
            username=APP_USER,
            password=sentinels.primary.app_password,
            sentinels=[f"127.0.0.1:{sentinels.sentinel.port}"],
            sentinel_username=APP_USER,
            sentinel_password=sentinels.sentinel_app_password,
            connect_timeout=0.25,
            socket_timeout=0.5,
            breaker_seconds=1.0,
        )
    )
    nodes = (sentinels.primary, sentinels.replica, sentinels.sentinel)
    for node in nodes:
        node.client(0).acl_log_reset()
    with override_settings(CACHES=caches):
        yield sentinels
    for node in nodes:
        assert node.client(0).acl_log() == [], f"ACL denial on port {node.port}"


def test_cache_and_sessions_go_to_the_primary(via_sentinel: SentinelSet, owner: Any) -> None:
    cache.set("greeting", "halo", 30)
    assert cache.get("greeting") == "halo"
    primary = via_sentinel.node_at(via_sentinel.master_address()[1])
    assert primary.client(DB).exists("ahsp:1:greeting")

    client = Client()
    client.force_login(owner)
    session_keys = primary.client(DB).keys("ahsp:1:django.contrib.sessions.cache*")
    assert len(session_keys) == 1
    assert client.get(tree_url(999)).status_code == 404  # logged in


def test_limiter_and_health_through_sentinel(via_sentinel: SentinelSet) -> None:
    client = Client()
    statuses = [client.get("/api/test/").status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2
    primary = via_sentinel.node_at(via_sentinel.master_address()[1])
    assert len(admission_times(primary.client(DB), "ahsp:rate_limit:api_test:ip:127.0.0.1")) == 10
    health = client.get("/health/")
    assert health.status_code == 200
    assert health.json()["checks"] == {"database": "ok", "redis": "ok"}


def _failover(sentinels: SentinelSet) -> bool:
    """SENTINEL FAILOVER; a busy Sentinel (e.g. NOGOODREPLICA right after start) is asked again."""
    try:
        return bool(sentinels.sentinel_admin().sentinel_failover(SERVICE))
    except redis.ResponseError:
        time.sleep(0.2)
        return False


def test_after_a_failover_writes_reach_the_new_primary(
    via_sentinel: SentinelSet, record_property: Any
) -> None:
    """Runs last in this module: it leaves the old replica as primary."""
    old_port = via_sentinel.master_address()[1]
    cache.set("before", 1, 60)
    # Replication is asynchronous and a failover does not wait for it: make sure the
    # replica has the key, so its survival below is about the app, not about timing.
    assert via_sentinel.node_at(old_port).client(DB).execute_command("WAIT", 1, 5000) == 1
    started = time.monotonic()
    wait_for(lambda: _failover(via_sentinel), FAILOVER_BUDGET, "Sentinel accepting FAILOVER")
    wait_for(lambda: via_sentinel.master_address()[1] != old_port, FAILOVER_BUDGET, "the switch")
    switched_at = time.monotonic() - started
    new_port = via_sentinel.master_address()[1]

    written_at = None
    errors: list[str] = []
    attempt = 0
    while time.monotonic() - started < FAILOVER_BUDGET:
        attempt += 1
        try:
            cache.set(f"after-{attempt}", attempt, 60)
        except Exception as exc:  # READONLY on the demoted primary, or the breaker skipping Redis
            errors.append(type(exc).__name__)
            time.sleep(0.05)
            continue
        if via_sentinel.node_at(new_port).client(DB).exists(f"ahsp:1:after-{attempt}"):
            written_at = time.monotonic() - started
            break
    diagnosis = f"switch after {switched_at:.2f} s, {attempt} attempts, errors {errors[-5:]}"
    assert written_at is not None, f"no write reached the new primary: {diagnosis}"
    record_property("failover_switch_seconds", round(switched_at, 2))
    record_property("failover_write_seconds", round(written_at, 2))
    assert written_at - switched_at < 3, diagnosis
    assert cache.get("before") == 1  # replicated before the switch
    assert Client().get("/health/").status_code == 200
