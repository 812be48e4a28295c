"""The work-item tree's JSON, kept in the Redis cache under a key that changes with the tree.

Rendering a tree reads three tables and totals every line; reading it back
from Redis is one round trip. Invalidation is by key, not by deletion: the key
holds the project's ``updated_at``, which every change to what the tree shows
moves inside the same transaction (``tree.replace_tree``, a project save,
``tree.mark_changed`` from the admin). The first read after a commit therefore
reads the new row, builds a key nobody has used and renders afresh — on every
worker and host at once, with nothing to delete and no race between a delete
and a slow reader re-filling old data. Old entries simply expire after
``TREE_CACHE_SECONDS``; that TTL also bounds how long an edit made behind the
app's back (SQL, a shell) can stay unseen.

The key also holds the release id, so a deploy that changes the JSON never
serves the previous release's shape.

The cache is only ever asked after the caller's ownership of the project was
checked in the database, so it cannot hand one user's project to another. Any
cache failure — Redis down, hung (the breaker), a value that cannot be read —
falls back to rendering from the database: the cache is an optimisation and
must never turn into an error.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder

from .models import Project
from .redis_pool import CircuitOpenError
from .tree import project_tree

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cache_key(project: Project) -> str:
    """``tree:<release>:<project id>:<updated_at in µs since the epoch>``; the cache adds
    its prefix and version, e.g. ``ahsp:1:tree:3f2a9c1b7d4e:42:1767225600123456``.
    """
    stamp = (project.updated_at - EPOCH) // timedelta(microseconds=1)  # exact, no float
    return f"tree:{settings.APP_RELEASE}:{project.pk}:{stamp}"


def render(project: Project) -> bytes:
    """The same bytes JsonResponse would send for the tree."""
    return json.dumps(project_tree(project), cls=DjangoJSONEncoder).encode()


def _log(action: str, project: Project, exc: Exception) -> None:
    # While the breaker skips Redis its first failure was logged already, with a
    # traceback; the skipped calls log one line each.
    logger.warning(
        "tree cache %s failed for project %s, using the database: %s",
        action,
        project.pk,
        exc,
        exc_info=not isinstance(exc, CircuitOpenError),
    )


def tree_json(project: Project) -> bytes:
    """The project's tree as JSON bytes: from the cache when present, else rendered and stored."""
    seconds = settings.TREE_CACHE_SECONDS
    if seconds <= 0:
        return render(project)
    key = cache_key(project)
    try:
        body = cache.get(key)
    except Exception as exc:
        _log("read", project, exc)
        return render(project)  # Redis is failing: do not pay for a write as well
    if isinstance(body, bytes):
        return body
    body = render(project)
    try:
        cache.set(key, body, timeout=seconds)
    except Exception as exc:
        _log("write", project, exc)
    return body
