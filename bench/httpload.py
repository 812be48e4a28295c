"""HTTP figures: wrk for throughput and latency, a synchronized burst for exactness.

wrk (Debian's package) runs on the controller against one app host's
container address, or against a `Site` (a name and the addresses that answer
for it: both app hosts, the front over HTTP or HTTPS), with a fixed duration
and connection count; its Lua script (bench/wrk_report.lua) gives every
request an `X-Forwarded-For` from a pool of client addresses and reports
exact percentiles as JSON. The burst is a bounded thread pool: every request
has a timeout and the pool a deadline.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import resource
import statistics
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from common import APP_PORT, ROOT, BenchError, container_cpu_ns, log, run_threads

WRK_SCRIPT = ROOT / "bench" / "wrk_report.lua"
# Client addresses wrk's requests come from (X-Forwarded-For, believed from
# the controller: inventories/bench trusts it as the proxy). Enough that no
# client nears a limit: at 1,000 requests/s each sends under 4 a minute, so
# each limiter log stays as short as a real client's.
CLIENT_POOL = 16384


@dataclass(frozen=True)
class WrkRun:
    """One wrk run of one path: its throughput and latency, and the CPU it cost."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    errors: dict[str, int]  # wrk's counts: connect, read, write, status (non-2xx), timeout
    # CPU time per request (microseconds): each container's cgroup and wrk's
    # own process, read around the run. Empty when the cgroups are unknown.
    cpu_us: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class WrkSeries:
    """Several equal runs of one path; figures are the medians (less noise on 2 cores)."""

    DERIVED: ClassVar[tuple[str, ...]] = (
        "requests_per_second",
        "p50_ms",
        "p99_ms",
        "requests",
        "cpu_us",
    )

    name: str
    path: str
    threads: int
    connections: int
    runs: list[WrkRun]

    @property
    def requests_per_second(self) -> float:
        return round(statistics.median(r.requests_per_second for r in self.runs), 1)

    @property
    def p50_ms(self) -> float:
        return round(statistics.median(r.p50_ms for r in self.runs), 2)

    @property
    def p99_ms(self) -> float:
        return round(statistics.median(r.p99_ms for r in self.runs), 2)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)

    @property
    def cpu_us(self) -> dict[str, float]:
        """Median CPU per request by where it was spent, and "server": the median of the
        containers' sum (wrk left out: its CPU per request swings with the server's
        speed, and in production the clients are elsewhere).
        """
        runs = [r.cpu_us for r in self.runs if r.cpu_us]
        if not runs:
            return {}
        out = {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}
        out["server"] = round(
            statistics.median(sum(v for k, v in r.items() if k != "wrk") for r in runs), 1
        )
        return out


