"""How every Redis call of the app behaves: bounded waits, one reconnect, a circuit breaker.

django-redis builds one connection pool per process from ``CACHES["default"]``;
the cache, the sessions, the rate limiter, login throttling and ``/health/``
all borrow connections from it (the latter two through
``django_redis.get_redis_connection``). These classes are named in that setting
(``CONNECTION_POOL_CLASS``, ``CONNECTION_FACTORY``), so the policy below holds
for all of them:

- connect and reply waits are the configured socket timeouts, and a timed-out
  command is never retried — a retry would double the wait a request pays;
- a pooled connection that the server closed or reset (a Redis restart, a
  Sentinel failover, a flow a firewall forgot) is replaced once within the
  same command: the failure is raised as ``PeerClosedError`` and redis-py's
  own retry loop, configured for that one error type and one retry, sends the
  command again on a fresh connection. Connecting itself is never retried;
- connections send no ``CLIENT SETINFO`` (an extra round trip per connection,
  and a command the ACL user would otherwise need);
- a connection failure or timeout opens the pool's breaker (``breaker.py``):
  for ``breaker_seconds`` every checkout fails at once with
  ``CircuitOpenError``, a ``redis.ConnectionError``, so callers handle it like
  any outage.

What redis-py 8 already does, and why it is not enough on its own: at checkout
the pool polls each idle connection (``can_read``) and reconnects one the
server has closed — that covers a clean restart on the same host, where the
kernel sent a FIN to every client. A peer that vanished without a FIN (host
rebooted, failover to another machine, state dropped by a firewall) is only
noticed when the next command is answered by a reset. redis-py retries such
a command through the connection's ``Retry`` object, but that object also
governs connecting (where a retry would repeat a refused connect or a failed
AUTH) and matches errors by type only, and a reset, a refused connect, a
failed AUTH, a Sentinel that found no master and ``CircuitOpenError`` are all
``ConnectionError``. ``PeerClosedError`` is the one type that means "this
established connection died"; ``health_check_interval`` would add a PING
round trip to every reuse and still need the same retry.

Error replies (NOPERM, READONLY, OOM) prove Redis answers and do not open the
breaker; neither does a connection the peer closed, because the reconnect
that follows either works or fails in connect(), which counts.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

from django_redis.pool import SentinelConnectionFactory as _DjangoRedisSentinelFactory
from redis.backoff import NoBackoff
from redis.connection import Connection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool, SentinelManagedConnection

from .breaker import CircuitBreaker, CircuitOpen
from .metrics import breaker_observer

DEFAULT_BREAKER_SECONDS = 5.0
MASTER_CHECK_SECONDS = 1.0


class CircuitOpenError(RedisConnectionError):
    """Redis was skipped because it failed moments ago (see breaker.py)."""


class PeerClosedError(RedisConnectionError):
    """An established connection was closed or reset by the other side while in use.

    Unlike a timeout (the server may be hung: waiting again doubles the cost)
    or a failed connect (the server is not there), this says only that this
    one socket is dead, so a fresh connection is worth exactly one try.
    """


def no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def reconnect_once() -> Retry:
    """redis-py's retry loop, allowed one more try and only after ``PeerClosedError``."""
    return Retry(NoBackoff(), 1, supported_errors=(PeerClosedError,))


def bounded_connection_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The connection policy of Sentinel connections: no retry of any kind."""
    return {**kwargs, "retry": no_retry(), "driver_info": None}


def data_connection_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The policy of connections to the Redis server itself: one reconnect per command."""
    return {**kwargs, "retry": reconnect_once(), "driver_info": None}


def check_breaker(breaker: CircuitBreaker | None) -> None:
    """Raise CircuitOpenError while the breaker is open. Called once per checkout, so the
    connects and the one reconnect inside a call (or the breaker's probe) are not
    refused halfway by the breaker they are reporting to.
    """
    if breaker is None:
        return
    try:
        breaker.before_call()
    except CircuitOpen as exc:
        raise CircuitOpenError(str(exc)) from None


class _BreakerMixin:
    """Feeds the pool's breaker from redis-py's connection methods and labels dead sockets.

    ``connect()`` is the only way these connections open a socket: the pool
    calls it on checkout (and again when the idle check finds the socket
    closed), and ``send_packed_command`` calls it before sending on a socket
    that the retry loop has just dropped — instead of redis-py's default there,
    which would skip the Sentinel master lookup and the breaker. While
    ``connect()`` runs, errors keep their own type, so the handshake (AUTH,
    SELECT) is never retried.
    """

    breaker: CircuitBreaker | None
    connecting: bool = False

    def __init__(self, *args: Any, breaker: CircuitBreaker | None = None, **kwargs: Any) -> None:
        self.breaker = breaker
        super().__init__(*args, **kwargs)

    def _failed(self, exc: BaseException) -> None:
        if self.breaker is not None:
            self.breaker.failed(exc)

    def _raise_peer_closed(self, exc: RedisConnectionError) -> NoReturn:
        """Re-raise a connection error of an established socket as PeerClosedError; during
        connect() it stays what it is (never retried).
        """
        if self.connecting or isinstance(exc, PeerClosedError):
            raise exc
        raise PeerClosedError(str(exc)) from exc

    def connect(self) -> None:
        self.connecting = True
        try:
            return super().connect()  # type: ignore[misc]
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self._failed(exc)
            raise
        finally:
            self.connecting = False

    def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        if not self.connecting and not self.is_connected:  # type: ignore[attr-defined]
            self.connect()
        try:
            return super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError as exc:
            self._failed(exc)
            raise
        except RedisConnectionError as exc:
            self._raise_peer_closed(exc)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError as exc:
            self._failed(exc)
            raise
        except ResponseError:
            if self.breaker is not None:
                self.breaker.succeeded()
            raise
        except RedisConnectionError as exc:
            # Includes redis-py's "The previous master is now a slave" (a READONLY
            # reply from a demoted Sentinel master): the reconnect asks Sentinel again.
            self._raise_peer_closed(exc)
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
    return CircuitBreaker(
        name,
        open_seconds=seconds,
        probe_seconds=max(probe, 0.1),
        on_change=breaker_observer(name),
    )


class BreakerConnectionPool(ConnectionPool):
    """A redis-py pool whose connections follow the module's policy."""

    def __init__(self, *args: Any, breaker_seconds: float = DEFAULT_BREAKER_SECONDS, **kwargs: Any):
        kwargs.setdefault("connection_class", BreakerConnection)
        super().__init__(*args, **data_connection_kwargs(kwargs))
        self.breaker = _breaker_for(self.connection_kwargs, breaker_seconds, "Redis")
        self.connection_kwargs["breaker"] = self.breaker

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        check_breaker(self.breaker)
        return super().get_connection(*args, **kwargs)


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
        super().__init__(service_name, sentinel_manager, **data_connection_kwargs(kwargs))
        self.breaker = _breaker_for(
            self.connection_kwargs, breaker_seconds, f"Redis (Sentinel service {service_name})"
        )
        self.connection_kwargs["breaker"] = self.breaker
        self._master_backoff = max(MASTER_CHECK_SECONDS, breaker_seconds)
        self._next_master_check = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        check_breaker(self.breaker)
        now = time.monotonic()
        # Still open here means this caller is the breaker's probe: its connect()
        # asks Sentinel anyway, so it does not ask twice.
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
