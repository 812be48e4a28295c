"""Fixtures for the single-host stack: the gunicorn_systemd and static_files roles under systemd."""

from __future__ import annotations

import shlex

import pytest

SERVICE = "ahsp-gunicorn"
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def stack_vars(host) -> dict:
    return host.ansible.get_variables()


@pytest.fixture
def flush_rate_limits(host, stack_vars):
    """Start each rate-limit test with fresh counters (Redis db 1 holds only cache data)."""

    def flush() -> None:
        password = shlex.quote(stack_vars["redis_admin_password"])
        host.check_output(f"REDISCLI_AUTH={password} redis-cli -h 127.0.0.1 -n 1 flushdb")

    flush()
    return flush


def main_pid(host) -> int:
    return int(host.check_output(f"systemctl show -p MainPID --value {SERVICE}"))


def worker_pids(host) -> set[int]:
    out = host.check_output(f"ps -o pid= --ppid {main_pid(host)}")
    return {int(p) for p in out.split()}


def live_release(host) -> str:
    """The release `current` points at."""
    return host.file("/srv/ahsp/current").linked_to
