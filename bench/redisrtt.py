"""Redis round trip: one limiter decision against a plain GET and redis-benchmark's floor.

All three are measured from the controller to the Redis container, one
request in flight at a time, so the differences are what the script and the
Python client add. redis-benchmark can only take a password on its command line, where any
user could read it in the process list; it therefore gets a throwaway ACL
user allowed nothing but PING, created for the measurement and deleted right
after. The real `requirepass` never leaves this process.
"""

from __future__ import annotations

import csv
import io
import itertools
import secrets
import statistics
import subprocess
import time
from collections.abc import Callable

import redis
from common import REDIS_PORT, BenchError, log

BENCH_USER_PREFIX = "ahsp-bench-"


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] / 1000, 1)

    return {
        "p50_us": pct(50),
        "p99_us": pct(99),
        "mean_us": round(statistics.fmean(ordered) / 1000, 1),
    }


def redis_benchmark_floor(client: redis.Redis, address: str, *, requests: int = 20000) -> dict:
    """redis-benchmark PING (multi-bulk), 1 client, no pipelining."""
    user = BENCH_USER_PREFIX + secrets.token_hex(4)
    password = secrets.token_urlsafe(24)
    client.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", "+ping")
    try:
        proc = subprocess.run(
            [
                "redis-benchmark",
                "-h",
                address,
                "-p",
                str(REDIS_PORT),
                "--user",
                user,
                "-a",
                password,
                "-c",
                "1",
                "-n",
                str(requests),
                "-t",
                "ping",
                "--csv",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        client.execute_command("ACL", "DELUSER", user)
    rows = {row["test"]: row for row in csv.DictReader(io.StringIO(proc.stdout))}
    row = rows.get("PING_MBULK")
    if proc.returncode != 0 or row is None:
        raise BenchError(
            f"redis-benchmark failed ({proc.returncode}): {proc.stderr.strip()[-300:]}"
        )
    return {
        "command": "PING (redis-benchmark -c 1 -P 1)",
        "requests": requests,
        "rps": float(row["rps"]),
        "p50_us": round(float(row["p50_latency_ms"]) * 1000, 1),
        "p99_us": round(float(row["p99_latency_ms"]) * 1000, 1),
        "mean_us": round(float(row["avg_latency_ms"]) * 1000, 1),
    }


def timed_samples(call: Callable[[], object], *, count: int) -> list[int]:
    """`count` calls, each timed (nanoseconds)."""
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
    return samples


def _fcall_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_fcall", {}).get("calls", 0))


def limiter_round_trip(
    client: redis.Redis,
    hit: Callable[[redis.Redis, str, int, int], object],
    *,
    count: int = 20000,
    clients: int = 4096,
    limit: int = 1_000_000,
    window: int = 60,
) -> dict:
    """One app limiter decision (its own ``hit``: FCALL of the sliding log) vs a plain GET.

    Same redis-py client, interleaved in blocks so slow drifts of the machine
    hit both alike. Decisions rotate over `clients` keys, as requests from
    many clients do, so each log stays as short as a real client's (a few
    entries; one key taking every call would grow a log of `count` entries,
    which no client under a limit ever has).
    """
    keys = [f"bench:rtt:limiter:{i}" for i in range(clients)]
    calls = itertools.count()

    def decide() -> None:
        hit(client, keys[next(calls) % clients], limit, window)

    def get() -> None:
        client.get("bench:rtt:get")

    warmup = 500
    for _ in range(warmup):
        decide()
        get()
    before = _fcall_calls(client)
    decisions: list[int] = []
    gets: list[int] = []
    block = 1000
    for _ in range(max(1, count // block)):
        decisions += timed_samples(decide, count=block)
        gets += timed_samples(get, count=block)
    after = _fcall_calls(client)
    for start in range(0, clients, 1000):
        client.delete(*keys[start : start + 1000])
    # Requests Redis received per limiter decision: 1.0 means the whole
    # decision is a single FCALL round trip (the library stays loaded).
    per_call = (after - before) / len(decisions)
    limiter = _percentiles(decisions)
    plain = _percentiles(gets)
    log(
        f"redis: limiter decision p50 {limiter['p50_us']} us, redis-py GET p50 {plain['p50_us']} us"
    )
    return {
        "limiter": {
            "command": "limiter decision (app's hit: FCALL) via redis-py",
            "requests": len(decisions),
            "clients": clients,
            **limiter,
        },
        "redis_py_get": {"command": "GET via redis-py", "requests": len(gets), **plain},
        "fcall_per_limiter_call": round(per_call, 3),
    }
