"""In-process test settings: the real ``config.settings`` under a controlled environment.

pytest-django imports the settings module before any conftest runs, so the
environment has to be fixed here. The Redis location is a placeholder; the
session fixture in conftest.py points CACHES at the redis-server it starts.
"""

import os

from tests.helpers import SETTINGS_ENV_NAMES, strong_secret_key

for _name in SETTINGS_ENV_NAMES:
    os.environ.pop(_name, None)

os.environ.update(
    {
        "AHSP_ENV_FILES": "",
        "DEBUG": "false",
        "SECRET_KEY": strong_secret_key(),
        "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "REDIS_URL": "redis://127.0.0.1:9/1",
        "LOG_LEVEL": "WARNING",
    }
)

from config.settings import *  # noqa: E402, F403

# The release id a build would have written to app/RELEASE.
APP_RELEASE = "test-1.2.3"

# Password hashing strength is not under test; PBKDF2 would dominate the run time.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
