"""Settings for the AHSP app.

Every value an operator can change is an environment variable declared in
``config/environment.toml`` and read exactly once, typed, through
``config/env.py`` — from the env files named by ``AHSP_ENV_FILES`` (deployed
hosts) or ``app/.env`` (development), with the real process environment
winning over both. Rules that span several variables (a strong SECRET_KEY
unless DEBUG, sane limits) are enforced here, at import, so manage.py and
gunicorn refuse to start instead of running half-configured.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .cache import RedisConfig, redis_caches
from .env import load_environment
from .release import read_release

BASE_DIR = Path(__file__).resolve().parent.parent

env = load_environment(BASE_DIR)

# The files the values came from, and names in them the contract does not
# declare (reported by the system check ahsp.W001: most likely a typo).
ENV_FILES = [str(path) for path in env.files]
ENV_FILES_UNKNOWN_NAMES = env.unknown_in_files


# --- Core -------------------------------------------------------------------

DEBUG = env["DEBUG"]
APP_RELEASE = read_release(BASE_DIR)

# Development-only fallback; its prefix makes the check below refuse it when DEBUG is off.
_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-this-in-production-0123456789"  # noqa: S105
SECRET_KEY = env["SECRET_KEY"] or ""


def _secret_key_problem(key: str) -> str | None:
    """Mirror Django's security.W009 so a weak key stops start-up instead of merely warning."""
    if not key:
        return "SECRET_KEY is not set"
    if key.startswith("django-insecure-"):
        return "SECRET_KEY starts with 'django-insecure-' (a generated development key)"
    if len(key) < 50:
        return f"SECRET_KEY is too short ({len(key)} characters, at least 50 required)"
    if len(set(key)) < 5:
        return "SECRET_KEY has fewer than 5 distinct characters"
    return None


if DEBUG:
    SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
elif (_problem := _secret_key_problem(SECRET_KEY)) is not None:
    # Raised at import time so `manage.py check`, migrate and gunicorn all refuse
    # to start, rather than serving requests signed with a guessable key.
    raise ImproperlyConfigured(
        f"{_problem}. With DEBUG off a strong SECRET_KEY is required: set it in the "
        "secrets env file, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env["ALLOWED_HOSTS"]
CSRF_TRUSTED_ORIGINS = env["CSRF_TRUSTED_ORIGINS"]

# Reverse proxies whose X-Forwarded-For/-Proto are believed (detail_project/proxies.py).
TRUSTED_PROXIES = env["TRUSTED_PROXIES"]
for _entry in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES entry {_entry!r}: {_exc}") from _exc

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "detail_project",
]

MIDDLEWARE = [
    # First, so every log line of the request carries its id (X-Request-ID).
    "detail_project.request_id.RequestIdMiddleware",
    # Sees every response the app sends, and times the whole stack below it.
    "detail_project.request_metrics.RequestMetricsMiddleware",
    # Before the rest, so every later layer sees the scheme a trusted proxy reports.
    "detail_project.proxies.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "detail_project.static_files.ReleaseStaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "detail_project.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a refused login into its 429 and marks browsers that logged in.
    "detail_project.login_throttle.LoginThrottleMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# API callers get the CSRF failure as JSON; pages keep Django's page.
CSRF_FAILURE_VIEW = "detail_project.errors.csrf_failure"
# Request bodies above this are refused (413 on the API) before they are read;
# the nginx front refuses them earlier with the same limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env["MAX_REQUEST_BODY_BYTES"]
if DATA_UPLOAD_MAX_MEMORY_SIZE < 1024:
    raise ImproperlyConfigured("MAX_REQUEST_BODY_BYTES must be at least 1024.")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

DATA_DIR = env["DATA_DIR"]

# PostgreSQL when DB_HOST is set, else SQLite; both are described so one
# env file fits either. config/db is Django's PostgreSQL backend plus the
# fallback password that makes a password rotation free of failed requests.
_POSTGRESQL = {
    "ENGINE": "config.db",
    "NAME": env["DB_NAME"],
    "USER": env["DB_USER"],
    "PASSWORD": env["DB_PASSWORD"],
    "PASSWORD_FALLBACK": env["DB_PASSWORD_FALLBACK"],
    "HOST": env["DB_HOST"],
    "PORT": env["DB_PORT"],
    "CONN_MAX_AGE": env["DB_CONN_MAX_AGE"],
    "CONN_HEALTH_CHECKS": True,
    "OPTIONS": {"connect_timeout": env["DB_CONNECT_TIMEOUT"]},
}
_SQLITE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": env["SQLITE_PATH"] or DATA_DIR / "db.sqlite3",
}
DATABASES = {"default": _POSTGRESQL if _POSTGRESQL["HOST"] else _SQLITE}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Redis: cache, sessions, rate limiter, login throttling, /health/ -------

