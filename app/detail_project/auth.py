"""API authentication: Django session OR ``Authorization: Bearer <token>``.

Sessions serve the browser UI; bearer tokens serve scripts, which cannot do
CSRF. So CSRF is enforced only when the session authenticated the request —
a bearer token cannot be sent cross-site by a browser, which is what CSRF
protects against.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from .models import ApiToken
from .responses import json_error, method_not_allowed, unauthorized

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CACHE_ATTR = "_api_auth"


@dataclass(frozen=True)
class ApiAuth:
    """Who made the request and how; ``user`` is None for anonymous callers."""

    user: AbstractBaseUser | None
    method: str | None  # "session", "bearer" or None
    invalid_token: bool = False


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """Create a token and return the raw value; it is never stored, so this is the only copy."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken.objects.create(user=user, key_hash=hash_token(raw), prefix=raw[:8], name=name)
    return token, raw


def _bearer_value(request: HttpRequest) -> str | None:
    """The token from ``Authorization: Bearer``; other schemes are ignored (None)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def _session_user(request: HttpRequest) -> AbstractBaseUser | None:
    try:
        user = request.user
        return user if user.is_authenticated else None
    except Exception:
        # A session store outage (Redis down) must degrade to "anonymous",
        # never to a 500 from the middleware that asked.
        logger.warning("session lookup failed; treating request as anonymous", exc_info=True)
        return None


def resolve_api_user(request: HttpRequest) -> ApiAuth:
    """Authenticate once per request; the rate limiter and the view share the answer."""
    cached = getattr(request, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    raw = _bearer_value(request)
    if raw is not None:
        token = (
            ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
            if raw
            else None
        )
        if token is not None and token.user.is_active:
            result = ApiAuth(user=token.user, method="bearer")
        else:
            result = ApiAuth(user=None, method=None, invalid_token=True)
    else:
        user = _session_user(request)
        result = ApiAuth(user=user, method="session" if user else None)
    setattr(request, _CACHE_ATTR, result)
    return result


class _CsrfCheck(CsrfViewMiddleware):
    """Django's CSRF logic, returning the failure reason instead of a 403 page."""

    def _reject(self, request: HttpRequest, reason: str) -> str:  # type: ignore[override]
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda _request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})  # type: ignore[return-value]


ViewFunc = Callable[..., HttpResponse]


def api_view(methods: list[str], *, authenticated: bool = True) -> Callable[[ViewFunc], ViewFunc]:
    """Wrap an API view: JSON 405/401/403 instead of HTML, and CSRF only for session auth.

    The returned view is marked csrf-exempt because the CSRF decision depends on
    how the caller authenticated, which the CSRF middleware cannot know.
    """

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return method_not_allowed(methods)
            if authenticated:
                auth = resolve_api_user(request)
                if auth.user is None:
                    return unauthorized(invalid_token=auth.invalid_token)
                if auth.method == "session" and request.method not in SAFE_METHODS:
                    reason = csrf_failure(request)
                    if reason is not None:
                        return json_error(403, "csrf_failed", f"CSRF check failed: {reason}")
                request.user = auth.user
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapped)

    return decorator
