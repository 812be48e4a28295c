"""ACL users as the stack writes them, checked against a real redis-server.

The `acl_users` filter turns {name, rules, passwords} into ACL words with
hashed passwords; the `redis` role writes them to the ACL file, which the
role's validator (`redis-validate-config --acl`) loads into a throwaway
server, and the `redis_acl` module reads back (Redis 7.0: one ACL SETUSER
per user). A server started on that file must accept each user's passwords
and nothing else, and the module must read every word back, hashes included.
The Sentinel module compares credentials with the lines Sentinel writes.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from ansible_collections.ahsp.stack.plugins.filter.acl import acl_users
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError, connect
from ansible_collections.ahsp.stack.plugins.modules.redis_acl import file_users
from ansible_collections.ahsp.stack.plugins.modules.redis_sentinel import _same, _written

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "roles/redis/files/redis-validate-config"
NEEDS_REDIS = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")

USERS = [
    {"name": "default", "rules": "off resetkeys resetchannels -@all", "passwords": []},
    {"name": "admin", "rules": "on ~* &* +@all", "passwords": ["admin-Passw0rd-#1 'q\"\\"]},
    {
        "name": "app",
        "rules": "on ~app:* resetchannels -@all +get +set +ping",
        "passwords": ["app-new-Passw0rd-2", "app-old-Passw0rd-1"],
    },
]


def acl_file(path: Path) -> Path:
    path.write_text("".join(f"user {' '.join(words)}\n" for words in acl_users(USERS)))
    return path


def test_passwords_are_hashed_never_written():
    text = " ".join(" ".join(words) for words in acl_users(USERS))
    for user in USERS:
        for password in user["passwords"]:
            assert password not in text
    assert [words[0] for words in acl_users(USERS)] == ["default", "admin", "app"]
    assert sum(word.startswith("#") for word in acl_users(USERS)[2]) == 2


def test_the_module_reads_back_every_word_hashes_included(tmp_path):
    assert file_users(acl_file(tmp_path / "users.acl")) == acl_users(USERS)


@NEEDS_REDIS
def test_validator_accepts_the_file_and_refuses_what_redis_refuses(tmp_path):
    good = acl_file(tmp_path / "users.acl")
    assert subprocess.run(["sh", str(VALIDATOR), "--acl", str(good)], timeout=20).returncode == 0
    for bad in ("# a comment\nuser default off\n", "user app on +nosuchcommand\n"):
        path = tmp_path / "bad.acl"
        path.write_text(bad)
        result = subprocess.run(
            ["sh", str(VALIDATOR), "--acl", str(path)], capture_output=True, text=True, timeout=20
        )
        assert result.returncode == 1, bad
        assert "ACL" in result.stderr, result.stderr


@NEEDS_REDIS
def test_a_server_on_the_file_accepts_exactly_the_given_passwords(tmp_path):
    socket_path = tmp_path / "redis.sock"
    server = subprocess.Popen(
        [
            "redis-server", "--port", "0", "--unixsocket", str(socket_path),
            "--unixsocketperm", "700", "--dir", str(tmp_path), "--save", "",
            "--appendonly", "no", "--aclfile", str(acl_file(tmp_path / "users.acl")),
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

        def login(user: str | None, password: str | None) -> str:
            try:
                with connect("", 0, user, password, 2.0, unix_socket=str(socket_path)):
                    return "PONG"  # connect() authenticates, then PINGs
            except RedisError as exc:
                return str(exc).split()[0]

        assert login("admin", USERS[1]["passwords"][0]) == "PONG"
        assert login("app", "app-new-Passw0rd-2") == "PONG"
        assert login("app", "app-old-Passw0rd-1") == "PONG"
        assert login("app", "app-other-Passw0rd") == "WRONGPASS"
        assert login(None, None) == "NOAUTH"
        assert login("default", "") in ("WRONGPASS", "NOAUTH")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sentinel_credentials_are_compared_with_what_sentinel_wrote(tmp_path):
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        "sentinel monitor ahsp 10.0.0.5 6379 2\n"
        "sentinel auth-user ahsp ahsp-sentinel\n"
        'sentinel auth-pass ahsp "pa\\"ss"\n'
        "sentinel sentinel-user ahsp-admin\n"
        "sentinel sentinel-pass plain-Passw0rd\n"
    )
    written = _written(str(conf), "ahsp")
    assert _same(written["auth-user"], "ahsp-sentinel")
    assert _same(written["auth-pass"], 'pa"ss')
    assert _same(written["sentinel-pass"], "plain-Passw0rd")
    assert not _same(written["sentinel-pass"], "other")
    assert not _same(written.get("missing"), "x")
    assert _written(str(conf), "other")["sentinel-user"] == "ahsp-admin"
    assert "auth-user" not in _written(str(conf), "other")
