"""The bench's targets: each measured figure against the most (or least) it may be.

Every target names what it protects next to its goal. A target is judged
only when its phase ran; a run that leaves a phase out is judged on the
rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from backups import BackupFigures
from converge import ConvergeFigures
from daytwo import MIN_RATE, Day2Figures
from drift import DriftRepairFigures
from exactness import ExactnessFigures
from front import ASSETS_PER_PAGE, FrontFigures
from inprocess import InProcessFigures
from noop import NoopFigures
from redisrtt import LimiterRoundTrip
from results import BenchResults
from throughput import HttpFigures

# Operators re-run site.yml routinely (every deploy converges the whole
# stack), so a run that finds nothing to change must cost a small part of a
# fresh converge.
RERUN_VS_FRESH_TARGET = 0.30
# The limiter's decision is one Redis round trip; everything else it does
# per request (client identity, key, headers) must stay small next to a
# plain redis-py GET made by the same process.
LIMITER_ADDED_VS_GET_TARGET = 1.3
# The limiter must not become the app's bottleneck: a rate-limited view
# keeps most of the throughput of the same view without it.
LIMITED_VS_BARE_TARGET = 0.85
# The front must cost little of what the app hosts serve: requests through
# it (plain HTTP, and HTTPS to clients that keep their connection) keep most
# of the throughput of the same requests straight to gunicorn on the same
# hosts, at the same concurrency.
FRONT_VS_STRAIGHT_TARGET = 0.90
# A first visit's page is one app request and the hashed assets it links
# (ASSETS_PER_PAGE: css/app.css and js/app.js). Served from the front's
# cache, assets must come at least that many times as fast as the app hosts
# answer requests, so that they never limit page views.
STATIC_VS_STRAIGHT_TARGET = float(ASSETS_PER_PAGE)
# Clients that open a connection per request (first visits, scripts,
# probes) each cost a full TLS handshake: the front must accept them at
# least as fast as the app hosts answer requests, so that its TLS is never
# what limits such clients before the app is.
HANDSHAKES_VS_STRAIGHT_TARGET = 1.0
# Shipping a change (code, requirements, environment, Redis and PostgreSQL
# settings, a rollback) must not fail a request, under at least this load.
DAY2_MIN_RATE = MIN_RATE
# A 1 GB database restored to its latest state, until it takes writes.
RESTORE_SECONDS_TARGET = 300.0
# The oldest completed WAL segment waiting for the archive, under pgbench.
ARCHIVE_LAG_SECONDS_TARGET = 60.0


@dataclass(frozen=True)
class Target:
    """One verdict: the measured figure (as printed), the goal, and whether it was met."""

    name: str
    measured: str
    goal: str
    met: bool


def judge(r: BenchResults) -> list[Target]:
    """Every target whose figures were measured, in the order the report lists them."""
    out: list[Target] = []
    if r.provisioning:
        out += converge_targets(r.provisioning)
    if r.drift_repair:
        out.append(drift_target(r.drift_repair))
    if r.noop:
        out += noop_targets(r.noop)
    if r.inprocess:
        out.append(inprocess_target(r.inprocess))
    if r.http:
        out += http_targets(r.http)
    if r.front:
        out += front_targets(r.front)
    if r.exactness:
        out += exactness_targets(r.exactness)
    if r.limiter_round_trip:
        out.append(round_trip_target(r.limiter_round_trip))
    if r.day2:
        out += day2_targets(r.day2)
    if r.backups:
        out += backup_targets(r.backups)
    return out


def converge_targets(p: ConvergeFigures) -> list[Target]:
    """A cheap no-op re-run that changes nothing."""
    fresh, rerun = p.fresh_converge, p.noop_rerun
    return [
        Target(
            "full-stack no-op re-run / fresh converge",
            f"{p.noop_rerun_vs_fresh:.2f} ({rerun.seconds} s / {fresh.seconds} s)",
            f"<= {RERUN_VS_FRESH_TARGET}",
            p.noop_rerun_vs_fresh <= RERUN_VS_FRESH_TARGET,
        ),
        Target("no-op re-run changes", str(rerun.changed), "0", rerun.changed == 0),
    ]


def drift_target(d: DriftRepairFigures) -> Target:
    """The repair run must change something and undo every drift."""
    undone = len(d.drifts) - len(d.unrepaired)
    return Target(
        "drift repaired",
        f"changed={d.run.changed}, {undone} of {len(d.drifts)} drifts undone",
        "> 0 changes, every drift undone",
        d.run.changed > 0 and not d.unrepaired,
    )


def noop_targets(n: NoopFigures) -> list[Target]:
    """Each role alone against its floor multiple; no floor or role-alone run changes anything."""
    out = [
        Target(
            f"{x.role} no-op re-run alone / floor",
            f"{x.floor_multiple:.2f} ({x.median_seconds} s / {x.floor_seconds} s,"
            f" median of {n.rounds})",
            f"<= {x.target_floor_multiple:g}",
            x.target_met,
        )
        for x in n.roles
    ]
    changed = {
        **{f"{x.role} alone": x.max_changed for x in n.roles},
        **{f"floor {f.hosts}": f.max_changed for f in n.floors},
    }
    dirty = [f"{name} changed={count}" for name, count in changed.items() if count]
    out.append(
        Target(
            "role-alone and floor runs change nothing",
            ", ".join(dirty) or "changed=0 in every run",
            "0",
            not dirty,
        )
    )
    return out


def inprocess_target(i: InProcessFigures) -> Target:
    """The limiter's added cost per request against one plain round trip, in the app."""
    return Target(
        "limiter added cost / redis-py GET (in-process)",
        f"{i.limiter_added_vs_get:.2f} ({i.limiter_added_us} us / {i.redis_py_get_us} us,"
        " median of per-round ratios)",
        f"<= {LIMITER_ADDED_VS_GET_TARGET}",
        i.limiter_added_vs_get <= LIMITER_ADDED_VS_GET_TARGET,
    )


