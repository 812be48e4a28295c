"""The app's limiter outside HTTP: its own sliding log, a get-then-set baseline, memory per client.

The bench runs the app's algorithm itself, not a copy: app/detail_project/
sliding_log.py (``hit``, the ``sliding_log`` Redis function it calls,
``memory_per_client``) needs only redis-py and the app's function library
(config/redis_functions.py), so both packages are loaded straight from the
app's tree, without Django.

The baseline is the runbook's approach (read the counter, compare, write
count + 1) and lives here only, as the thing the app's limiter replaces. Both
run under the same load: `callers` threads, each on its own connection to the
stack's Redis, released together by a barrier, each making one decision.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType

import redis
from common import ROOT, run_threads

APP_DIR = ROOT / "app"
SLIDING_LOG_SOURCE = APP_DIR / "detail_project" / "sliding_log.py"


def _app_package(name: str) -> None:
    """Register one of the app's packages (``config``, ``detail_project``) from its directory.

    Both have empty ``__init__.py`` files; their modules then import each
    other as they do in the app, with nothing added to ``sys.path``.
    """
    if name in sys.modules:
        return
    directory = APP_DIR / name
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the app's {name} package from {directory}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def sliding_log() -> ModuleType:
    """The app's sliding_log module, loaded from its file (once per process)."""
    for package in ("config", "detail_project"):
        _app_package(package)
    module = importlib.import_module("detail_project.sliding_log")
    for name in ("hit", "FUNCTION", "memory_per_client"):
        if not hasattr(module, name):
            raise LookupError(f"{SLIDING_LOG_SOURCE} has no {name}")
    return module


def app_library() -> ModuleType:
    """The app's Redis function library module (config/redis_functions.py)."""
    _app_package("config")
    return importlib.import_module("config.redis_functions")


def app_allow(client: redis.Redis, key: str, limit: int, window: int) -> bool:
    """One decision of the app's limiter: its own ``hit`` (one FCALL round trip)."""
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
      `requests` decisions through the app's function, pipelined in batches),
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
    client.function_load(app_library().library().code, replace=True)
    before = int(client.info("memory")["used_memory"])
    for start in range(0, population, batch):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + batch]:
            for _ in range(requests):
                pipe.fcall(module.FUNCTION, 1, key, limit, window * 1_000_000)
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
