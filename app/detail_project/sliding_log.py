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
import math
import struct
from dataclasses import dataclass

import redis

# KEYS[1] = log key; ARGV[1] = limit; ARGV[2] = window in microseconds.
# Returns "<admitted 1/0> <times in the window after this decision>
# <microseconds until the oldest of them leaves the window>" as one string:
# redis-py reads a string reply faster than an array, and this runs on every
# API request. struct '<d' packs a time as an 8-byte double, exact for
# microsecond clocks until the year 2255. Times are appended in clock order,
# so the first one inside the window starts the part worth keeping; should
# Redis' clock ever step back, later entries may be older, are then kept a
# little longer than needed, and can only make the limiter stricter.
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
if count >= limit then
  return string.format('0 %d %.0f', count, oldest + window - now)
end
redis.call('SET', key, string.sub(log, start) .. struct.pack('<d', now),
           'PX', string.format('%.0f', window / 1000))
return string.format('1 %d %.0f', count + 1, oldest + window - now)
"""
SCRIPT_SHA = hashlib.sha1(LUA_SLIDING_LOG.encode()).hexdigest()  # noqa: S324 - Redis' script id

_loaded_on: set[int] = set()


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


def _evalsha(client: redis.Redis, key: str, limit: int, window_us: int) -> bytes:
    """EVALSHA; the script is loaded once per process and pool, and again if Redis forgot it
    (restart, failover to a node that never saw it, SCRIPT FLUSH).
    """
    pool_id = id(client.connection_pool)
    if pool_id not in _loaded_on:
        client.script_load(LUA_SLIDING_LOG)
        _loaded_on.add(pool_id)
    try:
        return client.evalsha(SCRIPT_SHA, 1, key, limit, window_us)  # type: ignore[return-value]
    except redis.exceptions.NoScriptError:
        client.script_load(LUA_SLIDING_LOG)
        return client.evalsha(SCRIPT_SHA, 1, key, limit, window_us)  # type: ignore[return-value]


def hit(client: redis.Redis, key: str, limit: int, window: int) -> Decision:
    """Decide one request against ``key``: one EVALSHA round trip."""
    admitted, count, reset_us = _evalsha(client, key, limit, window * 1_000_000).split()
    return Decision(
        allowed=admitted == b"1",
        limit=limit,
        remaining=max(0, limit - int(count)),
        reset_after=min(window, max(1, math.ceil(int(reset_us) / 1_000_000))),
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
