"""The results as a text table for the terminal and as a JSON file, and the file read back.

The table shows every section that was measured, then every target with
its verdict; the JSON file holds every record in full (per-run figures,
breakdowns, profiles) and the same verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import limiter_tables
import load_tables
import records
from backups import BackupFigures
from provisioning_tables import provisioning_tables
from results import BenchResults
from tables import section, yes_no
from targets import Target


def table(r: BenchResults, verdicts: list[Target]) -> str:
    """Every measured section in phase order, the targets, and the bench's wall time."""
    parts = [_header(r)]
    if r.provisioning:
        parts += provisioning_tables(r, r.provisioning)
    parts += _limiter_sections(r)
    if r.day2:
        parts.append(load_tables.day2_table(r.day2))
    if r.backups:
        parts.append(_backup_table(r.backups))
    parts.append(
        section(
            "Targets",
            ["target", "measured", "goal", "met"],
            [[t.name, t.measured, t.goal, yes_no(t.met)] for t in verdicts],
        )
    )
    if r.bench_seconds is not None:
        parts.append(f"\nbench wall time {r.bench_seconds / 60:.1f} min")
    return "\n".join(parts)


def _backup_table(b: BackupFigures) -> str:
    """One full backup and one restore of the pgbench database, with the archive's lag."""
    return section(
        "Backups (pgBackRest, local repository)",
        ["figure", "value"],
        [
            ["database (pgbench -i)", f"{b.database_bytes / 2**30:.2f} GiB"],
            ["full backup", f"{b.full_backup_seconds:.1f} s"],
            [
                "repository after compression and encryption",
                f"{b.repository_bytes / 2**20:.0f} MiB",
            ],
            [
                f"WAL archive lag under pgbench ({b.load_transactions} transactions)",
                f"{b.archive_lag_max_seconds:.1f} s at worst of {b.archive_lag_samples} samples",
            ],
            ["restore to the latest state, until it takes writes", f"{b.restore_seconds:.1f} s"],
        ],
    )


def _header(r: BenchResults) -> str:
    m = r.machine
    return (
        f"ahsp bench {m.date}  commit {m.commit}{' (dirty)' if m.dirty else ''}"
        f"  cpus {m.cpus}  {m.ansible_core}"
    )


def _limiter_sections(r: BenchResults) -> list[str]:
    """Redis, in-process, HTTP, the front and exactness sections, those that were measured."""
    parts = []
    if r.redis_ping_floor or r.limiter_round_trip:
        parts.append(limiter_tables.round_trip_table(r.redis_ping_floor, r.limiter_round_trip))
    if r.redis_memory:
        parts.append(limiter_tables.memory_table(r.redis_memory))
    if r.inprocess:
        parts.append(limiter_tables.inprocess_table(r.inprocess))
        parts.append(
            limiter_tables.profile_table(r.inprocess.limited_profile, r.inprocess.bare_profile)
        )
    if r.http:
        parts.append(load_tables.http_table(r.http, r.machine.tcp_tw_reuse))
        get = r.limiter_round_trip.get.p50_us if r.limiter_round_trip else None
        parts.append(load_tables.one_at_a_time_table(r.http.one_at_a_time, get))
    if r.front:
        parts.append(load_tables.front_table(r.front))
    if r.exactness:
        parts.append(limiter_tables.exactness_table(r.exactness))
    return parts


def as_json(r: BenchResults, verdicts: list[Target]) -> dict[str, Any]:
    """The results file's content: every record, then the verdicts."""
    return {**records.as_dict(r), "targets": [records.as_dict(t) for t in verdicts]}


def write_json(
    r: BenchResults, verdicts: list[Target], directory: str, *, name: str = "bench"
) -> Path:
    """`<name>-<UTC time>.json` in `directory`; a complete run also as latest.json."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    stamp = r.machine.date.replace(":", "").replace("-", "")
    path = out / f"{name}-{stamp}.json"
    text = json.dumps(as_json(r, verdicts), indent=2) + "\n"
    path.write_text(text)
    if name == "bench":
        (out / "latest.json").write_text(text)
    return path


def read_json(path: Path) -> tuple[BenchResults, list[Target]]:
    """A results file read back: the records, and the verdicts it was written with."""
    data = json.loads(path.read_text())
    verdicts = [records.from_dict(Target, t) for t in data.pop("targets", [])]
    return records.from_dict(BenchResults, data), verdicts
