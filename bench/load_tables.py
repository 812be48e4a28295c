"""The report's sections under load: HTTP throughput and latency, the front, the day-2 steps."""

from __future__ import annotations

from common import TimeWaitReuse
from daytwo import Day2Figures, LoadFigures
from front import FrontFigures
from httpload import WrkSeries
from tables import section
from throughput import HttpFigures, OneAtATime


def http_table(h: HttpFigures, tcp_tw_reuse: TimeWaitReuse | None) -> str:
    """Saturated throughput of the three paths, each round's pair, and the port setting."""
    return (
        section(
            f"HTTP on {h.host} ({h.gunicorn_workers} gunicorn workers), wrk from the controller"
            f" ({h.client_pool} client addresses), median of {h.rounds} interleaved"
            f" runs of {h.seconds_per_run} s",
            ["endpoint", "req/s", "p50 ms", "p99 ms", "requests", "server CPU us/request"],
            [_saturated_row(x) for x in (h.bare, h.rate_limited, h.health)],
        )
        + "\nper-round req/s (bare / limited): "
        + "  ".join(
            f"{b.requests_per_second:.0f}/{lim.requests_per_second:.0f}"
            for b, lim in zip(h.bare.runs, h.rate_limited.runs, strict=False)
        )
        + _ports(tcp_tw_reuse)
    )


def _saturated_row(x: WrkSeries) -> list[str]:
    return [
        x.name,
        f"{x.requests_per_second:.0f}",
        f"{x.p50_ms:.2f}",
        f"{x.p99_ms:.2f}",
        str(x.requests),
        _cpu(x.cpu_us),
    ]


def one_at_a_time_table(q: OneAtATime, controller_get_p50_us: float | None) -> str:
    """The limiter's added latency over HTTP, against the controller's own GET when known."""
    vs_get = (
        f" = {q.added_p50_us / controller_get_p50_us:.2f} x the controller's GET"
        if controller_get_p50_us
        else ""
    )
    return (
        section(
            f"HTTP one request at a time (wrk -t1 -c1), median of {q.rounds} interleaved"
            " runs: the limiter over HTTP",
            ["endpoint", "req/s", "p50 ms", "p99 ms"],
            [
                [x.name, f"{x.requests_per_second:.0f}", f"{x.p50_ms:.3f}", f"{x.p99_ms:.2f}"]
                for x in (q.bare, q.rate_limited)
            ],
        )
        + f"\nadded by the limiter over HTTP: {q.added_p50_us:.0f} us (p50){vs_get}"
    )


def front_table(f: FrontFigures) -> str:
    """Each load of the front phase against gunicorn straight, then the static file's path."""
    ratios = {
        f.http.name: f.http_vs_straight,
        f.https.name: f.https_vs_straight,
        f.static.name: f.static_vs_straight,
        f.handshakes.name: f.handshakes_vs_straight,
    }
    loads = (f.straight, f.http, f.https, f.static, f.handshakes)
    s = f.static_file
    return (
        section(
            f"The front: nginx on {f.web_host} ({f.tls_version or 'TLS'}, local CA) before"
            f" {' and '.join(f.app_hosts)}, wrk from the controller ({f.client_pool} client"
            f" addresses, {f.straight.threads} threads, {f.straight.connections} connections),"
            f" median of {f.rounds} interleaved runs of {f.seconds_per_run} s",
            [
                "load",
                "req/s",
                "p50 ms",
                "p99 ms",
                "requests",
                "x straight",
                "server CPU us/request",
            ],
            [[*_saturated_row(x)[:5], _times(ratios.get(x.name)), _cpu(x.cpu_us)] for x in loads],
        )
        + f"\nstatic file: {s.path} ({s.bytes} bytes, {s.content_encoding or 'not compressed'});"
        f" requests for it that reached the app hosts during the runs: {s.app_requests}"
        + _web_ports(f)
        + "\nper-round req/s (straight / HTTP / HTTPS): "
        + "  ".join(
            f"{a.requests_per_second:.0f}/{b.requests_per_second:.0f}/{c.requests_per_second:.0f}"
            for a, b, c in zip(f.straight.runs, f.http.runs, f.https.runs, strict=False)
        )
    )


def _web_ports(f: FrontFigures) -> str:
    """The front's sockets in TIME_WAIT after the rounds, and whether it may reuse them."""
    if f.web_time_wait is None and f.web_tcp_tw_reuse is None:
        return ""
    return (
        f"\n{f.web_host} after the runs: {f.web_time_wait} sockets in TIME_WAIT,"
        f" net.ipv4.tcp_tw_reuse {f.web_tcp_tw_reuse}"
    )


def _times(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}"


def _ports(setting: TimeWaitReuse | None) -> str:
    """The controller's TIME_WAIT reuse during the loads (see common.reuse_time_wait_ports)."""
    if not setting:
        return ""
    changed = f" (was {setting.before})" if setting.before != setting.during else ""
    return f"\ncontroller's net.ipv4.tcp_tw_reuse during the loads: {setting.during}{changed}"


def _cpu(cpu: dict[str, float]) -> str:
    """The servers' CPU per request, then where (app host, Redis, PostgreSQL), and wrk's."""
    if not cpu:
        return ""
    parts = [
        f"{name.removeprefix('bench-')} {value:.0f}"
        for name, value in cpu.items()
        if name not in ("server", "wrk")
    ]
    wrk = f"; wrk {cpu['wrk']:.0f}" if "wrk" in cpu else ""
    return f"{cpu['server']:.0f} ({', '.join(parts)}{wrk})"


def day2_table(d: Day2Figures) -> str:
    """The quiet baseline, then each step: its playbook run and the load it ran under."""
    rows = [["quiet baseline (nothing shipping)", "", "", *_load_cells(d.quiet)]]
    rows += [
        [s.name, f"{s.playbook_seconds:.0f}", str(s.changed), *_load_cells(s.load)] for s in d.steps
    ]
    return section(
        f"Day-2 changes under load: {d.requests_per_second:.0f} requests/s over both app hosts"
        " (/health/ and the tree API with a bearer token)",
        [
            "step",
            "playbook s",
            "changed",
            "sent",
            "failed",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99 x quiet",
        ],
        rows,
    )


def _load_cells(x: LoadFigures) -> list[str]:
    return [
        str(x.sent),
        str(x.failed),
        f"{x.requests_per_second:.0f}",
        f"{x.p50_ms:.1f}",
        f"{x.p99_ms:.1f}",
        f"{x.p99_vs_quiet:.2f}",
    ]
