"""One id per request, in every log line written for it and in the ``X-Request-ID`` response header.

The nginx front names each request (``X-Request-ID``) and logs that name, so
an id that the front, the app's log lines and the client all see lets one
request be followed through the stack. The header is believed only from a
trusted proxy (the TCP peer is in ``TRUSTED_PROXIES``, as for
``X-Forwarded-For``) and only when it is 1 to 64 letters, digits and hyphens:
anything else — a client's own header, a header that could smuggle quotes,
newlines or a flood of bytes into the log — is replaced by a fresh id.

The middleware is first in ``MIDDLEWARE`` so every later layer logs with the
id. The id stays bound until the response is closed (``request_finished``),
because Django logs 4xx/5xx responses after the middleware has returned.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from config.request_context import bind_request_id, clear_request_id
from django.http import HttpRequest, HttpResponse

from .proxies import peer_is_trusted

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9-]{1,64}")


def new_request_id() -> str:
    """32 hex digits: unique without coordination between workers or hosts."""
    return uuid.uuid4().hex


def incoming_request_id(request: HttpRequest) -> str:
    """The trusted proxy's well-formed id, else a new one."""
    offered = request.META.get(META_KEY, "")
    if offered and _WELL_FORMED.fullmatch(offered) and peer_is_trusted(request):
        return offered
    return new_request_id()


def request_over(**kwargs: Any) -> None:
    """``request_finished`` receiver (connected in apps.py): the response was closed."""
    clear_request_id()


class RequestIdMiddleware:
    """Binds the request's id for logging and returns it as ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = incoming_request_id(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        bind_request_id(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response
