"""`make bench`: every figure of the benchmark from one run on one machine state.

Order matters: provisioning first (fresh containers, so the first converge is
a real fresh one; then the no-op re-run with its breakdown, the floor and
each role alone, and drift repair), then the figures that need the stack as
the inventory describes it (Redis, the limiter in-process, HTTP), then the
day-2 changes under load (which end back at the inventory), then exactness,
which needs a low limit (changed with `-e` through playbooks/app.yml, as an
operator would, and put back the same way). Every loop is bounded in count
and time; every target is the project's own container or loopback.

Exit status: 0 when every target is met, 1 when one is missed (the table says
which), 2 when a phase could not produce a figure (what was measured until
then is written to bench/results/failed-<time>.json).
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

import daytwo
import httpload
import limiter
import noop
import provision
import redis
import redisrtt
import report
from common import (
    APP_HOSTS,
    DB_HOST,
    GUNICORN_SERVICE,
    REDIS_HOST,
    ROOT,
    BenchError,
    container_ip,
    docker_exec,
    log,
    redis_client,
    redis_params,
    reuse_time_wait_ports,
    wait_until,
)

EXACT_LIMIT = 100
BURST = 300  # concurrent requests, half to each app host
API_PATH = "/api/test/"
LIVE_PATH = "/health/live/"
HEALTH_PATH = "/health/"
HTTP_ROUNDS = 9
HTTP_SECONDS = 5
SEQUENTIAL_ROUNDS = 3
GUNICORN_WORKERS = 4  # inventories/bench: gunicorn_systemd_workers
INPROCESS = ROOT / "bench" / "inprocess.py"
INPROCESS_MARK = "INPROCESS_JSON "


def healthy(address: str, host_header: str) -> bool:
    counts = httpload.burst([(address, host_header)], HEALTH_PATH, total=1, timeout=5)
    return counts.get(200, 0) == 1


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


def provisioning(results: dict, rounds: int) -> None:
    provision.containers("absent")
    provision.containers("present")
    fresh = provision.run_playbook("fresh converge", "site.yml")
    rerun = provision.run_playbook("idempotent re-run", "site.yml")
    results["provisioning"] = {
        "fresh": fresh.as_dict(),
        "rerun": rerun.as_dict(),
        "rerun_ratio": round(rerun.seconds / fresh.seconds, 3),
    }
    results["noop"] = noop.noop_figures(rounds)
    applied = provision.introduce_drift()
    drift = provision.run_playbook("drift repair", "site.yml")
    results["provisioning"]["drift_repair"] = drift.as_dict()
    results["provisioning"]["drift_ratio"] = round(drift.seconds / fresh.seconds, 3)
    results["drift"] = provision.verify_repairs(applied)


def redis_figures(results: dict, client: redis.Redis) -> None:
    address = container_ip(REDIS_HOST)
    results["redis"] = {
        "floor": redisrtt.redis_benchmark_floor(client, address),
        **redisrtt.limiter_round_trip(client, limiter.sliding_log().hit),
    }
    results["memory"] = limiter.memory_figures(client)
    m = results["memory"]
    log(
        f"memory: {m['memory_usage_bytes']} bytes (MEMORY USAGE),"
        f" {m['used_memory_per_client_bytes']} bytes of used_memory per client"
    )


def inprocess_figures(results: dict) -> None:
    """The limiter in the app's own process on the first app host (bench/inprocess.py)."""
    params = {"host": APP_HOSTS[0], "rounds": 7, "block": 400, "clients": 1024}
    code = (
        INPROCESS.read_text()
        + "\nimport json as _bench_json\n"
        + f"_bench_params = _bench_json.loads({json.dumps(json.dumps(params))})\n"
        + f"print({INPROCESS_MARK!r} + _bench_json.dumps(measure(_bench_params)))\n"
    )
    log(f"in-process: {API_PATH} with and without the limiter on {APP_HOSTS[0]}")
    out = docker_exec(
        APP_HOSTS[0], ["ahsp-manage", "shell", "--no-imports", "-c", code], timeout=900
    )
    line = next((x for x in out.splitlines() if x.startswith(INPROCESS_MARK)), None)
    if line is None:
        raise BenchError(f"in-process: no result line in {out[-500:]!r}")
    figures = json.loads(line.removeprefix(INPROCESS_MARK))
    unexpected = {k: v for k, v in figures["statuses"].items() if not k.startswith("200")}
    if unexpected:
        raise BenchError(f"in-process: answers other than 200: {unexpected}")
    results["inprocess"] = figures
    log(
        f"in-process: limiter adds {figures['added_us']} us per request,"
        f" GET {figures['get_us']} us ({figures['added_vs_get']} x)"
    )


