"""Fixed-window rate limiting for ``/api/``, counted in Redis so it holds across workers and hosts.

Why our own module: the limit must be shared by every gunicorn worker on every
host, decided in ONE Redis round trip (a get-then-set counter lets concurrent
requests slip through), and degrade predictably when Redis is down. A 20-line
Lua script does exactly that; the maintained libraries either count per
process, use several round trips, or raise on a Redis outage.

The script runs INCR and, for a new key, PEXPIRE atomically inside Redis and
returns the count plus the remaining window (PTTL), so every decision — and the
``Retry-After``/``X-RateLimit-*`` headers — comes from a single EVALSHA on
django-redis's pooled connection.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_redis import get_redis_connection

from .auth import resolve_api_user
from .responses import json_error

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
FAIL_CLOSED_RETRY_AFTER = 5

# KEYS[1] = counter key, ARGV[1] = window in ms. Returns {count, pttl_ms}.
# The PTTL < 0 branch repairs a key that somehow lost its expiry, so a client
# can never be locked out forever.
LUA_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the window resets, >= 1

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }


def key_prefix() -> str:
    return str(settings.CACHES["default"].get("KEY_PREFIX", ""))


def build_key(endpoint: str, client: str) -> str:
    """``<cache prefix>:rate_limit:<endpoint>:<client>``, like seed's ``rate_limit:...`` keys.

    Example: ``ahsp:rate_limit:api_test:ip:192.0.2.7``. Built by hand rather than
    with ``cache.make_key`` so the key has no cache-version segment.
    """
    prefix = key_prefix()
    base = f"rate_limit:{endpoint}:{client}"
    return f"{prefix}:{base}" if prefix else base


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address our single trusted proxy appended to X-Forwarded-For.

    The right-most X-Forwarded-For entry is used because the left-most ones are
    whatever the client chose to send; trusting them would let anyone pick a
    fresh identity per request.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    if not settings.RATELIMIT_TRUST_X_FORWARDED_FOR:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    candidate = forwarded.split(",")[-1].strip() if forwarded else ""
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def client_identity(request: HttpRequest) -> str:
    """Authenticated users are limited per account (whatever their IP), others per IP."""
    user = resolve_api_user(request).user
    if user is not None:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def hit(key: str, limit: int, window: int) -> Decision:
    """Count one request against ``key``: exactly one Redis round trip (EVALSHA)."""
    client = get_redis_connection("default")
    script = client.register_script(LUA_HIT)
    count, pttl = script(keys=[key], args=[window * 1000])
    count, pttl = int(count), int(pttl)
    return Decision(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        reset_after=max(1, math.ceil(pttl / 1000)),
    )


def too_many_requests(decision: Decision) -> HttpResponse:
    return json_error(
        429,
        "rate_limited",
        f"Too many requests: limit is {decision.limit} per {settings.RATELIMIT_WINDOW} s.",
        retry_after=decision.reset_after,
        headers={"Retry-After": str(decision.reset_after), **decision.headers()},
    )


def limiter_unavailable() -> HttpResponse:
    return json_error(
        503,
        "rate_limiter_unavailable",
        "Rate limiter unavailable, try again later.",
        retry_after=FAIL_CLOSED_RETRY_AFTER,
        headers={"Retry-After": str(FAIL_CLOSED_RETRY_AFTER)},
    )


class RateLimitMiddleware:
    """Limit every ``/api/`` view; runs in ``process_view`` so the URL name is known.

    Placed after AuthenticationMiddleware so authenticated users can be keyed
    by account. ``/health/`` is outside ``/api/`` and therefore never limited.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        decision: Decision | None = getattr(request, "ratelimit", None)
        if decision is not None and decision.allowed:
            for name, value in decision.headers().items():
                response[name] = value
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., HttpResponse], *args: object
    ) -> HttpResponse | None:
        if not settings.RATELIMIT_ENABLED or not request.path_info.startswith(API_PREFIX):
            return None
        match = request.resolver_match
        endpoint = (match.url_name if match else None) or "unnamed"
        try:
            key = build_key(endpoint, client_identity(request))
            decision = hit(key, settings.RATELIMIT_REQUESTS, settings.RATELIMIT_WINDOW)
        except Exception:
            # Redis unreachable (or any limiter fault): never a 500. The policy
            # decides between serving unlimited and refusing with a 503.
            fail_open = settings.RATELIMIT_FAIL_OPEN
            logger.warning(
                "rate limiter unavailable, failing %s for %s",
                "open" if fail_open else "closed",
                request.path_info,
                exc_info=True,
            )
            return None if fail_open else limiter_unavailable()
        request.ratelimit = decision  # type: ignore[attr-defined]
        return None if decision.allowed else too_many_requests(decision)
