"""How every Redis call of the app behaves: bounded waits, no retries, a circuit breaker.

django-redis builds one connection pool per process from ``CACHES["default"]``;
the cache, the sessions, the rate limiter, login throttling and ``/health/``
all borrow connections from it (the latter two through
``django_redis.get_redis_connection``). These classes are named in that setting
(``CONNECTION_POOL_CLASS``, ``CONNECTION_FACTORY``), so the policy below holds
for all of them:

- connect and reply waits are the configured socket timeouts, and a timed-out
  command is never retried — a retry would double the wait a request pays;
- connections send no ``CLIENT SETINFO`` (an extra round trip per connection,
  and a command the ACL user would otherwise need);
- a connection failure or timeout opens the pool's breaker (``breaker.py``):
  for ``breaker_seconds`` every call fails at once with ``CircuitOpenError``, a
  ``redis.ConnectionError``, so callers handle it like any outage.

Error replies (NOPERM, READONLY, OOM) prove Redis answers and do not open the
breaker; neither does a connection the server closed, because the reconnect
that follows either works or fails in connect(), which counts.
"""

from __future__ import annotations

import time
from typing import Any

from django_redis.pool import SentinelConnectionFactory as _DjangoRedisSentinelFactory
from redis.backoff import NoBackoff
from redis.connection import Connection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool, SentinelManagedConnection

from .breaker import CircuitBreaker, CircuitOpen

DEFAULT_BREAKER_SECONDS = 5.0
MASTER_CHECK_SECONDS = 1.0


class CircuitOpenError(RedisConnectionError):
    """Redis was skipped because it failed moments ago (see breaker.py)."""


def no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def bounded_connection_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The connection policy shared by data and Sentinel connections."""
    return {**kwargs, "retry": no_retry(), "driver_info": None}


class _BreakerMixin:
    """Consults and feeds the pool's breaker around redis-py's connection methods.

    ``connect()`` runs for every command (the pool calls it on each checkout and
    it returns at once when already connected), so checking the breaker there
    covers every call without touching the command path otherwise.
    """

    breaker: CircuitBreaker | None

    def __init__(self, *args: Any, breaker: CircuitBreaker | None = None, **kwargs: Any) -> None:
        self.breaker = breaker
        super().__init__(*args, **kwargs)

    def connect(self) -> None:
        if self.breaker is None:
            return super().connect()  # type: ignore[misc]
        try:
            self.breaker.before_call()
        except CircuitOpen as exc:
            raise CircuitOpenError(str(exc)) from None
        try:
            return super().connect()  # type: ignore[misc]
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self.breaker.failed(exc)
            raise

    def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        try:
            return super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError as exc:
            if self.breaker is not None:
                self.breaker.failed(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError as exc:
            if self.breaker is not None:
                self.breaker.failed(exc)
            raise
        except ResponseError:
            if self.breaker is not None:
                self.breaker.succeeded()
            raise
        if self.breaker is not None:
            self.breaker.succeeded()
        return response


class BreakerConnection(_BreakerMixin, Connection):
    pass


class BreakerSentinelConnection(_BreakerMixin, SentinelManagedConnection):
    pass


def _breaker_for(kwargs: dict[str, Any], seconds: float, name: str) -> CircuitBreaker | None:
    """One breaker per pool (none for 0 seconds); a probe may take a connect plus a reply
    before another caller is let in.
    """
    if seconds <= 0:
        return None
    probe = float(kwargs.get("socket_connect_timeout") or 0) + float(
        kwargs.get("socket_timeout") or 0
    )
    return CircuitBreaker(name, open_seconds=seconds, probe_seconds=max(probe, 0.1))


class BreakerConnectionPool(ConnectionPool):
    """A redis-py pool whose connections follow the module's policy."""

    def __init__(self, *args: Any, breaker_seconds: float = DEFAULT_BREAKER_SECONDS, **kwargs: Any):
        kwargs.setdefault("connection_class", BreakerConnection)
        super().__init__(*args, **bounded_connection_kwargs(kwargs))
        self.breaker = _breaker_for(self.connection_kwargs, breaker_seconds, "Redis")
        self.connection_kwargs["breaker"] = self.breaker


class BreakerSentinelConnectionPool(SentinelConnectionPool):
    """The same for a Sentinel-managed master: the master lookup is part of connect().

    redis-py asks Sentinel for the master only when it opens a connection, so
    a pooled connection would keep writing to a demoted master until Sentinel
    gets round to reconfiguring it (about ten seconds), and those writes would
    be lost. The pool therefore re-asks Sentinel at most once per
    ``MASTER_CHECK_SECONDS`` when a connection is checked out; when the
    answer changed, redis-py drops the idle connections to the old master.
    """

    def __init__(
        self,
        service_name: str,
        sentinel_manager: Any,
        *,
        breaker_seconds: float = DEFAULT_BREAKER_SECONDS,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("connection_class", BreakerSentinelConnection)
        super().__init__(service_name, sentinel_manager, **bounded_connection_kwargs(kwargs))
        self.breaker = _breaker_for(
            self.connection_kwargs, breaker_seconds, f"Redis (Sentinel service {service_name})"
        )
        self.connection_kwargs["breaker"] = self.breaker
        self._master_backoff = max(MASTER_CHECK_SECONDS, breaker_seconds)
        self._next_master_check = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now >= self._next_master_check and not (self.breaker and self.breaker.is_open):
            self._next_master_check = now + MASTER_CHECK_SECONDS
            try:
                self.get_master_address()
            except (RedisConnectionError, RedisTimeoutError):
                # Sentinels unreachable: keep the current master and ask less often, so
                # a hung Sentinel does not add its timeout to a request every second.
                # If the master is gone as well, connect() fails and opens the breaker.
                self._next_master_check = now + self._master_backoff
        return super().get_connection(*args, **kwargs)


class SentinelConnectionFactory(_DjangoRedisSentinelFactory):
    """django-redis's Sentinel factory with the Sentinels themselves bounded too.

    ``OPTIONS["SENTINEL_KWARGS"]`` carries only the Sentinel credentials; the
    timeouts are the data connections' and, like them, are never retried.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        sentinel_kwargs = {
            key: value
            for key, value in (options.get("SENTINEL_KWARGS") or {}).items()
            if value not in (None, "")
        }
        sentinel_kwargs["socket_connect_timeout"] = options.get("SOCKET_CONNECT_TIMEOUT")
        sentinel_kwargs["socket_timeout"] = options.get("SOCKET_TIMEOUT")
        super().__init__({**options, "SENTINEL_KWARGS": bounded_connection_kwargs(sentinel_kwargs)})
