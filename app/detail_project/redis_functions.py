"""Calling the app's Redis functions (``config/redis_functions.py`` builds the library).

In production the deploy loads the library as the Redis administrator and
the app's own user may only ``FCALL`` it. A Redis without the library (a
fresh development server, where the app's connection may do anything) gets
it loaded on first use; under the deployed ACL the app may not load it and
Redis answers NOPERM, which reaches the caller as any other Redis error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from config.redis_functions import library
from redis.exceptions import ResponseError


def function_missing(error: ResponseError) -> bool:
    """Whether Redis refused an FCALL because it has no function of that name."""
    return str(error).startswith("Function not found")


def load_library(client: redis.Redis) -> None:
    """Load this release's library (an administrator's right; see the module's docstring)."""
    client.function_load(library().code, replace=True)


def call(client: redis.Redis, stem: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """``FCALL`` the function built from ``config/redis/<stem>.lua``, loading the library once if
    this Redis lacks it.
    """
    name = library().function(stem)
    try:
        return client.fcall(name, len(keys), *keys, *args)
    except ResponseError as error:
        if not function_missing(error):
            raise
        load_library(client)
        return client.fcall(name, len(keys), *keys, *args)
