"""Dead pooled Redis connections: one reconnect within the call, never a retried timeout.

In-process against real redis-servers, through ``tests/tcp_proxy.py`` where the
network has to misbehave (a reset without a FIN) and so that connection
attempts can be counted. Over gunicorn: ``test_redis_restart.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from detail_project.redis_pool import BreakerConnectionPool, CircuitOpenError, no_retry
from detail_project.sliding_log import hit

from tests.redis_servers import APP_USER, RedisServer
from tests.tcp_proxy import TcpProxy, tcp_proxy

SOCKET_TIMEOUT = 0.3


@pytest.fixture
def proxy(own_redis: RedisServer) -> Iterator[TcpProxy]:
    with tcp_proxy(own_redis.port) as relay:
        yield relay


def pool_for(
    server: RedisServer, port: int, breaker_seconds: float = 30.0
) -> BreakerConnectionPool:
    return BreakerConnectionPool(
        host="127.0.0.1", port=port, db=1, username=APP_USER, password=server.app_password,
        socket_connect_timeout=0.25, socket_timeout=SOCKET_TIMEOUT,
        breaker_seconds=breaker_seconds,
    )  # fmt: skip


def test_the_proxy_really_produces_a_reset_redis_py_does_not_survive_alone(
    own_redis: RedisServer, proxy: TcpProxy
) -> None:
    """The control: a plain redis-py pool without retries fails on a forgotten connection,
    so the next test passing is the app's doing.
    """
    plain = redis.Redis(
        host="127.0.0.1", port=proxy.port, db=1, username=APP_USER,
        password=own_redis.app_password, socket_timeout=SOCKET_TIMEOUT, retry=no_retry(),
    )  # fmt: skip
    assert plain.set("ahsp:k", "1")
    assert proxy.forget() == 1
    with pytest.raises(redis.ConnectionError, match="reset by peer"):
        plain.get("ahsp:k")


def test_a_reset_connection_is_replaced_once_within_the_call(
    own_redis: RedisServer, proxy: TcpProxy
) -> None:
    pool = pool_for(own_redis, proxy.port)
    client = redis.Redis(connection_pool=pool)
    assert client.set("ahsp:k", "1")
    assert proxy.accepted == 1
    proxy.forget()
    started = time.monotonic()
    assert client.get("ahsp:k") == b"1"
    assert time.monotonic() - started < SOCKET_TIMEOUT  # no timeout was waited for
    assert proxy.accepted == 2  # exactly one reconnect
    assert pool.breaker is not None and not pool.breaker.is_open
    # The limiter's function goes through the same path (FCALL on a fresh socket).
    proxy.forget()
    assert hit(client, "ahsp:rate_limit:reconnect", 5, 60).allowed
    assert proxy.accepted == 3


def test_a_failed_reconnect_is_not_tried_again_and_opens_the_breaker(
    own_redis: RedisServer, proxy: TcpProxy
) -> None:
    pool = pool_for(own_redis, proxy.port)
    client = redis.Redis(connection_pool=pool)
    assert client.set("ahsp:k", "1")
    proxy.forget()
    proxy.refuse_new = True  # every new connection is reset right after the TCP handshake
    with pytest.raises(redis.ConnectionError):
        client.get("ahsp:k")
    assert proxy.accepted == 2  # the one reconnect; its failed handshake was not retried
    assert pool.breaker is not None and pool.breaker.is_open
    with pytest.raises(CircuitOpenError):
        client.get("ahsp:k")
    assert proxy.accepted == 2


def test_a_timeout_is_never_retried(own_redis: RedisServer, proxy: TcpProxy) -> None:
    pool = pool_for(own_redis, proxy.port)
    client = redis.Redis(connection_pool=pool)
    assert client.set("ahsp:k", "1")
    own_redis.pause()
    try:
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.get("ahsp:k")
        waited = time.monotonic() - started
    finally:
        own_redis.resume()
    assert SOCKET_TIMEOUT <= waited < 1.5 * SOCKET_TIMEOUT  # one timeout, not two
    assert proxy.accepted == 1  # no reconnect
    assert pool.breaker is not None and pool.breaker.is_open


def test_the_breakers_probe_may_replace_a_dead_connection(
    own_redis: RedisServer, proxy: TcpProxy
) -> None:
    """After an outage the pooled connections are often dead. The probe that the breaker
    lets through must be allowed its reconnect, not be refused by the breaker itself.
    """
    pool = pool_for(own_redis, proxy.port, breaker_seconds=0.2)
    client = redis.Redis(connection_pool=pool)
    assert client.set("ahsp:k", "1")
    assert pool.breaker is not None
    pool.breaker.failed("an outage a moment ago")
    proxy.forget()
    with pytest.raises(CircuitOpenError):
        client.get("ahsp:k")
    time.sleep(0.25)
    assert client.get("ahsp:k") == b"1"  # the probe: dead socket, one reconnect, success
    assert not pool.breaker.is_open
    assert proxy.accepted == 2


def test_a_restart_on_the_same_port_costs_nothing(own_redis: RedisServer) -> None:
    """A clean restart closes every client socket; the pool notices at checkout."""
    pool = pool_for(own_redis, own_redis.port)
    client = redis.Redis(connection_pool=pool)
    assert client.set("ahsp:k", "1")
    own_redis.restart()
    started = time.monotonic()
    assert client.get("ahsp:k") is None  # no persistence: the key is gone, the call works
    assert client.set("ahsp:k", "2")
    assert time.monotonic() - started < SOCKET_TIMEOUT
    assert pool.breaker is not None and not pool.breaker.is_open
