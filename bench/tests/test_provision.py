"""Playbook runs read back: the json callback, profile_roles, breakdowns, floors and drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import drift
import noop
import provision
import pytest
import yaml
from common import ROOT
from provision import PlaybookRun, Share


def callback_output(tasks: list[tuple[str, str, str]], tail: str = "") -> str:
    """ansible.posix.json output as ansible-playbook prints it, timer line included."""
    document = {
        "plays": [
            {
                "play": {"name": "p"},
                "tasks": [
                    {"task": {"name": name, "duration": {"start": start, "end": end}}, "hosts": {}}
                    for name, start, end in tasks
                ],
            }
        ],
        "stats": {"h1": {"ok": 3, "changed": 1, "failures": 0, "unreachable": 0}},
    }
    return (
        json.dumps(document, indent=4)
        + "\nPlaybook run took 0 days, 0 hours, 0 minutes, 9 seconds\n"
        + tail
    )


ROLES_RECAP = """
ROLES RECAP ********************************************************************
Monday 30 November 2026  17:16:23 +0000 (0:00:01.362)       0:00:01.362 *******
===============================================================================
redis ------------------------------------------------------------------- 5.26s
ansible.builtin.setup --------------------------------------------------- 1.50s
gunicorn_systemd ------------------------------------------------------ 123.04s
ansible.builtin.assert -------------------------------------------------- 0.03s
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
total ------------------------------------------------------------------ 129.83s
"""


def test_json_report_skips_the_timer_line_and_sums_task_times() -> None:
    out = callback_output(
        [
            ("a", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.500000Z"),
            ("b", "2026-01-01T00:00:02.000000Z", "2026-01-01T00:00:02.250000Z"),
            ("a", "2026-01-01T00:00:03.000000Z", "2026-01-01T00:00:04.000000Z"),
        ],
        tail=ROLES_RECAP,
    )
    report_, rest = provision._json_report(out)
    total, ranked = provision._task_times(report_)
    assert total == pytest.approx(2.75)
    assert [(t.name, t.seconds, t.runs) for t in ranked] == [("a", 2.5, 2), ("b", 0.25, 1)]
    assert "ROLES RECAP" in rest and "Playbook run took" in rest


def test_a_run_becomes_one_record_with_its_recap_and_breakdown() -> None:
    out = callback_output(
        [("a", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.500000Z")], tail=ROLES_RECAP
    )
    report_, rest = provision._json_report(out)
    run = provision._playbook_run("label", "site.yml", ("-e", "x=1"), 12.34, report_, rest, 5)
    assert (run.label, run.playbook, run.seconds, run.changed, run.ok, run.failed) == (
        "label",
        "site.yml",
        12.3,
        1,
        3,
        0,
    )
    assert run.extra_vars == ["x=1"] and [t.name for t in run.slowest] == ["a"]


def test_profile_roles_summary_is_read_per_role() -> None:
    seconds = provision.profile_roles(ROLES_RECAP)
    assert seconds == {
        "redis": 5.26,
        "gunicorn_systemd": 123.04,
        provision.NO_ROLE: pytest.approx(1.53),
    }
    assert provision.profile_roles("no recap here") == {}


def _result(action: str, **extra: Any) -> dict[str, Any]:
    return {"action": action, "changed": False, **extra}


def test_module_executions_count_what_ran_on_the_host() -> None:
    count = provision.module_executions
    assert count(_result("ansible.builtin.stat")) == 1
    assert count(_result("ansible.builtin.stat", skipped=True)) == 0
    assert count(_result("ansible.builtin.set_fact")) == 0
    assert count(_result("ahsp.stack.check_inputs")) == 0
    assert count(_result("ansible.builtin.include_role")) == 0
    items = [{"changed": False}, {"skipped": True}, {"changed": False}]
    assert count(_result("ansible.builtin.file", results=items)) == 2


def _task(name: str, path: str, start: str, end: str, hosts: dict[str, Any]) -> dict[str, Any]:
    duration = {"start": f"2026-01-01T00:00:{start}Z", "end": f"2026-01-01T00:00:{end}Z"}
    return {"task": {"name": name, "path": path, "duration": duration}, "hosts": hosts}


def _two_tier_report() -> dict[str, Any]:
    """A preflight on two hosts, then a go-live play in two serial batches."""
    ok = _result("ansible.builtin.stat")
    check = {"r": _result("ahsp.stack.check_inputs")}
    gunicorn = "/p/roles/gunicorn_systemd/tasks/x.yml:1"
    skipped = {"b": _result("ansible.builtin.stat", skipped=True)}
    return {
        "plays": [
            {
                "play": {"name": "Preflight", "duration": {}},
                "tasks": [
                    _task("setup", "/p/playbooks/preflight.yml:3", "00", "02", {"r": ok, "a": ok}),
                    _task("redis : v", "/p/roles/redis/tasks/validate.yml:9", "02", "03", check),
                ],
            },
            {
                "play": {"name": "Go live", "duration": {}},
                "tasks": [_task("g", gunicorn, "03", "04", {"a": ok})],
            },
            {
                "play": {"name": "Go live", "duration": {}},
                "tasks": [_task("g", gunicorn, "04", "06", skipped)],
            },
        ]
    }


def test_breakdown_by_play_role_and_host() -> None:
    shares = provision.breakdown(_two_tier_report(), {"redis": 7.5})
    plays = {s.name: s for s in shares["plays"]}
    assert (plays["Go live"].batches, plays["Go live"].hosts, plays["Go live"].tasks) == (2, 2, 2)
    assert plays["Go live"].modules == 1 and plays["Go live"].skipped == 1
    roles = {s.name: s for s in shares["roles"]}
    assert roles["redis"].seconds == 7.5  # profile_roles wins
    assert roles["redis"].modules == 0 and roles["redis"].tasks == 1
    assert roles["gunicorn_systemd"].seconds == 3.0  # summed task times otherwise
    assert roles[provision.NO_ROLE].modules == 2
    hosts = {s.name: (s.tasks, s.modules) for s in shares["hosts"]}
    assert hosts == {"r": (2, 1), "a": (2, 2), "b": (1, 0)}


def test_the_floor_gathers_facts_as_the_preflight_does() -> None:
    preflight = yaml.safe_load((ROOT / "playbooks" / "preflight.yml").read_text())
    floor = noop.floor_playbook()
    assert len(floor) == 1 and floor[0]["hosts"] == "{{ bench_hosts }}"
    tasks = floor[0]["tasks"]
    assert tasks[-1]["ansible.builtin.ping"] is None and tasks[-1]["become"] is True
    setups = [t for t in tasks if "ansible.builtin.setup" in t]
    text = json.dumps(preflight)
    for setup in setups:
        assert json.dumps(setup["ansible.builtin.setup"]) in text
    assert setups or floor[0].get("gather_facts"), "the floor gathers no facts"
    for imported in (t for t in tasks if "ansible.builtin.import_tasks" in t):
        assert Path(imported["ansible.builtin.import_tasks"]).is_file()
    assert all("when" not in t for t in tasks)


def test_the_floor_follows_a_preflight_that_gathers_at_play_level(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "peer_facts.yml").write_text("---\n[]\n")
    peers = {"name": "peers", "ansible.builtin.import_tasks": "tasks/peer_facts.yml"}
    check = {"name": "check", "ansible.builtin.assert": {"that": True}}
    play = {
        "name": "p",
        "hosts": "all",
        "gather_facts": True,
        "gather_subset": ["!all", "network"],
        "tasks": [{"block": [peers, check], "when": "x"}],
    }
    (tmp_path / "preflight.yml").write_text(yaml.safe_dump([play]))
    settings, tasks = noop.fact_tasks(tmp_path / "preflight.yml")
    assert settings == {"gather_facts": True, "gather_subset": ["!all", "network"]}
    assert [t["name"] for t in tasks] == ["peers"]
    assert tasks[0]["ansible.builtin.import_tasks"] == str(tmp_path / "tasks" / "peer_facts.yml")


def test_every_role_alone_has_its_target() -> None:
    targets = {run.role: run.target for run in noop.ROLE_RUNS}
    assert targets == {
        "redis": 2.0,
        "postgresql": 4.0,
        "app": 4.0,
        "static_files": 4.0,
        "gunicorn_systemd": 4.0,
        "nginx": 4.0,
    }
    for run in noop.ROLE_RUNS:
        assert (ROOT / run.playbook).is_file()


def _run(
    label: str, seconds: float, changed: int = 0, roles: list[Share] | None = None
) -> PlaybookRun:
    return PlaybookRun(label, "p.yml", seconds, changed, 1, 0, seconds, 3, 1, 2, roles=roles or [])


def test_each_role_is_held_against_the_floor_of_its_own_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Floors of 2 then 4 s, redis alone 3 then 8 s: ratios 1.5 and 2.0, median 1.75."""
    seconds = {"floor redis": iter([2.0, 4.0]), "redis alone": iter([3.0, 8.0])}
    order: list[str] = []

    def fake_run(label: str, playbook: str, *extra: str, quiet: bool = False) -> PlaybookRun:
        order.append(label)
        share = Share("redis", seconds=1.5, tasks=10, modules=4, hosts=1)
        return _run(label, next(seconds.get(label, iter([1.0]))), roles=[share])

    monkeypatch.setattr(noop.provision, "run_playbook", fake_run)
    figures = noop.noop_figures(2)
    assert order[:3] == ["floor redis:db:app:web", "floor redis", "redis alone"]
    assert order[-2:] == ["floor web", "nginx alone"]
    assert len(order) == 2 * (1 + len(noop.GROUPS) + len(noop.ROLE_RUNS))
    redis = next(r for r in figures.roles if r.role == "redis")
    assert redis.floor_multiple_per_round == [1.5, 2.0] and redis.floor_multiple == 1.75
    assert (redis.floor_seconds, redis.target_floor_multiple, redis.target_met) == (3.0, 2.0, True)
    assert (redis.role_tasks_per_host, redis.role_module_runs_per_host) == (10.0, 4.0)
    assert figures.floor("redis").seconds_per_round == [2.0, 4.0]
    assert [f.hosts for f in figures.floors] == [noop.FULL_STACK, *noop.GROUPS]


