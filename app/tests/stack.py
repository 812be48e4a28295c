"""The app as deployed, for tests over real HTTP: env for a host, a seeded database, gunicorn.

A host's settings come only from env files (``AHSP_ENV_FILES``), like on a
deployed machine; ``host_env`` writes them in the format the Ansible role uses.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import GunicornServer, clean_env, run_python, strong_secret_key, wait_for
from tests.httpclient import request
from tests.redis_servers import RedisServer, redis_env
from tests.test_env import write_env

SEED = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.contrib.auth import get_user_model
from detail_project.auth import issue_token
from detail_project.models import Project
user = get_user_model().objects.create_user(
    "owner", password="owner-password-123", is_staff=True, is_superuser=True
)
project = Project.objects.create(owner=user, name="Gedung Kantor")
_, raw = issue_token(user)
print(json.dumps({"token": raw, "project_id": project.pk}))
"""


@dataclass(frozen=True)
class Seed:
    """What the seeded database holds: one staff user owning one project, and their token."""

    token: str
    project_id: int
    username: str = "owner"
    password: str = "owner-password-123"


def host_env(
    workdir: Path,
    redis_server: RedisServer,
    *,
    db: int,
    static_root: Path,
    database: dict[str, str] | None = None,
    **values: str,
) -> dict[str, str]:
    """A host's two env files (settings, secrets) and a process environment naming them."""
    settings = {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(static_root),
        "LOG_LEVEL": "WARNING",
        **{k: v for k, v in redis_env(redis_server, db).items() if k != "REDIS_PASSWORD"},
        **(database or {"SQLITE_PATH": str(workdir / "db.sqlite3")}),
        **values,
    }
    secrets = {"SECRET_KEY": strong_secret_key(), "REDIS_PASSWORD": redis_server.app_password}
    if "DB_PASSWORD" in settings:
        secrets["DB_PASSWORD"] = settings.pop("DB_PASSWORD")
    app_env = write_env(workdir / "app.env", settings)
    secrets_env = write_env(workdir / "secrets.env", secrets)
    return clean_env(AHSP_ENV_FILES=f"{app_env}:{secrets_env}")


def seed(env: dict[str, str]) -> Seed:
    """Migrate the host's database and create the test account (one subprocess)."""
    result = run_python(SEED, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Seed(token=data["token"], project_id=data["project_id"])


def copy_database(template: Path, workdir: Path) -> Path:
    """A private copy of a seeded SQLite file, so each test starts from the same state."""
    target = workdir / "db.sqlite3"
    shutil.copyfile(template, target)
    return target


def wait_healthy(server: GunicornServer, timeout: float = 30) -> None:
    def healthy() -> bool:
        if server.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log_text()}")
        try:
            return request(server.base_url, "/health/", timeout=2).status == 200
        except OSError:
            return False

    wait_for(healthy, timeout, "gunicorn /health/")
