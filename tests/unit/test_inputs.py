"""The input rules the roles' validation applies (module_utils/inputs.py)."""

from __future__ import annotations

import pytest
from ansible_collections.ahsp.stack.plugins.module_utils.inputs import check_value


def problems(value, **rule):
    return check_value("var", value, rule, {})


@pytest.mark.parametrize(
    "path",
    ["/", "/srv", "/var/lib", "/var/log", "/etc", "/tmp", "/run", "/usr", "/home", "/proc/x"],  # noqa: S108
)
def test_system_directories_are_never_owned(path):
    (message,) = problems(path, format="owned_dir")
    assert message.startswith("var: must be a directory")


@pytest.mark.parametrize(
    "path",
    ["relative", "/a//b", "/a/./b", "/a/../b", "/a/", "/with space", "/q'uote", "/a:b", "/p$"],
)
def test_paths_must_be_normalised_and_safe(path):
    assert problems(path, format="owned_dir")


@pytest.mark.parametrize("path", ["/srv/ahsp", "/var/lib/redis", "/var/log/ahsp", "/opt/ahsp-2"])
def test_directories_of_their_own_pass(path):
    assert problems(path, format="owned_dir") == []


def test_a_file_directly_in_a_system_directory_is_refused():
    assert problems("/var/log/redis.log", format="file_in_owned_dir")
    assert problems("/var/log/redis/redis.log", format="file_in_owned_dir") == []
    assert problems("", format="file_in_owned_dir", allow_empty=True) == []


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
def test_no_format_lets_a_line_break_through(value):
    for fmt in ("text", "secret", "owned_dir", "unix_name", "redis_memory", "env_key"):
        assert problems(value, format=fmt), fmt


def test_secrets_are_never_echoed():
    (message,) = problems("short", format="secret", min_length=16, secret=True)
    assert "short" not in message
    (message,) = problems("has space 0123456789", format="secret", secret=True)
    assert "space" not in message.replace("without spaces", "")


def test_integers_and_bounds():
    assert problems(70000, min=1, max=65535) == ["var: must be from 1 to 65535 (got 70000)"]
    assert problems("6380", min=1) == ["var: must be an integer (got '6380')"]
    assert problems(True, min=0) == ["var: must be an integer (got True)"]


def test_mapping_keys_are_folded_against_managed_names():
    rule = {"keys": {"format": "env_key", "not_in": ["DEBUG"]}, "values": {"format": "text"}}
    assert problems({"debug": "1"}, **rule) == [
        "var['debug']: the role sets debug itself; use the role's own variable instead"
    ]
    assert problems({" X": "1"}, **rule) == ["var[' X']: the name has leading or trailing spaces"]
    assert problems({"X": "a\nb"}, **rule)
    assert problems({"X_1": "fine"}, **rule) == []


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("unix_name", "ahsp", "Ahsp"),
        ("unix_name", "_svc-1", "1svc"),
        ("ip", "10.0.0.1", "10.0.0.256"),
        ("cidr", "10.0.0.0/8", "10.0.0.1/8"),
        ("listen", "[::1]:8000", "0.0.0.0:0"),
        ("listen", "127.0.0.1:8000", "host:8000"),
        ("redis_memory", "256mb", "256xb"),
        ("pg_memory", "128MB", "128mb"),
        ("redis_url", "redis://10.0.0.1:6380/1", "redis://u:p@h:6379/1"),
        ("origin", "https://ahsp.example.com", "ahsp.example.com"),
        ("allowed_host", ".example.com", "a.example.com,b"),
    ],
)
def test_formats(fmt, good, bad):
    assert problems(good, format=fmt) == []
    assert problems(bad, format=fmt)
