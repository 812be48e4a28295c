"""Fixtures for the postgresql role's behaviour tests."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "ansible.cfg").is_file())
sys.path.insert(0, str(ROOT / "tests" / "lib"))

# What Debian ships as `postgresql` on each supported release.
VERSIONS = {"bookworm": "15", "trixie": "17"}


@pytest.fixture(scope="module")
def pg_vars(host) -> dict:
    """The role's inputs as the inventory gave them to the converge."""
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def password(pg_vars) -> str:
    return pg_vars["postgresql_db_password"]


@pytest.fixture(scope="module")
def version(host) -> str:
    return VERSIONS[host.system_info.codename]


@pytest.fixture(scope="module")
def cluster_unit(version) -> str:
    return f"postgresql@{version}-main"


@pytest.fixture(scope="module")
def conf_dir(version) -> str:
    return f"/etc/postgresql/{version}/main"


@pytest.fixture(scope="module")
def own_address(host) -> str:
    """The container's eth0 address: listened on, but not an allowed client."""
    return host.check_output("hostname -I").split()[0]


@pytest.fixture
def psql(host, password) -> Callable[..., object]:
    """psql as a client would connect: over TCP (or a socket) with a password.

    PGPASSWORD on the test's own command line is fine for a test; the role
    itself never passes the password that way. Returns testinfra's result.
    """

    def run(
        sql: str = "SELECT 1",
        *,
        address: str = "127.0.0.1",
        user: str = "ahsp",
        db: str = "ahsp",
        secret: str | None = None,
    ):
        pw = password if secret is None else secret
        cmd = (
            f"PGPASSWORD={shlex.quote(pw)} PGCONNECT_TIMEOUT=5 psql -X -w -At "
            f"-h {shlex.quote(address)} -p 5432 -U {user} -d {db} -c {shlex.quote(sql)}"
        )
        return host.run(cmd)

    return run


@pytest.fixture
def superuser_sql(host) -> Callable[[str], str]:
    """A query as the postgres superuser over the Unix socket (peer)."""

    def run(sql: str) -> str:
        return host.check_output(f"runuser -u postgres -- psql -X -At -c {shlex.quote(sql)}")

    return run
