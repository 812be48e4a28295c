"""Settings as a deployed host gets them, checked in fresh subprocesses.

Deployed hosts pass nothing but ``AHSP_ENV_FILES``; the values come from the
files the Ansible role renders, in the format of test_env.render_line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import clean_env, copy_of_app, run_manage, run_python, strong_secret_key
from tests.test_env import NASTY_VALUES, write_env

pytestmark = pytest.mark.slow

DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "CSRF_TRUSTED_ORIGINS": s.CSRF_TRUSTED_ORIGINS,
    "TRUSTED_PROXIES": s.TRUSTED_PROXIES,
    "DATABASES": s.DATABASES["default"],
    "CACHES": s.CACHES,
    "SESSION_ENGINE": s.SESSION_ENGINE,
    "SESSION_SERIALIZER": s.SESSION_SERIALIZER,
    "STORAGES": s.STORAGES,
    "STATIC_ROOT": str(s.STATIC_ROOT),
    "MEDIA_ROOT": str(s.MEDIA_ROOT),
    "SECURE_PROXY_SSL_HEADER": s.SECURE_PROXY_SSL_HEADER,
    "SECURE_REDIRECT_EXEMPT": s.SECURE_REDIRECT_EXEMPT,
    "RATELIMIT": [s.RATELIMIT_ENABLED, s.RATELIMIT_REQUESTS, s.RATELIMIT_WINDOW,
                  s.RATELIMIT_FAIL_OPEN],
    "LOGIN": [s.LOGIN_FAILURE_LIMIT, s.LOGIN_LOCKOUT_SECONDS, s.LOGIN_DELAY_SECONDS,
              s.LOGIN_DELAY_MAX_SECONDS, s.AUTHENTICATION_BACKENDS[0]],
    "API_TEST_ENABLED": s.API_TEST_ENABLED,
    "APP_RELEASE": s.APP_RELEASE,
    "LOG_LEVEL": s.LOGGING["root"]["level"],
    "ENV_FILES": s.ENV_FILES,
    "METRICS": [s.METRICS_ALLOWED_NETWORKS, s.PROMETHEUS_MULTIPROC_DIR],
}, default=str))
"""


