"""Redis round trip: one limiter decision against a plain GET and redis-benchmark's floor.

All three are measured from the controller to the Redis container, one
request in flight at a time, so the differences are what the limiter's
function call and the Python client add. redis-benchmark can only take a
password on its command line, where any user could read it in the process
list; it therefore gets a throwaway ACL user allowed nothing but PING,
created for the measurement and deleted right after. The real
`requirepass` never leaves this process.
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
from dataclasses import dataclass

import redis
from common import REDIS_PORT, BenchError, log

BENCH_USER_PREFIX = "ahsp-bench-"


@dataclass(frozen=True)
class RoundTrip:
    """One kind of call, timed one at a time from the controller to the Redis container."""

    call: str  # what was timed
    calls: int  # how many
    p50_us: float
    p99_us: float
    mean_us: float
    # redis-benchmark's own throughput figure; None for the calls timed here.
    requests_per_second: float | None = None


@dataclass(frozen=True)
class LimiterRoundTrip:
    """One limiter decision against a plain redis-py GET, same client, interleaved."""

    decision: RoundTrip
    get: RoundTrip
    client_keys: int  # how many client keys the decisions rotate over
    # Requests Redis received per decision: 1.0 means the whole decision is a
    # single FCALL round trip (the function library stays loaded).
    fcall_per_decision: float


def _round_trip(call: str, samples_ns: list[int]) -> RoundTrip:
    ordered = sorted(samples_ns)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] / 1000, 1)

    return RoundTrip(
        call=call,
        calls=len(ordered),
        p50_us=pct(50),
        p99_us=pct(99),
        mean_us=round(statistics.fmean(ordered) / 1000, 1),
    )


def redis_benchmark_floor(client: redis.Redis, address: str, *, requests: int = 20000) -> RoundTrip:
    """redis-benchmark PING (multi-bulk), 1 client, no pipelining: the round trip's floor."""
    user = BENCH_USER_PREFIX + secrets.token_hex(4)
    password = secrets.token_urlsafe(24)
    client.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", "+ping")
    try:
        proc = _redis_benchmark(address, user, password, requests)
    finally:
        client.execute_command("ACL", "DELUSER", user)
    rows = {row["test"]: row for row in csv.DictReader(io.StringIO(proc.stdout))}
    row = rows.get("PING_MBULK")
    if proc.returncode != 0 or row is None:
        raise BenchError(
            f"redis-benchmark failed ({proc.returncode}): {proc.stderr.strip()[-300:]}"
        )
    return RoundTrip(
        call="PING (redis-benchmark -c 1 -P 1)",
        calls=requests,
        requests_per_second=float(row["rps"]),
        p50_us=round(float(row["p50_latency_ms"]) * 1000, 1),
        p99_us=round(float(row["p99_latency_ms"]) * 1000, 1),
        mean_us=round(float(row["avg_latency_ms"]) * 1000, 1),
    )


def _redis_benchmark(
    address: str, user: str, password: str, requests: int
) -> subprocess.CompletedProcess[str]:
    """redis-benchmark as the throwaway user (see the module docstring), CSV output."""
    return subprocess.run(
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
) -> LimiterRoundTrip:
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

    for _ in range(500):  # warm-up: connection, function library, code paths
        decide()
        get()
    before = _fcall_calls(client)
    decisions, gets = _interleaved_blocks(decide, get, count=count, block=1000)
    after = _fcall_calls(client)
    for start in range(0, clients, 1000):
        client.delete(*keys[start : start + 1000])
    figures = LimiterRoundTrip(
        decision=_round_trip("limiter decision (app's hit: FCALL) via redis-py", decisions),
        get=_round_trip("GET via redis-py", gets),
        client_keys=clients,
        fcall_per_decision=round((after - before) / len(decisions), 3),
    )
    log(
        f"redis: limiter decision p50 {figures.decision.p50_us} us,"
        f" redis-py GET p50 {figures.get.p50_us} us"
    )
    return figures


def _interleaved_blocks(
    first: Callable[[], object], second: Callable[[], object], *, count: int, block: int
) -> tuple[list[int], list[int]]:
    """`count` timed calls of each, in alternating blocks of `block` calls."""
    firsts: list[int] = []
    seconds: list[int] = []
    for _ in range(max(1, count // block)):
        firsts += timed_samples(first, count=block)
        seconds += timed_samples(second, count=block)
    return firsts, seconds
