"""JSON error responses shared by the API, so every failure has the same shape.

API clients are scripts: they must get machine-readable JSON with a stable
``error`` code, never Django's HTML error pages or a redirect to a login form.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


def json_error(
    status: int, error: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JsonResponse:
    """Build ``{"error": <code>, "detail": <text>, ...extra}`` with the given status."""
    body: dict[str, Any] = {"error": error, "detail": detail, **extra}
    return JsonResponse(body, status=status, headers=headers)


def unauthorized(*, invalid_token: bool = False) -> JsonResponse:
    """401 with ``WWW-Authenticate: Bearer`` (RFC 6750), telling clients which scheme to use."""
    challenge = 'Bearer realm="api"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    return json_error(
        401,
        "unauthorized",
        "Authentication required: log in or send 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": challenge},
    )


def not_found() -> JsonResponse:
    return json_error(404, "not_found", "Not found.")


def method_not_allowed(allowed: list[str]) -> JsonResponse:
    return json_error(
        405,
        "method_not_allowed",
        f"Allowed methods: {', '.join(allowed)}.",
        headers={"Allow": ", ".join(allowed)},
    )
