"""The limiter in-process: a limited request against the same request unlimited, inside the app.

Not run by the bench's own process: inprocess_shell.py sends this file's
source to an app host, where it runs in the live release's own process
set-up (`ahsp-manage shell -c`, so the app's settings, its Redis connection
pool over the network to the Redis host, and the venv's redis-py), and
prints one line `INPROCESS_JSON {...}`: an `InProcessFigures` record. Only
Django, the app and the standard library are used, and those only inside
the functions that measure, so the bench imports this module for its
records without Django.

What it measures, in rounds; within a round every step runs one call of
each kind, in an order that rotates from step to step, so the drift of a
busy 2-core host and the state one call leaves for the next hit all kinds
alike (blocks of one kind after another let the bare and the limited
medians of a round differ by more than the limiter costs):

- `GET /api/test/` through Django's WSGI handler (every middleware, the view,
  the response) with the limiter on and with it off (``RATELIMIT_ENABLED``
  switched in-process between calls; same view, same middleware otherwise).
  The limiter's added cost per request is the difference of the two medians.
  Every call is timed by the clock and by the thread's CPU time (kernel
  included): the wall figure holds the wait for Redis' reply, the CPU figure
  what a saturated host pays per request.
- one redis-py ``GET`` round trip on the app's own client and pool (what
  the decision's one ``FCALL`` round trip is held against), and the
  decision alone (the app's ``sliding_log.hit``).
- a cProfile of limited requests: per request, the time inside the
  limiter's functions and redis-py's, and the slowest functions.

Limited requests come from a pool of client addresses (``REMOTE_ADDR``), so
each client's log stays as short as a real client's under a limit.
"""

from __future__ import annotations

import cProfile
import dataclasses
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (wall, CPU) microseconds of one call
Sample = tuple[float, float]
KINDS = ("bare", "limited", "get", "decision")


@dataclass(frozen=True)
class CallTimes:
    """One kind of call over every round (microseconds)."""

    p50_us: float
    p99_us: float
    cpu_p50_us: float  # the calling thread's CPU time, kernel included
    calls: int


@dataclass(frozen=True)
class RoundMedians:
    """One round's medians (microseconds) and what the limiter added in it."""

    limiter_off_us: float  # GET /api/test/, limiter off
    limiter_on_us: float  # the same, limiter on
    redis_py_get_us: float
    decision_us: float  # sliding_log.hit alone
    limiter_added_us: float  # limiter_on_us - limiter_off_us
    limiter_added_vs_get: float  # limiter_added_us / redis_py_get_us
    limiter_added_cpu_us: float  # the same difference of CPU medians
    redis_py_get_cpu_us: float
    decision_cpu_us: float


@dataclass(frozen=True)
class ProfilePoint:
    """One of the limiter's functions in a profile, per request."""

    us_per_request: float  # cumulative time, profiler overhead included
    calls_per_request: float


@dataclass(frozen=True)
class OwnTime:
    """A function with much own time in a profile, per request."""

    function: str  # path:line(name)
    us_per_request: float
    calls_per_request: float


@dataclass(frozen=True)
class RequestProfile:
    """cProfile over `requests` requests: the limiter's points and the most own time."""

    requests: int
    points: dict[str, ProfilePoint]  # by PROFILE_POINTS label, those that ran
    top_own_time: list[OwnTime]


