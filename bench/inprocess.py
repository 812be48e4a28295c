"""The limiter in-process: a limited request against the same request unlimited, inside the app.

Not imported by the bench itself: bench/run.py sends this file's source to
an app host, where it runs in the live release's own process set-up
(`ahsp-manage shell -c`, so the app's settings, its Redis connection pool
over the network to the Redis host, and the venv's redis-py), and prints one
line `INPROCESS_JSON {...}`. Only Django, the app and the standard library
are used; nothing here needs the bench's code.

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
import io
import pstats
import statistics
import sys
import time


def measure(params: dict) -> dict:
    import redis
    from detail_project import sliding_log
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings
    from django_redis import get_redis_connection

    host = params["host"]
    rounds = int(params.get("rounds", 7))
    block = int(params.get("block", 400))
    clients = int(params.get("clients", 1024))
    path = params.get("path", "/api/test/")
    handler = WSGIHandler()
    conn = get_redis_connection("default")
    statuses: dict[str, int] = {}
    served = [0]

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    def environ(address: str) -> dict:
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": host,
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": host,
            "REMOTE_ADDR": address,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }

    def request() -> None:
        n = served[0]
        served[0] += 1
        address = f"198.18.{n // 256 % (clients // 256 or 1)}.{n % 256}"
        response = handler(environ(address), start_response)
        for _chunk in response:
            pass
        response.close()

    counter = [0]

    def decide() -> None:
        counter[0] += 1
        sliding_log.hit(
            conn,
            f"ahsp:rate_limit:bench_inprocess:ip:198.19.0.{counter[0] % 250}",
            settings.RATELIMIT_REQUESTS,
            settings.RATELIMIT_WINDOW,
        )

    def get() -> None:
        conn.get("ahsp:bench:inprocess:get")

    def timed(call, count: int) -> list[tuple[float, float]]:
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

    def limiter(enabled: bool) -> None:
        settings.RATELIMIT_ENABLED = enabled

    def unchanged() -> None:
        return None

    # name -> (switch, call): the switch runs outside the timed call.
    kinds = {
        "bare": (lambda: limiter(False), request),
        "limited": (lambda: limiter(True), request),
        "get": (unchanged, get),
        "decision": (unchanged, decide),
    }

    with override_settings(RATELIMIT_ENABLED=True):
        # Warm-up: imports, URL resolver, connection pool.
        for switch, call in kinds.values():
            switch()
            timed(call, 200)

        per_round = []
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in kinds}
        names = list(kinds)
        for _ in range(rounds):
            values: dict[str, list[tuple[float, float]]] = {name: [] for name in kinds}
            # One call of each kind per step, in an order that rotates.
            for step in range(block):
                shift = step % len(names)
                for name in names[shift:] + names[:shift]:
                    switch, call = kinds[name]
                    switch()
                    values[name] += timed(call, 1)
            for name in kinds:
                samples[name] += values[name]
            med = {name: statistics.median(w for w, _ in values[name]) for name in kinds}
            med["added"] = med["limited"] - med["bare"]
            med["added_vs_get"] = med["added"] / med["get"]
            cpu = {name: statistics.median(c for _, c in values[name]) for name in kinds}
            med["added_cpu"] = cpu["limited"] - cpu["bare"]
            med["get_cpu"] = cpu["get"]
            med["decision_cpu"] = cpu["decision"]
            per_round.append({k: round(v, 3 if k == "added_vs_get" else 1) for k, v in med.items()})

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    summary = {
        name: {
            "p50_us": pct([w for w, _ in values], 50),
            "p99_us": pct([w for w, _ in values], 99),
            "cpu_p50_us": pct([c for _, c in values], 50),
            "samples": len(values),
        }
        for name, values in samples.items()
    }

    profile_requests = int(params.get("profile_requests", 1000))
    profiles = {}
    for label, enabled in (("limited", True), ("bare", False)):
        profiler = cProfile.Profile()
        with override_settings(RATELIMIT_ENABLED=enabled):
            profiler.enable()
            for _ in range(profile_requests):
                request()
            profiler.disable()
        profiles[label] = _profile_summary(pstats.Stats(profiler), profile_requests)

    info = conn.connection_pool.connection_kwargs
    return {
        "host": host,
        "path": path,
        "rounds": rounds,
        "block": block,
        "clients": clients,
        "ratelimit": {
            "requests": settings.RATELIMIT_REQUESTS,
            "window_s": settings.RATELIMIT_WINDOW,
        },
        "redis_py": redis.__version__,
        "hiredis": bool(getattr(redis.utils, "HIREDIS_AVAILABLE", False)),
        "redis_host": str(info.get("host", "")),
        "statuses": statuses,
        "per_round": per_round,
        "summary": summary,
        "added_us": round(statistics.median(r["added"] for r in per_round), 1),
        "get_us": round(statistics.median(r["get"] for r in per_round), 1),
        "added_vs_get": round(statistics.median(r["added_vs_get"] for r in per_round), 3),
        "decision_vs_get": round(statistics.median(r["decision"] / r["get"] for r in per_round), 3),
        # The same from this thread's CPU time (kernel included): what a busy
        # host pays for the limiter, whatever the wait for Redis' reply.
        "added_cpu_us": round(statistics.median(r["added_cpu"] for r in per_round), 1),
        "get_cpu_us": round(statistics.median(r["get_cpu"] for r in per_round), 1),
        "decision_cpu_us": round(statistics.median(r["decision_cpu"] for r in per_round), 1),
        "profile": profiles,
    }


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


def _profile_summary(stats: pstats.Stats, requests: int) -> dict:
    """Per request (microseconds, profiler overhead included): the limiter's points and the
    functions with the most own time.
    """
    table = stats.stats  # type: ignore[attr-defined]
    points = {}
    for (suffix, func), label in PROFILE_POINTS:
        cumulative = sum(
            ct
            for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in table.items()
            if name == func and filename.replace("\\", "/").endswith(suffix)
        )
        calls = sum(
            nc
            for (filename, _line, name), (_cc, nc, _tt, _ct, _callers) in table.items()
            if name == func and filename.replace("\\", "/").endswith(suffix)
        )
        if calls:
            points[label] = {
                "us_per_request": round(cumulative / requests * 1e6, 1),
                "calls_per_request": round(calls / requests, 2),
            }
    own = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:12]
    return {
        "requests": requests,
        "points": points,
        "top_own_time": [
            {
                "function": f"{_short(filename)}:{line}({name})",
                "us_per_request": round(tt / requests * 1e6, 1),
                "calls_per_request": round(nc / requests, 2),
            }
            for (filename, line, name), (_cc, nc, tt, _ct, _callers) in own
        ],
    }


def _short(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("site-packages", "detail_project", "config"):
        if anchor in parts:
            index = parts.index(anchor)
            return "/".join(parts[index + (anchor == "site-packages") :])
    return "/".join(parts[-2:])
