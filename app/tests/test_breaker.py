"""The circuit breaker and the bounded database probe: state machines and real waits."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from detail_project.breaker import CircuitBreaker, CircuitOpen
from detail_project.dbprobe import Prober, ProbeTimeout
from detail_project.redis_pool import BreakerConnectionPool, CircuitOpenError

from tests.redis_servers import APP_USER, RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_on_failure_probes_once_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("backend", open_seconds=5, probe_seconds=1, clock=clock)
    breaker.before_call()  # closed
    breaker.failed("boom")
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 4.9
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 0.2
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # everyone else waits for the probe
    breaker.succeeded()
    breaker.before_call()
    breaker.before_call()
    assert not breaker.is_open


def test_a_failed_probe_reopens_and_a_silent_probe_expires() -> None:
    clock = Clock()
    breaker = CircuitBreaker("backend", open_seconds=5, probe_seconds=1, clock=clock)
    breaker.failed("boom")
    clock.now += 5
    breaker.before_call()  # probe
    breaker.failed("still down")
    clock.now += 4
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 1
    breaker.before_call()  # next probe; it never reports back
    clock.now += 1
    breaker.before_call()  # so after probe_seconds another caller may probe


def test_pool_waits_once_then_skips_then_recovers(own_redis: RedisServer) -> None:
    pool = BreakerConnectionPool(
        host="127.0.0.1", port=own_redis.port, db=1, username=APP_USER,
        password=own_redis.app_password, socket_connect_timeout=0.25, socket_timeout=0.3,
        breaker_seconds=0.5,
    )  # fmt: skip
    client = redis.Redis(connection_pool=pool)
    assert client.set("ahsp:probe", 1)
    own_redis.pause()
    try:
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.get("ahsp:probe")
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(CircuitOpenError):
                client.get("ahsp:probe")
        skipped = time.monotonic() - started
    finally:
        own_redis.resume()
    assert 0.25 <= first < 0.6  # one socket timeout, no retry
    assert skipped < 0.05
    time.sleep(0.55)
    assert client.get("ahsp:probe") == b"1"  # the probe succeeds and closes the breaker
    assert not pool.breaker.is_open


def test_error_replies_do_not_open_the_breaker(redis_server: RedisServer) -> None:
    pool = BreakerConnectionPool(
        host="127.0.0.1", port=redis_server.port, db=1, username=APP_USER,
        password=redis_server.app_password, socket_timeout=0.5, breaker_seconds=5,
    )  # fmt: skip
    client = redis.Redis(connection_pool=pool)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.get("not-our-prefix")
    assert not pool.breaker.is_open
    redis_server.client().acl_log_reset()  # the denial was the point


def test_prober_bounds_the_wait_and_does_not_queue_behind_a_stuck_probe() -> None:
    release = threading.Event()
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if not release.wait(5):
            raise RuntimeError("never released")

    prober = Prober(check, "test-probe")
    started = time.monotonic()
    with pytest.raises(ProbeTimeout):
        prober.run(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 0.5
    started = time.monotonic()
    with pytest.raises(ProbeTimeout, match="previous probe"):
        prober.run(timeout=0.2)
    assert time.monotonic() - started < 0.05  # at once, not another timeout
    release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            prober.run(timeout=1)
            break
        except ProbeTimeout:
            time.sleep(0.01)
    assert len(calls) == 2  # the stuck probe finished; one new probe ran


def test_prober_reports_the_checks_error() -> None:
    def check() -> None:
        raise ValueError("database says no")

    with pytest.raises(ValueError, match="database says no"):
        Prober(check, "test-probe").run(timeout=1)
