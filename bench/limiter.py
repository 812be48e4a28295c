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
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import redis
from common import run_threads
from project_modules import APP_DIR, import_from

SLIDING_LOG_SOURCE = APP_DIR / "detail_project" / "sliding_log.py"


def sliding_log() -> ModuleType:
    """The app's sliding_log module, loaded from its file (once per process)."""
    for package in ("config", "detail_project"):
        import_from(APP_DIR, package)
    module = importlib.import_module("detail_project.sliding_log")
    for name in ("hit", "FUNCTION", "memory_per_client"):
        if not hasattr(module, name):
            raise LookupError(f"{SLIDING_LOG_SOURCE} has no {name}")
    return module


def app_library() -> ModuleType:
    """The app's Redis function library module (config/redis_functions.py)."""
    import_from(APP_DIR, "config")
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


@dataclass(frozen=True)
class ConcurrentDecisions:
    """`callers` simultaneous decisions on one fresh key, against a limit."""

    callers: int
    limit: int
    allowed: int
    denied: int
    errors: int  # callers that got no decision (connection, timeout, barrier)

    @property
    def overshoot(self) -> int:
        """How many more were allowed than the limit (negative: fewer)."""
        return self.allowed - self.limit


def run_concurrently(
    make_client: Callable[[], redis.Redis],
    allow: Callable[[redis.Redis, str, int, int], bool],
    *,
    key: str,
    limit: int,
    callers: int,
    window: int = 60,
    timeout: float = 30,
) -> ConcurrentDecisions:
    """`callers` simultaneous decisions on one fresh key, released together by a barrier."""
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
    return ConcurrentDecisions(
        callers=callers,
        limit=limit,
        allowed=outcome.count("allowed"),
        denied=outcome.count("denied"),
        errors=outcome.count("error"),
    )


# Keys shaped like the app's (`<prefix>:rate_limit:<endpoint>:<client>`,
# detail_project/ratelimit.py build_key), under a name no app request uses.
MEMORY_KEYS = {
    "IPv4 client": "ahsp:rate_limit:bench_memory:ip:198.51.100.23",
    "IPv6 client": "ahsp:rate_limit:bench_memory:ip:2001:db8:85a3:8d3:1319:8a2e:370:7348",
    "user client": "ahsp:rate_limit:bench_memory:user:123456",
}
POPULATION_PREFIX = "ahsp:rate_limit:bench_population:ip:"


@dataclass(frozen=True)
class MemoryFigures:
    """Redis memory per client the limiter tracks, and how many clients fit in maxmemory."""

    requests_per_client: int  # admitted decisions in each client's log
    limit: int  # the limit those decisions were made under
    window_seconds: int
    memory_usage_bytes: dict[str, int]  # MEMORY USAGE of one log, per key shape (MEMORY_KEYS)
    population: int  # clients in the used_memory measurement
    used_memory_per_client_bytes: float  # used_memory grown per client, bookkeeping included
    maxmemory_bytes: int  # 0: no maxmemory set
    maxmemory_policy: str
    clients_in_maxmemory: int  # maxmemory / used memory per client (0 without maxmemory)


def memory_figures(
    client: redis.Redis,
    *,
    limit: int = 10,
    window: int = 60,
    requests: int = 10,
    population: int = 10_000,
    batch: int = 1000,
) -> MemoryFigures:
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
    grown = _used_memory_growth(
        client,
        module.FUNCTION,
        population=population,
        requests=requests,
        limit=limit,
        window=window,
        batch=batch,
    )
    per_client = grown / population
    maxmemory = int(client.config_get("maxmemory").get("maxmemory", 0))
    return MemoryFigures(
        requests_per_client=requests,
        limit=limit,
        window_seconds=window,
        memory_usage_bytes=usage,
        population=population,
        used_memory_per_client_bytes=round(per_client, 1),
        maxmemory_bytes=maxmemory,
        maxmemory_policy=client.config_get("maxmemory-policy").get("maxmemory-policy", ""),
        clients_in_maxmemory=int(maxmemory / per_client) if maxmemory and per_client > 0 else 0,
    )


def _used_memory_growth(
    client: redis.Redis,
    function: str,
    *,
    population: int,
    requests: int,
    limit: int,
    window: int,
    batch: int,
) -> int:
    """Bytes of used_memory that `population` clients' logs add (the keys deleted after)."""
    keys = [
        f"{POPULATION_PREFIX}10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        for i in range(population)
    ]
    batches = [keys[start : start + batch] for start in range(0, population, batch)]
    for chunk in batches:
        client.delete(*chunk)
    client.function_load(app_library().library().code, replace=True)
    before = int(client.info("memory")["used_memory"])
    for chunk in batches:
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            for _ in range(requests):
                pipe.fcall(function, 1, key, limit, window * 1_000_000)
        pipe.execute()
    after = int(client.info("memory")["used_memory"])
    for chunk in batches:
        client.delete(*chunk)
    return after - before