def production_values(tmp_path: Path) -> dict[str, str]:
    """What the Ansible role writes for a host (SQLite stands in for PostgreSQL)."""
    return {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "ahsp.example.com,127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": "https://ahsp.example.com",
        "TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.10",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "REDIS_URL": "redis://127.0.0.1:6379/1",
        "SECURE_SSL_REDIRECT": "true",
        "SESSION_COOKIE_SECURE": "true",
        "CSRF_COOKIE_SECURE": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
        "API_TEST_ENABLED": "false",
    }


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The two env files of a host and a process environment holding only their paths."""
    app_env = write_env(tmp_path / "app.env", {**production_values(tmp_path), **extra})
    secrets_env = write_env(tmp_path / "secrets.env", {"SECRET_KEY": strong_secret_key()})
    return clean_env(AHSP_ENV_FILES=f"{app_env}:{secrets_env}")


def dump(env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    result = run_python(DUMP, env=env) if cwd is None else run_python(DUMP, env=env, cwd=cwd)
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


def test_unknown_names_in_env_files_fail_the_deploy_check(tmp_path: Path) -> None:
    env = production_env(tmp_path, RATELIMIT_REQUEST="20")  # missing S
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "ahsp.W001" in result.stderr
    assert "RATELIMIT_REQUEST" in result.stderr


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
    env = clean_env(
        AHSP_ENV_FILES=str(write_env(tmp_path / "app.env", production_values(tmp_path)))
    )
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert reason in result.stderr


def test_weak_secret_key_stops_the_wsgi_app_too(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    env["SECRET_KEY"] = "too-short"  # the process environment wins over secrets.env
    result = run_python("import config.wsgi", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is too short" in result.stderr


def test_debug_allows_a_development_key(tmp_path: Path) -> None:
    env = clean_env(DEBUG="true", SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    result = run_manage("check", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("RATELIMIT_WINDOW", "60s", "RATELIMIT_WINDOW='60s' is not an integer"),
        ("RATELIMIT_WINDOW", "0", "must be at least 1"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,proxy.example", "TRUSTED_PROXIES entry 'proxy.example'"),
        ("REDIS_URL", "redis://app:pw@127.0.0.1:6379/1", "must not contain credentials"),
        ("REDIS_URL", "http://127.0.0.1/1", "redis://HOST:PORT/DB"),
        ("REDIS_SENTINELS", "sentinel.example", "not HOST:PORT"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of"),
        ("RATELIMIT_IPV6_PREFIX", "129", "RATELIMIT_IPV6_PREFIX must be between 1 and 128"),
        ("LOGIN_DELAY_SECONDS", "0", "LOGIN_DELAY_SECONDS must be at least 1"),
        ("HEALTH_CACHE_SECONDS", "-1", "HEALTH_CACHE_SECONDS must not be negative"),
        ("LOGIN_DELAY_MAX_SECONDS", "0", "must not be less than LOGIN_DELAY_SECONDS"),
        ("SESSION_ENGINE", "django.contrib.sessions.backends.db", "SESSION_ENGINE must be one"),
        (
            "METRICS_ALLOWED_NETWORKS",
            "10.0.0.0/8,prometheus.example",
            "METRICS_ALLOWED_NETWORKS entry 'prometheus.example'",
        ),
    ],
)
def test_bad_values_stop_startup_naming_the_variable(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    result = run_manage("check", env=production_env(tmp_path, **{name: value}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_missing_env_file_stops_startup_naming_it(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    env["AHSP_ENV_FILES"] += f":{tmp_path / 'typo.env'}"
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert str(tmp_path / "typo.env") in result.stderr


@pytest.mark.parametrize("value", [None, "", " , "])
def test_unset_or_blank_allowed_hosts_is_an_empty_list(tmp_path: Path, value: str | None) -> None:
    values = production_values(tmp_path)
    values.pop("ALLOWED_HOSTS")
    if value is not None:
        values["ALLOWED_HOSTS"] = value
    env = clean_env(
        AHSP_ENV_FILES=str(write_env(tmp_path / "app.env", values)), SECRET_KEY=strong_secret_key()
    )
    assert dump(env)["ALLOWED_HOSTS"] == []


def test_production_values_are_parsed(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        ALLOWED_HOSTS=" a.example , b.example ,",
        REDIS_URL="redis://10.0.0.5:6380/3",
        REDIS_USERNAME="ahsp",
        REDIS_PASSWORD="s3cret",
        STATIC_ROOT="/srv/ahsp/static",
        MEDIA_ROOT="/srv/ahsp/media",
        LOG_LEVEL="debug",
        RATELIMIT_REQUESTS="20",
        RATELIMIT_WINDOW="30",
        RATELIMIT_FAIL_OPEN="false",
        LOGIN_FAILURE_LIMIT="7",
        LOGIN_LOCKOUT_SECONDS="120",
        LOGIN_DELAY_SECONDS="2",
        LOGIN_DELAY_MAX_SECONDS="60",
        SESSION_ENGINE="django.contrib.sessions.backends.cached_db",
        METRICS_ALLOWED_NETWORKS="10.0.9.7, 2001:db8:9::/48",
    )
    s = dump(env)
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == ["a.example", "b.example"]
    assert s["CSRF_TRUSTED_ORIGINS"] == ["https://ahsp.example.com"]
    assert s["TRUSTED_PROXIES"] == ["10.0.0.0/8", "192.0.2.10"]
    assert s["CACHES"] == {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://10.0.0.5:6380/3",
            "KEY_PREFIX": "ahsp",
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "detail_project.cache_format.MissOnInvalidClient",
                "SERIALIZER": "detail_project.cache_format.JSONSerializer",
                "USERNAME": "ahsp",
                "PASSWORD": "s3cret",
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.5,
                "CONNECTION_POOL_CLASS": "detail_project.redis_pool.BreakerConnectionPool",
                "CONNECTION_POOL_KWARGS": {"max_connections": 50, "breaker_seconds": 5.0},
            },
        }
    }
    assert s["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"
    assert s["STATIC_ROOT"] == "/srv/ahsp/static"
    assert s["MEDIA_ROOT"] == "/srv/ahsp/media"
    assert s["SECURE_PROXY_SSL_HEADER"] is None  # never: see detail_project/proxies.py
    assert s["SECURE_REDIRECT_EXEMPT"] == ["^health/$", "^health/live/$", "^metrics$"]
    assert s["METRICS"] == [["10.0.9.7", "2001:db8:9::/48"], None]
    assert s["RATELIMIT"] == [True, 20, 30, False]
    assert s["LOGIN"] == [7, 120, 2, 60, "detail_project.login_throttle.LoginThrottleBackend"]
    assert s["API_TEST_ENABLED"] is False
    assert s["LOG_LEVEL"] == "DEBUG"
    assert s["ENV_FILES"] == [str(tmp_path / "app.env"), str(tmp_path / "secrets.env")]


def test_sentinel_mode(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        REDIS_URL="redis://ahsp/1",
        REDIS_SENTINELS="10.0.0.7:26379, [2001:db8::7]:26380",
        REDIS_SENTINEL_USERNAME="ahsp",
        REDIS_SENTINEL_PASSWORD="sentinel-secret",
    )
    options = dump(env)["CACHES"]["default"]["OPTIONS"]
    assert options["CONNECTION_FACTORY"] == "detail_project.redis_pool.SentinelConnectionFactory"
    assert options["CONNECTION_POOL_CLASS"] == (
        "detail_project.redis_pool.BreakerSentinelConnectionPool"
    )
    assert options["SENTINELS"] == [["10.0.0.7", 26379], ["2001:db8::7", 26380]]
    assert options["SENTINEL_KWARGS"] == {"username": "ahsp", "password": "sentinel-secret"}
    assert options["CLIENT_CLASS"] == "detail_project.cache_format.MissOnInvalidClient"


def test_defaults(tmp_path: Path) -> None:
    s = dump(clean_env(SECRET_KEY=strong_secret_key(), DATA_DIR=str(tmp_path)))
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == []
    assert s["TRUSTED_PROXIES"] == []
    assert s["DATABASES"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["DATABASES"]["NAME"] == str(tmp_path / "db.sqlite3")
    assert s["MEDIA_ROOT"] == str(tmp_path / "media")
    assert s["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/1"
    assert s["CACHES"]["default"]["OPTIONS"]["PASSWORD"] is None
    assert s["CACHES"]["default"]["OPTIONS"]["USERNAME"] is None
    assert s["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    assert s["SESSION_SERIALIZER"] == "django.contrib.sessions.serializers.JSONSerializer"
    assert s["SECURE_PROXY_SSL_HEADER"] is None
    assert s["RATELIMIT"] == [True, 10, 60, True]
    assert s["LOGIN"][:4] == [5, 900, 1, 900]
    assert s["API_TEST_ENABLED"] is True
    assert s["LOG_LEVEL"] == "INFO"
    assert s["APP_RELEASE"] == "dev"
    assert s["ENV_FILES"] == []
    assert s["METRICS"] == [[], None]  # nobody may scrape; this process's metrics only


def test_db_host_selects_postgresql(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        DB_HOST="db.internal",
        DB_NAME="ahsp_prod",
        DB_USER="ahsp",
        DB_PASSWORD="pw",
        DB_PASSWORD_FALLBACK="old-pw",
        DB_PORT="5433",
        DB_CONNECT_TIMEOUT="3",
    )
    db = dump(env)["DATABASES"]
    assert db["ENGINE"] == "config.db"  # Django's PostgreSQL backend plus the fallback
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "ahsp_prod", "ahsp", "pw", "db.internal", 5433,
    )  # fmt: skip
    assert db["PASSWORD_FALLBACK"] == "old-pw"
    assert db["OPTIONS"] == {"connect_timeout": 3}
    assert db["CONN_MAX_AGE"] == 60


def test_rendered_nasty_values_reach_the_settings_unchanged(tmp_path: Path) -> None:
    """The role's file format, end to end: one subprocess, every awkward value at once."""
    values = {f"nasty{i}": v for i, v in enumerate(NASTY_VALUES)}
    joined = "\x1f".join(values.values())  # a separator no value contains
    env = production_env(
        tmp_path,
        DB_HOST="db.internal",
        DB_PASSWORD=joined,
        CSRF_TRUSTED_ORIGINS="https://a,https://b",
    )
    s = dump(env)
    assert s["DATABASES"]["PASSWORD"].split("\x1f") == list(values.values())
    assert s["CSRF_TRUSTED_ORIGINS"] == ["https://a", "https://b"]


