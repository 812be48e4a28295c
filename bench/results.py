"""Everything one `make bench` run measured: one record per phase, and the machine.

Each phase returns its own record and no phase changes another's: bench/run.py
sets each field once, as its phase returns. A field stays None when its phase
was left out (`--skip-provisioning`, `--skip-front`, `--skip-day2`,
`--skip-backups`) or did not get to run because an earlier one failed; the
report judges only what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from backups import BackupFigures
from common import TimeWaitReuse
from converge import ConvergeFigures
from daytwo import Day2Figures
from drift import DriftRepairFigures
from exactness import ExactnessFigures
from front import FrontFigures
from inprocess import InProcessFigures
from limiter import MemoryFigures
from noop import NoopFigures
from redisrtt import LimiterRoundTrip, RoundTrip
from throughput import HttpFigures


@dataclass(frozen=True)
class Machine:
    """Where and on what the figures were measured."""

    date: str  # UTC, when the run started
    commit: str
    dirty: bool  # uncommitted changes in the working tree
    cpus: int  # CPUs this process may run on
    kernel: str
    docker: str
    ansible_core: str
    wrk: str
    tcp_tw_reuse: TimeWaitReuse | None  # None: the setting was never read


@dataclass
class BenchResults:
    """One record per phase, in the order the phases run."""

    machine: Machine
    provisioning: ConvergeFigures | None = None
    noop: NoopFigures | None = None
    drift_repair: DriftRepairFigures | None = None
    redis_ping_floor: RoundTrip | None = None
    limiter_round_trip: LimiterRoundTrip | None = None
    redis_memory: MemoryFigures | None = None
    inprocess: InProcessFigures | None = None
    http: HttpFigures | None = None
    front: FrontFigures | None = None
    day2: Day2Figures | None = None
    exactness: ExactnessFigures | None = None
    backups: BackupFigures | None = None
    bench_seconds: float | None = None  # the whole run's wall time
    error: str | None = None  # why a phase could not produce its figures
