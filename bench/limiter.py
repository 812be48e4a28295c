"""The app's limiter outside HTTP: its own sliding log, a get-then-set baseline, memory per client.

The bench runs the app's algorithm itself, not a copy: app/detail_project/
sliding_log.py (``hit``, the ``LUA_SLIDING_LOG`` script, ``memory_per_client``)
needs only redis-py, so it is loaded straight from its file, without Django.

The baseline is the runbook's approach (read the counter, compare, write
count + 1) and lives here only, as the thing the app's limiter replaces. Both
run under the same load: `callers` threads, each on its own connection to the
stack's Redis, released together by a barrier, each making one decision.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType

import redis
from common import ROOT, run_threads

SLIDING_LOG_SOURCE = ROOT / "app" / "detail_project" / "sliding_log.py"
_MODULE_NAME = "ahsp_app_sliding_log"


def sliding_log() -> ModuleType:
    """The app's sliding_log module, loaded from its file (once per process)."""
    if _MODULE_NAME in sys.modules:
        return sys.modules[_MODULE_NAME]
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, SLIDING_LOG_SOURCE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SLIDING_LOG_SOURCE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
    for name in ("hit", "LUA_SLIDING_LOG", "SCRIPT_SHA", "memory_per_client"):
        if not hasattr(module, name):
            raise LookupError(f"{SLIDING_LOG_SOURCE} has no {name}")
    return module


def app_lua_script() -> str:
    """The script the app runs for every decision (EVALSHA)."""
    return sliding_log().LUA_SLIDING_LOG


def app_allow(client: redis.Redis, key: str, limit: int, window: int) -> bool:
    """One decision of the app's limiter: its own ``hit`` (one EVALSHA round trip)."""
    return bool(sliding_log().hit(client, key, limit, window).allowed)


def seed_style_allow(client: redis.Redis, key: str, limit: int, window: int) -> bool:
    """The baseline: GET, compare, SET. Two round trips with a race between them."""
    count = int(client.get(key) or 0)
    if count >= limit:
        return False
    client.set(key, count + 1, ex=window)
    return True


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
    setup.delete(key)
    setup.close()
    return {
        "callers": callers,
        "limit": limit,
        "allowed": outcome.count("allowed"),
        "denied": outcome.count("denied"),
        "errors": outcome.count("error"),
    }


# Keys shaped like the app's (`<prefix>:rate_limit:<endpoint>:<client>`,
# detail_project/ratelimit.py build_key), under a name no app request uses.
MEMORY_KEYS = {
    "IPv4 client": "ahsp:rate_limit:bench_memory:ip:198.51.100.23",
    "IPv6 client": "ahsp:rate_limit:bench_memory:ip:2001:db8:85a3:8d3:1319:8a2e:370:7348",
    "user client": "ahsp:rate_limit:bench_memory:user:123456",
}
POPULATION_PREFIX = "ahsp:rate_limit:bench_population:ip:"


def memory_figures(
    client: redis.Redis,
    *,
    limit: int = 10,
    window: int = 60,
    requests: int = 10,
    population: int = 10_000,
    batch: int = 1000,
) -> dict:
    """Redis memory per tracked client, two ways.

    - ``MEMORY USAGE`` of one limiter key after `requests` admitted decisions
      (the app's own ``memory_per_client``), for the key shapes the app makes;
    - ``used_memory`` grown by `population` such clients (each given
      `requests` decisions through the app's script, pipelined in batches),
      which adds Redis' key and expiry bookkeeping; the keys are deleted after.

    `client` must be an operator connection (MEMORY USAGE, INFO, CONFIG GET).
    """
    module = sliding_log()
    usage = {
        shape: module.memory_per_client(client, key, limit=limit, window=window, requests=requests)
        for shape, key in MEMORY_KEYS.items()
    }
    keys = [
        f"{POPULATION_PREFIX}10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        for i in range(population)
    ]
    for start in range(0, population, batch):
        client.delete(*keys[start : start + batch])
    client.script_load(module.LUA_SLIDING_LOG)
    before = int(client.info("memory")["used_memory"])
    for start in range(0, population, batch):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + batch]:
            for _ in range(requests):
                pipe.evalsha(module.SCRIPT_SHA, 1, key, limit, window * 1_000_000)
        pipe.execute()
    after = int(client.info("memory")["used_memory"])
    for start in range(0, population, batch):
        client.delete(*keys[start : start + batch])
    maxmemory = int(client.config_get("maxmemory").get("maxmemory", 0))
    policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "")
    per_client = (after - before) / population
    return {
        "requests_per_client": requests,
        "limit": limit,
        "window_s": window,
        "memory_usage_bytes": usage,
        "population": population,
        "used_memory_per_client_bytes": round(per_client, 1),
        "maxmemory_bytes": maxmemory,
        "maxmemory_policy": policy,
        "clients_in_maxmemory": int(maxmemory / per_client) if maxmemory and per_client > 0 else 0,
    }