CACHES = redis_caches(
    RedisConfig(
        url=env["REDIS_URL"],
        username=env["REDIS_USERNAME"],
        password=env["REDIS_PASSWORD"],
        sentinels=env["REDIS_SENTINELS"],
        sentinel_username=env["REDIS_SENTINEL_USERNAME"],
        sentinel_password=env["REDIS_SENTINEL_PASSWORD"],
        connect_timeout=env["REDIS_CONNECT_TIMEOUT"],
        socket_timeout=env["REDIS_SOCKET_TIMEOUT"],
        breaker_seconds=env["REDIS_BREAKER_SECONDS"],
    )
)

# Cache-only sessions are fast but die with a Redis flush/eviction/restart
# (users are logged out); cached_db keeps a database copy. See app/README.md.
SESSION_ENGINES = (
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
)
SESSION_ENGINE = env["SESSION_ENGINE"]
if SESSION_ENGINE not in SESSION_ENGINES:
    raise ImproperlyConfigured(f"SESSION_ENGINE must be one of {', '.join(SESSION_ENGINES)}")
SESSION_CACHE_ALIAS = "default"
# JSON, never pickle: the cache backends store the session dict itself through
# the cache's JSON format, and cached_db's database copy uses this serializer.
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"

# How long a project's tree JSON stays in Redis; keys change with every save
# (detail_project/tree_cache.py), so this only bounds memory and edits made
# outside the app.
TREE_CACHE_SECONDS = env["TREE_CACHE_SECONDS"]
if TREE_CACHE_SECONDS < 0:
    raise ImproperlyConfigured("TREE_CACHE_SECONDS must not be negative (0 disables the cache).")

# --- Login throttling (detail_project/login_throttle.py, counted in Redis) --

