"""JSON API views. Rate limiting is applied to all of ``/api/`` by RateLimitMiddleware."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .auth import api_view
from .models import Project
from .responses import json_error, not_found
from .tree import TreeValidationError, parse_tree, project_tree, replace_tree


def _owned_project(request: HttpRequest, project_id: int) -> Project | None:
    """Another user's project is reported missing (404), not forbidden: existence is not leaked."""
    return Project.objects.filter(pk=project_id, owner=request.user).first()


@api_view(["GET"])
def list_pekerjaan_tree(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _owned_project(request, project_id)
    if project is None:
        return not_found()
    return JsonResponse(project_tree(project))


@api_view(["POST"])
def list_pekerjaan_save(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _owned_project(request, project_id)
    if project is None:
        return not_found()
    try:
        # parse_float=Decimal: "0.1" must stay 0.1, not 0.1000000000000000055...
        payload = json.loads(request.body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return json_error(400, "invalid_json", "Request body is not valid JSON.")
    try:
        tree = parse_tree(payload)
    except TreeValidationError as exc:
        return json_error(400, "validation_failed", "Invalid fields.", errors=exc.errors)
    replace_tree(project, tree)
    return JsonResponse(project_tree(project))


@api_view(["GET", "POST"], authenticated=False)
def api_test(request: HttpRequest) -> HttpResponse:
    """Rate-limit probe: anonymous, changes nothing. Production disables it (404)."""
    if not settings.API_TEST_ENABLED:
        return not_found()
    return JsonResponse({"status": "ok"})
