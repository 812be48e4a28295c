"""The tree endpoint's Redis cache: hits skip the tree tables, changes are seen at once,
ownership is checked first, a Redis outage falls back to the database.
"""

from __future__ import annotations

import json
import statistics
import time
from decimal import Decimal
from typing import Any

import pytest
from detail_project.models import Classification, Project, SubClassification, WorkItem
from detail_project.tree import parse_tree, replace_tree
from detail_project.tree_cache import cache_key, render
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.api import save_url, tree_url
from tests.conftest import caches_for
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.django_db

TREE_TABLES = (
    Classification._meta.db_table,
    SubClassification._meta.db_table,
    WorkItem._meta.db_table,
)


def tree_queries(client: Client, project: Any, headers: dict[str, str]) -> tuple[Any, list[str]]:
    """GET the tree; the response and the SQL statements that read a tree table."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(tree_url(project.pk), headers=headers)
    sql = [q["sql"] for q in captured.captured_queries]
    return response, [s for s in sql if any(table in s for table in TREE_TABLES)]


@pytest.mark.parametrize("auth", ["session", "bearer"])
def test_the_second_get_does_not_read_the_tree_tables(
    client: Client, owner: Any, project: Any, bearer: dict[str, str], auth: str
) -> None:
    headers = bearer if auth == "bearer" else {}
    if auth == "session":
        client.force_login(owner)
    first, first_tree_sql = tree_queries(client, project, headers)
    second, second_tree_sql = tree_queries(client, project, headers)
    assert first.status_code == second.status_code == 200
    assert len(first_tree_sql) == 3  # classifications, sub-classifications, items
    assert second_tree_sql == []
    assert second.content == first.content
    assert second["Content-Type"] == "application/json"
    assert second.json()["total"] == "1810833.00"


def test_the_entry_lives_under_the_documented_key_with_a_bounded_ttl(
    client: Client, project: Any, bearer: dict[str, str], redis_server: RedisServer
) -> None:
    client.get(tree_url(project.pk), headers=bearer)
    stamp = int(project.updated_at.timestamp()) * 10**6 + project.updated_at.microsecond
    key = f"ahsp:1:tree:{settings.APP_RELEASE}:{project.pk}:{stamp}"
    assert cache_key(project) == f"tree:{settings.APP_RELEASE}:{project.pk}:{stamp}"
    ttl = redis_server.client().ttl(key)
    assert 0 < ttl <= settings.TREE_CACHE_SECONDS == 300


def test_a_save_through_the_api_is_seen_by_the_next_get(
    client: Client, project: Any, bearer: dict[str, str]
) -> None:
    before = client.get(tree_url(project.pk), headers=bearer).json()
    assert before["total"] == "1810833.00"
    new_tree = {
        "classifications": [
            {"name": "Atap", "sub_classifications": [
                {"name": "Rangka", "items": [
                    {"code": "C.1", "name": "Baja ringan", "unit": "m2",
                     "volume": "2", "unit_price": "100.00"}]}]}]
    }  # fmt: skip
    saved = client.post(
        save_url(project.pk),
        data=json.dumps(new_tree), content_type="application/json", headers=bearer,
    )  # fmt: skip
    assert saved.status_code == 200
    after, tree_sql = tree_queries(client, project, bearer)
    assert after.json()["total"] == "200.00"
    assert [c["name"] for c in after.json()["classifications"]] == ["Atap"]
    assert tree_sql  # a new key: rendered from the database
    again, tree_sql = tree_queries(client, project, bearer)
    assert (again.content, tree_sql) == (after.content, [])


def test_the_key_changes_with_every_replace(project: Any) -> None:
    keys = {cache_key(project)}
    for _ in range(3):
        replace_tree(project, parse_tree({"classifications": []}))
        keys.add(cache_key(Project.objects.get(pk=project.pk)))
    assert len(keys) == 4


def test_admin_edits_below_the_project_are_seen_by_the_next_get(
    client: Client, project: Any, bearer: dict[str, str], django_user_model: Any
) -> None:
    admin_user = django_user_model.objects.create_superuser("boss", password="pw-boss-12345")
    item = WorkItem.objects.get(code="A.1")
    assert client.get(tree_url(project.pk), headers=bearer).json()["total"] == "1810833.00"

    staff = Client()
    staff.force_login(admin_user)
    changed = staff.post(
        f"/admin/detail_project/workitem/{item.pk}/change/",
        {"sub_classification": item.sub_classification_id, "code": "A.1", "name": "Dibersihkan",
         "unit": "m2", "volume": "1", "unit_price": "1.00", "order": 0},
    )  # fmt: skip
    assert changed.status_code == 302, changed.content[:500]
    after = client.get(tree_url(project.pk), headers=bearer).json()
    first_item = after["classifications"][0]["sub_classifications"][0]["items"][0]
    assert (first_item["name"], after["total"]) == ("Dibersihkan", "3334.00")

    deleted = staff.post(f"/admin/detail_project/workitem/{item.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    after = client.get(tree_url(project.pk), headers=bearer).json()
    assert after["total"] == "3333.00"

    sub = SubClassification.objects.get(name="Pondasi")
    renamed = staff.post(
        f"/admin/detail_project/subclassification/{sub.pk}/change/",
        {"classification": sub.classification_id, "name": "Pondasi Batu", "order": 0,
         "items-TOTAL_FORMS": 0, "items-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert renamed.status_code == 302, renamed.content[:500]
    after = client.get(tree_url(project.pk), headers=bearer).json()
    assert after["classifications"][1]["sub_classifications"][0]["name"] == "Pondasi Batu"


def test_another_users_request_never_gets_the_cached_tree(
    client: Client, project: Any, bearer: dict[str, str], other_user: Any
) -> None:
    assert client.get(tree_url(project.pk), headers=bearer).status_code == 200  # cached now
    other = Client()
    other.force_login(other_user)
    response = other.get(tree_url(project.pk))
    assert response.status_code == 404
    assert "Gedung" not in response.content.decode()


def test_the_limiter_still_applies_to_cached_trees(
    client: Client, project: Any, bearer: dict[str, str]
) -> None:
    with override_settings(RATELIMIT_REQUESTS=3):
        statuses = [client.get(tree_url(project.pk), headers=bearer).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_redis_unreachable_serves_the_tree_from_the_database(
    client: Client, project: Any, bearer: dict[str, str], dead_redis_url: str, caplog: Any
) -> None:
    expected = render(project)
    with override_settings(CACHES=caches_for(dead_redis_url, "x")):
        responses = [tree_queries(client, project, bearer) for _ in range(3)]
    assert [r.status_code for r, _ in responses] == [200, 200, 200]
    assert all(r.content == expected for r, _ in responses)
    assert all(len(sql) == 3 for _, sql in responses)  # every one from the database
    assert "tree cache read failed" in caplog.text


def test_a_stopped_redis_after_a_hit_serves_the_tree_from_the_database(
    client: Client, project: Any, bearer: dict[str, str], own_redis: RedisServer
) -> None:
    """The realistic order: the tree is cached, then redis-server stops. The pooled
    connection is dead and the reconnect refused; the tree comes from the database.
    """
    with override_settings(CACHES=caches_for(own_redis.url(), own_redis.app_password)):
        first, first_sql = tree_queries(client, project, bearer)
        hit, hit_sql = tree_queries(client, project, bearer)
        own_redis.stop()
        started = time.monotonic()
        stopped = [tree_queries(client, project, bearer) for _ in range(3)]
        seconds = time.monotonic() - started
    assert (first.status_code, len(first_sql), hit.status_code, hit_sql) == (200, 3, 200, [])
    assert [r.status_code for r, _ in stopped] == [200, 200, 200]
    assert all(r.content == first.content and len(sql) == 3 for r, sql in stopped)
    assert seconds < 1.0  # refused at once, then skipped by the breaker


def test_a_value_the_cache_cannot_read_falls_back_too(
    client: Client, project: Any, bearer: dict[str, str], redis_server: RedisServer
) -> None:
    redis_server.client().set(f"ahsp:1:{cache_key(project)}", b"\x80not a pickle")
    response = client.get(tree_url(project.pk), headers=bearer)
    assert (response.status_code, response.content) == (200, render(project))


@override_settings(TREE_CACHE_SECONDS=0)
def test_zero_seconds_disables_the_cache(
    client: Client, project: Any, bearer: dict[str, str]
) -> None:
    for _ in range(2):
        response, tree_sql = tree_queries(client, project, bearer)
        assert (response.status_code, len(tree_sql)) == (200, 3)


def big_project(owner: Any) -> Project:
    """1,000 work items: 10 classifications of 5 sub-classifications of 20 items."""
    proj = Project.objects.create(owner=owner, name="Rumah Sakit")
    items = []
    for c in range(10):
        cls = Classification.objects.create(project=proj, name=f"Bagian {c}", order=c)
        for s in range(5):
            sub = SubClassification.objects.create(classification=cls, name=f"Sub {s}", order=s)
            for i in range(20):
                item = WorkItem(
                    sub_classification=sub, code=f"{c}.{s}.{i}", name=f"Pekerjaan {i}",
                    unit="m2", volume=Decimal("12.3456"), unit_price=Decimal("98765.43"), order=i,
                )  # fmt: skip
                items.append(item)
    WorkItem.objects.bulk_create(items)
    return proj


def p50_ms(client: Client, url: str, headers: dict[str, str], cached: bool) -> float:
    """Median of 30 GETs, all hits or all misses (the cache off), one at a time."""
    seconds = []
    for _ in range(30):
        with override_settings(TREE_CACHE_SECONDS=300 if cached else 0):
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            seconds.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(seconds) * 1000


@override_settings(RATELIMIT_ENABLED=False)
@pytest.mark.parametrize("size", ["3 items", "1000 items"])
def test_hit_and_miss_latency(
    client: Client,
    owner: Any,
    project: Any,
    bearer: dict[str, str],
    size: str,
    record_property: Any,
) -> None:
    """In-process on SQLite with a bearer token (one query for it, one for the project)."""
    proj = project if size == "3 items" else big_project(owner)
    url = tree_url(proj.pk)
    client.get(url, headers=bearer)  # fill the cache
    miss_ms = p50_ms(client, url, bearer, cached=False)
    hit_ms = p50_ms(client, url, bearer, cached=True)
    label = size.replace(" ", "_")
    record_property(f"tree_{label}_miss_p50_ms", round(miss_ms, 2))
    record_property(f"tree_{label}_hit_p50_ms", round(hit_ms, 2))
    record_property(f"tree_{label}_body_bytes", len(render(proj)))
    if size == "1000 items":  # the small tree's cost is mostly the fixed per-request work
        assert hit_ms < miss_ms / 3
