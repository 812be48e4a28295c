"""Login throttling in Redis: a lockout per client address, a growing delay per username.

Every login that goes through Django's ``authenticate()`` with a request (the
admin login form) passes ``LoginThrottleBackend`` first, which admits or
refuses the attempt in one Redis function call, atomically, so parallel attempts on
any worker or host cannot slip past a limit together:

- **per client address** (``proxies.client_network``): after ``LOGIN_FAILURE_LIMIT``
  failed logins from one address, whatever the usernames, every attempt from
  it is refused for ``LOGIN_LOCKOUT_SECONDS``, and each refused attempt starts
  that wait again. Only the address's own user is hurt by this;
- **per username**, from any address: after ``LOGIN_FAILURE_LIMIT`` failures
  each further attempt must wait ``LOGIN_DELAY_SECONDS`` after the previous
  one, doubling with every failure up to ``LOGIN_DELAY_MAX_SECONDS``. This
  slows guessing one account from many addresses, and it is a delay, never a
  lockout: it ends after at most the maximum, and attempts refused by it are
  not counted, so hammering does not lengthen it. A guesser who takes every
  attempt the moment it opens could still crowd out the owner, hence:
- **known browsers** skip the per-username delay: a login sets a signed cookie
  naming the account, and an attempt carrying it for the same username is
  only subject to the address limit. Someone guessing the owner's password
  from elsewhere therefore cannot keep the owner out at all. A cookie that
  has itself been used for ``LOGIN_FAILURE_LIMIT`` failed attempts stops
  skipping the delay until its failures are forgotten.

Every admitted attempt is counted as a failure up front, and a successful
login takes back only its own: the username's record, its browser cookie's
record and that username's share of the address's count. Counting up front
is what makes the function the only decision (no check-then-count race); taking
back only one's own means logging into one account never clears what was
counted against another, so an attacker cannot log into their own account
to reset the address limit.

Failures are forgotten ``LOGIN_LOCKOUT_SECONDS`` after the last one (for a
username: after its current delay has passed). Redis down: ``authenticate()``
raises and the login fails closed with a 503 (errors.py); no login could
work anyway, the session lives in Redis.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_redis import get_redis_connection

from .proxies import client_network
from .redis_functions import call
from .responses import json_error

DEVICE_COOKIE = "ahsp_login_device"
DEVICE_SALT = "detail_project.login_throttle.device"
DEVICE_MAX_AGE = 180 * 24 * 3600
ADDRESS = "address"
USERNAME = "username"
_ATTEMPT_ATTR = "_login_attempt"
_REFUSAL_ATTR = "_login_refusal"
_DEVICE_ATTR = "_login_device"

# The decisions are functions of the app's Redis function library
# (config/redis/login_attempt.lua and login_succeeded.lua, which say what
# they take and return). The address record is "<tag>=<count>;" per
# username tried from it (at most `limit` entries: an address at the limit
# gets no new ones); the username record is "<count>:<earliest next attempt,
# ms of Redis' clock>"; a browser record is a count.
ATTEMPT = "login_attempt"
SUCCEEDED = "login_succeeded"


@dataclass(frozen=True)
class Attempt:
    """The Redis records one login attempt is counted in, and the username's tag."""

    tag: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Refusal:
    """Why an attempt was refused (``ADDRESS`` or ``USERNAME``) and for how many seconds."""

    reason: str
    retry_after: int


def username_tag(username: str) -> str:
    """A fixed-length hex name for a username: keys stay short whatever was typed, and a
    browser cookie names the account without spelling it out.
    """
    return hashlib.sha256(username.encode()).hexdigest()[:32]


def _key(kind: str, name: str) -> str:
    prefix = str(settings.CACHES["default"].get("KEY_PREFIX", ""))
    base = f"login:{kind}:{name}"
    return f"{prefix}:{base}" if prefix else base


def _device_id(request: HttpRequest, tag: str) -> str | None:
    """The id of this browser's cookie when it is genuine and names this username."""
    value = request.get_signed_cookie(
        DEVICE_COOKIE, default=None, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE
    )
    if not value:
        return None
    cookie_tag, _, device = value.partition(":")
    return device if cookie_tag == tag and device.isalnum() else None


