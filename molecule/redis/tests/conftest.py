"""Fixtures for the redis role's behaviour tests."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "ansible.cfg").is_file())
sys.path.insert(0, str(ROOT / "tests" / "lib"))


@pytest.fixture(scope="module")
def redis_vars(host) -> dict:
    """The role's inputs as the inventory gave them to the converge."""
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def password(redis_vars) -> str:
    return redis_vars["redis_requirepass"]


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
