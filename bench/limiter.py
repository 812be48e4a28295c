"""Limiter exactness outside HTTP: the app's Lua script against a seed-style baseline.

The baseline is the runbook's approach (read the counter, compare, write
count + 1) and lives here only, as the thing the app's limiter replaces. Both
run under the same load: `callers` threads, each on its own connection to the
stack's Redis, released together by a barrier, each making one decision.
The app's script is read from app/detail_project/ratelimit.py, so the bench
measures exactly what the app runs.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable

import redis
from common import ROOT, run_threads

RATELIMIT_SOURCE = ROOT / "app" / "detail_project" / "ratelimit.py"


def app_lua_script() -> str:
    """The LUA_HIT constant of the app's limiter, without importing Django."""
    tree = ast.parse(RATELIMIT_SOURCE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "LUA_HIT" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise LookupError(f"LUA_HIT not found in {RATELIMIT_SOURCE}")


def seed_style_allow(client: redis.Redis, key: str, limit: int, window: int) -> bool:
    """The baseline: GET, compare, SET. Two round trips with a race between them."""
    count = int(client.get(key) or 0)
    if count >= limit:
        return False
    client.set(key, count + 1, ex=window)
    return True


def atomic_allow_factory(script: str) -> Callable[[redis.Redis, str, int, int], bool]:
    def allow(client: redis.Redis, key: str, limit: int, window: int) -> bool:
        count, _ttl = client.register_script(script)(keys=[key], args=[window * 1000])
        return int(count) <= limit

    return allow


def run_concurrently(
    make_client: Callable[[], redis.Redis],
    allow: Callable[[redis.Redis, str, int, int], bool],
    *,
    key: str,
    limit: int,
    callers: int,
    window: int = 60,
    timeout: float = 30,
) -> dict:
    """`callers` simultaneous decisions on one fresh key; returns allowed/denied/errors."""
    setup = make_client()
    setup.delete(key)
    barrier = threading.Barrier(callers, timeout=timeout)
    outcome: list[str] = ["error"] * callers

    def one(index: int) -> None:
        client = make_client()
        try:
            client.ping()  # connected and authenticated before the start signal
            barrier.wait()
            outcome[index] = "allowed" if allow(client, key, limit, window) else "denied"
        except (redis.RedisError, OSError, threading.BrokenBarrierError):
            outcome[index] = "error"
        finally:
            client.close()

    run_threads(one, callers, deadline=2 * timeout)
    final_counter = setup.get(key)
    setup.delete(key)
    setup.close()
    return {
        "callers": callers,
        "limit": limit,
        "allowed": outcome.count("allowed"),
        "denied": outcome.count("denied"),
        "errors": outcome.count("error"),
        "final_counter": int(final_counter or 0),
    }
