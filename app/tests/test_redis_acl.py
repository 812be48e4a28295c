"""config/redis_acl.txt: the app's Redis user may do what the app needs and nothing else.

Every other test already runs as that user and fails on any ACL denial
(conftest._no_acl_denials); these show the rules also refuse what it must not do.
"""

from __future__ import annotations

import pytest
import redis
from config.cache import KEY_PREFIX
from config.redis_functions import library

from tests.redis_servers import APP_DIR, APP_RULES, RedisServer

RULE_FILE = APP_DIR / "config" / "redis_acl.txt"


@pytest.fixture
def app_user(redis_server: RedisServer) -> redis.Redis:
    yield redis_server.app_client()
    redis_server.client().acl_log_reset()  # the denials below are the point


def test_rule_file_is_one_line_of_rules_without_a_password() -> None:
    lines = RULE_FILE.read_text().splitlines()
    assert len(lines) == 1
    rules = lines[0].split()
    assert rules[:2] == ["reset", "on"]
    assert f"~{KEY_PREFIX}:*" in rules
    assert not any(rule.startswith((">", "#", "<", "!")) or rule == "nopass" for rule in rules)
    assert not any(rule in ("+@all", "allcommands", "+@admin", "+@dangerous") for rule in rules)


@pytest.mark.parametrize(
    "command",
    [
        ("CONFIG", "GET", "maxmemory"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("KEYS", "*"),
        ("SCRIPT", "FLUSH"),
        ("CLIENT", "LIST"),
        ("SUBSCRIBE", "ahsp:channel"),
    ],
)
def test_administrative_commands_are_refused(
    app_user: redis.Redis, command: tuple[str, ...]
) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        app_user.execute_command(*command)


@pytest.mark.parametrize(
    "command",
    [
        ("DEBUG", "SLEEP", "0"),
        ("SHUTDOWN",),
        ("ACL", "LIST"),
        ("MONITOR",),
        ("REPLICAOF", "NO", "ONE"),
        ("MIGRATE", "127.0.0.1", "1", "ahsp:1:x", "0", "100"),
        ("SCAN", "0"),
        ("ZADD", "ahsp:rate_limit:x", "1", "1"),
        ("MEMORY", "USAGE", "ahsp:1:x"),
    ],
)
def test_dangerous_commands_are_refused_without_running_them(
    redis_server: RedisServer, command: tuple[str, ...]
) -> None:
    """ACL DRYRUN asks the ACL alone, so SHUTDOWN or DEBUG never actually run."""
    verdict = redis_server.client().execute_command("ACL", "DRYRUN", "ahsp", *command)
    assert verdict != b"OK", command


@pytest.mark.parametrize(
    "command",
    [
        ("GET", "ahsp:1:x"),
        ("SET", "ahsp:1:x", "1", "PX", "100", "NX"),
        ("DEL", "ahsp:1:x"),
        ("EXISTS", "ahsp:1:x"),
        ("PEXPIRE", "ahsp:1:x", "100"),
        ("INCRBY", "ahsp:1:x", "1"),
        ("FCALL", "ahsp_0_sliding_log", "1", "ahsp:rate_limit:x"),
        ("SELECT", "1"),
        ("TIME",),
    ],
)
def test_what_the_app_uses_is_allowed(redis_server: RedisServer, command: tuple[str, ...]) -> None:
    verdict = redis_server.client().execute_command("ACL", "DRYRUN", "ahsp", *command)
    assert verdict == b"OK", verdict


@pytest.mark.parametrize("key", ["other:key", "ahsp", "AHSP:1:x", "session:abc"])
def test_keys_outside_the_prefix_are_refused(app_user: redis.Redis, key: str) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        app_user.set(key, 1)
    with pytest.raises(redis.exceptions.NoPermissionError):
        app_user.get(key)


@pytest.mark.parametrize(
    "command",
    [
        ("EVAL", "while true do end", "0"),
        ("EVALSHA", "0" * 40, "0"),
        ("EVAL_RO", "return 1", "0"),
        ("SCRIPT", "LOAD", "while true do end"),
        ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x', function() end)"),
        ("FUNCTION", "DELETE", "x"),
        ("FUNCTION", "FLUSH"),
        ("FUNCTION", "KILL"),
    ],
)
def test_the_app_cannot_send_code_of_its_own(
    app_user: redis.Redis, command: tuple[str, ...]
) -> None:
    """Only the administrator loads code; an endless script would freeze Redis for everyone."""
    with pytest.raises(redis.exceptions.NoPermissionError):
        app_user.execute_command(*command)


def test_functions_cannot_reach_outside_the_prefix_either(app_user: redis.Redis) -> None:
    """A function runs its commands with the caller's rights: the key pattern still holds."""
    name = library().function("sliding_log")
    with pytest.raises(
        redis.exceptions.ResponseError, match=r"(?i)noperm|permission|no permissions"
    ):
        app_user.fcall(name, 1, "other:key", 10, 1_000_000)


def test_the_rules_in_effect_are_the_files(redis_server: RedisServer) -> None:
    described = redis_server.client().acl_getuser("ahsp")
    assert described["enabled"] is True
    allowed = {rule.lstrip("+") for rule in APP_RULES.split() if rule.startswith("+")}
    commands = described["commands"]
    for command in allowed:
        assert f"+{command}" in commands
