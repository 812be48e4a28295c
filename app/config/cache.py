"""``CACHES`` for Redis, direct or through Sentinel, from the typed environment values.

Kept apart from settings.py because the URL and Sentinel list need checking
and the two modes differ only in a few options; everything that decides how a
connection behaves lives in ``detail_project/redis_pool.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

KEY_PREFIX = "ahsp"
MAX_CONNECTIONS = 50
POOL = "detail_project.redis_pool.BreakerConnectionPool"
SENTINEL_POOL = "detail_project.redis_pool.BreakerSentinelConnectionPool"
SENTINEL_FACTORY = "detail_project.redis_pool.SentinelConnectionFactory"
# Values are stored as JSON or raw bytes, never pickled; an entry in any other
# format reads as a miss (detail_project/cache_format.py).
CLIENT = "detail_project.cache_format.MissOnInvalidClient"
SERIALIZER = "detail_project.cache_format.JSONSerializer"


@dataclass(frozen=True)
class RedisConfig:
    url: str
    username: str
    password: str
    sentinels: list[str]
    sentinel_username: str
    sentinel_password: str
    connect_timeout: float
    socket_timeout: float
    breaker_seconds: float


def check_url(url: str) -> None:
    """``redis://HOST[:PORT]/DB`` only: credentials belong in REDIS_USERNAME/REDIS_PASSWORD,
    which live in the secrets file, not in the URL of the plain one.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a non-numeric port
    except ValueError as exc:
        raise ImproperlyConfigured(f"REDIS_URL is not a valid URL: {exc}") from exc
    if parts.scheme != "redis" or not parts.hostname:
        raise ImproperlyConfigured("REDIS_URL must look like redis://HOST:PORT/DB")
    if parts.username or parts.password:
        raise ImproperlyConfigured(
            "REDIS_URL must not contain credentials; set REDIS_USERNAME and REDIS_PASSWORD"
        )
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL database must be a number, not {db!r}")


def parse_sentinel(entry: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` → (host, port)."""
    host, sep, port = entry.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"REDIS_SENTINELS entry {entry!r} is not HOST:PORT")
    return host, int(port)


def redis_caches(config: RedisConfig) -> dict[str, Any]:
    check_url(config.url)
    if config.connect_timeout <= 0 or config.socket_timeout <= 0:
        raise ImproperlyConfigured("REDIS_CONNECT_TIMEOUT and REDIS_SOCKET_TIMEOUT must be > 0")
    if config.breaker_seconds < 0:
        raise ImproperlyConfigured("REDIS_BREAKER_SECONDS must not be negative")
    options: dict[str, Any] = {
        "CLIENT_CLASS": CLIENT,
        "SERIALIZER": SERIALIZER,
        "USERNAME": config.username or None,
        "PASSWORD": config.password or None,
        "SOCKET_CONNECT_TIMEOUT": config.connect_timeout,
        "SOCKET_TIMEOUT": config.socket_timeout,
        "CONNECTION_POOL_CLASS": POOL,
        "CONNECTION_POOL_KWARGS": {
            "max_connections": MAX_CONNECTIONS,
            "breaker_seconds": config.breaker_seconds,
        },
    }
    if config.sentinels:
        # A DefaultClient, not django-redis's SentinelClient: that one reads from
        # replicas, and a session or login counter written a moment ago may not
        # have reached a replica yet. Everything goes to the current master.
        options.update(
            CONNECTION_FACTORY=SENTINEL_FACTORY,
            CONNECTION_POOL_CLASS=SENTINEL_POOL,
            SENTINELS=[parse_sentinel(entry) for entry in config.sentinels],
            SENTINEL_KWARGS={
                "username": config.sentinel_username or None,
                "password": config.sentinel_password or None,
            },
        )
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": config.url,
            "KEY_PREFIX": KEY_PREFIX,
            "TIMEOUT": 300,
            "OPTIONS": options,
        }
    }
