"""HTTP throughput and latency on one app host, with and without the limiter.

The bare view is /health/live/: the same middleware stack as /api/test/ and
the same trivial JSON view, without the limiter (and without I/O);
/api/test/ runs with the inventory's limit, and wrk's requests come from a
pool of client addresses (httpload.CLIENT_POOL), so it never answers 429.
The two, and /health/, run interleaved under load; then the bare and the
limited view one request at a time (wrk -t1 -c1), interleaved: the
limiter's added latency over HTTP.

Around every /health/ run, Redis' connection counter and the host's gunicorn
worker starts are read: with pooled connections, a new connection can only
come from a worker making its first Redis call (one started in the window
by max_requests recycling, or one of the GUNICORN_WORKERS that served no
Redis-backed request before the window, e.g. started during a bare-view
run), never from a request. Around every run, the CPU time of the app host,
Redis, PostgreSQL and wrk is read too: the servers' CPU per request says
what throughput saturated cores allow, whatever else the machine runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import httpload
import redis
from common import (
    API_PATH,
    APP_HOSTS,
    DB_HOST,
    GUNICORN_SERVICE,
    HEALTH_PATH,
    LIVE_PATH,
    REDIS_HOST,
    docker_exec,
)
from httpload import WrkRun, WrkSeries

ROUNDS = 9
SECONDS_PER_RUN = 5
ONE_AT_A_TIME_ROUNDS = 3
GUNICORN_WORKERS = 4  # inventories/bench: gunicorn_systemd_workers
HOST = APP_HOSTS[0]


@dataclass(frozen=True)
class HealthConnections:
    """Redis connections opened around the /health/ runs, against what may open one."""

    DERIVED: ClassVar[tuple[str, ...]] = ("per_request",)

    requests: int  # /health/ requests in those runs
    new_connections: int  # growth of Redis' total_connections_received
    worker_boots: int  # gunicorn workers the host started during them
    runs: int  # how many /health/ runs were counted

    @property
    def per_request(self) -> float:
        """New connections per /health/ request: near 0 when connections are pooled."""
        return round(self.new_connections / max(1, self.requests), 5)


@dataclass(frozen=True)
class OneAtATime:
    """The bare and the limited view one request at a time: the limiter's added latency."""

    rounds: int
    bare: WrkSeries
    rate_limited: WrkSeries
    added_p50_us: float  # median over rounds of (limited p50 - bare p50)


@dataclass(frozen=True)
class HttpFigures:
    """The HTTP section: saturated throughput, one-at-a-time latency, /health/'s connections."""

    host: str
    gunicorn_workers: int
    rounds: int
    seconds_per_run: int
    client_pool: int  # client addresses wrk's requests come from
    bare: WrkSeries
    rate_limited: WrkSeries
    health: WrkSeries
    # Median over rounds of (limited req/s / bare req/s), paired by round:
    # both runs of a round saw the same machine state (throughput swings
    # between rounds on a shared 2-core host).
    limited_vs_bare_throughput: float
    # The same ratio from the servers' CPU per request (app host, Redis,
    # PostgreSQL): far less sensitive to what else runs on the machine than
    # wall-clock figures. None when the containers' CPU time is unknown.
    limited_vs_bare_cpu: float | None
    one_at_a_time: OneAtATime
    worker_boots_during_http: int  # every gunicorn start on the host during this section
    health_redis_connections: HealthConnections