@dataclass(frozen=True)
class InProcessFigures:
    """The in-process section: per-call times, per-round medians and profiles."""

    host: str
    path: str
    rounds: int
    steps_per_round: int  # each step makes one call of each kind
    client_addresses: int  # REMOTE_ADDR pool of the limited requests
    ratelimit_requests: int  # the live settings' limit ...
    ratelimit_window_seconds: int  # ... and window
    redis_py_version: str
    hiredis: bool
    redis_host: str  # where the app's Redis pool connects
    statuses: dict[str, int]  # every WSGI answer, by status line
    per_round: list[RoundMedians]
    limiter_off: CallTimes  # GET /api/test/ with the limiter off
    limiter_on: CallTimes  # with it on
    redis_py_get: CallTimes  # one GET on the app's own client
    decision: CallTimes  # sliding_log.hit alone
    # Medians over rounds of the per-round figures: the section's results.
    limiter_added_us: float
    redis_py_get_us: float
    limiter_added_vs_get: float
    decision_vs_get: float
    # The same from the thread's CPU time (kernel included): what a busy host
    # pays for the limiter, whatever the wait for Redis' reply.
    limiter_added_cpu_us: float
    redis_py_get_cpu_us: float
    decision_cpu_us: float
    limited_profile: RequestProfile
    bare_profile: RequestProfile


class AppCalls:
    """The four kinds of call, made inside the app: requests, the decision, a GET."""

    def __init__(self, host: str, path: str, clients: int) -> None:
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler
        from django_redis import get_redis_connection

        self.settings = settings
        self.host, self.path, self.clients = host, path, clients
        self.handler = WSGIHandler()
        self.conn = get_redis_connection("default")
        self.statuses: dict[str, int] = {}
        self.served = 0
        self.decided = 0

    def _start_response(self, status: str, headers: list[Any], exc_info: object = None) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def _environ(self, address: str) -> dict[str, Any]:
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": self.path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": self.host,
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": self.host,
            "REMOTE_ADDR": address,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }

    def request(self) -> None:
        """One GET of the path through the WSGI handler, from the next pool address."""
        n = self.served
        self.served += 1
        address = f"198.18.{n // 256 % (self.clients // 256 or 1)}.{n % 256}"
        response = self.handler(self._environ(address), self._start_response)
        for _chunk in response:
            pass
        response.close()

    def decide(self) -> None:
        """One decision of the app's limiter, for one of 250 clients in turn."""
        from detail_project import sliding_log

        self.decided += 1
        sliding_log.hit(
            self.conn,
            f"ahsp:rate_limit:bench_inprocess:ip:198.19.0.{self.decided % 250}",
            self.settings.RATELIMIT_REQUESTS,
            self.settings.RATELIMIT_WINDOW,
        )

    def get(self) -> None:
        """One GET on the app's own client and pool: one plain round trip."""
        self.conn.get("ahsp:bench:inprocess:get")

    def limiter(self, enabled: bool) -> None:
        """Switch the limiter in this process; the next request runs with it on or off."""
        self.settings.RATELIMIT_ENABLED = enabled

    def kinds(self) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
        """name -> (switch, call): the switch runs before, outside the timed call."""
        return {
            "bare": (lambda: self.limiter(False), self.request),
            "limited": (lambda: self.limiter(True), self.request),
            "get": (_unchanged, self.get),
            "decision": (_unchanged, self.decide),
        }


def _unchanged() -> None:
    return None


def timed(call: Callable[[], None], count: int) -> list[Sample]:
    """(wall, CPU) microseconds per call; CPU is this thread's, kernel time included."""
    out = []
    for _ in range(count):
        cpu = time.thread_time_ns()
        started = time.perf_counter_ns()
        call()
        out.append(
            (
                (time.perf_counter_ns() - started) / 1000,
                (time.thread_time_ns() - cpu) / 1000,
            )
        )
    return out


def run_round(
    kinds: dict[str, tuple[Callable[[], None], Callable[[], None]]], steps: int
) -> dict[str, list[Sample]]:
    """`steps` steps of one call of each kind, in an order that rotates from step to step."""
    names = list(kinds)
    values: dict[str, list[Sample]] = {name: [] for name in names}
    for step in range(steps):
        shift = step % len(names)
        for name in names[shift:] + names[:shift]:
            switch, call = kinds[name]
            switch()
            values[name] += timed(call, 1)
    return values


