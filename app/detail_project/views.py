"""Non-API pages: the landing page and the health probes."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from .health import latest_report


@ensure_csrf_cookie
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Sets the CSRF cookie so page scripts can POST to session-authenticated API endpoints."""
    return render(request, "detail_project/index.html", {"app_release": settings.APP_RELEASE})


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, 503 otherwise, so a load balancer needs no body parsing.
    The checks' result is reused for ``HEALTH_CACHE_SECONDS`` (health.latest_report).
    """
    report = latest_report()
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No database or Redis, so a Redis blip never
    makes a supervisor restart healthy workers; /health/ is the readiness probe.
    """
    return JsonResponse({"status": "ok"})
