"""Settings from the environment, checked in fresh subprocesses as systemd would start them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import clean_env, run_manage, run_python, strong_secret_key

pytestmark = pytest.mark.slow

DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "CSRF_TRUSTED_ORIGINS": s.CSRF_TRUSTED_ORIGINS,
    "DATABASES": s.DATABASES["default"],
    "CACHES": s.CACHES,
    "SESSION_ENGINE": s.SESSION_ENGINE,
    "STORAGES": s.STORAGES,
    "STATIC_ROOT": str(s.STATIC_ROOT),
    "MEDIA_ROOT": str(s.MEDIA_ROOT),
    "SECURE_PROXY_SSL_HEADER": s.SECURE_PROXY_SSL_HEADER,
    "SECURE_REDIRECT_EXEMPT": s.SECURE_REDIRECT_EXEMPT,
    "RATELIMIT": [s.RATELIMIT_ENABLED, s.RATELIMIT_REQUESTS, s.RATELIMIT_WINDOW,
                  s.RATELIMIT_FAIL_OPEN, s.RATELIMIT_TRUST_X_FORWARDED_FOR],
    "API_TEST_ENABLED": s.API_TEST_ENABLED,
    "APP_VERSION": s.APP_VERSION,
    "LOG_LEVEL": s.LOGGING["root"]["level"],
}, default=str))
"""


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What the Ansible-rendered EnvironmentFile gives a host (SQLite stands in for PostgreSQL)."""
    base = dict(
        SECRET_KEY=strong_secret_key(),
        DEBUG="false",
        ALLOWED_HOSTS="ahsp.example.com,127.0.0.1,localhost",
        CSRF_TRUSTED_ORIGINS="https://ahsp.example.com",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        REDIS_URL="redis://127.0.0.1:6379/1",
        SECURE_SSL_REDIRECT="true",
        SESSION_COOKIE_SECURE="true",
        CSRF_COOKIE_SECURE="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true",
        SECURE_PROXY_SSL_HEADER_ENABLED="true",
        API_TEST_ENABLED="false",
    )
    return clean_env(**{**base, **extra})


def dump(env: dict[str, str]) -> dict[str, Any]:
    result = run_python(DUMP, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_production_env(tmp_path: Path) -> None:
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_missing_hardening(tmp_path: Path) -> None:
    """Guard against the clean result above being vacuous."""
    env = production_env(tmp_path, SECURE_HSTS_SECONDS="0", SESSION_COOKIE_SECURE="false")
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr
    assert "security.W012" in result.stderr


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "not set"),
        ("", "not set"),
        ("short-but-random-Zq8", "too short"),
        ("django-insecure-" + "x1y2z3" * 10, "django-insecure-"),
        ("a" * 60, "distinct"),
    ],
)
def test_weak_secret_key_stops_startup(tmp_path: Path, secret: str | None, reason: str) -> None:
    env = production_env(tmp_path)
    env.pop("SECRET_KEY")
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert reason in result.stderr


def test_weak_secret_key_stops_the_wsgi_app_too(tmp_path: Path) -> None:
    env = production_env(tmp_path, SECRET_KEY="too-short")
    result = run_python("import config.wsgi", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is too short" in result.stderr


def test_debug_allows_a_development_key(tmp_path: Path) -> None:
    env = clean_env(DEBUG="true", SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    result = run_manage("check", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("value", [None, "", " , "])
def test_unset_or_blank_allowed_hosts_is_an_empty_list(tmp_path: Path, value: str | None) -> None:
    env = production_env(tmp_path)
    env.pop("ALLOWED_HOSTS")
    if value is not None:
        env["ALLOWED_HOSTS"] = value
    assert dump(env)["ALLOWED_HOSTS"] == []


def test_production_values_are_parsed(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        ALLOWED_HOSTS=" a.example , b.example ,",
        REDIS_URL="redis://10.0.0.5:6380/3",
        REDIS_PASSWORD="s3cret",
        STATIC_ROOT="/srv/ahsp/static",
        MEDIA_ROOT="/srv/ahsp/media",
        APP_VERSION="1.4.0",
        LOG_LEVEL="debug",
        RATELIMIT_REQUESTS="20",
        RATELIMIT_WINDOW="30",
        RATELIMIT_FAIL_OPEN="false",
        SESSION_ENGINE="django.contrib.sessions.backends.cached_db",
    )
    s = dump(env)
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == ["a.example", "b.example"]
    assert s["CSRF_TRUSTED_ORIGINS"] == ["https://ahsp.example.com"]
    assert s["CACHES"] == {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://10.0.0.5:6380/3",
            "KEY_PREFIX": "ahsp",
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "PASSWORD": "s3cret",
                "CONNECTION_POOL_KWARGS": {"max_connections": 50, "retry_on_timeout": True},
                "SOCKET_CONNECT_TIMEOUT": 5,
                "SOCKET_TIMEOUT": 5,
            },
        }
    }
    assert s["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"
    assert s["STATIC_ROOT"] == "/srv/ahsp/static"
    assert s["MEDIA_ROOT"] == "/srv/ahsp/media"
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert s["SECURE_REDIRECT_EXEMPT"] == ["^health/$", "^health/live/$"]
    assert s["RATELIMIT"] == [True, 20, 30, False, False]
    assert s["API_TEST_ENABLED"] is False
    assert s["APP_VERSION"] == "1.4.0"
    assert s["LOG_LEVEL"] == "DEBUG"


def test_defaults(tmp_path: Path) -> None:
    s = dump(clean_env(SECRET_KEY=strong_secret_key(), DATA_DIR=str(tmp_path)))
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == []
    assert s["DATABASES"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["DATABASES"]["NAME"] == str(tmp_path / "db.sqlite3")
    assert s["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/1"
    assert s["CACHES"]["default"]["OPTIONS"]["PASSWORD"] is None
    assert s["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    assert s["SECURE_PROXY_SSL_HEADER"] is None
    assert s["RATELIMIT"] == [True, 10, 60, True, False]
    assert s["API_TEST_ENABLED"] is True
    assert s["LOG_LEVEL"] == "INFO"


def test_db_host_selects_postgresql(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        DB_HOST="db.internal",
        DB_NAME="ahsp_prod",
        DB_USER="ahsp",
        DB_PASSWORD="pw",
        DB_PORT="5433",
    )
    db = dump(env)["DATABASES"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "ahsp_prod", "ahsp", "pw", "db.internal", "5433",
    )  # fmt: skip


def test_dot_env_file_is_read_but_real_environment_wins(tmp_path: Path) -> None:
    dot_env = tmp_path / ".env"
    dot_env.write_text(
        f"SECRET_KEY={strong_secret_key()}\nAPP_VERSION=from-file\nLOG_LEVEL=ERROR\n"
    )
    env = clean_env(DJANGO_ENV_FILE=str(dot_env), LOG_LEVEL="WARNING", DATA_DIR=str(tmp_path))
    s = dump(env)
    assert s["APP_VERSION"] == "from-file"
    assert s["LOG_LEVEL"] == "WARNING"
