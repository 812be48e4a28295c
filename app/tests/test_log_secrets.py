"""No secret in any log line: logins, bearer tokens, sessions and a password-bearing config, as
verbose as the app can log (DEBUG on, LOG_LEVEL=DEBUG), every line of every process read back.

Over gunicorn, so the lines are the ones a deployed host writes to its
journal; once on SQLite and once on PostgreSQL, where the database password
is really used and sessions are written to the database as well. The same
run checks the log's shape: every app line is one JSON object, and a
request's lines carry the id the response returned.
"""

from __future__ import annotations

import json
import pickle
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.api import bearer_header, save_url, tree_url
from tests.helpers import gunicorn, run_manage
from tests.httpclient import Reply, request
from tests.redis_servers import RedisServer
from tests.stack import Seed, copy_database, host_env, wait_healthy

pytestmark = pytest.mark.slow

REDIS_DB = 14
FORM = "application/x-www-form-urlencoded"


@dataclass
class Run:
    """What one walk through the app sent, got back and must never see in a log."""

    secrets: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    request_ids: dict[str, str] = field(default_factory=dict)

    def record(self, step: str, reply: Reply) -> Reply:
        self.statuses[step] = reply.status
        self.request_ids[step] = reply.headers["X-Request-ID"]
        return reply


def login(base_url: str, run: Run, step: str, username: str, password: str) -> Reply:
    """The admin login form as a browser posts it (CSRF cookie and hidden field)."""
    form = request(base_url, "/admin/login/")
    cookie = form.cookies()["csrftoken"]
    hidden = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
    assert hidden
    run.secrets[f"{step}: CSRF cookie"] = cookie
    run.secrets[f"{step}: CSRF form token"] = hidden.group(1).decode()
    body = f"csrfmiddlewaretoken={hidden.group(1).decode()}&username={username}&password={password}"
    return run.record(
        step,
        request(
            base_url, "/admin/login/", method="POST", body=body.encode(),
            headers={"Content-Type": FORM, "Cookie": f"csrftoken={cookie}"},
        ),
    )  # fmt: skip


def drive_logins(base_url: str, seed: Seed, run: Run) -> str:
    """Two wrong passwords, then the right one; the session cookie it set."""
    for step, username in (("wrong password", seed.username), ("unknown user", "nobody")):
        wrong = f"Wrong-{secrets.token_urlsafe(12)}"
        run.secrets[f"{step}: password"] = wrong
        login(base_url, run, step, username, wrong)
    run.secrets["the right password"] = seed.password
    good = login(base_url, run, "login", seed.username, seed.password)
    cookies = good.cookies()
    run.secrets["session id"] = cookies["sessionid"]
    run.secrets["known-browser cookie"] = cookies["ahsp_login_device"]
    session = f"sessionid={cookies['sessionid']}"
    run.record("admin page", request(base_url, "/admin/", headers={"Cookie": session}))
    return session


def drive_api(base_url: str, seed: Seed, run: Run, session: str) -> None:
    """Bearer calls with the right and a wrong token, a session call refused by CSRF."""
    run.secrets["API token"] = seed.token
    bad_token = f"bad-{secrets.token_urlsafe(24)}"
    run.secrets["wrong API token"] = bad_token
    tree = tree_url(seed.project_id)
    run.record("bearer", request(base_url, tree, headers=bearer_header(seed.token)))
    run.record("wrong bearer", request(base_url, tree, headers=bearer_header(bad_token)))
    invalid = request(
        base_url, save_url(seed.project_id), method="POST", body=b"{not json",
        headers={**bearer_header(seed.token), "Content-Type": "application/json"},
    )  # fmt: skip
    run.record("bearer save, bad body", invalid)
    no_csrf = request(
        base_url, save_url(seed.project_id), method="POST", body=b"{}",
        headers={"Cookie": session, "Content-Type": "application/json"},
    )  # fmt: skip
    run.record("session save without CSRF", no_csrf)
    query = f"/nope/?token={bad_token}&password={run.secrets['the right password']}"
    run.record("secrets in a query string", request(base_url, query))


def drive_planted_session(base_url: str, redis: RedisServer, run: Run, engine: str) -> None:
    """A session entry not in the cache format: logged as such, without its id."""
    planted = secrets.token_hex(16)
    run.secrets["planted session id"] = planted
    key = f"ahsp:1:{engine}{planted}"
    redis.client(REDIS_DB).set(key, pickle.dumps({"_auth_user_id": "1"}))
    headers = {"Cookie": f"sessionid={planted}"}
    run.record("planted session", request(base_url, "/admin/", headers=headers))