def http_targets(h: HttpFigures) -> list[Target]:
    """Throughput with the limiter; /health/ opens no Redis connection per request."""
    cpu = h.limited_vs_bare_cpu
    c = h.health_redis_connections
    return [
        Target(
            "rate-limited / bare throughput",
            f"{h.limited_vs_bare_throughput:.2f} (median of per-round ratios;"
            f" medians {h.rate_limited.requests_per_second}"
            f" / {h.bare.requests_per_second} req/s"
            + (f"; from the servers' CPU per request {cpu:.2f}" if cpu else "")
            + ")",
            f">= {LIMITED_VS_BARE_TARGET}",
            h.limited_vs_bare_throughput >= LIMITED_VS_BARE_TARGET,
        ),
        # Pooled connections: only a worker's first Redis call may open one.
        Target(
            "/health/ new Redis connections",
            f"{c.new_connections} over {c.requests} requests"
            f" ({c.worker_boots} worker starts, {c.runs} runs)",
            "<= worker starts + workers per run (none per request)",
            c.new_connections <= c.worker_boots + h.gunicorn_workers * c.runs,
        ),
    ]


def front_targets(f: FrontFigures) -> list[Target]:
    """The front against gunicorn straight: requests, static files from its cache, handshakes."""
    straight = f.straight.requests_per_second
    out = [
        Target(
            f"front / straight to gunicorn, {name}",
            f"{ratio:.2f} (median of per-round ratios; medians {x.requests_per_second}"
            f" / {straight} req/s"
            + (f"; from the servers' CPU per request {cpu:.2f}" if cpu else "")
            + ")",
            f">= {FRONT_VS_STRAIGHT_TARGET}",
            ratio >= FRONT_VS_STRAIGHT_TARGET,
        )
        for name, ratio, x, cpu in (
            ("HTTP keep-alive", f.http_vs_straight, f.http, f.http_vs_straight_cpu),
            ("HTTPS keep-alive", f.https_vs_straight, f.https, f.https_vs_straight_cpu),
        )
    ]
    out.append(
        Target(
            "front static files/s / straight to gunicorn req/s",
            f"{f.static_vs_straight:.2f} ({f.static.requests_per_second} files/s"
            f" / {straight} req/s, median of per-round ratios)",
            f">= {STATIC_VS_STRAIGHT_TARGET:g}",
            f.static_vs_straight >= STATIC_VS_STRAIGHT_TARGET,
        )
    )
    s = f.static_file
    out.append(
        Target(
            "front static file requests reaching the app hosts",
            f"{s.app_requests} of {f.static.requests + f.handshakes.requests} requests for it",
            "0 (the front's cache answers)",
            s.app_requests == 0,
        )
    )
    out.append(
        Target(
            "front new TLS handshakes/s / straight to gunicorn req/s",
            f"{f.handshakes_vs_straight:.2f} ({f.handshakes.requests_per_second} handshakes/s"
            f" / {straight} req/s, median of per-round ratios)",
            f">= {HANDSHAKES_VS_STRAIGHT_TARGET:g}",
            f.handshakes_vs_straight >= HANDSHAKES_VS_STRAIGHT_TARGET,
        )
    )
    return out


