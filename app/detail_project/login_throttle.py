"""The response a locked-out login gets (django-axes' ``AXES_LOCKOUT_CALLABLE``).

django-axes counts failed logins in Redis (its cache handler on the shared
cache), one counter per client address and one per username, and calls this
once either reaches ``LOGIN_FAILURE_LIMIT``. A 429 with ``Retry-After`` tells
browsers, scripts and monitoring alike that this is throttling, not a bug.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .responses import json_error


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    seconds = int(settings.LOGIN_LOCKOUT_SECONDS)
    minutes = max(1, round(seconds / 60))
    detail = (
        f"Too many failed login attempts. Try again in {minutes} minute"
        f"{'s' if minutes != 1 else ''}; every further failed attempt restarts the wait."
    )
    headers = {"Retry-After": str(seconds)}
    if request.path_info.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    ):
        return json_error(429, "login_locked", detail, retry_after=seconds, headers=headers)
    return HttpResponse(
        detail + "\n", status=429, content_type="text/plain; charset=utf-8", headers=headers
    )
