"""Session fixtures: real servers (Redis with ACL users, PostgreSQL if installed), static files."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests.api import api_token, bearer_header
from tests.postgres import PostgresServer, postgres, server_binaries
from tests.redis_servers import APP_USER, RedisServer, running_redis
from tests.stack import Seed, host_env, seed


def caches_for(
    url: str, password: str | None, *, username: str | None = APP_USER, **options: Any
) -> dict[str, Any]:
    """The production CACHES setting with location, credentials and any options swapped.

    django-redis keeps one pool per URL and process, so a test that needs
    different pool options must also use a URL no other test uses.
    """
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = url
    caches["default"]["OPTIONS"].update(USERNAME=username, PASSWORD=password, **options)
    return caches


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The redis-server every test's app uses (flushed between tests)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop, freeze (SIGSTOP) or restart
    without disturbing the shared ``redis_server``.
    """
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def _use_test_redis(redis_server: RedisServer) -> Iterator[None]:
    with override_settings(CACHES=caches_for(redis_server.url(), redis_server.app_password)):
        yield


@pytest.fixture(scope="session")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("static_root")


@pytest.fixture(scope="session", autouse=True)
def _collected_static(static_root: Path) -> Iterator[None]:
    """Templates use {% static %}, which needs the manifest when DEBUG is off, as in production."""
    with override_settings(STATIC_ROOT=static_root):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield


@pytest.fixture(autouse=True)
def _fresh_health_report() -> None:
    """/health/ reuses its last report for a moment; each test starts without one."""
    from detail_project.health import forget_latest_report

    forget_latest_report()


@pytest.fixture(autouse=True)
def _flush_redis(redis_server: RedisServer) -> None:
    """Rate-limit logs, sessions and login counters must not leak from one test into the next."""
    if redis_server.running:
        redis_server.client().flushdb()


@pytest.fixture(autouse=True)
def _no_acl_denials(redis_server: RedisServer) -> Iterator[None]:
    """Every test doubles as a check of config/redis_acl.txt: the app must never be refused.

    Redis records each ACL denial in ACL LOG; a test that provokes denials on
    purpose resets the log itself.
    """
    admin = redis_server.client()
    admin.acl_log_reset()
    yield
    if redis_server.running:
        denials = admin.acl_log()
        admin.acl_log_reset()
        assert denials == [], f"the app's Redis user was refused: {denials}"


@pytest.fixture
def dead_redis_url() -> str:
    """A loopback port nobody listens on: connection refused, instantly."""
    from tests.helpers import free_port

    return f"redis://127.0.0.1:{free_port()}/1"


@pytest.fixture
def owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="owner", password="pw-owner-12345")


@pytest.fixture
def other_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="other", password="pw-other-12345")


@pytest.fixture
def bearer(owner: Any) -> dict[str, str]:
    """The Authorization header of a new API token of ``owner``."""
    return bearer_header(api_token(owner.username))


@pytest.fixture
def project(owner: Any) -> Any:
    """A small two-level sheet with totals that are easy to check by hand."""
    from detail_project.models import Classification, Project, SubClassification, WorkItem

    proj = Project.objects.create(owner=owner, name="Gedung Kantor")
    prep = Classification.objects.create(project=proj, name="Pekerjaan Persiapan", order=0)
    clearing = SubClassification.objects.create(classification=prep, name="Pembersihan", order=0)
    WorkItem.objects.create(
        sub_classification=clearing, code="A.1", name="Pembersihan lapangan", unit="m2",
        volume=Decimal("120.5"), unit_price=Decimal("15000.00"), order=0,
    )  # fmt: skip
    WorkItem.objects.create(
        sub_classification=clearing, code="A.2", name="Bouwplank", unit="m1",
        volume=Decimal("0.3333"), unit_price=Decimal("10000.01"), order=1,
    )  # fmt: skip
    struct = Classification.objects.create(project=proj, name="Pekerjaan Struktur", order=1)
    SubClassification.objects.create(classification=struct, name="Pondasi", order=0)
    return proj


@pytest.fixture(scope="session")
def seeded_sqlite(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, static_root: Path
) -> tuple[Path, Seed]:
    """A migrated SQLite file with the test account; tests copy it (stack.copy_database)."""
    workdir = tmp_path_factory.mktemp("seeded_sqlite")
    env = host_env(workdir, redis_server, db=15, static_root=static_root)
    return workdir / "db.sqlite3", seed(env)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    with postgres() as server:
        yield server


@pytest.fixture(scope="session")
def seeded_postgres(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    static_root: Path,
) -> Seed:
    workdir = tmp_path_factory.mktemp("seeded_postgres")
    env = host_env(
        workdir, redis_server, db=15, static_root=static_root, database=postgres_server.env()
    )
    return seed(env)
