"""Counts and times every response, by the URL name the request resolved to (metrics.py).

Second in ``MIDDLEWARE``, right after the request id: it sees every response
the app sends, including redirects, refusals of earlier middleware and
errors turned into responses, and its timing covers the whole middleware
stack. It runs after URL resolution has happened inside, so the view's name
is known by the time the response comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .metrics import method_label, observe_request, view_label


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(
            view_label(request),
            method_label(request.method),
            response.status_code,
            time.perf_counter() - started,
        )
        return response
