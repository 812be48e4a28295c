"""Fixtures for the redis role's behaviour tests."""

from __future__ import annotations

import shlex
from collections.abc import Callable

import pytest
from ahsp_testing import inventory_variables, molecule_hosts


@pytest.fixture(scope="session")
def hosts() -> dict:
    """Both hosts (Debian 12 and 13), for tests that cover them in one playbook run."""
    return molecule_hosts()


@pytest.fixture(scope="session")
def password(hosts) -> str:
    """The same test password on both hosts, as the inventory gave it to the converge."""
    return inventory_variables(next(iter(hosts)))["redis_admin_password"]


@pytest.fixture
def cli(host, password) -> Callable[..., str]:
    """redis-cli on the host, authenticated through REDISCLI_AUTH (never -a)."""

    def run(*args: str, auth: bool = True, address: str = "127.0.0.1") -> str:
        env = f"REDISCLI_AUTH={shlex.quote(password)} " if auth else ""
        cmd = f"{env}redis-cli --no-raw -h {address} -p 6379 " + " ".join(
            shlex.quote(a) for a in args
        )
        return host.check_output(cmd)

    return run
