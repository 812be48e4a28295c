"""Cached values are JSON or raw bytes in Redis; anything else (a pickle above all) is a miss."""

from __future__ import annotations

import json
import logging
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from detail_project.cache_format import JSONSerializer
from detail_project.tree_cache import cache_key, render
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from tests.api import tree_url
from tests.redis_servers import RedisServer

pytestmark = pytest.mark.django_db

SESSION_PREFIX = "django.contrib.sessions.cache"


class Touch:
    """Unpickling this creates ``path``: what a hostile entry would do, made visible."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def hostile_pickle(path: Path) -> bytes:
    """A pickle that creates ``path`` when loaded; proven live on a sibling path first,
    so a test that sees no file knows the payload was never unpickled.
    """
    proof = path.with_name(path.name + ".proof")
    pickle.loads(pickle.dumps(Touch(proof)))  # noqa: S301 - the point of the test
    assert proof.exists()
    return pickle.dumps(Touch(path))


def raw_key(key: str) -> str:
    """The Redis key django-redis uses for cache key ``key`` (prefix and version 1)."""
    return f"{settings.CACHES['default']['KEY_PREFIX']}:1:{key}"


@pytest.mark.parametrize(
    "value",
    [
        b'{"tree": []}',
        b"\x80\x04binary\x00",
        b"",
        {"_auth_user_id": "1", "nested": {"list": [1, 2.5, True, None, "\u00fcml\u00e4ut"]}},
        ["a", 1],
        "text",
        True,
        None,
        12,
        -3.25,
    ],
)
def test_values_the_app_stores_come_back_as_they_were(value: Any) -> None:
    cache.set("roundtrip", value)
    assert cache.get("roundtrip", "missing") == value


def test_stored_bytes_are_tagged_raw_and_everything_else_is_json(
    redis_server: RedisServer,
) -> None:
    admin = redis_server.client()
    cache.set("body", b'{"a": 1}')
    cache.set("session", {"_auth_user_id": "7"})
    assert admin.get(raw_key("body")) == b'B{"a": 1}'
    stored = admin.get(raw_key("session"))
    assert stored[:1] == b"J"
    assert json.loads(stored[1:]) == {"_auth_user_id": "7"}


@pytest.mark.parametrize(
    "value", [datetime(2026, 1, 1, tzinfo=UTC), Decimal("1.5"), {1, 2}, float("nan"), object()]
)
def test_values_json_cannot_hold_are_refused_not_changed(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        cache.set("odd", value)
    assert cache.get("odd", "missing") == "missing"


def test_a_pickled_entry_is_a_miss_and_never_runs(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "pwned"
    redis_server.client().set(raw_key("planted"), hostile_pickle(marker))
    with caplog.at_level(logging.DEBUG, logger="detail_project.cache_format"):
        assert cache.get("planted", "missing") == "missing"
        assert cache.get("planted") is None
    assert not marker.exists()
    # Reported (a warning the first time in a process, then at debug level).
    assert "cache entry planted" in caplog.text


@pytest.mark.parametrize(
    "payload",
    [
        b"J{not json",
        b"J\xff\xfe\x00",
        b"J" + b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser recurses
        b"\x80\x05\x95",  # a truncated pickle
        b"xyz",
    ],
)
def test_entries_in_no_known_format_are_misses(redis_server: RedisServer, payload: bytes) -> None:
    admin = redis_server.client()
    admin.set(raw_key("junk"), payload)
    admin.set(raw_key("good"), JSONSerializer({}).dumps({"ok": True}))
    assert cache.get("junk", "missing") == "missing"
    assert cache.get("good") == {"ok": True}


def test_a_pickled_session_is_no_session_and_never_runs(
    tmp_path: Path, redis_server: RedisServer, owner: Any
) -> None:
    """A session entry planted (or left over from a release that pickled) logs nobody in
    and runs nothing; the request is served as anonymous.
    """
    marker = tmp_path / "pwned"
    session_key = "s" * 32
    redis_server.client().set(raw_key(SESSION_PREFIX + session_key), hostile_pickle(marker))
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    response = client.get(tree_url(1))
    assert response.status_code == 401
    assert client.get("/").status_code == 200
    assert not marker.exists()


def test_a_login_session_is_stored_as_json(redis_server: RedisServer, owner: Any) -> None:
    client = Client()
    client.force_login(owner)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    stored = redis_server.client().get(raw_key(SESSION_PREFIX + session_key))
    assert stored[:1] == b"J"
    assert json.loads(stored[1:])["_auth_user_id"] == str(owner.pk)
    assert client.get(tree_url(999)).status_code == 404  # logged in


def test_a_pickled_tree_entry_is_rendered_afresh_and_replaced(
    tmp_path: Path, redis_server: RedisServer, project: Any, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "pwned"
    admin = redis_server.client()
    admin.set(raw_key(cache_key(project)), hostile_pickle(marker))
    client = Client()
    client.force_login(project.owner)
    with caplog.at_level(logging.WARNING, logger="detail_project.tree_cache"):
        response = client.get(tree_url(project.pk))
    assert (response.status_code, response.content) == (200, render(project))
    assert not marker.exists()
    assert admin.get(raw_key(cache_key(project))) == b"B" + render(project)
    assert "tree cache" not in caplog.text  # a miss, not a cache failure
