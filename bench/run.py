"""`make bench`: every figure of the benchmark from one run on one machine state.

Order matters: provisioning first (fresh containers, so the first converge is
a real fresh one; then the no-op re-run with its breakdown, the floor and
each role alone, and drift repair), then the figures that need the stack as
the inventory describes it (Redis, the limiter in-process, HTTP, the nginx
front against gunicorn straight), then the day-2 changes under load (which
end back at the inventory), then exactness, which needs a low limit (changed
with `-e` through playbooks/app.yml, as an operator would, and put back the
same way), then the backups at size (a 1 GB database backed up, archived
under load and restored, last because the restore replaces the database
host's cluster). Every loop is bounded in count and time; every target is the
project's own container or loopback.

Exit status: 0 when every target is met, 1 when one is missed (the table says
which), 2 when a phase could not produce a figure (what was measured until
then is written to bench/results/failed-<time>.json).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

import backups
import converge
import daytwo
import drift
import exactness
import front
import httpload
import inprocess_shell
import limiter
import noop
import redis
import redisrtt
import report
import targets
import throughput
from common import (
    APP_HOSTS,
    HEALTH_PATH,
    REDIS_HOST,
    ROOT,
    BenchError,
    TimeWaitReuse,
    container_ip,
    log,
    redis_client,
    reuse_time_wait_ports,
    wait_until,
)
from results import BenchResults, Machine


def healthy(address: str, host_header: str) -> bool:
    """Whether the app host answers its full health probe with 200."""
    counts = httpload.burst([(address, host_header)], HEALTH_PATH, total=1, timeout=5)
    return counts.get(200, 0) == 1


def provisioning(results: BenchResults, rounds: int) -> None:
    """Fresh converge and no-op re-run, the floors and each role alone, drift repair."""
    results.provisioning = converge.measure()
    results.noop = noop.noop_figures(rounds)
    results.drift_repair = drift.measure(results.provisioning.fresh_converge)


def redis_figures(results: BenchResults, client: redis.Redis) -> None:
    """Round trips against redis-benchmark's floor, and memory per tracked client."""
    results.redis_ping_floor = redisrtt.redis_benchmark_floor(client, container_ip(REDIS_HOST))
    results.limiter_round_trip = redisrtt.limiter_round_trip(client, limiter.sliding_log().hit)
    m = results.redis_memory = limiter.memory_figures(client)
    log(
        f"memory: {m.memory_usage_bytes} bytes (MEMORY USAGE),"
        f" {m.used_memory_per_client_bytes} bytes of used_memory per client"
    )


def wait_for_apps() -> list[tuple[str, str]]:
    """Each app host's (address, Host header), once every one answers its health probe."""
    apps = [(container_ip(h), h) for h in APP_HOSTS]
    for address, host_header in apps:
        wait_until(
            lambda a=address, h=host_header: healthy(a, h),
            timeout=60,
            what=f"{host_header} healthy",
        )
    return apps


def measure(results: BenchResults, args: argparse.Namespace) -> None:
    """Every phase in order; each returns its record, set here once."""
    if not args.skip_provisioning:
        provisioning(results, args.noop_rounds)
    apps = wait_for_apps()
    client = redis_client()
    redis_figures(results, client)
    results.inprocess = inprocess_shell.measure()
    results.http = throughput.measure(client, *apps[0])
    if not args.skip_front:
        results.front = front.measure(apps)
    if not args.skip_day2:
        results.day2 = daytwo.zero_downtime(client)
    results.exactness = exactness.measure(client, apps)
    if not args.skip_backups:
        results.backups = backups.measure()


def machine(ports: TimeWaitReuse) -> Machine:
    """The machine, the tree and the tools the figures come from."""

    def out(*argv: str) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
        return proc.stdout.strip()

    return Machine(
        date=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        commit=out("git", "rev-parse", "--short", "HEAD"),
        dirty=bool(out("git", "status", "--porcelain")),
        cpus=len(os.sched_getaffinity(0)),
        kernel=platform.release(),
        docker=out("docker", "version", "--format", "{{.Server.Version}}"),
        ansible_core=(out("ansible", "--version").splitlines() or [""])[0],
        wrk=out("sh", "-c", "wrk -v 2>&1 | head -1"),
        tcp_tw_reuse=ports,
    )


def arguments() -> argparse.Namespace:
    """The command line (mk/bench.mk passes BENCH_ARGS through)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-provisioning",
        action="store_true",
        help="reuse the running bench stack (no fresh converge, no no-op or drift figures)",
    )
    parser.add_argument(
        "--skip-front",
        action="store_true",
        help="leave out the nginx front's figures (bench-web against gunicorn straight)",
    )
    parser.add_argument(
        "--skip-day2", action="store_true", help="leave out the day-2 changes under load"
    )
    parser.add_argument(
        "--skip-backups",
        action="store_true",
        help="leave out the backup and restore of a 1 GB database (last phase)",
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
    return args


def main() -> int:
    """Measure, judge, print and write; the exit status says how it went (see above)."""
    args = arguments()
    started = time.monotonic()
    # Every load below opens one connection per request (see common.py).
    with reuse_time_wait_ports() as ports:
        results = BenchResults(machine=machine(ports))
        try:
            measure(results, args)
        except BenchError as exc:
            log(f"FAILED: {exc}")
            results.error = str(exc)
            results.bench_seconds = round(time.monotonic() - started, 1)
            path = report.write_json(results, [], args.output, name="failed")
            log(f"what was measured until then: {path}")
            return 2
    results.bench_seconds = round(time.monotonic() - started, 1)
    verdicts = targets.judge(results)
    path = report.write_json(results, verdicts, args.output)
    print(report.table(results, verdicts))
    log(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if all(t.met for t in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