def exactness_targets(e: ExactnessFigures) -> list[Target]:
    """Exactly the limit of a simultaneous burst gets through, over HTTP and directly."""
    direct = e.app_limiter_direct
    return [
        Target(
            "HTTP limiter, both hosts",
            f"{e.http.allowed} allowed of {e.http.requests}, {e.http.rejected_429} x 429",
            f"== {e.limit}, rest 429",
            e.http.allowed == e.limit and e.http.rejected_429 == e.http.requests - e.limit,
        ),
        Target(
            "app's sliding log, direct",
            f"{direct.allowed} allowed of {direct.callers}",
            f"== {e.limit}",
            direct.allowed == e.limit and direct.errors == 0,
        ),
    ]


def round_trip_target(t: LimiterRoundTrip) -> Target:
    """A decision is one FCALL: no second round trip, no library reload per call."""
    return Target(
        "limiter decision = one FCALL round trip",
        f"{t.fcall_per_decision} FCALL per decision",
        "1.0",
        abs(t.fcall_per_decision - 1.0) < 0.01,
    )


def day2_targets(d: Day2Figures) -> list[Target]:
    """No failed request in any step; settings applied without restarting the servers."""
    out = [
        Target(
            f"day-2: {step.name}",
            f"{step.load.failed} failed of {step.load.sent}"
            f" at {step.load.requests_per_second:.0f} req/s, p99 {step.load.p99_ms} ms",
            f"0 failed, >= {DAY2_MIN_RATE:.0f} req/s",
            step.load.failed == 0 and step.load.requests_per_second >= DAY2_MIN_RATE,
        )
        for step in d.steps
    ]
    rs, pg = d.redis_setting, d.postgresql_setting
    out.append(
        Target(
            "day-2: Redis setting applied without a restart",
            f"maxmemory {rs.maxmemory_after}, PID {rs.pid_before} -> {rs.pid_after}",
            f"maxmemory {rs.maxmemory_wanted}, same PID",
            rs.applied_without_restart,
        )
    )
    out.append(
        Target(
            "day-2: PostgreSQL setting applied by reload",
            f"work_mem {pg.work_mem_after}, "
            + ("restarted" if pg.restarted else "same start time"),
            f"work_mem {pg.work_mem_wanted}, no restart",
            pg.applied_by_reload,
        )
    )
    return out


def backup_targets(b: BackupFigures) -> list[Target]:
    """A 1 GB database restored within minutes; the archive keeps up with writes."""
    return [
        Target(
            "backups: restore of a 1 GB database",
            f"{b.restore_seconds:.0f} s",
            f"< {RESTORE_SECONDS_TARGET:.0f} s",
            b.restore_seconds < RESTORE_SECONDS_TARGET,
        ),
        Target(
            "backups: WAL archive lag under a write load",
            f"{b.archive_lag_max_seconds:.1f} s",
            f"< {ARCHIVE_LAG_SECONDS_TARGET:.0f} s",
            b.archive_lag_max_seconds < ARCHIVE_LAG_SECONDS_TARGET,
        ),
    ]