def _cpu_snapshot(containers: tuple[str, ...]) -> dict[str, int] | None:
    """CPU nanoseconds used so far by each container and by this process's children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    snapshot = {"wrk": int((usage.ru_utime + usage.ru_stime) * 1e9)}
    for host in containers:
        value = container_cpu_ns(host)
        if value is None:
            return None
        snapshot[host] = value
    return snapshot


def wrk(
    address: str,
    host_header: str,
    path: str,
    *,
    seconds: int,
    threads: int,
    connections: int,
    clients: int = CLIENT_POOL,
    containers: tuple[str, ...] = (),
) -> WrkRun:
    """One wrk run of `path` on one app host; a run with any failed request is an error.

    A non-2xx answer (a 429, a 503) or a socket error would make the
    throughput figure meaningless: it is a failed run, not a slow one.
    """
    return _run_wrk(
        f"http://{address}:{APP_PORT}{path}",
        [f"Host: {host_header}"],
        {},
        seconds=seconds,
        options=(f"-t{threads}", f"-c{connections}"),
        clients=clients,
        containers=containers,
    )


@dataclass(frozen=True)
class Site:
    """Where a load goes: the name it asks for (URL, Host, TLS server name), its
    scheme and port, and the addresses that answer for it. wrk connects to the
    addresses, not to what the name resolves to (the controller does not
    resolve the containers' names); its threads take them in turn.
    """

    scheme: str
    name: str
    port: int
    addresses: tuple[str, ...]

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.name}:{self.port}{path}"


def wrk_site(
    site: Site,
    path: str,
    *,
    seconds: int,
    threads: int,
    connections: int,
    headers: Sequence[str] = (),
    clients: int = CLIENT_POOL,
    containers: tuple[str, ...] = (),
) -> WrkRun:
    """One wrk run of `path` on `site`, with extra request `headers` ("Name: value").

    With more addresses than one, give at least as many threads: thread i
    connects to address i modulo their count (wrk_report.lua).
    """
    if not site.addresses or threads < len(site.addresses):
        raise BenchError(f"{site.url(path)}: {threads} threads for {len(site.addresses)} addresses")
    return _run_wrk(
        site.url(path),
        [f"Host: {site.name}", *headers],
        {"WRK_ADDRESSES": " ".join(f"{a}:{site.port}" for a in site.addresses)},
        seconds=seconds,
        options=(f"-t{threads}", f"-c{connections}"),
        clients=clients,
        containers=containers,
    )


def _run_wrk(
    url: str,
    headers: list[str],
    env: dict[str, str],
    *,
    seconds: int,
    options: tuple[str, ...],
    clients: int,
    containers: tuple[str, ...],
) -> WrkRun:
    """wrk with its report script; its JSON read into a run, any failed request an error."""
    argv = ["wrk", *options, f"-d{seconds}s", "--timeout", "5s"]
    for header in headers:
        argv += ["-H", header]
    argv += ["-s", str(WRK_SCRIPT), url, "--", str(clients)]
    environment = {k: v for k, v in os.environ.items() if k != "WRK_ADDRESSES"} | env
    before = _cpu_snapshot(containers)
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 30, check=False, env=environment
    )
    after = _cpu_snapshot(containers)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk {url} failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    run = _wrk_run(json.loads(line.removeprefix("WRK_JSON ")), before, after)
    if run.requests == 0 or any(run.errors[k] for k in ("connect", "status", "timeout", "write")):
        raise BenchError(f"wrk {url}: {run.requests} requests with errors {run.errors}")
    return run


def _wrk_run(
    data: dict[str, Any], before: dict[str, int] | None, after: dict[str, int] | None
) -> WrkRun:
    """wrk_report.lua's JSON (microseconds) as a run; CPU per request from the snapshots."""
    requests = data["requests"]
    cpu_us: dict[str, float] = {}
    if before and after and requests:
        cpu_us = {name: round((after[name] - before[name]) / 1000 / requests, 1) for name in before}
    latency = data["latency_us"]
    return WrkRun(
        requests=requests,
        seconds=round(data["duration_us"] / 1e6, 2),
        requests_per_second=round(requests / (data["duration_us"] / 1e6), 1),
        p50_ms=round(latency["p50"] / 1000, 2),
        p90_ms=round(latency["p90"] / 1000, 2),
        p99_ms=round(latency["p99"] / 1000, 2),
        mean_ms=round(latency["mean"] / 1000, 3),
        errors=data["errors"],
        cpu_us=cpu_us,
    )


def interleaved(
    endpoints: list[tuple[str, str]],
    address: str,
    host_header: str,
    *,
    rounds: int = 5,
    seconds: int = 6,
    warmup: int = 2,
    threads: int = 2,
    connections: int = 16,
    around: Callable[[str], Callable[[WrkRun], None] | None] | None = None,
    containers: tuple[str, ...] = (),
) -> list[WrkSeries]:
    """Rounds of one run per endpoint, in A B C, C B A, A B C ... order, so slow
    drifts of the machine hit every endpoint alike and no endpoint always runs
    after the same one; figures are medians over the rounds.

    endpoints: (name, path) pairs. `around(path)` is called before each run and
    returns a callback that gets the finished run (for counters read around it).
    `containers`: whose CPU time to count per request (with wrk's own).
    """
    load = functools.partial(
        wrk,
        address,
        host_header,
        threads=threads,
        connections=connections,
        containers=containers,
    )
    for _, path in endpoints:
        load(path, seconds=warmup)

    def measured(path: str) -> WrkRun:
        after = around(path) if around else None
        run = load(path, seconds=seconds)
        if after:
            after(run)
        return run

    runs = alternating([path for _, path in endpoints], rounds, measured)
    series = [WrkSeries(name, path, threads, connections, runs[path]) for name, path in endpoints]
    for entry in series:
        log(
            f"http {entry.name}: {entry.requests_per_second} req/s,"
            f" p50 {entry.p50_ms} ms, p99 {entry.p99_ms} ms"
        )
    return series


def alternating(
    keys: Sequence[str], rounds: int, run: Callable[[str], WrkRun]
) -> dict[str, list[WrkRun]]:
    """`rounds` rounds of run(key) for every key, in A B C, C B A, A B C ... order."""
    runs: dict[str, list[WrkRun]] = {key: [] for key in keys}
    for index in range(rounds):
        for key in keys if index % 2 == 0 else keys[::-1]:
            runs[key].append(run(key))
    return runs


def burst(
    targets: list[tuple[str, str]],
    path: str,
    *,
    total: int,
    timeout: float = 20,
    port: int = APP_PORT,
) -> Counter[int]:
    """`total` requests released at once (a barrier), spread round-robin over `targets`.

    targets: (address, Host header) pairs. Returns a Counter of status codes
    (0 for a request that got no HTTP answer).
    """
    barrier = threading.Barrier(total, timeout=timeout)
    statuses: list[int] = [0] * total

    def one(index: int) -> None:
        address, host_header = targets[index % len(targets)]
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
        try:
            conn.connect()  # connect first so the barrier releases requests, not handshakes
            barrier.wait()
            conn.request("GET", path, headers={"Host": host_header})
            statuses[index] = conn.getresponse().status
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError):
            statuses[index] = 0
        finally:
            conn.close()

    run_threads(one, total, deadline=2 * timeout)
    return Counter(statuses)