def attempt_for(request: HttpRequest, username: str) -> Attempt:
    tag = username_tag(username)
    keys = [_key("addr", client_network(request)), _key("user", tag)]
    device = _device_id(request, tag)
    if device is not None:
        keys.append(_key("device", device))
    return Attempt(tag=tag, keys=tuple(keys))


def _milliseconds(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _run(function: str, attempt: Attempt, *args: Any) -> Any:
    """One FCALL of the library's ``function`` on the app's pool."""
    client = get_redis_connection("default")
    return call(client, function, list(attempt.keys), [attempt.tag, *args])


def admit(request: HttpRequest, username: str) -> Refusal | None:
    """Count one attempt, or say why it must not be made now (then nothing is counted)."""
    attempt = attempt_for(request, username)
    verdict, wait_ms = _run(
        ATTEMPT,
        attempt,
        settings.LOGIN_FAILURE_LIMIT,
        _milliseconds(settings.LOGIN_LOCKOUT_SECONDS),
        _milliseconds(settings.LOGIN_DELAY_SECONDS),
        _milliseconds(settings.LOGIN_DELAY_MAX_SECONDS),
    )
    if verdict == 0:
        setattr(request, _ATTEMPT_ATTR, attempt)
        return None
    seconds = max(1, math.ceil(int(wait_ms) / 1000))
    return Refusal(reason=ADDRESS if verdict == 1 else USERNAME, retry_after=seconds)


class LoginThrottleBackend:
    """First in ``AUTHENTICATION_BACKENDS``: authenticates nobody, only admits or refuses.

    A refusal raises PermissionDenied, which makes ``authenticate()`` stop
    before any password is checked; the middleware below turns it into a 429.
    Calls without a request (management commands, shells) are not throttled:
    there is no client to count them against.

    Deliberately not a ``BaseBackend``: without ``get_user`` Django never picks
    it as the backend a session is bound to (``login()`` without a backend,
    the test client's ``force_login``), and without ``has_perm`` it is not
    asked about permissions.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        refusal = admit(request, str(name or ""))
        if refusal is not None:
            setattr(request, _REFUSAL_ATTR, refusal)
            raise PermissionDenied("login throttled")
        return None


def login_succeeded(sender: object, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: take back what this login's attempt counted and mark the
    browser as known. Logins that did not come through the backend (``force_login``,
    a login right after sign-up) counted nothing and change nothing.
    """
    attempt: Attempt | None = getattr(request, _ATTEMPT_ATTR, None)
    if request is None or attempt is None or attempt.tag != username_tag(user.get_username()):
        return
    _run(SUCCEEDED, attempt)
    setattr(request, _DEVICE_ATTR, f"{attempt.tag}:{secrets.token_hex(16)}")


def refusal_response(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """429 with ``Retry-After``: browsers, scripts and monitoring all see throttling, not a bug."""
    seconds = refusal.retry_after
    wait = f"{round(seconds / 60)} minutes" if seconds >= 120 else f"{seconds} seconds"
    if refusal.reason == ADDRESS:
        code = "login_locked"
        detail = (
            f"Too many failed login attempts from your address. Try again in {wait}; "
            "every further attempt restarts the wait."
        )
    else:
        code = "login_delayed"
        detail = f"Too many failed login attempts for this account. Try again in {wait}."
    headers = {"Retry-After": str(seconds)}
    if request.path_info.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    ):
        return json_error(429, code, detail, retry_after=seconds, headers=headers)
    return HttpResponse(
        detail + "\n", status=429, content_type="text/plain; charset=utf-8", headers=headers
    )


class LoginThrottleMiddleware:
    """Answers a refused attempt with ``refusal_response`` instead of the login form, and
    gives a browser that just logged in its known-browser cookie.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        refusal: Refusal | None = getattr(request, _REFUSAL_ATTR, None)
        if refusal is not None:
            return refusal_response(request, refusal)
        device: str | None = getattr(request, _DEVICE_ATTR, None)
        if device is not None:
            response.set_signed_cookie(
                DEVICE_COOKIE,
                device,
                salt=DEVICE_SALT,
                max_age=DEVICE_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