def measure(client: redis.Redis, address: str, host_header: str) -> HttpFigures:
    """Every HTTP figure of the first app host (`address`, answering to `host_header`)."""
    boots_before = worker_boots(HOST)
    counter = HealthWindows(client)
    bare, limited, health = httpload.interleaved(
        [
            ("bare view: /health/live/", LIVE_PATH),
            ("rate-limited: /api/test/", API_PATH),
            ("/health/ (database, cache, redis)", HEALTH_PATH),
        ],
        address,
        host_header,
        rounds=ROUNDS,
        seconds=SECONDS_PER_RUN,
        around=counter.around,
        containers=(HOST, REDIS_HOST, DB_HOST),
    )
    sequential = one_at_a_time(address, host_header)
    boots_during = worker_boots(HOST) - boots_before
    return HttpFigures(
        host=HOST,
        gunicorn_workers=GUNICORN_WORKERS,
        rounds=ROUNDS,
        seconds_per_run=SECONDS_PER_RUN,
        client_pool=httpload.CLIENT_POOL,
        bare=bare,
        rate_limited=limited,
        health=health,
        limited_vs_bare_throughput=paired_ratio(limited.runs, bare.runs),
        limited_vs_bare_cpu=cpu_ratio(bare, limited),
        one_at_a_time=sequential,
        worker_boots_during_http=boots_during,
        health_redis_connections=counter.figures(),
    )


def paired_ratio(limited: list[WrkRun], bare: list[WrkRun]) -> float:
    """Median over rounds of limited / bare requests per second, each round paired."""
    ratios = [
        lim.requests_per_second / base.requests_per_second
        for lim, base in zip(limited, bare, strict=True)
    ]
    return round(statistics.median(ratios), 3)


def cpu_ratio(bare: WrkSeries, limited: WrkSeries) -> float | None:
    """bare / limited servers' CPU per request: the throughput ratio saturated cores allow."""
    if not bare.cpu_us or not limited.cpu_us:
        return None
    return round(bare.cpu_us["server"] / limited.cpu_us["server"], 3)


def one_at_a_time(address: str, host_header: str) -> OneAtATime:
    """The bare and the limited view with one request in flight (wrk -t1 -c1), interleaved."""
    bare, limited = httpload.interleaved(
        [
            ("one at a time: /health/live/", LIVE_PATH),
            ("one at a time: /api/test/", API_PATH),
        ],
        address,
        host_header,
        rounds=ONE_AT_A_TIME_ROUNDS,
        seconds=SECONDS_PER_RUN,
        threads=1,
        connections=1,
        containers=(HOST, REDIS_HOST),
    )
    added_ms = [lim.p50_ms - base.p50_ms for lim, base in zip(limited.runs, bare.runs, strict=True)]
    return OneAtATime(
        rounds=ONE_AT_A_TIME_ROUNDS,
        bare=bare,
        rate_limited=limited,
        added_p50_us=round(statistics.median(added_ms) * 1000, 1),
    )


class HealthWindows:
    """Counts Redis connections and worker starts around each /health/ run."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.requests = self.new_connections = self.worker_boots = self.runs = 0

    def _connections(self) -> int:
        return int(self.client.info("stats")["total_connections_received"])

    def around(self, path: str) -> Callable[[WrkRun], None] | None:
        """For httpload.interleaved: read the counters before a /health/ run, and after it."""
        if path != HEALTH_PATH:
            return None
        boots = worker_boots(HOST)
        connections = self._connections()

        def after(run: WrkRun) -> None:
            self.requests += run.requests
            self.new_connections += self._connections() - connections
            self.worker_boots += worker_boots(HOST) - boots
            self.runs += 1

        return after

    def figures(self) -> HealthConnections:
        """The counts over every /health/ run so far."""
        return HealthConnections(
            requests=self.requests,
            new_connections=self.new_connections,
            worker_boots=self.worker_boots,
            runs=self.runs,
        )


def worker_boots(host: str) -> int:
    """How many gunicorn workers this host has started (each may open one Redis connection).

    gunicorn logs to the journal; every worker start is one "Booting worker" line.
    """
    out = docker_exec(
        host,
        [
            "sh",
            "-c",
            f"journalctl -q -u {GUNICORN_SERVICE} -o cat --no-pager"
            " | grep -c 'Booting worker' || true",
        ],
    )
    return int(out.strip() or 0)