# The throttle admits or refuses each attempt before any password is checked.
AUTHENTICATION_BACKENDS = [
    "detail_project.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env["LOGIN_FAILURE_LIMIT"]
LOGIN_LOCKOUT_SECONDS = env["LOGIN_LOCKOUT_SECONDS"]
LOGIN_DELAY_SECONDS = env["LOGIN_DELAY_SECONDS"]
LOGIN_DELAY_MAX_SECONDS = env["LOGIN_DELAY_MAX_SECONDS"]
if min(LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_SECONDS, LOGIN_DELAY_SECONDS) < 1:
    raise ImproperlyConfigured(
        "LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_SECONDS and LOGIN_DELAY_SECONDS must be at least 1."
    )
if LOGIN_DELAY_MAX_SECONDS < LOGIN_DELAY_SECONDS:
    raise ImproperlyConfigured("LOGIN_DELAY_MAX_SECONDS must not be less than LOGIN_DELAY_SECONDS.")

# --- Static and media files -------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = env["STATIC_ROOT"]
STATIC_PREVIOUS_ROOT = env["STATIC_PREVIOUS_ROOT"]
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env["MEDIA_ROOT"] or DATA_DIR / "media"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security (production turns these on through the environment) ----------

SECURE_SSL_REDIRECT = env["SECURE_SSL_REDIRECT"]
# Load balancers probe, and Prometheus scrapes, over plain HTTP on the private
# network; redirecting them to HTTPS fails the probe.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^health/live/$", r"^metrics$"]
SESSION_COOKIE_SECURE = env["SESSION_COOKIE_SECURE"]
CSRF_COOKIE_SECURE = env["CSRF_COOKIE_SECURE"]
SECURE_HSTS_SECONDS = env["SECURE_HSTS_SECONDS"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = env["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
SECURE_HSTS_PRELOAD = env["SECURE_HSTS_PRELOAD"]
X_FRAME_OPTIONS = "DENY"

# --- Rate limiting (see detail_project/ratelimit.py) ------------------------

RATELIMIT_ENABLED = env["RATELIMIT_ENABLED"]
RATELIMIT_REQUESTS = env["RATELIMIT_REQUESTS"]
RATELIMIT_WINDOW = env["RATELIMIT_WINDOW"]
# Fail open: the limiter is abuse protection, not an access control; a Redis
# outage should not become a full API outage. README explains the trade-off.
RATELIMIT_FAIL_OPEN = env["RATELIMIT_FAIL_OPEN"]
API_TEST_ENABLED = env["API_TEST_ENABLED"]
if RATELIMIT_REQUESTS < 1 or RATELIMIT_WINDOW < 1:
    raise ImproperlyConfigured("RATELIMIT_REQUESTS and RATELIMIT_WINDOW must be at least 1.")
# IPv6 clients are counted by network (detail_project/proxies.py, client_network).
RATELIMIT_IPV6_PREFIX = env["RATELIMIT_IPV6_PREFIX"]
if not 1 <= RATELIMIT_IPV6_PREFIX <= 128:
    raise ImproperlyConfigured("RATELIMIT_IPV6_PREFIX must be between 1 and 128.")

# --- Health probe (see detail_project/health.py) ----------------------------

HEALTH_CACHE_SECONDS = env["HEALTH_CACHE_SECONDS"]
if HEALTH_CACHE_SECONDS < 0:
    raise ImproperlyConfigured("HEALTH_CACHE_SECONDS must not be negative (0: check every time).")

# --- Metrics (see detail_project/metrics.py) --------------------------------

# Who may scrape /metrics: the TCP peer only, never a forwarded address.
METRICS_ALLOWED_NETWORKS = env["METRICS_ALLOWED_NETWORKS"]
for _entry in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS entry {_entry!r}: {_exc}") from _exc
# Set by gunicorn's config (config/gunicorn_hooks.py): every worker's metrics
# in one directory, summed by each scrape. None: this process's metrics only.
# prometheus_client reads the raw value (an empty one would put files in the
# working directory), so it is checked as given, not resolved against BASE_DIR.
PROMETHEUS_MULTIPROC_DIR = env["PROMETHEUS_MULTIPROC_DIR"]
if PROMETHEUS_MULTIPROC_DIR is not None and not Path(PROMETHEUS_MULTIPROC_DIR).is_absolute():
    raise ImproperlyConfigured("PROMETHEUS_MULTIPROC_DIR must be an absolute path.")

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env["TIME_ZONE"]
USE_I18N = True
USE_TZ = True

# --- Logging: one JSON object per line on stderr (gunicorn, the journal) ----

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_LEVEL = env["LOG_LEVEL"].upper()
if LOG_LEVEL not in LOG_LEVELS:
    raise ImproperlyConfigured(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")

# Every line carries the id of the request it was written for (config/jsonlog.py,
# detail_project/request_id.py). SQL is never logged, whatever LOG_LEVEL says:
# its parameters hold session keys and password hashes.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.jsonlog.RequestIdFilter"},
    },
    "formatters": {
        "json": {"()": "config.jsonlog.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        "detail_project": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
