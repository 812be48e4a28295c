"""Fixtures for the Redis HA scenario: two data nodes and an app host, a Sentinel on each."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from ahsp_testing import http, molecule_hosts, place_secret, wait_for  # noqa: F401 (re-exported)

REDIS1, REDIS2, APP = "ha-redis1", "ha-redis2", "ha-app"
NODES = (REDIS1, REDIS2)
SERVICE = "ahsp"
ADMIN = "ahsp-admin"
# As the admin, on a data node: the password from root's file (never on a command line).
AUTH = 'REDISCLI_AUTH="$(cat /root/.redis-admin-password)"'
SECRET_NAMES = (
    "redis_admin_password",
    "redis_app_password",
    "redis_sentinel_password",
    "redis_replication_password",
    "app_secret_key",
    "app_admin_password",
)


@pytest.fixture(scope="session")
def hosts() -> dict:
    return molecule_hosts()


class Secrets(dict):
    """The secrets by name; never shown (pytest prints fixture values on failure)."""

    def __repr__(self) -> str:
        return f"<secrets {', '.join(self)}: values hidden>"


@pytest.fixture(scope="session")
def secrets(hosts) -> Secrets:
    """The generated secrets, also placed on every host (root-only files) for commands there."""
    base = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
    values = Secrets({name: (base / name).read_text().split()[0] for name in SECRET_NAMES})
    for host in hosts:
        for name, value in values.items():
            place_secret(host, name, value)
    return values


@pytest.fixture(scope="session", autouse=True)
def _secrets_on_hosts(secrets) -> None:
    """Every test may read the secrets' files on the hosts."""


def secret_file(name: str) -> str:
    """Where `secrets` placed a secret on each host."""
    return f"/root/.molecule-secrets/{name}"


def address(host) -> str:
    return host.check_output("hostname -I").split()[0]


def redis_cli(host, *args: str, port: int = 6379, user: str = ADMIN, secret: str = "") -> str:
    """redis-cli as `user`: the admin's password from root's file on a data node, else
    from a file `secrets` placed (`secret`: its name). Never on a command line."""
    words = " ".join(shlex.quote(a) for a in args)
    auth = f'REDISCLI_AUTH="$(cat {secret_file(secret)})"' if secret else AUTH
    return host.run(
        f"{auth} timeout 5 redis-cli --no-auth-warning --user {user} -p {port} --raw {words}"
    ).stdout


def primary(hosts, asking=(REDIS1, REDIS2)) -> str:
    """Address of the primary, as the first reachable Sentinel among `asking` says."""
    for name in asking:
        answer = redis_cli(
            hosts[name],
            "sentinel",
            "get-master-addr-by-name",
            SERVICE,
            port=26379,
            secret="redis_admin_password",
        ).split()
        if len(answer) == 2 and answer[1].isdigit():
            return answer[0]
    return ""


def role(host) -> str:
    result = host.run(f"{AUTH} timeout 5 redis-cli --user {ADMIN} -p 6379 --raw role")
    return result.stdout.split()[0] if result.rc == 0 and result.stdout.strip() else ""


def health_status(client, url: str) -> int:
    return http(client, url)[0].status
