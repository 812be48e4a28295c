"""The nginx front (bench-web) against gunicorn straight: requests, static files, TLS handshakes.

Five wrk loads from the controller, each with 2 threads and 16 connections
(the throughput phase's concurrency) and the client pool of
httpload.CLIENT_POOL, run interleaved in rounds (A B C D E, E D C B A, ...):

- straight to gunicorn: /health/live/ on both app hosts at once, one wrk
  thread (8 connections) on each. The front spreads its requests over both,
  so the baseline holds the same 8 workers;
- the front, plain HTTP, keep-alive: the same path (a health probe's path,
  which nginx passes on over HTTP even with the redirect to HTTPS on);
- the front, HTTPS, keep-alive: the same path;
- the front, HTTPS, keep-alive: a hashed static file of the live release
  (collectstatic's manifest), with `Accept-Encoding: gzip`, which the front
  serves from its cache;
- the front, HTTPS, `Connection: close` on every request: the same static
  file, so every request is a new TCP connection and a full TLS handshake
  (wrk does not resume TLS sessions: bench/tests pin that), and nothing
  behind the front limits the figure.

Each front figure is the median over rounds of its ratio to the same round's
straight run. Before the loads, the front is probed once per kind of
request, over HTTPS trusting only the local CA for the name bench-web (the
certificate the inventory's nginx_tls_source `local_ca` gives it). Around the
measured rounds, the app hosts' gunicorn access logs are read: every request
for the static file that reached them, i.e. that the front's cache did not
answer.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
from dataclasses import dataclass, replace

import httpload
from common import (
    APP_HOSTS,
    APP_PORT,
    FRONT_HTTP_PORT,
    FRONT_HTTPS_PORT,
    GUNICORN_ACCESS_LOG,
    LIVE_PATH,
    LIVE_RELEASE,
    LOCAL_CA,
    WEB_HOST,
    BenchError,
    container_ip,
    docker_exec,
    log,
)
from httpload import Site, WrkRun, WrkSeries
from throughput import cpu_ratio, paired_ratio

ROUNDS = 7
SECONDS_PER_RUN = 5
WARMUP_SECONDS = 2
THREADS = 2  # the throughput phase's concurrency
CONNECTIONS = 16
CONTAINERS = (WEB_HOST, *APP_HOSTS)  # whose CPU time is counted per request
# The app's page (detail_project/index.html) links two hashed assets:
# css/app.css and js/app.js. The loads ask for the first.
STATIC_ASSET = "css/app.css"
ASSETS_PER_PAGE = 2
MANIFEST = f"{LIVE_RELEASE}/staticfiles/staticfiles.json"
HASHED = re.compile(r"^[A-Za-z0-9_./-]+\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
IMMUTABLE = "public, max-age=31536000, immutable"  # the front's header for hashed names
GZIP = "Accept-Encoding: gzip"
CLOSE = "Connection: close"


@dataclass(frozen=True)
class StaticFile:
    """The hashed file the static loads ask for, as the front served it to the probe."""

    path: str  # /static/<hashed name from the live release's manifest>
    bytes: int  # the body with Accept-Encoding: gzip
    content_encoding: str  # "" when not compressed
    cache_control: str
    # Requests for it in the app hosts' gunicorn access logs during the
    # measured rounds: the ones the front's cache did not answer.
    app_requests: int


@dataclass(frozen=True)
class FrontFigures:
    """The front section: each load's series, and each front figure against gunicorn straight."""

    web_host: str
    app_hosts: list[str]
    server_name: str  # Host and TLS server name of every request to the front
    tls_version: str  # what the probe trusting only the local CA negotiated
    rounds: int
    seconds_per_run: int
    client_pool: int
    straight: WrkSeries  # gunicorn on both app hosts, /health/live/
    http: WrkSeries  # the front, HTTP keep-alive, /health/live/
    https: WrkSeries  # the front, HTTPS keep-alive, /health/live/
    static: WrkSeries  # the front, HTTPS keep-alive, the static file
    handshakes: WrkSeries  # the front, HTTPS, a new connection per request, the static file
    static_file: StaticFile
    # Medians over rounds of (front req/s / straight req/s), paired by round.
    http_vs_straight: float
    https_vs_straight: float
    static_vs_straight: float
    handshakes_vs_straight: float
    # straight / front servers' CPU per request (the front, both app hosts):
    # the ratio saturated cores allow. None when the cgroups are unknown.
    http_vs_straight_cpu: float | None
    https_vs_straight_cpu: float | None
    # The front's own TCP state after the rounds (its network namespace): nginx
    # opens a connection to gunicorn per request (sync workers close every
    # one), and ports left in TIME_WAIT slow its connect() down unless they
    # may be reused (see common.reuse_time_wait_ports). None when unread.
    web_time_wait: int | None = None
    web_tcp_tw_reuse: str | None = None


