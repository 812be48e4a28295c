"""Settings for the AHSP app, read from the process environment.

Deployed hosts get the environment from systemd (an ``EnvironmentFile``
written by Ansible); a developer may keep the same names in ``app/.env``.
Real environment variables always win over the file, so a stray ``.env`` can
never override what systemd sets. Every name is documented in ``app/README.md``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# DJANGO_ENV_FILE="" disables the file (tests and subprocess checks use that so
# a developer's .env cannot leak into them).
_env_file = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file, overwrite=False)


def _env_list(name: str) -> list[str]:
    """Comma-separated list without blanks: an unset or empty variable is ``[]``, never ``['']``."""
    return [item.strip() for item in env.list(name, default=[]) if item.strip()]


# --- Core -------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
APP_VERSION = env.str("APP_VERSION", default="dev")

# Development-only fallback; its prefix makes the check below refuse it when DEBUG is off.
_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-this-in-production-0123456789"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")


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
        "environment, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "detail_project.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR)))

if env.str("DB_HOST", default=""):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env.str("DB_NAME", default="ahsp"),
            "USER": env.str("DB_USER", default="ahsp"),
            "PASSWORD": env.str("DB_PASSWORD", default=""),
            "HOST": env.str("DB_HOST"),
            "PORT": env.str("DB_PORT", default="5432"),
            "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60),
            "CONN_HEALTH_CHECKS": True,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(DATA_DIR / "db.sqlite3")),
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Cache and sessions -----------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/1")
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="") or None

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "ahsp",
        "TIMEOUT": 300,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PASSWORD": REDIS_PASSWORD,
            "CONNECTION_POOL_KWARGS": {"max_connections": 50, "retry_on_timeout": True},
            "SOCKET_CONNECT_TIMEOUT": 5,
            "SOCKET_TIMEOUT": 5,
        },
    }
}

# Cache-only sessions are fast but die with a Redis flush/eviction/restart
# (users are logged out). "django.contrib.sessions.backends.cached_db" keeps a
# database copy; see README "Sessions and cache eviction".
SESSION_ENGINE = env.str("SESSION_ENGINE", default="django.contrib.sessions.backends.cache")
SESSION_CACHE_ALIAS = "default"

# --- Static and media files -------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security (production turns these on through the environment) ----------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers probe over plain HTTP; redirecting them to HTTPS fails the probe.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^health/live/$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    # Only safe when a proxy we control always sets/overwrites this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# --- Rate limiting (see detail_project/ratelimit.py) ------------------------

RATELIMIT_ENABLED = env.bool("RATELIMIT_ENABLED", default=True)
RATELIMIT_REQUESTS = env.int("RATELIMIT_REQUESTS", default=10)
RATELIMIT_WINDOW = env.int("RATELIMIT_WINDOW", default=60)
# Fail open: the limiter is abuse protection, not an access control; a Redis
# outage should not become a full API outage. README explains the trade-off.
RATELIMIT_FAIL_OPEN = env.bool("RATELIMIT_FAIL_OPEN", default=True)
RATELIMIT_TRUST_X_FORWARDED_FOR = env.bool("RATELIMIT_TRUST_X_FORWARDED_FOR", default=False)
API_TEST_ENABLED = env.bool("API_TEST_ENABLED", default=True)
if RATELIMIT_REQUESTS < 1 or RATELIMIT_WINDOW < 1:
    # A zero window would make Redis reject PEXPIRE on every request.
    raise ImproperlyConfigured("RATELIMIT_REQUESTS and RATELIMIT_WINDOW must be at least 1.")

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Logging: stdout/stderr only, collected by gunicorn and the journal -----

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(levelname)s %(name)s [pid %(process)d] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "detail_project": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
