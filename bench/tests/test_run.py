"""bench/run.py: the phases in order, each record set once, skipped phases left out."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest
import report
import run
import targets
from backups import BackupFigures
from common import TimeWaitReuse
from conftest import fake_front_figures
from results import BenchResults

SAMPLE, _ = report.read_json(Path(__file__).parent / "sample-results.json")
FRONT = fake_front_figures()  # the recorded run predates the front
# The recorded run predates the backup phase too.
BACKUPS = BackupFigures(
    database_bytes=1_100_000_000,
    full_backup_seconds=41.0,
    repository_bytes=120_000_000,
    archive_lag_max_seconds=1.5,
    archive_lag_samples=30,
    load_transactions=12_000,
    restore_seconds=75.0,
)


@pytest.fixture
def phases(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every phase replaced by one that returns the recorded run's record and notes its name."""
    called: list[str] = []

    def phase(name: str, value: Any):
        def measure(*args: Any, **kwargs: Any) -> Any:
            called.append(name)
            return value

        return measure

    patches = {
        (run.converge, "measure"): ("converge", SAMPLE.provisioning),
        (run.noop, "noop_figures"): ("noop", SAMPLE.noop),
        (run.drift, "measure"): ("drift", SAMPLE.drift_repair),
        (run, "wait_for_apps"): ("apps", [("10.0.0.1", "bench-app1")]),
        (run, "redis_client"): ("client", object()),
        (run.redisrtt, "redis_benchmark_floor"): ("ping", SAMPLE.redis_ping_floor),
        (run, "container_ip"): ("ip", "10.0.0.9"),
        (run.limiter, "sliding_log"): ("sliding_log", argparse.Namespace(hit=None)),
        (run.redisrtt, "limiter_round_trip"): ("round trip", SAMPLE.limiter_round_trip),
        (run.limiter, "memory_figures"): ("memory", SAMPLE.redis_memory),
        (run.inprocess_shell, "measure"): ("inprocess", SAMPLE.inprocess),
        (run.throughput, "measure"): ("http", SAMPLE.http),
        (run.front, "measure"): ("front", FRONT),
        (run.daytwo, "zero_downtime"): ("day2", SAMPLE.day2),
        (run.exactness, "measure"): ("exactness", SAMPLE.exactness),
        (run.backups, "measure"): ("backups", BACKUPS),
    }
    for (module, attribute), (name, value) in patches.items():
        monkeypatch.setattr(module, attribute, phase(name, value))
    return called


def _args(**given: Any) -> argparse.Namespace:
    return argparse.Namespace(
        **{
            "skip_provisioning": False,
            "skip_front": False,
            "skip_day2": False,
            "skip_backups": False,
            "noop_rounds": 3,
            **given,
        }
    )


def test_every_phase_in_order_sets_its_record(phases: list[str]) -> None:
    results = BenchResults(machine=SAMPLE.machine)
    run.measure(results, _args())
    names = [n for n in phases if n not in ("ip", "sliding_log", "client", "apps")]
    assert names == [
        "converge",
        "noop",
        "drift",
        "ping",
        "round trip",
        "memory",
        "inprocess",
        "http",
        "front",
        "day2",
        "exactness",
        "backups",
    ]
    assert results == BenchResults(
        machine=SAMPLE.machine,
        **{
            **{k: v for k, v in vars(SAMPLE).items() if k not in ("machine", "bench_seconds")},
            "front": FRONT,
            "backups": BACKUPS,
        },
    )


def test_skipped_phases_leave_their_records_out(phases: list[str]) -> None:
    results = BenchResults(machine=SAMPLE.machine)
    run.measure(
        results,
        _args(skip_provisioning=True, skip_front=True, skip_day2=True, skip_backups=True),
    )
    assert not {"converge", "noop", "drift", "front", "day2", "backups"} & set(phases)
    assert results.provisioning is results.noop is results.drift_repair is None
    assert results.front is results.day2 is results.backups is None
    assert results.http == SAMPLE.http and results.exactness == SAMPLE.exactness


def test_the_machine_record_holds_the_port_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        asked.append(argv[0])
        return subprocess.CompletedProcess(argv, 0, stdout=f"{argv[0]} 1.0\n", stderr="")

    monkeypatch.setattr(run.subprocess, "run", fake_run)
    machine = run.machine(TimeWaitReuse(before="2", during="1"))
    assert asked == ["git", "git", "docker", "ansible", "sh"]
    assert (machine.commit, machine.docker, machine.dirty) == ("git 1.0", "docker 1.0", True)
    assert machine.tcp_tw_reuse == TimeWaitReuse(before="2", during="1")
    assert machine.cpus >= 1 and machine.date.endswith("Z")


def test_backup_figures_are_judged_and_printed() -> None:
    results = BenchResults(machine=SAMPLE.machine, backups=BACKUPS)
    verdicts = targets.judge(results)
    assert [t.name for t in verdicts] == [
        "backups: restore of a 1 GB database",
        "backups: WAL archive lag under a write load",
    ]
    assert all(t.met for t in verdicts)
    slow = BenchResults(
        machine=SAMPLE.machine,
        backups=dataclasses.replace(BACKUPS, restore_seconds=301.0, archive_lag_max_seconds=60.0),
    )
    assert not any(t.met for t in targets.judge(slow))
    table = report.table(results, verdicts)
    assert "Backups (pgBackRest, local repository)" in table and "1.02 GiB" in table
