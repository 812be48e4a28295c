"""ahsp-pgbackrest, the pgbackrest role's tool: restore targets, the recovery window, the metrics.

The repository's answers are those of pgBackRest 2.45 (`info --output=json`
and `repo-ls --output=json` of a real repository, trimmed), given by a
stand-in `pgbackrest` on PATH; `parse-target` runs as restore.yml runs it on
the control machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import time
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "roles" / "pgbackrest" / "files" / "ahsp-pgbackrest"
_loader = SourceFileLoader("ahsp_pgbackrest", str(TOOL))
_spec = importlib.util.spec_from_loader("ahsp_pgbackrest", _loader)
tool = importlib.util.module_from_spec(_spec)
_loader.exec_module(tool)

FULL_STOP = 1_796_590_348
DIFF_STOP = 1_796_590_350
WAL_TIME = 1_796_591_194


def backup(label: str, kind: str, start: int, stop: int, error: bool = False) -> dict:
    return {
        "archive": {"start": "000000010000000000000003", "stop": "000000010000000000000003"},
        "backrest": {"format": 5, "version": "2.45"},
        "database": {"id": 1, "repo-key": 1},
        "error": error,
        "info": {
            "delta": 23312193,
            "repository": {"delta": 2855584, "size": 2855584},
            "size": 23312193,
        },
        "label": label,
        "lsn": {"start": "0/3000028", "stop": "0/3000100"},
        "prior": None,
        "reference": None,
        "timestamp": {"start": start, "stop": stop},
        "type": kind,
    }


INFO = [
    {
        "archive": [
            {
                "database": {"id": 1, "repo-key": 1},
                "id": "15-1",
                "max": "000000040000000000000009",
                "min": "000000010000000000000001",
            },
        ],
        "backup": [
            backup("20261206-205225F", "full", FULL_STOP - 3, FULL_STOP),
            backup("20261206-205225F_20261206-205228D", "diff", DIFF_STOP - 2, DIFF_STOP),
            backup(
                "20261206-205225F_20261206-205300I",
                "incr",
                DIFF_STOP + 10,
                DIFF_STOP + 12,
                error=True,
            ),
        ],
        "cipher": "aes-256-cbc",
        "db": [{"id": 1, "repo-key": 1, "system-id": 7716296765205742375, "version": "15"}],
        "name": "ahsp",
        "repo": [{"cipher": "aes-256-cbc", "key": 1, "status": {"code": 0, "message": "ok"}}],
        "status": {"code": 0, "lock": {"backup": {"held": False}}, "message": "ok"},
    }
]
LISTING = {
    ".": {"type": "path"},
    "000000040000000000000008-d83b72dd2bdc81818e0cc8cc625d480a3376409f.zst": {
        "type": "file", "size": 1129920, "time": WAL_TIME - 60},
    "000000040000000000000009-e071fe5de2e397669d1e9a96128fc2b900c3f92f.zst": {
        "type": "file", "size": 38688, "time": WAL_TIME},
}  # fmt: skip
STATE = tool.summary("ahsp", INFO, ("000000040000000000000009", WAL_TIME))


def utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(epoch))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latest", {"kind": "latest"}),
        ("20261206-205225F", {"kind": "label", "label": "20261206-205225F"}),
        (
            "20261206-205225F_20261206-205228D",
            {"kind": "label", "label": "20261206-205225F_20261206-205228D"},
        ),
    ],
)
def test_latest_and_labels(text, expected):
    assert tool.parse_target(text, FULL_STOP) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-06 21:52:40+01:00",
        "2026-12-06 21:52:40+0100",
        "2026-12-06 21:52:40 +01",
        "2026-12-06T20:52:40Z",
        "2026-12-06 20:52:40 UTC",
        "2026-12-06 15:22:40-05:30",
    ],
)
def test_a_time_with_its_zone_is_given_to_postgresql_in_utc(text):
    target = tool.parse_target(text, FULL_STOP + 3600)
    assert target["kind"] == "time"
    assert target["time"] == "2026-12-06 20:52:40.000000+00"
    assert target["epoch"] == FULL_STOP + 12


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-12-06 20:52:40", "restore_target must be latest, a backup label"),
        ("yesterday", "restore_target must be"),
        ("20261206-205225", "restore_target must be"),
        ("2026-12-06 20:52:40+01:00; rm -rf /", "restore_target must be"),
        ("2026-13-06 20:52:40Z", "is not a valid time"),
        ("2026-02-30 20:52:40Z", "is not a valid time"),
        ("2026-12-06 20:52:40+25:00", "is not a valid time"),
        ("2099-01-01 00:00:00Z", "is in the future"),
    ],
)
def test_a_malformed_or_future_target_is_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        tool.parse_target(text, FULL_STOP)


def test_the_window_runs_from_the_oldest_good_backup_to_the_newest_archived_wal():
    assert STATE["window"]["from"] == FULL_STOP
    assert STATE["window"]["to"] == WAL_TIME
    assert [b["label"] for b in STATE["backups"] if b["error"]] == [
        "20261206-205225F_20261206-205300I"
    ]
    assert STATE["wal"] == {
        "segment": "000000040000000000000009",
        "time": WAL_TIME,
        "time_utc": tool.iso(WAL_TIME),
    }


def test_latest_restores_from_the_newest_good_backup_with_pgbackrests_defaults():
    plan = tool.check_target(STATE, {"kind": "latest"})
    assert plan["ok"] and plan["restore_options"] == []
    assert plan["backup"] == "20261206-205225F_20261206-205228D"


def test_a_label_restores_that_backup_and_stops_at_its_end():
    plan = tool.check_target(STATE, tool.parse_target("20261206-205225F", WAL_TIME))
    assert plan["ok"]
    assert plan["restore_options"] == [
        "--set=20261206-205225F",
        "--type=immediate",
        "--target-action=promote",
    ]


def test_a_time_in_the_window_restores_from_the_backup_before_it():
    target = tool.parse_target(utc(DIFF_STOP + 100), WAL_TIME)
    plan = tool.check_target(STATE, target)
    assert plan["ok"], plan
    assert plan["backup"] == "20261206-205225F_20261206-205228D"
    assert plan["restore_options"] == [
        "--type=time",
        f"--target={target['time']}",
        "--target-action=promote",
    ]


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (
            {"kind": "label", "label": "20261201-000000F"},
            "no good backup is labelled 20261201-000000F",
        ),
        # A backup pgBackRest reports with errors is not offered.
        (
            {"kind": "label", "label": "20261206-205225F_20261206-205300I"},
            "no good backup is labelled",
        ),
    ],
)
def test_a_label_the_repository_lacks_is_refused_listing_those_it_has(target, problem):
    plan = tool.check_target(STATE, target)
    assert not plan["ok"]
    assert problem in plan["problem"]
    assert "20261206-205225F, 20261206-205225F_20261206-205228D" in plan["problem"]


@pytest.mark.parametrize("epoch", [FULL_STOP - 1, WAL_TIME + 1])
def test_a_time_outside_the_window_is_refused_naming_the_range(epoch):
    plan = tool.check_target(STATE, tool.parse_target(utc(epoch), WAL_TIME + 3600))
    assert not plan["ok"]
    assert f"reaches from {tool.iso(FULL_STOP)} to {tool.iso(WAL_TIME)}" in plan["problem"]


def test_an_empty_repository_has_nothing_to_restore():
    empty = tool.summary("ahsp", [{**INFO[0], "backup": [], "archive": []}], (None, None))
    plan = tool.check_target(empty, {"kind": "latest"})
    assert not plan["ok"]
    assert "holds no good backup" in plan["problem"]


@pytest.fixture
def fake_pgbackrest(tmp_path) -> dict[str, str]:
    """A `pgbackrest` on PATH answering info and repo-ls as 2.45 does; verify fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "info.json").write_text(json.dumps(INFO))
    (tmp_path / "ls.json").write_text(json.dumps(LISTING))
    script = bin_dir / "pgbackrest"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {tmp_path}/calls\n'
        'for last; do :; done\n'
        'case "$last" in\n'
        f"  info) cat {tmp_path}/info.json ;;\n"
        "  check) exit 0 ;;\n"
        "  verify) echo 'ERROR: [028]: a file failed verification' >&2; exit 28 ;;\n"
        f"  *) cat {tmp_path}/ls.json ;;\n"
        "esac\n"
    )  # fmt: skip
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_the_metrics_are_written_whole_also_when_a_check_fails(fake_pgbackrest, tmp_path):
    output = tmp_path / "textfile" / "ahsp_backup.prom"
    output.parent.mkdir()
    run = subprocess.run(
        [sys.executable, str(TOOL), "--stanza=ahsp", "metrics", f"--output={output}"],
        capture_output=True, text=True, env=fake_pgbackrest, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "verify failed (exit 28)" in run.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o644
    assert [p.name for p in output.parent.iterdir()] == [
        "ahsp_backup.prom"
    ]  # no temporary file left
    metrics = {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1])
        for line in output.read_text().splitlines()
        if not line.startswith("#")
    }
    assert metrics["ahsp_backup_check_success"] == 1
    assert metrics["ahsp_backup_verify_success"] == 0
    assert metrics["ahsp_backup_info_success"] == 1
    assert metrics["ahsp_backup_good_count"] == 2
    assert metrics["ahsp_backup_last_good_timestamp_seconds"] == DIFF_STOP
    assert metrics["ahsp_backup_wal_archived_timestamp_seconds"] == WAL_TIME
    assert metrics["ahsp_backup_wal_archived_age_seconds"] >= 0
    assert metrics["ahsp_backup_recovery_window_start_timestamp_seconds"] == FULL_STOP
    calls = (tmp_path / "calls").read_text()
    assert "--stanza=ahsp --output=json repo-ls archive/ahsp/15-1/0000000400000000" in calls