def round_medians(values: dict[str, list[Sample]]) -> RoundMedians:
    """One round's medians: every kind saw the same stretch of the machine's drift."""
    wall = {name: statistics.median(w for w, _ in values[name]) for name in KINDS}
    cpu = {name: statistics.median(c for _, c in values[name]) for name in KINDS}
    added = wall["limited"] - wall["bare"]
    return RoundMedians(
        limiter_off_us=round(wall["bare"], 1),
        limiter_on_us=round(wall["limited"], 1),
        redis_py_get_us=round(wall["get"], 1),
        decision_us=round(wall["decision"], 1),
        limiter_added_us=round(added, 1),
        limiter_added_vs_get=round(added / wall["get"], 3),
        limiter_added_cpu_us=round(cpu["limited"] - cpu["bare"], 1),
        redis_py_get_cpu_us=round(cpu["get"], 1),
        decision_cpu_us=round(cpu["decision"], 1),
    )


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


def call_times(samples: list[Sample]) -> CallTimes:
    """Percentiles of one kind of call over every round."""
    wall = [w for w, _ in samples]
    return CallTimes(
        p50_us=_percentile(wall, 50),
        p99_us=_percentile(wall, 99),
        cpu_p50_us=_percentile([c for _, c in samples], 50),
        calls=len(samples),
    )


def _median(
    rounds: list[RoundMedians], value: Callable[[RoundMedians], float], digits: int
) -> float:
    return round(statistics.median(value(r) for r in rounds), digits)


def timed_rounds(
    kinds: dict[str, tuple[Callable[[], None], Callable[[], None]]], rounds: int, steps: int
) -> tuple[dict[str, list[Sample]], list[RoundMedians]]:
    """A warm-up, then `rounds` rounds: every sample by kind, and each round's medians."""
    for switch, call in kinds.values():  # warm-up: imports, URL resolver, connection pool
        switch()
        timed(call, 200)
    samples: dict[str, list[Sample]] = {name: [] for name in KINDS}
    per_round = []
    for _ in range(rounds):
        values = run_round(kinds, steps)
        for name in KINDS:
            samples[name] += values[name]
        per_round.append(round_medians(values))
    return samples, per_round


def measure(params: dict[str, Any]) -> InProcessFigures:
    """Every figure of the section, with the app's settings and Redis (see the docstring)."""
    import redis
    from django.test.utils import override_settings

    host = params["host"]
    rounds = int(params.get("rounds", 7))
    steps = int(params.get("steps_per_round", 400))
    clients = int(params.get("client_addresses", 1024))
    path = params.get("path", "/api/test/")
    calls = AppCalls(host, path, clients)
    with override_settings(RATELIMIT_ENABLED=True):
        samples, per_round = timed_rounds(calls.kinds(), rounds, steps)
    profiles = profile(calls, int(params.get("profile_requests", 1000)))
    settings = calls.settings
    return InProcessFigures(
        host=host,
        path=path,
        rounds=rounds,
        steps_per_round=steps,
        client_addresses=clients,
        ratelimit_requests=settings.RATELIMIT_REQUESTS,
        ratelimit_window_seconds=settings.RATELIMIT_WINDOW,
        redis_py_version=redis.__version__,
        hiredis=bool(getattr(redis.utils, "HIREDIS_AVAILABLE", False)),
        redis_host=str(calls.conn.connection_pool.connection_kwargs.get("host", "")),
        statuses=dict(calls.statuses),
        per_round=per_round,
        limiter_off=call_times(samples["bare"]),
        limiter_on=call_times(samples["limited"]),
        redis_py_get=call_times(samples["get"]),
        decision=call_times(samples["decision"]),
        limiter_added_us=_median(per_round, lambda r: r.limiter_added_us, 1),
        redis_py_get_us=_median(per_round, lambda r: r.redis_py_get_us, 1),
        limiter_added_vs_get=_median(per_round, lambda r: r.limiter_added_vs_get, 3),
        decision_vs_get=_median(per_round, lambda r: r.decision_us / r.redis_py_get_us, 3),
        limiter_added_cpu_us=_median(per_round, lambda r: r.limiter_added_cpu_us, 1),
        redis_py_get_cpu_us=_median(per_round, lambda r: r.redis_py_get_cpu_us, 1),
        decision_cpu_us=_median(per_round, lambda r: r.decision_cpu_us, 1),
        limited_profile=profiles["limited"],
        bare_profile=profiles["bare"],
    )


