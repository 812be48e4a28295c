"""Fixtures for the full-stack scenario: a Redis host, a PostgreSQL host, two app hosts.

The tests are not parametrized over Molecule's hosts (they do not use the
`host` fixture): each one addresses the hosts it needs by name. HTTP requests
to the app hosts go from the database host over the Docker network, by the
containers' names, so the rate limiter sees one client across both app hosts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import testinfra

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "ansible.cfg").is_file())
sys.path.insert(0, str(ROOT / "tests" / "lib"))

from ahsp_testing import http, wait_for  # noqa: E402, F401 (path above; wait_for re-exported)

REDIS, DB, APP1, APP2 = "stack-redis", "stack-db", "stack-app1", "stack-app2"
APPS = (APP1, APP2)
PORT = 8000
SECRET_NAMES = (
    "redis_requirepass",
    "postgresql_db_password",
    "app_secret_key",
    "app_admin_password",
)


# On the Redis host: the password from its own file, so that no test command
# line (shown when a command fails) carries it.
REDIS_AUTH = "REDISCLI_AUTH=\"$(sed -n 's/^requirepass //p' /etc/redis/redis-auth.conf)\""


def url(app: str, path: str) -> str:
    return f"http://{app}:{PORT}{path}"


def _host(name: str):
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)


@pytest.fixture(scope="session")
def hosts() -> dict:
    return {name: _host(name) for name in (REDIS, DB, APP1, APP2)}


@pytest.fixture(scope="session")
def client(hosts):
    """Where requests come from: a host of the stack that is not an app host."""
    return hosts[DB]


class Secrets(dict):
    """The secrets by name; never shown (pytest prints fixture values on failure)."""

    def __repr__(self) -> str:
        return f"<secrets {', '.join(self)}: values hidden>"


@pytest.fixture(scope="session")
def secrets() -> Secrets:
    """The generated test secrets (the password lookup's files in the ephemeral directory)."""
    base = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
    return Secrets({name: (base / name).read_text().split()[0] for name in SECRET_NAMES})


@pytest.fixture
def flush_rate_limits(hosts):
    """Fresh rate-limit counters (Redis db 1 holds only cache data)."""

    def flush() -> None:
        hosts[REDIS].check_output(f"{REDIS_AUTH} redis-cli -n 1 flushdb")

    flush()
    return flush


def health(client, app: str):
    return http(client, url(app, "/health/"))[0]


def private_address(host) -> str:
    """The source address of the default route (what ansible_default_ipv4 reports)."""
    probe = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "s.connect(('192.0.2.1', 9)); print(s.getsockname()[0])"
    )
    return host.check_output(f'python3 -c "{probe}"')