def test_drift_writes_env_files_in_the_roles_format() -> None:
    """Env files are NAME="value": a drift in another quoting would not be a real edit."""
    env_drifts = [d.command for d in drift.DRIFTS if "/etc/ahsp/app.env" in d.argv]
    assert env_drifts, "no drift in app.env"
    for command in env_drifts:
        assert '="DEBUG"' in command and "='" not in command


def test_drift_repair_reports_what_was_not_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each drift must take before the run (its check false) and is judged after it."""
    ran: list[str] = []
    first = drift.DRIFTS[0].repaired_check

    def fake_run(label: str, playbook: str) -> PlaybookRun:
        ran.append(label)
        return _run(label, 5.0, 3)

    monkeypatch.setattr(drift, "docker_exec", lambda host, argv: "")
    monkeypatch.setattr(drift, "_holds", lambda host, check: bool(ran) and check == first)
    monkeypatch.setattr(drift.provision, "run_playbook", fake_run)
    figures = drift.measure(_run("fresh converge", 20.0))
    assert ran == ["drift repair"]
    assert figures.run_vs_fresh == 0.25 and len(figures.drifts) == len(drift.DRIFTS)
    assert [d.drift for d in figures.unrepaired] == [d.command for d in drift.DRIFTS[1:]]


def test_a_drift_that_does_not_take_stops_the_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drift, "docker_exec", lambda host, argv: "")
    monkeypatch.setattr(drift, "_holds", lambda host, check: True)
    with pytest.raises(drift.BenchError, match="changed nothing"):
        drift.introduce()
