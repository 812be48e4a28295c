"""API authentication: Django session OR ``Authorization: Bearer <token>``.

Sessions serve the browser UI; bearer tokens serve scripts, which cannot do
CSRF. So CSRF is enforced only when the session authenticated the request —
a bearer token cannot be sent cross-site by a browser, which is what CSRF
protects against. A CSRF failure is answered by ``CSRF_FAILURE_VIEW``
(detail_project/errors.py), which speaks JSON under ``/api/``.
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
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .jsonbody import BodyError, check_json_content_type, check_size, read_json
from .models import ApiToken
from .redis_pool import CircuitOpenError
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
    except Exception as exc:
        # A session store outage (Redis down) must degrade to "anonymous",
        # never to a 500 from the middleware that asked.
        logger.warning(
            "session lookup failed (%s); treating request as anonymous",
            exc,
            exc_info=not isinstance(exc, CircuitOpenError),
        )
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


ViewFunc = Callable[..., HttpResponse]


def api_view(
    methods: list[str], *, authenticated: bool = True, json_body: bool = False
) -> Callable[[ViewFunc], ViewFunc]:
    """Wrap an API view so every refusal is a JSON error, checked in this order:

    405 wrong method, 413 body too large, 401 not authenticated, 415 not JSON
    (``json_body`` views), 403 CSRF (session authentication only), 400 body not
    a JSON document. A ``json_body`` view receives the parsed document as
    ``payload``. The media type is checked before CSRF because Django's CSRF
    check parses form bodies, which a malformed multipart body would break.

    The returned view is marked csrf-exempt because the CSRF decision depends on
    how the caller authenticated, which the CSRF middleware cannot know; for
    session callers the view runs under ``csrf_protect`` instead.
    """

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return method_not_allowed(methods)
            try:
                check_size(request)
                by_session = False
                if authenticated:
                    auth = resolve_api_user(request)
                    if auth.user is None:
                        return unauthorized(invalid_token=auth.invalid_token)
                    request.user = auth.user
                    by_session = auth.method == "session"
                if json_body and request.method not in SAFE_METHODS:
                    check_json_content_type(request)
                inner = _with_payload(view) if json_body else view
                if by_session:
                    inner = csrf_protect(inner)
                return inner(request, *args, **kwargs)
            except BodyError as exc:
                return json_error(exc.status, exc.code, exc.detail)

        return csrf_exempt(wrapped)

    return decorator


def _with_payload(view: ViewFunc) -> ViewFunc:
    @wraps(view)
    def parse_then_call(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, *args, payload=read_json(request), **kwargs)

    return parse_then_call
