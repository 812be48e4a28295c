"""The request id: from a trusted proxy's well-formed header or new, in the response and in every
log line of the request, as the configured handler writes them (one JSON object per line).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from config.jsonlog import JsonFormatter, RequestIdFilter
from config.request_context import bind_request_id, clear_request_id, current_request_id
from django.test import Client, override_settings

from tests.conftest import caches_for

PROXY = "10.0.0.2"
NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes, instead of stderr."""
    handler = next(h for h in logging.getLogger("django").handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_without_an_id_gets_a_new_one(client: Client) -> None:
    first = client.get("/health/live/")["X-Request-ID"]
    second = client.get("/health/live/")["X-Request-ID"]
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second) and first != second


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_a_trusted_proxys_id_is_kept(client: Client) -> None:
    offered = "f1e2d3c4-0000-4abc-9def-" + "a" * 12
    reply = client.get("/health/live/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID=offered)
    assert reply["X-Request-ID"] == offered
    longest = "A-9" * 21 + "z"  # 64 characters
    reply = client.get("/health/live/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID=longest)
    assert reply["X-Request-ID"] == longest


@override_settings(TRUSTED_PROXIES=[PROXY])
@pytest.mark.parametrize(
    "offered",
    ["a" * 65, "a b", "a_b", "a.b", "ä", "id\nforged", 'x"y', "a,b", "%41"],
)
def test_an_ill_formed_id_is_replaced(client: Client, offered: str) -> None:
    reply = client.get("/health/live/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID=offered)
    assert NEW_ID.fullmatch(reply["X-Request-ID"])


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_an_id_from_any_other_peer_is_replaced(client: Client) -> None:
    reply = client.get("/health/live/", REMOTE_ADDR="203.0.113.7", HTTP_X_REQUEST_ID="chosen-1")
    assert NEW_ID.fullmatch(reply["X-Request-ID"])


@override_settings(TRUSTED_PROXIES=[PROXY], RATELIMIT_FAIL_OPEN=True)
def test_every_log_line_of_a_request_carries_its_id(
    client: Client, dead_redis_url: str, log_lines: io.StringIO
) -> None:
    """The limiter's warning comes from inside the middleware stack, Django's "Not Found"
    after it returned: both carry the id, and nothing after the response does.
    """
    with override_settings(CACHES=caches_for(dead_redis_url, None)):
        served = client.get("/api/test/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID="req-1")
    missing = client.get("/nope/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID="req-2")
    logging.getLogger("detail_project").warning("between requests")

    assert (served.status_code, missing.status_code) == (200, 404)
    lines = events(log_lines)
    by_id: dict[str | None, list[str]] = {}
    for event in lines:
        by_id.setdefault(event["request_id"], []).append(event["message"])
    assert any(m.startswith("rate limiter unavailable") for m in by_id["req-1"]), lines
    assert by_id["req-2"] == ["Not Found: /nope/"]
    assert by_id[None] == ["between requests"]
    assert current_request_id() is None


def test_a_line_holds_the_fields_and_nothing_else() -> None:
    entry = logging.LogRecord("app.test", logging.WARNING, __file__, 1, "msg %s", ("x",), None)
    entry.status_code = 404
    entry.request = "<the request object, with its cookies>"
    bind_request_id("req-9")
    try:
        RequestIdFilter().filter(entry)
    finally:
        clear_request_id()
    event = json.loads(JsonFormatter().format(entry))
    assert set(event) == {
        "time", "level", "logger", "pid", "request_id", "message", "status_code",
    }  # fmt: skip
    assert (event["request_id"], event["message"], event["status_code"]) == ("req-9", "msg x", 404)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])


def test_a_traceback_and_a_newline_stay_on_one_line() -> None:
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        failure = sys.exc_info()
    entry = logging.LogRecord("app.test", logging.ERROR, __file__, 1, "forged\n{}", (), failure)
    text = JsonFormatter().format(entry)
    assert "\n" not in text
    event = json.loads(text)
    assert event["message"] == "forged\n{}"
    assert "ValueError: first\nsecond" in event["exception"]
