"""Limiter exactness: a burst of simultaneous requests against a low limit, over both hosts.

The limit is lowered the operator's way (playbooks/app.yml with `-e`) and
put back the same way after. A limiter that reads, compares and writes in
separate round trips lets a burst through past its limit; the app's
decision is one atomic Redis function call, so exactly `LIMIT` of `BURST`
simultaneous requests may pass, whichever host they reach. Next to it, on
their own connections straight to the same Redis: the app's `hit` and, as
the baseline, a get-then-set counter (limiter.seed_style_allow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpload
import limiter
import provision
import redis
from common import API_PATH, APP_HOSTS, log, redis_params
from limiter import ConcurrentDecisions
from provision import PlaybookRun

LIMIT = 100
BURST = 300  # concurrent requests, half to each app host


@dataclass(frozen=True)
class HttpBurst:
    """BURST requests released at once over both app hosts: how they were answered."""

    requests: int
    hosts: list[str]
    allowed: int  # answered 200
    rejected_429: int
    other: dict[str, int]  # any other answer, by status (0: no HTTP answer)


@dataclass(frozen=True)
class ExactnessFigures:
    """The limiter at a low limit: over HTTP, and its decision straight against Redis."""

    limit: int
    limit_run: PlaybookRun  # playbooks/app.yml setting the low limit
    http: HttpBurst
    app_limiter_direct: ConcurrentDecisions  # the app's hit, BURST callers at once
    get_then_set_baseline: ConcurrentDecisions  # the racy get-then-set counter, the same way
    restore_run: PlaybookRun  # playbooks/app.yml putting the inventory's limit back


def measure(client: redis.Redis, apps: list[tuple[str, str]]) -> ExactnessFigures:
    """Lower the limit, burst over `apps` ((address, Host) pairs), decide directly, restore."""
    limit_run = provision.run_playbook(
        f"limit {LIMIT}",
        "playbooks/app.yml",
        "-e",
        json.dumps({"app_ratelimit_enabled": True, "app_ratelimit_requests": LIMIT}),
    )
    forget_earlier_requests(client)
    http = http_burst(apps)
    log(f"exactness: HTTP allowed {http.allowed} of {BURST} (limit {LIMIT})")
    direct, baseline = direct_decisions()
    restore_run = provision.run_playbook("limit back to the inventory", "playbooks/app.yml")
    return ExactnessFigures(
        limit=LIMIT,
        limit_run=limit_run,
        http=http,
        app_limiter_direct=direct,
        get_then_set_baseline=baseline,
        restore_run=restore_run,
    )


def forget_earlier_requests(client: redis.Redis) -> None:
    """A fresh window: earlier phases counted against the same client key."""
    stale = list(client.scan_iter(match="*rate_limit:api_test:*", count=1000))
    for start in range(0, len(stale), 1000):
        client.unlink(*stale[start : start + 1000])


def http_burst(apps: list[tuple[str, str]]) -> HttpBurst:
    """BURST requests to the rate-limited view, released at once, alternating between hosts."""
    statuses = httpload.burst(apps, API_PATH, total=BURST)
    return HttpBurst(
        requests=BURST,
        hosts=list(APP_HOSTS),
        allowed=statuses.get(200, 0),
        rejected_429=statuses.get(429, 0),
        other={str(k): v for k, v in statuses.items() if k not in (200, 429)},
    )


def direct_decisions() -> tuple[ConcurrentDecisions, ConcurrentDecisions]:
    """The app's limiter and the get-then-set baseline, BURST callers each, on fresh keys."""
    params = redis_params()

    def make_client() -> redis.Redis:
        return redis.Redis(**params, socket_timeout=20)

    direct = limiter.run_concurrently(
        make_client, limiter.app_allow, key="bench:exact:sliding-log", limit=LIMIT, callers=BURST
    )
    baseline = limiter.run_concurrently(
        make_client, limiter.seed_style_allow, key="bench:exact:seed", limit=LIMIT, callers=BURST
    )
    return direct, baseline
