"""The app's own limiter against a real redis-server: exactness, memory, one FCALL per decision."""

from __future__ import annotations

import limiter
import pytest
import redis
import redisrtt


def test_the_bench_runs_the_apps_own_limiter() -> None:
    module = limiter.sliding_log()
    assert module.__file__ == str(limiter.SLIDING_LOG_SOURCE)
    library = limiter.app_library().library()
    assert library.function("sliding_log") == module.FUNCTION
    assert "redis.call('TIME')" in library.code


def test_app_limiter_is_exact_and_the_baseline_is_not_stricter(redis_url: dict) -> None:
    def make_client() -> redis.Redis:
        return redis.Redis(**redis_url)

    atomic = limiter.run_concurrently(
        make_client, limiter.app_allow, key="t:atomic", limit=20, callers=60
    )
    seed = limiter.run_concurrently(
        make_client, limiter.seed_style_allow, key="t:seed", limit=20, callers=60
    )
    assert (atomic.allowed, atomic.denied, atomic.errors, atomic.overshoot) == (20, 40, 0, 0)
    assert seed.errors == 0
    assert seed.allowed >= 20  # racing GET/SET can only let more through


def test_memory_per_tracked_client(redis_url: dict) -> None:
    client = redis.Redis(**redis_url)
    client.config_set("maxmemory", 64 * 2**20)
    try:
        m = limiter.memory_figures(client, population=500, batch=200)
    finally:
        client.config_set("maxmemory", 0)
    sizes = m.memory_usage_bytes
    assert set(sizes) == set(limiter.MEMORY_KEYS)
    # 10 admissions of 8 bytes each, plus the key and Redis' own overhead.
    assert all(80 < size < 1000 for size in sizes.values()), sizes
    assert sizes["IPv6 client"] > sizes["IPv4 client"]
    assert 80 < m.used_memory_per_client_bytes < 2000
    expected = 64 * 2**20 / m.used_memory_per_client_bytes
    assert m.clients_in_maxmemory == pytest.approx(expected, rel=0.01)
    assert (m.population, m.requests_per_client, m.window_seconds) == (500, 10, 60)
    assert not list(client.scan_iter(match="ahsp:rate_limit:bench_memory:*"))
    assert not list(client.scan_iter(match=limiter.POPULATION_PREFIX + "*"))


def test_limiter_round_trip_is_one_fcall_per_decision(redis_url: dict) -> None:
    client = redis.Redis(**redis_url)
    figures = redisrtt.limiter_round_trip(client, limiter.sliding_log().hit, count=2000, clients=64)
    assert figures.fcall_per_decision == 1.0 and figures.client_keys == 64
    assert figures.decision.calls == figures.get.calls == 2000
    assert figures.decision.p50_us <= figures.decision.p99_us
    assert not list(client.scan_iter(match="bench:rtt:limiter:*"))