@dataclass(frozen=True)
class Load:
    """One load of the phase: its name in the report, where it goes, what it asks."""

    key: str
    name: str
    site: Site
    path: str
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """One probe's answer."""

    status: int
    headers: dict[str, str]  # names in lower case
    size: int
    tls_version: str  # "" over plain HTTP


def measure(apps: list[tuple[str, str]]) -> FrontFigures:
    """Every figure of the front; `apps`: each app host's (address, name), as run.py has them."""
    web = web_address()
    loads = phase_loads(apps, web, "/static/" + hashed_asset(manifest()))
    by_key = {load.key: load for load in loads}
    tls_version, asset = check_front(by_key)  # its static request fills the front's cache
    log(f"front: {WEB_HOST} ({web}, {tls_version}) against gunicorn straight, {asset.path}")
    for load in loads:
        run_load(load, WARMUP_SECONDS)
    before = static_requests(asset.path)
    runs = httpload.alternating(
        [load.key for load in loads], ROUNDS, lambda key: run_load(by_key[key], SECONDS_PER_RUN)
    )
    static_file = replace(asset, app_requests=static_requests(asset.path) - before)
    time_wait, tw_reuse = web_ports()
    series = {
        load.key: WrkSeries(load.name, load.path, THREADS, CONNECTIONS, runs[load.key])
        for load in loads
    }
    for entry in series.values():
        log(
            f"front {entry.name}: {entry.requests_per_second} req/s,"
            f" p50 {entry.p50_ms} ms, p99 {entry.p99_ms} ms"
        )
    return replace(
        figures(series, static_file, tls_version, [host for _, host in apps]),
        web_time_wait=time_wait,
        web_tcp_tw_reuse=tw_reuse,
    )


def figures(
    series: dict[str, WrkSeries], static_file: StaticFile, tls_version: str, app_hosts: list[str]
) -> FrontFigures:
    """The record from the five series: each front series against the straight one."""
    straight = series["straight"]

    def ratio(key: str) -> float:
        return paired_ratio(series[key].runs, straight.runs)

    return FrontFigures(
        web_host=WEB_HOST,
        app_hosts=app_hosts,
        server_name=WEB_HOST,
        tls_version=tls_version,
        rounds=len(straight.runs),
        seconds_per_run=SECONDS_PER_RUN,
        client_pool=httpload.CLIENT_POOL,
        straight=straight,
        http=series["http"],
        https=series["https"],
        static=series["static"],
        handshakes=series["handshakes"],
        static_file=static_file,
        http_vs_straight=ratio("http"),
        https_vs_straight=ratio("https"),
        static_vs_straight=ratio("static"),
        handshakes_vs_straight=ratio("handshakes"),
        http_vs_straight_cpu=cpu_ratio(straight, series["http"]),
        https_vs_straight_cpu=cpu_ratio(straight, series["https"]),
    )


def phase_loads(apps: list[tuple[str, str]], web: str, static_path: str) -> list[Load]:
    """The five loads, in the order of a round (see the module's docstring)."""
    straight = Site("http", apps[0][1], APP_PORT, tuple(address for address, _ in apps))
    plain = Site("http", WEB_HOST, FRONT_HTTP_PORT, (web,))
    tls = Site("https", WEB_HOST, FRONT_HTTPS_PORT, (web,))
    hosts = " + ".join(host for _, host in apps)
    return [
        Load("straight", f"straight to gunicorn ({hosts}): {LIVE_PATH}", straight, LIVE_PATH),
        Load("http", f"front, HTTP keep-alive: {LIVE_PATH}", plain, LIVE_PATH),
        Load("https", f"front, HTTPS keep-alive: {LIVE_PATH}", tls, LIVE_PATH),
        Load("static", "front, HTTPS keep-alive: static file", tls, static_path, (GZIP,)),
        Load(
            "handshakes",
            "front, HTTPS, new connection per request: static file",
            tls,
            static_path,
            (GZIP, CLOSE),
        ),
    ]


def run_load(load: Load, seconds: int) -> WrkRun:
    """One wrk run of the load, with the phase's threads, connections and CPU counting."""
    return httpload.wrk_site(
        load.site,
        load.path,
        seconds=seconds,
        threads=THREADS,
        connections=CONNECTIONS,
        headers=load.headers,
        containers=CONTAINERS,
    )


def web_address() -> str:
    """The front's address on the bench network; a clear error when it is not there."""
    try:
        return container_ip(WEB_HOST)
    except subprocess.CalledProcessError as exc:
        raise BenchError(
            f"{WEB_HOST} is not running: inventories/bench's `web` group is created by a run"
            " without --skip-provisioning (or leave this phase out with --skip-front)"
        ) from exc


