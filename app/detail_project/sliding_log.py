"""The limiter's algorithm: a sliding log in Redis, decided by one Lua script in one round trip.

A fixed window lets a client spend its whole allowance at the end of one
window and again at the start of the next (twice the limit within a moment). Here
every admitted request is remembered, so no span of the window's length ever
admits more than the limit:

- one sorted set per client and endpoint; member and score are the admission
  time in microseconds of Redis' own clock (``TIME``), so every worker on every
  host agrees on "now";
- each decision drops entries older than the window, admits only while fewer
  than ``limit`` remain, and then records the admission; refused requests are
  not recorded, so hammering does not extend a client's wait;
- the key expires one window after the last admission, so an idle client
  costs nothing.

Django-free (needs only redis-py), so the benchmark can run the very same
script and measure memory with ``memory_per_client``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import redis

# KEYS[1] = log key; ARGV[1] = limit; ARGV[2] = window in microseconds.
# Returns {admitted (1/0), entries in the window after this decision,
#          microseconds until the oldest entry leaves the window}.
# Numbers are formatted with %.0f because Lua would print 16-digit
# microsecond timestamps in exponent notation and lose precision.
# ZADD NX bumps the timestamp by 1 µs on the rare same-microsecond collision,
# so two admissions are never merged into one entry (at most `limit` tries).
LUA_SLIDING_LOG = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now - window))
local count = redis.call('ZCARD', key)
if count < limit then
  local stamp = now
  while redis.call('ZADD', key, 'NX', string.format('%.0f', stamp),
                   string.format('%.0f', stamp)) == 0 do
    stamp = stamp + 1
  end
  redis.call('PEXPIRE', key, string.format('%.0f', window / 1000))
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {1, count + 1, tonumber(oldest[2]) + window - now}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, count, tonumber(oldest[2]) + window - now}
"""
SCRIPT_SHA = hashlib.sha1(LUA_SLIDING_LOG.encode()).hexdigest()  # noqa: S324 - Redis' script id

_loaded_on: set[int] = set()


@dataclass(frozen=True)
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


def _evalsha(client: redis.Redis, key: str, limit: int, window_us: int) -> list[int]:
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
    admitted, count, reset_us = _evalsha(client, key, limit, window * 1_000_000)
    return Decision(
        allowed=bool(admitted),
        limit=limit,
        remaining=max(0, limit - int(count)),
        reset_after=max(1, math.ceil(int(reset_us) / 1_000_000)),
    )


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
