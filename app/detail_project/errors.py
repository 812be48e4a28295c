"""Error views: JSON with the API's error shape under ``/api/``, Django's pages elsewhere,
and 503 instead of 500 when the failure is Redis being unreachable.

Installed as ``handler400``/``handler403``/``handler404``/``handler500`` in
config/urls.py and as ``CSRF_FAILURE_VIEW``. The 500 handler runs while Django
handles the uncaught exception, so it can tell an outage (a Redis connection
error or timeout, or the breaker skipping Redis) from a bug: an outage is a
503 with ``Retry-After``, which clients and load balancers treat as "try
again", and which never looks like a crash in the error rate.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.views import csrf, defaults
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .responses import json_error

API_PREFIX = "/api/"
OUTAGE_RETRY_AFTER = 5


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def redis_outage_in_progress() -> bool:
    """True while handling an exception caused by Redis being unreachable or hung."""
    exc = sys.exc_info()[1]
    while exc is not None:
        if isinstance(exc, RedisConnectionError | RedisTimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(403, "forbidden", "Forbidden.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if redis_outage_in_progress():
        headers = {"Retry-After": str(OUTAGE_RETRY_AFTER)}
        if _is_api(request):
            return json_error(
                503,
                "service_unavailable",
                "A backend is temporarily unavailable, try again later.",
                headers=headers,
            )
        return HttpResponse(
            "Service temporarily unavailable, please try again in a few seconds.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
            headers=headers,
        )
    if _is_api(request):
        return json_error(500, "server_error", "Internal server error.")
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_api(request):
        return json_error(403, "csrf_failed", f"CSRF check failed: {reason}")
    return csrf.csrf_failure(request, reason)