def profile(calls: AppCalls, requests: int) -> dict[str, RequestProfile]:
    """cProfile over `requests` requests with the limiter on ("limited") and off ("bare")."""
    from django.test.utils import override_settings

    profiles = {}
    for label, enabled in (("limited", True), ("bare", False)):
        profiler = cProfile.Profile()
        with override_settings(RATELIMIT_ENABLED=enabled):
            profiler.enable()
            for _ in range(requests):
                calls.request()
            profiler.disable()
        profiles[label] = _profile_summary(pstats.Stats(profiler), requests)
    return profiles


def as_json_line(figures: InProcessFigures) -> str:
    """The one line the bench reads back (see inprocess_shell.py)."""
    return "INPROCESS_JSON " + json.dumps(dataclasses.asdict(figures))


# (file name ending, function name) -> label: where a limited request's time
# goes, by the functions that make up the limiter and its round trip.
PROFILE_POINTS = [
    (("django/core/handlers/wsgi.py", "__call__"), "whole request (WSGI handler)"),
    (("detail_project/ratelimit.py", "process_view"), "limiter (process_view)"),
    (("detail_project/ratelimit.py", "client_identity"), "  client identity"),
    (("detail_project/proxies.py", "client_ip"), "    client address (proxies)"),
    (("detail_project/ratelimit.py", "build_key"), "  key"),
    (("django_redis/__init__.py", "get_redis_connection"), "  get_redis_connection"),
    (("detail_project/sliding_log.py", "hit"), "  decision (sliding_log.hit)"),
    (("redis/client.py", "execute_command"), "    redis-py execute_command"),
    (("detail_project/redis_pool.py", "get_connection"), "      pool checkout (breaker)"),
    (("redis/connection.py", "pack_command"), "      pack the command"),
    (("redis/connection.py", "send_packed_command"), "      send"),
    (("redis/connection.py", "read_response"), "      read the reply"),
    (("detail_project/sliding_log.py", "headers"), "X-RateLimit headers"),
]


def _profile_summary(stats: pstats.Stats, requests: int) -> RequestProfile:
    """Per request (microseconds, profiler overhead included): the limiter's points and the
    functions with the most own time.
    """
    table = stats.stats  # type: ignore[attr-defined]
    return RequestProfile(
        requests=requests,
        points=_points(table, requests),
        top_own_time=[
            OwnTime(
                function=f"{_short(filename)}:{line}({name})",
                us_per_request=round(tt / requests * 1e6, 1),
                calls_per_request=round(nc / requests, 2),
            )
            for (filename, line, name), (_cc, nc, tt, _ct, _callers) in sorted(
                table.items(), key=lambda item: item[1][2], reverse=True
            )[:12]
        ],
    )


def _points(table: dict[Any, Any], requests: int) -> dict[str, ProfilePoint]:
    """PROFILE_POINTS that ran, each summed over every function matching it."""
    points = {}
    for (suffix, func), label in PROFILE_POINTS:
        matching = [
            (nc, ct)
            for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in table.items()
            if name == func and filename.replace("\\", "/").endswith(suffix)
        ]
        calls = sum(nc for nc, _ in matching)
        if calls:
            points[label] = ProfilePoint(
                us_per_request=round(sum(ct for _, ct in matching) / requests * 1e6, 1),
                calls_per_request=round(calls / requests, 2),
            )
    return points


def _short(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("site-packages", "detail_project", "config"):
        if anchor in parts:
            index = parts.index(anchor)
            return "/".join(parts[index + (anchor == "site-packages") :])
    return "/".join(parts[-2:])