def http_figures(results: dict, client: redis.Redis, apps: list[tuple[str, str]]) -> None:
    """Bare view, rate-limited view and /health/ on one app host, interleaved.

    The bare view is /health/live/: the same middleware stack as /api/test/
    and the same trivial JSON view, without the limiter (and without I/O);
    /api/test/ runs with the inventory's limit, and wrk's requests come from
    a pool of client addresses (httpload.CLIENT_POOL), so it never answers
    429. Around every /health/ run, Redis' connection counter and the host's
    gunicorn worker starts are read: with pooled connections, a new connection
    can only come from a worker making its first Redis call (one started in
    the window by max_requests recycling, or one of the GUNICORN_WORKERS that
    served no Redis-backed request before the window, e.g. started during a
    bare-view run), never from a request. Around every run, the CPU time of
    the app host, Redis, PostgreSQL and wrk is read too: the servers' CPU per
    request says what throughput saturated cores allow, whatever else the
    machine runs.

    Then the same two views one request at a time (wrk -t1 -c1), interleaved:
    the limiter's added latency over HTTP.
    """
    address, host_header = apps[0]
    health_window = {"requests": 0, "new_connections": 0, "worker_boots": 0, "windows": 0}

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
            health_window["windows"] += 1

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
        containers=(APP_HOSTS[0], REDIS_HOST, DB_HOST),
    )
    seq_bare, seq_limited = httpload.interleaved(
        [
            ("one at a time: /health/live/", LIVE_PATH),
            ("one at a time: /api/test/", API_PATH),
        ],
        address,
        host_header,
        rounds=SEQUENTIAL_ROUNDS,
        seconds=HTTP_SECONDS,
        threads=1,
        connections=1,
        containers=(APP_HOSTS[0], REDIS_HOST),
    )
    added_ms = [
        lim.p50_ms - base.p50_ms for lim, base in zip(seq_limited.runs, seq_bare.runs, strict=True)
    ]
    results["http"] = {
        "host": APP_HOSTS[0],
        "workers": GUNICORN_WORKERS,
        "rounds": HTTP_ROUNDS,
        "seconds_per_run": HTTP_SECONDS,
        "client_pool": httpload.CLIENT_POOL,
        "bare": bare.as_dict(),
        "rate_limited": limited.as_dict(),
        "health": health.as_dict(),
        # Paired by round: both runs of a round saw the same machine state
        # (throughput here swings between rounds on a shared 2-core host).
        "limited_vs_bare": round(
            statistics.median(
                lim.rps / base.rps for lim, base in zip(limited.runs, bare.runs, strict=True)
            ),
            3,
        ),
        # The same ratio from the servers' CPU per request (app host, Redis,
        # PostgreSQL): the throughput saturated cores allow, far less
        # sensitive to what else runs on the machine than wall-clock figures.
        "limited_vs_bare_cpu": (
            round(bare.cpu_us["server"] / limited.cpu_us["server"], 3)
            if bare.cpu_us and limited.cpu_us
            else None
        ),
        "sequential": {
            "rounds": SEQUENTIAL_ROUNDS,
            "bare": seq_bare.as_dict(),
            "rate_limited": seq_limited.as_dict(),
            "added_p50_us": round(statistics.median(added_ms) * 1000, 1),
        },
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
    stale = list(client.scan_iter(match="*rate_limit:api_test:*", count=1000))
    for start in range(0, len(stale), 1000):
        client.unlink(*stale[start : start + 1000])
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
            limiter.app_allow,
            key="bench:exact:sliding-log",
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
    results["limit_restored_run"] = provision.run_playbook(
        "limit back to the inventory", "playbooks/app.yml"
    ).as_dict()


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


def measure(results: dict, args: argparse.Namespace) -> None:
    """Every phase in order; each adds its figures to `results`."""
    if not args.skip_provisioning:
        provisioning(results, args.noop_rounds)
    apps = [(container_ip(h), h) for h in APP_HOSTS]
    for address, host_header in apps:
        wait_until(
            lambda a=address, h=host_header: healthy(a, h),
            timeout=60,
            what=f"{host_header} healthy",
        )
    client = redis_client()
    redis_figures(results, client)
    inprocess_figures(results)
    http_figures(results, client, apps)
    if not args.skip_day2:
        results["day2"] = daytwo.zero_downtime(client)
    exactness_figures(results, client, apps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-provisioning",
        action="store_true",
        help="reuse the running bench stack (no fresh converge, no no-op or drift figures)",
    )
    parser.add_argument(
        "--skip-day2", action="store_true", help="leave out the day-2 changes under load"
    )
    parser.add_argument(
        "--noop-rounds",
        type=int,
        default=3,
        help="rounds of floor and role-alone runs (median of per-round ratios; default 3)",
    )
    parser.add_argument(
        "--output", default=str(ROOT / "bench" / "results"), help="directory for the JSON file"
    )
    args = parser.parse_args()
    if not 1 <= args.noop_rounds <= 9:
        parser.error("--noop-rounds must be 1 to 9")

    started = time.monotonic()
    results: dict = {"machine": machine()}
    try:
        # Every load below opens one connection per request (see common.py).
        with reuse_time_wait_ports() as ports:
            results["machine"]["tcp_tw_reuse"] = ports
            measure(results, args)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        results["error"] = str(exc)
        results["bench_seconds"] = round(time.monotonic() - started, 1)
        path = report.write_json(results, args.output, name="failed")
        log(f"what was measured until then: {path}")
        return 2
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    results["targets"] = report.targets(results)
    path = report.write_json(results, args.output)
    print(report.table(results))
    log(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if all(t["met"] for t in results["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