def wrong_redis_password_check(env: dict[str, str], redis: RedisServer, run: Run) -> str:
    """``manage.py healthcheck`` with a Redis password Redis refuses: its log lines."""
    wrong = f"Redis-{secrets.token_urlsafe(16)}"
    run.secrets["refused Redis password"] = wrong
    result = run_manage("healthcheck", env={**env, "REDIS_PASSWORD": wrong}, timeout=60)
    redis.client().acl_log_reset()  # the refusal was the point
    assert result.returncode == 1, result.stderr
    return result.stderr


def config_secrets(workdir: Path) -> dict[str, str]:
    """Every secret value in the host's env files (SECRET_KEY, REDIS_PASSWORD, DB_*)."""
    found = {}
    for name in ("app.env", "secrets.env"):
        for line in (workdir / name).read_text().splitlines():
            key, _, raw = line.partition("=")
            if key in ("SECRET_KEY", "REDIS_PASSWORD", "DB_PASSWORD", "DB_PASSWORD_FALLBACK"):
                found[key] = json.loads(raw)  # written double-quoted, no escapes needed here
    return found


def assert_lines_are_json_with_ids(log: str, run: Run) -> None:
    """Every line is gunicorn's own (``[date] [pid] …``) or one JSON object of the app's."""
    events = []
    for line in log.splitlines():
        if line.startswith("["):
            continue
        events.append(json.loads(line))
    by_message = {event["message"]: event for event in events}
    missing = by_message["Not Found: /nope/"]
    assert missing["request_id"] == run.request_ids["secrets in a query string"]
    csrf = next(e for e in events if e["message"].startswith("Forbidden (CSRF"))
    assert csrf["request_id"] == run.request_ids["session save without CSRF"]
    assert any(e["level"] == "DEBUG" for e in events)  # the most verbose logging was on


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_no_secret_reaches_any_log_line(
    request_fixture: pytest.FixtureRequest,
    database: str,
    redis_server: RedisServer,
    static_root: Path,
    tmp_path: Path,
    seeded_sqlite: tuple[Path, Seed],
) -> None:
    if database == "postgresql":
        postgres = request_fixture.getfixturevalue("postgres_server")
        seed = request_fixture.getfixturevalue("seeded_postgres")
        db_values = {
            **postgres.env(),
            "DB_PASSWORD_FALLBACK": f"Old-{secrets.token_urlsafe(16)}",
            # Session ids in SQL too: a logged query would show them.
            "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
        }
        engine = "django.contrib.sessions.cached_db"
    else:
        template, seed = seeded_sqlite
        db_values = {
            "SQLITE_PATH": str(copy_database(template, tmp_path)),
            "DB_PASSWORD": f"Unused-{secrets.token_urlsafe(16)}",
        }
        engine = "django.contrib.sessions.cache"
    redis_server.client(REDIS_DB).flushdb()
    env = host_env(
        tmp_path, redis_server, db=REDIS_DB, static_root=static_root, database=db_values,
        DEBUG="true", LOG_LEVEL="DEBUG",
    )  # fmt: skip
    run = Run()
    run.secrets.update(config_secrets(tmp_path))
    with gunicorn(env, workers=2) as server:
        wait_healthy(server)
        session = drive_logins(server.base_url, seed, run)
        drive_api(server.base_url, seed, run, session)
        drive_planted_session(server.base_url, redis_server, run, engine)
        log = server.log_text()
    command_log = wrong_redis_password_check(env, redis_server, run)

    assert run.statuses == {
        "wrong password": 200, "unknown user": 200, "login": 302, "admin page": 200,
        "bearer": 200, "wrong bearer": 401, "bearer save, bad body": 400,
        "session save without CSRF": 403, "secrets in a query string": 404,
        "planted session": 302,
    }  # fmt: skip
    assert f"cache entry {engine}<session id> is not in the cache format" in log
    for what, secret in run.secrets.items():
        assert len(secret) >= 8, what
        assert secret not in log, f"{what} is in the gunicorn log"
        assert secret not in command_log, f"{what} is in manage.py's log"
    assert_lines_are_json_with_ids(log, run)
    for line in command_log.splitlines():
        json.loads(line)


@pytest.fixture
def request_fixture(request: pytest.FixtureRequest) -> pytest.FixtureRequest:
    """pytest's ``request`` under another name: ``request`` here is the HTTP client."""
    return request