def test_the_target_command_answers_in_json(fake_pgbackrest):
    run = subprocess.run(
        [sys.executable, str(TOOL), "--stanza=ahsp", "target", "2020-01-01 00:00:00Z"],
        capture_output=True, text=True, env=fake_pgbackrest, timeout=60, check=True,
    )  # fmt: skip
    answer = json.loads(run.stdout)
    assert not answer["ok"]
    assert "is outside what the repository reaches from" in answer["problem"]


def test_parse_target_runs_on_the_control_machine_without_pgbackrest():
    env = {**os.environ, "PATH": "/nonexistent"}
    for text, ok in (("latest", True), ("2020-01-01 00:00", False)):
        run = subprocess.run(
            [sys.executable, str(TOOL), "parse-target", text],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        )  # fmt: skip
        assert json.loads(run.stdout)["ok"] is ok


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("yesterday", "restore_target must be latest, a backup label"),
        ("2025-03-02 14:30:00", "restore_target must be latest, a backup label"),
        ("2099-03-02 14:30:00+01:00", "is in the future"),
        ("2025-02-30 14:30:00Z", "is not a valid time"),
    ],
)
def test_restore_yml_refuses_a_bad_target_before_contacting_any_host(tmp_path, target, problem):
    """The first play runs on the control machine alone: no other host is reached."""
    db1 = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {"children": {"db": {"hosts": {"db1": db1}}, "app": {"hosts": {"db1": {}}}}}
    }
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory))
    (tmp_path / "extra.json").write_text(json.dumps({"restore_target": target}))
    run = subprocess.run(
        ["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), "playbooks/restore.yml",
         "--extra-vars", f"@{tmp_path / 'extra.json'}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
             "ANSIBLE_STDOUT_CALLBACK": "json"},
    )  # fmt: skip
    assert run.returncode != 0
    report, _ = json.JSONDecoder().raw_decode(run.stdout[run.stdout.index("{") :])
    assert [play["play"]["name"] for play in report["plays"]] == [
        "Restore - restore_target's form (control machine, nothing is contacted)"
    ]
    assert set(report["stats"]) == {"localhost"}
    failed = [
        h for t in report["plays"][0]["tasks"] for h in t["hosts"].values() if h.get("failed")
    ]
    assert problem in failed[0]["msg"] and "(nothing was stopped)" in failed[0]["msg"], failed
