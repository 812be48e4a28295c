"""How cached values are stored in Redis: JSON or raw bytes, never pickle.

django-redis pickles values by default, and unpickling runs code: anyone who
can write one key under the app's prefix (a leaked Redis password, another
tenant of a shared Redis, a Redis exposed by mistake) would run code in every
worker that reads it. This format cannot run anything, whatever the bytes:

- ``b"J" + JSON`` for JSON values (dict with string keys, list, str, int,
  float, bool, None): what sessions hold, since ``SESSION_SERIALIZER`` is JSON
  and the cache session backends store the session dict itself. Tuples come
  back as lists and non-string dict keys as strings, as with Django's session
  JSONSerializer; what JSON has no form for (datetime, Decimal, set, NaN) is
  refused when stored (``TypeError``/``ValueError``);
- ``b"B" + bytes`` for ``bytes``: the tree cache stores the response body
  ready to send, so it is kept as it is, without base64 or a copy into JSON;
- plain integers are written as digits by django-redis itself and never reach
  the serializer.

Anything else under a cache key (a pickle, such as django-redis' default
serializer writes; a truncated or foreign value) is a cache miss: ``get``
returns the default, so callers fill the entry again as after an expiry. A
pickled entry is therefore never unpickled: it costs one miss and expires on
its own, and no request fails. A cache-only session stored as a pickle is one
of them: its user logs in again once (with ``cached_db`` sessions the
database copy is used instead).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django_redis.client import DefaultClient
from django_redis.serializers.base import BaseSerializer

logger = logging.getLogger(__name__)

JSON_TAG = b"J"
BYTES_TAG = b"B"
# Django's session cache keys end in the session id, which logs must never hold.
_SESSION_KEY_PREFIXES = ("django.contrib.sessions.cached_db", "django.contrib.sessions.cache")


class InvalidEntry(ValueError):
    """A cached value that is not in this format; never decoded any further."""


class JSONSerializer(BaseSerializer):
    """django-redis ``SERIALIZER``: the tagged format above."""

    def dumps(self, value: Any) -> bytes:
        if isinstance(value, bytes | bytearray | memoryview):
            return BYTES_TAG + bytes(value)
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return JSON_TAG + text.encode()

    def loads(self, value: bytes) -> Any:
        tag, body = value[:1], value[1:]
        if tag == BYTES_TAG:
            return body
        if tag == JSON_TAG:
            try:
                return json.loads(body)
            except (ValueError, RecursionError) as exc:  # bad UTF-8, bad or too deep JSON
                raise InvalidEntry(f"not JSON: {type(exc).__name__}") from None
        raise InvalidEntry(f"unknown format (first byte {tag!r})")


class _Warned:
    """Whether this process has reported an unreadable entry (once is enough: a cache
    still full of pickled entries would otherwise log one warning per read).
    """

    done = False


def loggable_key(key: str) -> str:
    """The key as a log may show it: a session's id replaced by ``<session id>``."""
    for prefix in _SESSION_KEY_PREFIXES:
        if key.startswith(prefix):
            return f"{prefix}<session id>"
    return key


def _report(key: str, exc: InvalidEntry) -> None:
    key = loggable_key(key)
    if _Warned.done:
        logger.debug("cache entry %s ignored: %s", key, exc)
        return
    _Warned.done = True
    logger.warning(
        "cache entry %s is not in the cache format (%s); treated as a miss. Entries written "
        "by a release that pickled values expire on their own; further ones are not logged.",
        key,
        exc,
    )


class MissOnInvalidClient(DefaultClient):
    """django-redis ``CLIENT_CLASS``: an entry the serializer refuses is a cache miss.

    Only ``get`` is covered: it is the one read the app and Django's session
    backends make (the app's ACL user may not even run ``MGET``). Any other
    read of such an entry raises ``InvalidEntry``; none unpickles it.
    """

    def get(
        self, key: str, default: Any | None = None, version: int | None = None, client: Any = None
    ) -> Any:
        try:
            return super().get(key, default=default, version=version, client=client)
        except InvalidEntry as exc:
            _report(key, exc)
            return default