def manifest() -> dict:
    """collectstatic's manifest of the live release, read on the first app host."""
    text = docker_exec(APP_HOSTS[0], ["cat", MANIFEST])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BenchError(f"{APP_HOSTS[0]}:{MANIFEST} is not JSON: {exc}") from exc


def hashed_asset(data: dict) -> str:
    """The hashed name of the app's stylesheet in the manifest (else its first hashed name)."""
    paths = data.get("paths") if isinstance(data, dict) else None
    if not isinstance(paths, dict):
        raise BenchError(f"{MANIFEST} has no `paths`")
    name = paths.get(STATIC_ASSET)
    if not isinstance(name, str):
        name = next((v for _, v in sorted(paths.items()) if isinstance(v, str)), "")
    if not HASHED.match(name):
        raise BenchError(f"{MANIFEST}: no hashed static name ({STATIC_ASSET}: {name!r})")
    return name


def check_front(loads: dict[str, Load]) -> tuple[str, StaticFile]:
    """What the loads ask, asked once: 200 over HTTP and over HTTPS (trusting only the
    local CA), and the static file served as the front serves hashed names.

    wrk counts a redirect (3xx) as an answer, so a load that only measured
    redirects would pass unnoticed: this is where it stops the bench.
    """
    tls_version = ""
    for key in ("straight", "http", "https"):
        load = loads[key]
        answer = fetch(load.site, load.path)
        if answer.status != 200:
            raise BenchError(f"{load.site.url(load.path)} answered {answer.status}, not 200")
        tls_version = answer.tls_version or tls_version
    static = loads["static"]
    answer = fetch(static.site, static.path, static.headers)
    control = answer.headers.get("cache-control", "")
    if answer.status != 200 or control != IMMUTABLE:
        raise BenchError(
            f"{static.site.url(static.path)} answered {answer.status}, Cache-Control {control!r}"
            f" (wanted 200, {IMMUTABLE!r})"
        )
    return tls_version, StaticFile(
        path=static.path,
        bytes=answer.size,
        content_encoding=answer.headers.get("content-encoding", ""),
        cache_control=control,
        app_requests=0,
    )


def fetch(site: Site, path: str, headers: tuple[str, ...] = (), timeout: float = 10) -> Answer:
    """One GET on a new connection to the site's first address; for https, the
    certificate must chain to the local CA (LOCAL_CA, nothing else) and cover the name.
    """
    head = [f"Host: {site.name}", *headers, "Connection: close"]
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in head) + "\r\n"
    try:
        sock = socket.create_connection((site.addresses[0], site.port), timeout=timeout)
    except OSError as exc:
        raise BenchError(f"{site.url(path)}: {exc}") from exc
    try:
        if site.scheme == "https":
            sock = local_ca_context().wrap_socket(sock, server_hostname=site.name)
        sock.sendall(request.encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        return Answer(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            size=len(body),
            tls_version=version or "",
        )
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"{site.url(path)}: {exc}") from exc
    finally:
        sock.close()


def local_ca_context() -> ssl.SSLContext:
    """Trusts the CA the playbook made for the front (nginx_tls_source `local_ca`) and no other."""
    if not LOCAL_CA.is_file():
        raise BenchError(
            f"{LOCAL_CA} is missing: the front was not converged with nginx_tls_source local_ca"
        )
    return ssl.create_default_context(cafile=str(LOCAL_CA))


def static_requests(path: str) -> int:
    """Requests for `path` so far in every app host's gunicorn access log."""
    script = 'grep -cF -- "GET $0 " "$1" || true'
    return sum(
        int(docker_exec(host, ["sh", "-c", script, path, GUNICORN_ACCESS_LOG]).strip() or 0)
        for host in APP_HOSTS
    )


def web_ports() -> tuple[int | None, str | None]:
    """Sockets in TIME_WAIT on the front, and its net.ipv4.tcp_tw_reuse (None: unread)."""
    out = docker_exec(
        WEB_HOST, ["sh", "-c", "cat /proc/net/sockstat; cat /proc/sys/net/ipv4/tcp_tw_reuse"]
    )
    lines = out.strip().splitlines()
    reuse = lines[-1].strip() if lines and lines[-1].strip().isdigit() else None
    return time_wait(out), reuse


def time_wait(sockstat: str) -> int | None:
    """The `tw` count of /proc/net/sockstat's TCP line ("TCP: inuse 5 orphan 0 tw 12 ...")."""
    for line in sockstat.splitlines():
        if line.startswith("TCP:"):
            fields = line.split()[1:]
            pairs = dict(zip(fields[::2], fields[1::2], strict=False))
            value = pairs.get("tw", "")
            return int(value) if value.isdigit() else None
    return None
