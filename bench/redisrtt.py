"""Redis round trip: one limiter call against redis-benchmark's single-command floor.

Both are measured from the controller to the Redis container, one request in
flight at a time, so the difference is what the script and the Python client
add. redis-benchmark can only take a password on its command line, where any
user could read it in the process list; it therefore gets a throwaway ACL
user allowed nothing but PING, created for the measurement and deleted right
after. The real `requirepass` never leaves this process.
"""

from __future__ import annotations

import csv
import io
import secrets
import statistics
import subprocess
import time

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


def timed_calls(call, *, count: int, warmup: int = 500) -> dict[str, float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
    return _percentiles(samples)


def _evalsha_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def limiter_round_trip(client: redis.Redis, script: str, *, count: int = 20000) -> dict:
    """One app limiter decision (EVALSHA of the app's script) vs a plain GET, same client."""
    key = "bench:rtt:limiter"
    hit = client.register_script(script)
    warmup = 500
    before = _evalsha_calls(client)
    limiter = timed_calls(lambda: hit(keys=[key], args=[60000]), count=count, warmup=warmup)
    after = _evalsha_calls(client)
    get = timed_calls(lambda: client.get("bench:rtt:get"), count=count, warmup=warmup)
    client.delete(key)
    # Requests Redis received per limiter decision (warm-up calls included):
    # 1.0 means the whole decision is a single EVALSHA round trip.
    per_call = (after - before) / (count + warmup)
    log(f"redis: limiter call p50 {limiter['p50_us']} us, redis-py GET p50 {get['p50_us']} us")
    return {
        "limiter": {
            "command": "EVALSHA (app's LUA_HIT) via redis-py",
            "requests": count,
            **limiter,
        },
        "redis_py_get": {"command": "GET via redis-py", "requests": count, **get},
        "evalsha_per_limiter_call": round(per_call, 3),
    }
