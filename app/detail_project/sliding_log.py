"""The limiter's algorithm: a sliding log in Redis, decided by one Lua script in one round trip.

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
six (Redis charges every call a script makes), and half the memory. The
decision costs O(limit) inside Redis, negligible for limits in the hundreds.

Django-free (needs only redis-py), so the benchmark can run the very same
script and measure memory with ``memory_per_client``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from redis.connection import ConnectionPool
from redis.exceptions import NoScriptError

# KEYS[1] = log key; ARGV[1] = limit; ARGV[2] = window in microseconds.
# Returns one integer: +/- (count * (window_s + 1) + reset_s), positive when
# admitted, where count is the number of times in the window after this
# decision and reset_s the whole seconds (1..window_s) until the oldest of
# them leaves it. An integer is the cheapest reply to read (one line, no bulk
# payload, nothing to split), and this runs on every API request; count and
# reset_s stay far below 2^53 for any limit and window that make sense.
# struct '<d' packs a time as an 8-byte double, exact for microsecond clocks
# until the year 2255. Times are appended in clock order, so the first one
# inside the window starts the part worth keeping; should Redis' clock ever
# step back, later entries may be older, are then kept a little longer than
# needed, and can only make the limiter stricter. The key expires a whole
# window (rounded up to the millisecond) after the last admission, so it never
# outlives its last entry by less than that entry's time in the window.
LUA_SLIDING_LOG = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local log = redis.call('GET', key) or ''
local floor = now - window
local start, oldest = #log + 1, now
for i = 1, #log, 8 do
  local stamp = struct.unpack('<d', log, i)
  if stamp > floor then
    start, oldest = i, stamp
    break
  end
end
local count = (#log - start + 1) / 8
local seconds = math.ceil(window / 1000000)
local reset = math.min(seconds, math.max(1, math.ceil((oldest + window - now) / 1000000)))
if count >= limit then
  return -(count * (seconds + 1) + reset)
end
redis.call('SET', key, string.sub(log, start) .. struct.pack('<d', now),
           'PX', math.ceil(window / 1000))
return (count + 1) * (seconds + 1) + reset
"""
SCRIPT_SHA = hashlib.sha1(LUA_SLIDING_LOG.encode()).hexdigest()  # noqa: S324 - Redis' script id

# EVALSHA <sha> 1 <key> <limit> <window_us> in RESP, all but the key packed once.
_COMMAND_HEAD = b"*6\r\n$7\r\nEVALSHA\r\n$40\r\n%b\r\n$1\r\n1\r\n" % SCRIPT_SHA.encode()


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


def _evalsha(client: redis.Redis, key: str, limit: int, window_us: int) -> int:
    """EVALSHA on a pooled connection, without redis-py's per-command machinery.

    Why not ``client.evalsha``: on a busy app host, redis-py's generic command
    path (argument packing, observability hooks, response callbacks, several
    layers of calls) costs about a quarter of a round trip, paid on every API
    request. The command here is packed once but for the key, and sent the way
    ``Redis.execute_command`` sends it: a connection checked out of the
    client's pool (so the pool's own checks and ``redis_pool``'s breaker still
    apply), the connection's own ``Retry`` policy around send and read with a
    disconnect before a retry, and the connection back to the pool whatever
    happens. A single-connection client takes redis-py's ordinary path (with
    the same NOSCRIPT handling).

    Redis may have forgotten the script (restart, failover to a node that never
    saw it, SCRIPT FLUSH): NOSCRIPT loads it and the call is repeated, so a
    worker loads it at most once per Redis that lacks it, never per request.
    """
    if client.connection is not None:
        try:
            return int(client.evalsha(SCRIPT_SHA, 1, key, limit, window_us))  # type: ignore[arg-type]
        except NoScriptError:
            client.script_load(LUA_SLIDING_LOG)
            return int(client.evalsha(SCRIPT_SHA, 1, key, limit, window_us))  # type: ignore[arg-type]
    encoded = key.encode()
    command = [
        b"%b$%d\r\n%b\r\n%b" % (_COMMAND_HEAD, len(encoded), encoded, _arguments(limit, window_us))
    ]
    try:
        return _round_trip(client.connection_pool, command)
    except NoScriptError:
        client.script_load(LUA_SLIDING_LOG)
        return _round_trip(client.connection_pool, command)


def hit(client: redis.Redis, key: str, limit: int, window: int) -> Decision:
    """Decide one request against ``key``: one EVALSHA round trip."""
    reply = _evalsha(client, key, limit, window * 1_000_000)
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
