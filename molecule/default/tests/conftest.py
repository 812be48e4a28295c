"""Fixtures for the full-stack scenario: Redis, PostgreSQL, its backup host, two app hosts, a front.

The tests are not parametrized over Molecule's hosts (they do not use the
`host` fixture): each one addresses the hosts it needs by name. HTTP requests
to the app hosts go from the database host over the Docker network, by the
containers' names, so the rate limiter sees one client across both app hosts;
load runs from the controller to the containers' addresses.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from ahsp_testing import TREE, http, molecule_hosts, wait_for  # noqa: F401 (TREE, wait_for re-exported)

REDIS, DB, APP1, APP2, WEB = "stack-redis", "stack-db", "stack-app1", "stack-app2", "stack-web"
BACKUP = "stack-backup"
APPS = (APP1, APP2)
PORT = 8000
# The scenario's inventory sets these instead of the defaults (molecule.yml).
REDIS_PORT, PG_PORT, PG_DB, PG_USER = 6380, 5433, "ahsp_stack", "ahsp_stack_app"
SECRET_NAMES = (
    "redis_admin_password",
    "redis_app_password",
    "postgresql_db_password",
    "app_secret_key",
    "app_admin_password",
    "redis_exporter_password",
    "redis_backup_password",
    "pgbackrest_cipher_passphrase",
)

# On the Redis host, as the admin user (ACL mode): the password from root's
# file, so that no test command line (shown when a command fails) carries it.
REDIS_ADMIN = "ahsp-admin"
REDIS_AUTH = 'REDISCLI_AUTH="$(cat /root/.redis-admin-password)"'
REDIS_CLI = f"{REDIS_AUTH} redis-cli --user {REDIS_ADMIN} -p {REDIS_PORT}"

# On an app host: a variable of the app's environment, read the way the app
# reads it (python-dotenv), never through a shell.
APP_ENV = (
    '/srv/ahsp/current/venv/bin/python -c "import sys; from dotenv import dotenv_values; '
    "sys.stdout.write(dotenv_values('/etc/ahsp/secrets.env', interpolate=False)[sys.argv[1]])\""
)


# What the tests' own runs of the stack leave out (see pytest_configure).
SKIP_TAGS = "prometheus_exporters,prometheus,pgbackrest"
# The same without the backup role's tasks, for a run that provisions a new
# database host.
SKIP_TAGS_BUT_BACKUPS = "prometheus_exporters,prometheus"


def pytest_configure(config) -> None:
    # The tests' own runs of the stack (day-2 changes, drift, bad inputs)
    # leave the monitoring and backup roles' tasks out: they change nothing
    # there, and the scenario's converge and idempotence run them in full
    # (the restore drills run them where they matter). The preflight still
    # validates every input, the monitoring's and the backups' included.
    os.environ.setdefault("ANSIBLE_SKIP_TAGS", SKIP_TAGS)
    config.addinivalue_line(
        "markers", "after_all: runs after every other test (it inspects what they left behind)"
    )


def pytest_collection_modifyitems(items) -> None:
    """Tests marked `after_all` go last, in their order; the others keep theirs."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


def url(app: str, path: str) -> str:
    return f"http://{app}:{PORT}{path}"


@pytest.fixture(scope="session")
def hosts() -> dict:
    return molecule_hosts()


@pytest.fixture(scope="session")
def client(hosts):
    """Where requests come from: a host of the stack that is not an app host."""
    return hosts[DB]


@pytest.fixture(scope="session")
def app_addresses(hosts) -> dict[str, str]:
    """The app hosts' addresses on the Docker network, which the controller reaches too."""
    return {app: hosts[app].check_output("hostname -I").split()[0] for app in APPS}


@pytest.fixture(scope="session")
def front_address(hosts) -> str:
    """The front's address on the Docker network."""
    return hosts[WEB].check_output("hostname -I").split()[0]


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
        hosts[REDIS].check_output(f"{REDIS_CLI} -n 1 flushdb")

    flush()
    return flush


@pytest.fixture(scope="session")
def api_token(hosts) -> tuple[int, str]:
    """A project with a tree and a bearer token, made on the first app host."""
    script = (
        "from django.contrib.auth import get_user_model; "
        "from detail_project.models import Project; "
        "from detail_project.tree import parse_tree, replace_tree; "
        "user = get_user_model().objects.get(username='admin'); "
        "project, _ = Project.objects.get_or_create(owner=user, name='molecule stack'); "
        "import json; "
        f"replace_tree(project, parse_tree(json.loads({json.dumps(json.dumps(TREE))}))); "
        "print(project.pk)"
    )
    app1 = hosts[APP1]
    out = app1.check_output(f"ahsp-manage shell -c {shlex.quote(script)}")
    project_id = int(out.splitlines()[-1])
    token = app1.check_output("ahsp-manage create_api_token admin --name molecule").splitlines()[-1]
    return project_id, token


def health(client, app: str):
    return http(client, url(app, "/health/"))[0]


def served(client, app: str) -> str:
    return health(client, app).json()["version"]


def live_release(host) -> str:
    return host.file("/srv/ahsp/current").linked_to.rsplit("/", 1)[1]


def private_address(host) -> str:
    """The source address of the default route (what ansible_default_ipv4 reports)."""
    probe = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "s.connect(('192.0.2.1', 9)); print(s.getsockname()[0])"
    )
    return host.check_output(f'python3 -c "{probe}"')


def silences(hosts, by: str) -> list[dict]:
    """Alertmanager's silences set by one playbook, asked from the monitoring host."""
    address = hosts[WEB].check_output("hostname -I").split()[0]
    (answer,) = http(hosts[WEB], f"http://{address}:9093/api/v2/silences")
    assert answer.status == 200, answer.body[:500]
    return [s for s in answer.json() if s["createdBy"] == by]
