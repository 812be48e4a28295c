"""Session fixtures: one real redis-server and one collectstatic run for the whole suite."""

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

from tests.helpers import RedisServer, start_redis


def caches_for(url: str, password: str | None) -> dict[str, Any]:
    """The production CACHES setting with only location and password swapped."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = url
    caches["default"]["OPTIONS"]["PASSWORD"] = password
    return caches


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _use_test_redis(redis_server: RedisServer) -> Iterator[None]:
    with override_settings(CACHES=caches_for(redis_server.url(), redis_server.password)):
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
def _flush_redis(redis_server: RedisServer) -> None:
    """Rate-limit counters and sessions must not leak from one test into the next."""
    if redis_server.running:
        redis_server.client().flushdb()


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
