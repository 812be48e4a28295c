"""`make bench`: every figure of the benchmark from one run on one machine state.

Order matters: provisioning first (fresh containers, so the first converge is
a real fresh one), then the figures that need the stack as the inventory
describes it (Redis round trip, HTTP), then exactness, which needs a low limit
(changed with `-e` through playbooks/app.yml, as an operator would). Every
loop is bounded in count and time; every target is the project's own
container or loopback.

Exit status: 0 when every target is met, 1 when one is missed (the table says
which), 2 when a phase could not produce a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpload
import limiter
import provision
import redis
import redisrtt
import report
from common import (
    APP_HOSTS,
    GUNICORN_ERROR_LOG,
    REDIS_HOST,
    ROOT,
    BenchError,
    container_ip,
    docker_exec,
    log,
    redis_client,
    redis_params,
    wait_until,
)

EXACT_LIMIT = 100
BURST = 300  # concurrent requests, half to each app host
API_PATH = "/api/test/"
LIVE_PATH = "/health/live/"
HTTP_ROUNDS = 7
HTTP_SECONDS = 5
GUNICORN_WORKERS = 4  # inventories/bench: gunicorn_systemd_workers
HEALTH_PATH = "/health/"


def healthy(address: str, host_header: str) -> bool:
    counts = httpload.burst([(address, host_header)], HEALTH_PATH, total=1, timeout=5)
    return counts.get(200, 0) == 1


def worker_boots(host: str) -> int:
    """How many gunicorn workers this host has started (each may open one Redis connection)."""
    out = docker_exec(host, ["sh", "-c", f"grep -c 'Booting worker' {GUNICORN_ERROR_LOG} || true"])
    return int(out.strip() or 0)


def provisioning(results: dict) -> None:
    provision.containers("absent")
    provision.containers("present")
    fresh = provision.run_playbook("fresh converge", "site.yml")
    rerun = provision.run_playbook("idempotent re-run", "site.yml")
    results["drift_applied"] = provision.introduce_drift()
    drift = provision.run_playbook("drift repair", "site.yml")
    results["provisioning"] = {
        "fresh": fresh.as_dict(),
        "rerun": rerun.as_dict(),
        "drift_repair": drift.as_dict(),
        "rerun_ratio": round(rerun.seconds / fresh.seconds, 3),
        "drift_ratio": round(drift.seconds / fresh.seconds, 3),
    }


def redis_figures(results: dict, client: redis.Redis) -> None:
    address = container_ip(REDIS_HOST)
    results["redis"] = {
        "floor": redisrtt.redis_benchmark_floor(client, address),
        **redisrtt.limiter_round_trip(client, limiter.app_lua_script()),
    }


def http_figures(results: dict, client: redis.Redis, apps: list[tuple[str, str]]) -> None:
    """Bare view, rate-limited view and /health/ on one app host, interleaved.

    The bare view is /health/live/: the same middleware stack as /api/test/
    without the limiter (and without I/O); /api/test/ runs with the
    inventory's limit of 1e9, so it never answers 429. Around every /health/
    run, Redis' connection counter and the host's gunicorn worker starts are
    read: with pooled connections, a new connection can only come from a worker
    making its first Redis call (one started in the window by max_requests
    recycling, or one of the GUNICORN_WORKERS that served no Redis-backed
    request before it), never from a request.
    """
    address, host_header = apps[0]
    health_window = {"requests": 0, "new_connections": 0, "worker_boots": 0}

    def around(path: str):
        if path != HEALTH_PATH:
            return None
        boots = worker_boots(APP_HOSTS[0])
        conns = int(client.info("stats")["total_connections_received"])

        def after(run: httpload.WrkRun) -> None:
            new = int(client.info("stats")["total_connections_received"])
            health_window["requests"] += run.requests
            health_window["new_connections"] += new - conns
            health_window["worker_boots"] += worker_boots(APP_HOSTS[0]) - boots

        return after

    boots_before = worker_boots(APP_HOSTS[0])
    bare, limited, health = httpload.interleaved(
        [
            ("bare view: /health/live/", LIVE_PATH),
            ("rate-limited: /api/test/", API_PATH),
            ("/health/ (database, cache, redis)", HEALTH_PATH),
        ],
        address,
        host_header,
        rounds=HTTP_ROUNDS,
        seconds=HTTP_SECONDS,
        around=around,
    )
    results["http"] = {
        "host": APP_HOSTS[0],
        "workers": GUNICORN_WORKERS,
        "rounds": HTTP_ROUNDS,
        "seconds_per_run": HTTP_SECONDS,
        "bare": bare.as_dict(),
        "rate_limited": limited.as_dict(),
        "health": health.as_dict(),
        # Paired by round: both runs of a round saw the same machine state
        # (throughput here swings 3x between rounds on a shared 2-core host).
        "limited_vs_bare": round(
            statistics.median(
                lim.rps / base.rps for lim, base in zip(limited.runs, bare.runs, strict=True)
            ),
            3,
        ),
        "worker_boots_during_http": worker_boots(APP_HOSTS[0]) - boots_before,
        "health_redis_connections": {
            **health_window,
            "per_request": round(
                health_window["new_connections"] / max(1, health_window["requests"]), 5
            ),
        },
    }


def exactness_figures(results: dict, client: redis.Redis, apps: list[tuple[str, str]]) -> None:
    results["exact_limit_run"] = provision.run_playbook(
        f"limit {EXACT_LIMIT}",
        "playbooks/app.yml",
        "-e",
        json.dumps({"app_ratelimit_enabled": True, "app_ratelimit_requests": EXACT_LIMIT}),
    ).as_dict()
    # A fresh window: earlier phases counted against the same client key.
    for key in client.scan_iter(match="*rate_limit:api_test:*", count=1000):
        client.delete(key)
    statuses = httpload.burst(apps, API_PATH, total=BURST)
    params = redis_params()

    def make_client() -> redis.Redis:
        return redis.Redis(**params, socket_timeout=20)

    results["exactness"] = {
        "limit": EXACT_LIMIT,
        "http": {
            "requests": BURST,
            "hosts": list(APP_HOSTS),
            "allowed": statuses.get(200, 0),
            "rejected_429": statuses.get(429, 0),
            "other": {str(k): v for k, v in statuses.items() if k not in (200, 429)},
        },
        "atomic_direct": limiter.run_concurrently(
            make_client,
            limiter.atomic_allow_factory(limiter.app_lua_script()),
            key="bench:exact:atomic",
            limit=EXACT_LIMIT,
            callers=BURST,
        ),
        "seed_baseline": limiter.run_concurrently(
            make_client,
            limiter.seed_style_allow,
            key="bench:exact:seed",
            limit=EXACT_LIMIT,
            callers=BURST,
        ),
    }
    log(f"exactness: HTTP allowed {statuses.get(200, 0)} of {BURST} (limit {EXACT_LIMIT})")


def machine() -> dict:
    def out(*argv: str) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
        return proc.stdout.strip()

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": out("git", "rev-parse", "--short", "HEAD"),
        "dirty": bool(out("git", "status", "--porcelain")),
        "cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "docker": out("docker", "version", "--format", "{{.Server.Version}}"),
        "ansible_core": (out("ansible", "--version").splitlines() or [""])[0],
        "wrk": out("sh", "-c", "wrk -v 2>&1 | head -1"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-provisioning", action="store_true", help="reuse the running bench stack"
    )
    parser.add_argument(
        "--output", default=str(ROOT / "bench" / "results"), help="directory for the JSON file"
    )
    args = parser.parse_args()

    started = time.monotonic()
    results: dict = {"machine": machine()}
    try:
        if not args.skip_provisioning:
            provisioning(results)
        apps = [(container_ip(h), h) for h in APP_HOSTS]
        for address, host_header in apps:
            wait_until(
                lambda a=address, h=host_header: healthy(a, h),
                timeout=60,
                what=f"{host_header} healthy",
            )
        client = redis_client()
        redis_figures(results, client)
        http_figures(results, client, apps)
        exactness_figures(results, client, apps)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 2
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    results["targets"] = report.targets(results)
    path = report.write_json(results, args.output)
    print(report.table(results))
    log(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if all(t["met"] for t in results["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
