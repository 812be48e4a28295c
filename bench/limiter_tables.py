"""The report's limiter sections: Redis round trips and memory, in-process cost, exactness."""

from __future__ import annotations

from exactness import ExactnessFigures
from inprocess import CallTimes, InProcessFigures, RequestProfile
from limiter import ConcurrentDecisions, MemoryFigures
from redisrtt import LimiterRoundTrip, RoundTrip
from tables import section


def round_trip_table(floor: RoundTrip | None, limiter: LimiterRoundTrip | None) -> str:
    """Each call's latency, and as a multiple of redis-benchmark's PING when it was measured."""
    calls = [floor] if floor else []
    if limiter:
        calls += [limiter.get, limiter.decision]
    return section(
        "Redis round trip, controller to the Redis container, one request in flight",
        ["call", "p50 us", "p99 us", "x floor (p50)"],
        [
            [
                x.call,
                f"{x.p50_us:.0f}",
                f"{x.p99_us:.0f}",
                f"{x.p50_us / floor.p50_us:.2f}" if floor else "",
            ]
            for x in calls
        ],
    )


def memory_table(m: MemoryFigures) -> str:
    """Bytes per tracked client, and how many clients maxmemory holds."""
    body = [
        [f"MEMORY USAGE, {shape}", f"{size}", ""] for shape, size in m.memory_usage_bytes.items()
    ]
    body.append(
        [
            f"used_memory / client ({m.population} clients)",
            f"{m.used_memory_per_client_bytes:.0f}",
            f"{m.clients_in_maxmemory:,} clients in maxmemory"
            f" {m.maxmemory_bytes // 2**20} MB ({m.maxmemory_policy})",
        ]
    )
    return section(
        f"Redis memory per tracked client: one limiter log after"
        f" {m.requests_per_client} requests (limit {m.limit} per {m.window_seconds} s)",
        ["measure", "bytes", "capacity"],
        body,
    )


def inprocess_table(i: InProcessFigures) -> str:
    """Each kind of call in the app's process, and what the limiter adds per request."""
    kinds: list[tuple[str, CallTimes]] = [
        (f"GET {i.path}, limiter off", i.limiter_off),
        (f"GET {i.path}, limiter on", i.limiter_on),
        ("limiter decision alone (sliding_log.hit)", i.decision),
        ("redis-py GET, the app's client", i.redis_py_get),
    ]
    return section(
        f"Limiter in-process on {i.host} (WSGI handler, redis-py {i.redis_py_version},"
        f" hiredis {'yes' if i.hiredis else 'no'}), {i.rounds} rounds"
        f" of {i.steps_per_round} steps, one call of each kind per step",
        ["call", "p50 us", "p99 us", "p50 CPU us"],
        [[label, f"{t.p50_us:.0f}", f"{t.p99_us:.0f}", f"{t.cpu_p50_us:.0f}"] for label, t in kinds]
        + [
            [
                "added by the limiter (median of per-round differences)",
                f"{i.limiter_added_us:.0f}",
                f"= {i.limiter_added_vs_get:.2f} x GET",
                f"{i.limiter_added_cpu_us:.0f}",
            ],
        ],
    )


def profile_table(limited: RequestProfile, bare: RequestProfile) -> str:
    """Where a limited request's time goes, next to the same point with the limiter off."""
    return section(
        f"Profile of a limited request in-process (cProfile, {limited.requests}"
        " requests each; profiler overhead included)",
        ["where", "us/request", "calls/request", "limiter off us/request"],
        [
            [
                label,
                f"{x.us_per_request:.0f}",
                f"{x.calls_per_request:g}",
                f"{bare.points[label].us_per_request:.0f}" if label in bare.points else "",
            ]
            for label, x in limited.points.items()
        ],
    )


def exactness_table(e: ExactnessFigures) -> str:
    """Each limiter's answers to the same simultaneous burst, and how far past the limit."""
    h = e.http
    return section(
        f"Limiter exactness: {h.requests} concurrent decisions, limit {e.limit}",
        ["limiter", "allowed", "denied", "errors", "overshoot"],
        [
            [
                "app, HTTP over both app hosts",
                str(h.allowed),
                str(h.rejected_429),
                str(sum(h.other.values())),
                str(h.allowed - e.limit),
            ],
            _decisions_row("app's sliding log, direct", e.app_limiter_direct),
            _decisions_row("seed-style GET then SET (baseline)", e.get_then_set_baseline),
        ],
    )


def _decisions_row(label: str, d: ConcurrentDecisions) -> list[str]:
    return [label, str(d.allowed), str(d.denied), str(d.errors), str(d.overshoot)]
