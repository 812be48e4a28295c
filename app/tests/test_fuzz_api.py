"""Generated input at every API endpoint, three ways of calling: never a 5xx, 4xx always JSON.

In-process against SQLite (Django's test client), and over HTTP against
gunicorn on PostgreSQL when its server is installed. The statuses seen are
recorded as test properties so a run shows what the fuzzing reached.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from tests.api import api_token, bearer_header, save_url, tree_url
from tests.fuzzing import Endpoint, Send, assert_error_shape, run_api_fuzz
from tests.helpers import gunicorn
from tests.httpclient import request
from tests.postgres import PostgresServer
from tests.redis_servers import RedisServer
from tests.stack import Seed, host_env, wait_healthy

# Examples per endpoint; the endpoint that parses and stores a body gets most.
IN_PROCESS_EXAMPLES = {"save": 120, "other": 25}
HTTP_EXAMPLES = {"save": 50, "other": 10}
LIMIT_HIGH = "1000000"  # the limiter still decides every request, but never refuses


def endpoints(project_id: int) -> list[Endpoint]:
    return [
        ("GET", "/api/test/"),
        ("POST", "/api/test/"),
        ("GET", tree_url(project_id)),
        ("POST", save_url(project_id)),
        ("POST", save_url(999999)),
        ("GET", tree_url(2**70)),
    ]


def fuzz_each(send: Send, project_id: int, examples: dict[str, int]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for endpoint in endpoints(project_id):
        key = "save" if endpoint[1] == save_url(project_id) else "other"
        statuses.update(run_api_fuzz(send, [endpoint], examples[key]))
    return statuses


def client_sender(client: Client, extra: dict[str, str]) -> Send:
    def send(method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        content_type = headers.pop("Content-Type", "")
        response = client.generic(
            method, path, data=body, content_type=content_type,
            headers={**headers, **extra}, CONTENT_TYPE=content_type,
        )  # fmt: skip
        assert_error_shape(response.status_code, response.content)
        return response.status_code

    return send


def session_client(user: Any) -> tuple[Client, dict[str, str]]:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    client.get("/")  # sets the CSRF cookie, as the landing page does for the UI
    return client, {"X-CSRFToken": client.cookies["csrftoken"].value}


@pytest.mark.django_db
@override_settings(RATELIMIT_REQUESTS=int(LIMIT_HIGH))
@pytest.mark.parametrize("caller", ["bearer", "session", "anonymous"])
def test_in_process_fuzz(owner: Any, project: Any, caller: str, record_property: Any) -> None:
    if caller == "bearer":
        client = Client(raise_request_exception=False)
        extra = bearer_header(api_token(owner.username))
    elif caller == "session":
        client, extra = session_client(owner)
    else:
        client, extra = Client(raise_request_exception=False), {}
    statuses = fuzz_each(client_sender(client, extra), project.pk, IN_PROCESS_EXAMPLES)
    record_property(f"statuses_{caller}", dict(sorted(statuses.items())))
    assert sum(statuses.values()) >= sum(IN_PROCESS_EXAMPLES.values())
    if caller == "anonymous":
        assert set(statuses) >= {200, 401, 405}
    else:
        assert set(statuses) >= {200, 400, 404, 405, 415}


def http_sender(base_url: str, extra: dict[str, str]) -> Send:
    def send(method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        reply = request(base_url, path, method=method, headers={**headers, **extra}, body=body)
        assert_error_shape(reply.status, reply.body)
        return reply.status

    return send


def http_login(base_url: str, seed: Seed) -> dict[str, str]:
    """Log in through the admin form like a browser; return the session cookie and CSRF headers."""
    form = request(base_url, "/admin/login/")
    token = form.cookies()["csrftoken"]
    hidden = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
    assert hidden
    body = (
        f"csrfmiddlewaretoken={hidden.group(1).decode()}"
        f"&username={seed.username}&password={seed.password}"
    ).encode()
    login = request(
        base_url, "/admin/login/", method="POST", body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={token}",
        },
    )  # fmt: skip
    assert login.status == 302, login.body[:300]
    session = login.cookies()["sessionid"]
    landing = request(base_url, "/", headers={"Cookie": f"sessionid={session}"})
    csrf = landing.cookies().get("csrftoken") or login.cookies().get("csrftoken") or token
    return {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}


@pytest.mark.slow
def test_fuzz_over_gunicorn_on_postgresql(
    postgres_server: PostgresServer,
    seeded_postgres: Seed,
    redis_server: RedisServer,
    static_root: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    env = host_env(
        tmp_path, redis_server, db=7, static_root=static_root,
        database=postgres_server.env(), RATELIMIT_REQUESTS=LIMIT_HIGH,
    )  # fmt: skip
    seen: Counter[int] = Counter()
    with gunicorn(env, workers=2) as server:
        wait_healthy(server)
        callers = {
            "bearer": bearer_header(seeded_postgres.token),
            "session": http_login(server.base_url, seeded_postgres),
            "anonymous": {},
        }
        for name, extra in callers.items():
            statuses = fuzz_each(
                http_sender(server.base_url, extra), seeded_postgres.project_id, HTTP_EXAMPLES
            )
            record_property(f"statuses_{name}", dict(sorted(statuses.items())))
            seen.update(statuses)
        log = server.log_text()
    assert "Traceback" not in log, log
    assert {200, 400, 401, 404, 405, 415} <= set(seen)
