"""JSON API views. Rate limiting is applied to all of ``/api/`` by RateLimitMiddleware."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .auth import api_view
from .models import Project
from .responses import json_error, not_found
from .tree import TreeValidationError, parse_tree, project_tree, replace_tree
from .tree_cache import tree_json

# Primary keys are signed 64-bit on SQLite and PostgreSQL; a larger id in the
# URL cannot exist and must not reach the database (it would raise, not miss).
MAX_ID = 2**63 - 1


def _owned_project(request: HttpRequest, project_id: int) -> Project | None:
    """Another user's project is reported missing (404), not forbidden: existence is not leaked."""
    if project_id > MAX_ID:
        return None
    return Project.objects.filter(pk=project_id, owner=request.user).first()


@api_view(["GET"])
def list_pekerjaan_tree(request: HttpRequest, project_id: int) -> HttpResponse:
    """Ownership is checked in the database first; only then is the cache asked (tree_cache.py)."""
    project = _owned_project(request, project_id)
    if project is None:
        return not_found()
    return HttpResponse(tree_json(project), content_type="application/json")


@api_view(["POST"], json_body=True)
def list_pekerjaan_save(request: HttpRequest, project_id: int, payload: Any) -> HttpResponse:
    project = _owned_project(request, project_id)
    if project is None:
        return not_found()
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
