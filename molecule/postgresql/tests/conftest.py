"""Fixtures for the postgresql role's behaviour tests."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable

import pytest
from ahsp_testing import inventory_variables, molecule_hosts


def pytest_configure(config) -> None:
    # The tests' own runs of the converge leave the pgbackrest role's tasks
    # out (it takes a backup on the first run, then checks the archive): the
    # scenario's converge and idempotence run it in full, and these tests
    # are about the postgresql role.
    os.environ.setdefault("ANSIBLE_SKIP_TAGS", "pgbackrest")


# What Debian ships as `postgresql` on each supported release.
VERSIONS = {"bookworm": "15", "trixie": "17"}


def version_of(host) -> str:
    return VERSIONS[host.system_info.codename]


def conf_dir_of(host) -> str:
    return f"/etc/postgresql/{version_of(host)}/main"


def sql_as_superuser(host, sql: str) -> str:
    """A query as the postgres superuser over the Unix socket (peer)."""
    return host.check_output(f"runuser -u postgres -- psql -X -At -c {shlex.quote(sql)}")


@pytest.fixture(scope="session")
def hosts() -> dict:
    """Both hosts (Debian 12 and 13), for tests that cover them in one playbook run."""
    return molecule_hosts()


@pytest.fixture(scope="session")
def password(hosts) -> str:
    """The same test password on both hosts, as the inventory gave it to the converge."""
    return inventory_variables(next(iter(hosts)))["postgresql_db_password"]


@pytest.fixture(scope="module")
def version(host) -> str:
    return version_of(host)


@pytest.fixture(scope="module")
def cluster_unit(version) -> str:
    return f"postgresql@{version}-main"


@pytest.fixture(scope="module")
def conf_dir(host) -> str:
    return conf_dir_of(host)


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
    return lambda sql: sql_as_superuser(host, sql)
