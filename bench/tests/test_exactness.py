"""The exactness phase against a real redis-server and a loopback HTTP server."""

from __future__ import annotations

import functools
from typing import Any

import exactness
import httpload
import pytest
import redis
from conftest import Recorder
from provision import PlaybookRun


def test_exactness_from_a_burst_and_direct_decisions(
    monkeypatch: pytest.MonkeyPatch, redis_url: dict[str, Any], http_server: int
) -> None:
    runs: list[tuple[str, tuple[str, ...]]] = []

    def fake_run(label: str, playbook: str, *extra: str) -> PlaybookRun:
        runs.append((playbook, extra))
        return PlaybookRun(label, playbook, 1.0, 1, 1, 0, 1.0)

    client = redis.Redis(**redis_url)
    client.set("ahsp:rate_limit:api_test:ip:10.0.0.1", "stale")
    Recorder.limit = 20
    monkeypatch.setattr(exactness, "LIMIT", 20)
    monkeypatch.setattr(exactness, "BURST", 60)
    monkeypatch.setattr(exactness.provision, "run_playbook", fake_run)
    params = {k: v for k, v in redis_url.items() if k != "socket_timeout"}
    monkeypatch.setattr(exactness, "redis_params", lambda: params)
    burst = functools.partial(httpload.burst, port=http_server)
    monkeypatch.setattr(exactness.httpload, "burst", burst)
    figures = exactness.measure(client, [("127.0.0.1", "a"), ("127.0.0.1", "b")])
    assert [playbook for playbook, _ in runs] == ["playbooks/app.yml"] * 2
    assert '"app_ratelimit_requests": 20' in runs[0][1][1] and runs[1][1] == ()
    assert (figures.http.allowed, figures.http.rejected_429, figures.http.other) == (20, 40, {})
    assert figures.app_limiter_direct.allowed == 20 and figures.app_limiter_direct.errors == 0
    assert figures.get_then_set_baseline.allowed >= 20
    assert not client.exists("ahsp:rate_limit:api_test:ip:10.0.0.1")
