"""The limiter's algorithm: a sliding log in Redis, decided by one Redis function in one round trip.

A fixed window lets a client spend its whole allowance at the end of one
window and again at the start of the next (twice the limit within a moment).
Here every admitted request is remembered, so no span of the window's length
ever admits more than the limit:

- one string per client and endpoint holds the admission times of its recent
  requests, microseconds of Redis' own clock (``TIME``, so every worker on
  every host agrees on "now"), packed 8 bytes each;
- each decision drops the times older than the window, admits only while
  fewer than ``limit`` remain, and then appends the admission; refused
  requests are not recorded, so hammering does not extend a client's wait;
- the string expires one window after the last admission, so an idle client
  costs nothing, and it never holds more than ``limit`` times.

A string rather than a sorted set: three commands per decision instead of
six (Redis charges every call a function makes), and half the memory. The
decision costs O(limit) inside Redis, negligible for limits in the hundreds.

The decision is the ``sliding_log`` function of the app's function library
(``config/redis/sliding_log.lua``, loaded by the deploy; see
``config/redis_functions.py``): the app's Redis user may ``FCALL`` it but may
not send code of its own.

Django-free (needs only redis-py), so the benchmark can run the very same
function and measure memory with ``memory_per_client``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from config.redis_functions import library
from redis.connection import ConnectionPool
from redis.exceptions import ResponseError

from .redis_functions import function_missing, load_library

# The Lua source (config/redis/sliding_log.lua) says what it returns: one
# integer, +/- (count * (window_s + 1) + reset_s), positive when admitted,
# where count is the number of times in the window after this decision and
# reset_s the whole seconds (1..window_s) until the oldest of them leaves it.
# An integer is the cheapest reply to read, and this runs on every API request.
FUNCTION = library().function("sliding_log")

# FCALL <function> 1 <key> <limit> <window_us> in RESP, all but the key packed once.
_COMMAND_HEAD = b"*6\r\n$5\r\nFCALL\r\n$%d\r\n%b\r\n$1\r\n1\r\n" % (
    len(FUNCTION),
    FUNCTION.encode(),
)


@dataclass(slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the oldest counted request leaves the window, >= 1

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


@lru_cache(maxsize=32)
def _arguments(limit: int, window_us: int) -> bytes:
    """The packed ARGV: the same for every request of a process (settings), so packed once."""
    return _bulk(b"%d" % limit) + _bulk(b"%d" % window_us)


def _round_trip(pool: ConnectionPool, command: list[bytes]) -> Any:
    """Send and read on one pooled connection, as ``Redis.execute_command`` does."""
    connection = pool.get_connection()
    try:

        def send_and_read() -> Any:
            connection.send_packed_command(command)
            return connection.read_response()

        return connection.retry.call_with_retry(
            send_and_read, lambda _error: connection.disconnect()
        )
    finally:
        pool.release(connection)


def _fcall(client: redis.Redis, key: str, limit: int, window_us: int) -> int:
    """FCALL on a pooled connection, without redis-py's per-command machinery.

    Why not ``client.fcall``: on a busy app host, redis-py's generic command
    path (argument packing, observability hooks, response callbacks, several
    layers of calls) costs about a quarter of a round trip, paid on every API
    request. The command here is packed once but for the key, and sent the way
    ``Redis.execute_command`` sends it: a connection checked out of the
    client's pool (so the pool's own checks and ``redis_pool``'s breaker still
    apply), the connection's own ``Retry`` policy around send and read with a
    disconnect before a retry, and the connection back to the pool whatever
    happens. A single-connection client takes redis-py's ordinary path.

    A Redis without the library (a fresh development server) gets it loaded
    once and the call repeated; where the app may not load it (production's
    ACL), the NOPERM error propagates.
    """
    if client.connection is not None:
        try:
            return int(client.fcall(FUNCTION, 1, key, limit, window_us))  # type: ignore[arg-type]
        except ResponseError as error:
            if not function_missing(error):
                raise
            load_library(client)
            return int(client.fcall(FUNCTION, 1, key, limit, window_us))  # type: ignore[arg-type]
    encoded = key.encode()
    command = [
        b"%b$%d\r\n%b\r\n%b" % (_COMMAND_HEAD, len(encoded), encoded, _arguments(limit, window_us))
    ]
    try:
        return _round_trip(client.connection_pool, command)
    except ResponseError as error:
        if not function_missing(error):
            raise
        load_library(client)
        return _round_trip(client.connection_pool, command)


def hit(client: redis.Redis, key: str, limit: int, window: int) -> Decision:
    """Decide one request against ``key``: one FCALL round trip."""
    reply = _fcall(client, key, limit, window * 1_000_000)
    count, reset_after = divmod(abs(reply), window + 1)
    return Decision(
        allowed=reply > 0,
        limit=limit,
        remaining=max(0, limit - count),
        reset_after=reset_after,
    )


def admission_times(client: redis.Redis, key: str) -> list[int]:
    """The log's admission times (microseconds since the epoch, Redis' clock), oldest first;
    for inspecting a client's state and for tests.
    """
    value = client.get(key) or b""
    return [int(stamp) for (stamp,) in struct.iter_unpack("<d", value)]


def memory_per_client(
    client: redis.Redis, key: str, *, limit: int = 10, window: int = 60, requests: int = 10
) -> int:
    """Bytes Redis uses for one tracked client after ``requests`` decisions (``MEMORY USAGE``).

    For capacity planning: one key exists per active client and endpoint. The
    key is deleted afterwards. ``client`` needs MEMORY USAGE, which the app's
    ACL user does not have; use an operator connection.
    """
    client.delete(key)
    for _ in range(requests):
        hit(client, key, limit, window)
    usage = client.memory_usage(key, samples=0)
    client.delete(key)
    return int(usage or 0)
