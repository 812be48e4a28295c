"""Rate limiting of ``/api/``, counted in Redis so it holds across workers and hosts.

Why our own module: the limit must be shared by every gunicorn worker on every
host, decided in ONE Redis round trip (a get-then-set counter lets concurrent
requests slip through), have no burst at window edges, and degrade
predictably when Redis is down. ``sliding_log.py`` holds the algorithm (one
Lua script); this module decides who the client is, applies the result to the
response and implements the fail policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_redis import get_redis_connection

from .auth import resolve_api_user
from .metrics import count_limiter_decision
from .proxies import client_network
from .redis_pool import CircuitOpenError
from .responses import json_error
from .sliding_log import Decision, hit

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
FAIL_CLOSED_RETRY_AFTER = 5


def key_prefix() -> str:
    return str(settings.CACHES["default"].get("KEY_PREFIX", ""))


def build_key(endpoint: str, client: str) -> str:
    """``<cache prefix>:rate_limit:<endpoint>:<client>``, e.g.
    ``ahsp:rate_limit:api_test:ip:192.0.2.7`` or ``…:ip:2001:db8:1:2::/64``.

    Built by hand rather than with ``cache.make_key`` so the key has no
    cache-version segment; it stays under the prefix the Redis ACL allows.
    """
    prefix = key_prefix()
    base = f"rate_limit:{endpoint}:{client}"
    return f"{prefix}:{base}" if prefix else base


def client_identity(request: HttpRequest) -> str:
    """Authenticated users are limited per account (whatever their address), others per
    address (an IPv6 client per network, see ``proxies.client_network``).

    A request with neither a bearer token nor a session cookie is anonymous
    without asking the session store or the database.
    """
    if "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES:
        user = resolve_api_user(request).user
        if user is not None:
            return f"user:{user.pk}"
    return f"ip:{client_network(request)}"


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
            decision = hit(
                get_redis_connection("default"),
                key,
                settings.RATELIMIT_REQUESTS,
                settings.RATELIMIT_WINDOW,
            )
        except Exception as exc:
            # Redis unreachable (or any limiter fault): never a 500. The policy
            # decides between serving unlimited and refusing with a 503. While
            # the breaker skips Redis its first failure was logged already, so
            # the skipped calls log one line without a traceback.
            fail_open = settings.RATELIMIT_FAIL_OPEN
            logger.warning(
                "rate limiter unavailable, failing %s for %s: %s",
                "open" if fail_open else "closed",
                request.path_info,
                exc,
                exc_info=not isinstance(exc, CircuitOpenError),
            )
            count_limiter_decision(endpoint, "unavailable")
            return None if fail_open else limiter_unavailable()
        request.ratelimit = decision  # type: ignore[attr-defined]
        count_limiter_decision(endpoint, "allowed" if decision.allowed else "limited")
        return None if decision.allowed else too_many_requests(decision)
