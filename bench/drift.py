"""Drift on every tier, for the drift-repair run: what the playbooks must put back.

Each drift is of a kind a converged stack must repair on its next run: an
edited config file, a removed drop-in, a loosened secret file, an edited
value in an environment file (written as the role writes it:
NAME="value"), a stopped service. Each comes with a shell test that is true
once it is repaired; a drift that does not take is an error, since the
repair figure would then mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import provision
from common import APP_HOSTS, DB_HOST, GUNICORN_SERVICE, REDIS_HOST, BenchError, docker_exec
from provision import PlaybookRun


@dataclass(frozen=True)
class Drift:
    """One change to a converged host that the playbooks must undo."""

    host: str
    argv: tuple[str, ...]  # the command that introduces it
    repaired_check: str  # a shell test, true once the playbooks have undone it

    @property
    def command(self) -> str:
        """The command as one line, for the table and the results file."""
        return " ".join(self.argv)


@dataclass(frozen=True)
class DriftRepair:
    """One drift applied before the repair run, and whether the run undid it."""

    host: str
    drift: str  # the command that introduced it
    check: str  # the shell test that says it is undone
    repaired: bool


@dataclass(frozen=True)
class DriftRepairFigures:
    """site.yml run after every drift: its time against the fresh converge's, and what it undid."""

    run: PlaybookRun
    run_vs_fresh: float  # run.seconds / the fresh converge's seconds
    drifts: list[DriftRepair]

    @property
    def unrepaired(self) -> list[DriftRepair]:
        """The drifts the repair run left in place: each one a missed target."""
        return [d for d in self.drifts if not d.repaired]


DRIFTS = (
    Drift(
        REDIS_HOST,
        ("sed", "-i", "s/^maxmemory .*/maxmemory 1mb/", "/etc/redis/redis.conf"),
        "! grep -q '^maxmemory 1mb' /etc/redis/redis.conf",
    ),
    Drift(
        DB_HOST,
        ("sh", "-c", "rm -f /etc/postgresql/*/main/conf.d/ahsp.conf"),
        "ls /etc/postgresql/*/main/conf.d/ahsp.conf",
    ),
    Drift(
        APP_HOSTS[0],
        ("chmod", "0644", "/etc/ahsp/secrets.env"),
        'test "$(stat -c %a /etc/ahsp/secrets.env)" = 640',
    ),
    Drift(
        APP_HOSTS[0],
        ("sed", "-i", 's/^LOG_LEVEL=.*/LOG_LEVEL="DEBUG"/', "/etc/ahsp/app.env"),
        "grep -q '^LOG_LEVEL=' /etc/ahsp/app.env"
        " && ! grep -q '^LOG_LEVEL=\"DEBUG\"' /etc/ahsp/app.env",
    ),
    Drift(
        APP_HOSTS[1],
        ("systemctl", "stop", GUNICORN_SERVICE),
        f"systemctl is-active --quiet {GUNICORN_SERVICE}",
    ),
)


def measure(fresh: PlaybookRun) -> DriftRepairFigures:
    """Drift every tier, run site.yml, and check each drift was undone."""
    applied = introduce()
    run = provision.run_playbook("drift repair", "site.yml")
    return DriftRepairFigures(
        run=run,
        run_vs_fresh=round(run.seconds / fresh.seconds, 3),
        drifts=repairs(applied),
    )


def introduce() -> tuple[Drift, ...]:
    """Apply every drift, each checked to have taken (its repaired-check now false)."""
    for drift in DRIFTS:
        docker_exec(drift.host, list(drift.argv))
        if _holds(drift.host, drift.repaired_check):
            raise BenchError(f"{drift.host}: drift `{drift.command}` changed nothing")
    return DRIFTS


def repairs(applied: tuple[Drift, ...]) -> list[DriftRepair]:
    """After the repair run: which drifts it undid."""
    return [
        DriftRepair(
            host=drift.host,
            drift=drift.command,
            check=drift.repaired_check,
            repaired=_holds(drift.host, drift.repaired_check),
        )
        for drift in applied
    ]


def _holds(host: str, check: str) -> bool:
    try:
        docker_exec(host, ["sh", "-c", check])
    except BenchError:
        return False
    return True