def test_the_metrics_directory_comes_from_the_process_environment_only(tmp_path: Path) -> None:
    """gunicorn's master sets it for its workers; in an env file it would reach the app but
    neither prometheus_client nor the master, so there it is ignored and reported.
    """
    env = production_env(tmp_path, PROMETHEUS_MULTIPROC_DIR="/run/from-a-file")
    assert dump(env)["METRICS"][1] is None
    check = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert check.returncode != 0
    assert "ahsp.W001" in check.stderr and "PROMETHEUS_MULTIPROC_DIR" in check.stderr
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    assert dump(env)["METRICS"][1] == str(tmp_path / "metrics")
    for wrong in ("metrics", ""):
        env["PROMETHEUS_MULTIPROC_DIR"] = wrong
        refused = run_manage("check", env=env)
        assert refused.returncode != 0
        assert "PROMETHEUS_MULTIPROC_DIR must be an absolute path" in refused.stderr


def test_process_environment_wins_over_the_files(tmp_path: Path) -> None:
    env = production_env(tmp_path, LOG_LEVEL="ERROR", TIME_ZONE="Asia/Jakarta")
    env["LOG_LEVEL"] = "WARNING"
    s = dump(env)
    assert s["LOG_LEVEL"] == "WARNING"


def test_release_file_and_local_dot_env_in_a_release_directory(tmp_path: Path) -> None:
    """A release has RELEASE next to manage.py; without AHSP_ENV_FILES its .env is read."""
    release = copy_of_app(tmp_path / "release")
    (release / "RELEASE").write_text("3f2a9c1b7d4e\n")
    write_env(release / ".env", {"SECRET_KEY": strong_secret_key(), "LOG_LEVEL": "ERROR"})
    env = clean_env(DATA_DIR=str(tmp_path))
    env.pop("AHSP_ENV_FILES")
    s = dump(env, cwd=release)
    assert s["APP_RELEASE"] == "3f2a9c1b7d4e"
    assert s["LOG_LEVEL"] == "ERROR"
    assert s["ENV_FILES"] == [str(release / ".env")]

    (release / "RELEASE").write_text("\n")
    result = run_python(DUMP, env=env, cwd=release)
    assert result.returncode != 0
    assert "RELEASE must hold the release id on one line" in result.stderr
