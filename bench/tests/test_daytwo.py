"""Day-2 figures: the load generator's summary, the steps, and a whole section on loopback."""

from __future__ import annotations

from typing import Any

import daytwo
import pytest
from provision import PlaybookRun


def test_day2_figures_from_the_load_generators_summary() -> None:
    ahsp_load = daytwo.ahsp_load
    answers = [
        ahsp_load.Answer("http://10.0.0.2:8000/health/", started=i / 10, seconds=0.01, status=200)
        for i in range(99)
    ]
    answers.append(
        ahsp_load.Answer("http://10.0.0.2:8000/x/", 9.9, 0.5, -1, "ConnectionResetError")
    )
    figures = daytwo.load_figures(ahsp_load.Summary(answers), quiet_p99_ms=5.0)
    assert (figures.sent, figures.failed) == (100, 1)
    assert figures.requests_per_second == pytest.approx(100 / 9.9, abs=0.1)
    assert figures.p99_ms == 10.0 and figures.p99_vs_quiet == 2.0
    assert figures.first_failures == ["/x/ -> -1 ConnectionResetError"]
    assert figures.statuses == {"-1": 1, "200": 99}


def test_every_step_keeps_what_the_earlier_ones_set(tmp_path: Any) -> None:
    steps = daytwo.steps(tmp_path / "code", tmp_path / "requirements")
    assert len(steps) == 7 and steps[-1].extra_vars == daytwo.LIMIT
    for step in steps:
        assert step.extra_vars["app_ratelimit_requests"] == 1000000
    redis_step, pg_step, rollback = steps[3], steps[4], steps[5]
    assert redis_step.extra_vars["redis_maxmemory"] == daytwo.REDIS_MAXMEMORY
    assert pg_step.extra_vars["redis_maxmemory"] == daytwo.REDIS_MAXMEMORY
    assert (
        rollback.playbook == "playbooks/rollback.yml" and rollback.extra_vars == pg_step.extra_vars
    )
    assert daytwo.REDIS_MAXMEMORY_BYTES == 200 * 1024 * 1024


class FakeOperator:
    def config_get(self, name: str) -> dict[str, str]:
        return {name: str(daytwo.REDIS_MAXMEMORY_BYTES)}


@pytest.fixture
def loopback_stack(monkeypatch: pytest.MonkeyPatch, http_server: int) -> list[str]:
    """Both app hosts are the loopback server; playbooks, Redis and PostgreSQL are faked."""
    shipped: list[str] = []

    def fake_run(label: str, playbook: str, *extra: str, timeout: float) -> PlaybookRun:
        shipped.append(playbook)
        return PlaybookRun(label, playbook, 0.1, 2, 1, 0, 0.1)

    monkeypatch.setattr(daytwo, "APP_PORT", http_server)
    monkeypatch.setattr(daytwo, "container_ip", lambda host: "127.0.0.1")
    monkeypatch.setattr(daytwo, "api_token", lambda label: (7, "token"))
    monkeypatch.setattr(daytwo, "_redis_pid", lambda: "42")
    pg = {"SHOW work_mem": daytwo.PG_WORK_MEM, "SELECT pg_postmaster_start_time()": "t0"}
    monkeypatch.setattr(daytwo, "_pg", pg.__getitem__)
    monkeypatch.setattr(daytwo.provision, "run_playbook", fake_run)
    monkeypatch.setattr(daytwo, "SETTLE", 0.05)
    monkeypatch.setattr(daytwo, "QUIET_SECONDS", 0.2)
    return shipped


def test_a_day2_section_on_loopback(loopback_stack: list[str]) -> None:
    figures = daytwo.zero_downtime(FakeOperator())  # type: ignore[arg-type]
    assert len(loopback_stack) == len(figures.steps) == 7
    assert figures.quiet.sent > 0 and figures.quiet.failed == 0
    assert all(step.load.failed == 0 and step.load.sent > 0 for step in figures.steps)
    assert figures.steps[0].extra_vars["app_source_dir"] == "code"
    assert figures.steps[1].extra_vars["app_source_dir"] == "requirements"
    assert (
        figures.releases_before == ["r1", "r1"] and figures.steps[-1].served_releases == ["r1"] * 2
    )
    assert figures.redis_setting.applied_without_restart
    assert figures.postgresql_setting.applied_by_reload
    assert figures.paths_per_host[0] == "/health/"
