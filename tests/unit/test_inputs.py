"""The input rules the roles' validation applies (module_utils/inputs.py)."""

from __future__ import annotations

import pytest
from ansible_collections.ahsp.stack.plugins.module_utils.inputs import check_value


def problems(value, **rule):
    return check_value("var", value, rule, {})


REDIS = {"names": ["redis"]}
AHSP = {"names": ["ahsp"]}


@pytest.mark.parametrize(
    "path",
    [
        "/", "/srv", "/var/lib", "/var/log", "/etc", "/tmp", "/run", "/usr", "/home", "/proc/x",  # noqa: S108
        "/etc/cron.d", "/usr/local/bin", "/root/redis", "/var/lib/redis-other", "/opt/redis",
        "/etc/systemd/system", "/var/lib/ahsp", "/srv/redisx",
    ],
)  # fmt: skip
def test_only_the_roles_own_trees_may_be_owned(path):
    (message,) = problems(path, format="owned_dir", **REDIS)
    assert message.startswith("var: must be a directory at or below one this role may own"), message
    assert "/var/lib/redis," in message


@pytest.mark.parametrize(
    "path",
    ["relative", "/a//b", "/a/./b", "/a/../b", "/a/", "/with space", "/q'uote", "/a:b", "/p$",
     "~/redis", "~redis/data", "$HOME/redis", "${HOME}/redis", "%h/redis"],
)  # fmt: skip
def test_paths_must_be_normalised_and_safe(path):
    assert problems(path, format="owned_dir", **REDIS)
    assert problems(path, format="path")


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/var/lib/redis", REDIS), ("/var/lib/redis/data", REDIS), ("/srv/redis", REDIS),
        ("/run/redis", REDIS), ("/srv/ahsp", AHSP), ("/srv/ahsp/shared/media", AHSP),
        ("/var/log/ahsp", AHSP), ("/etc/ahsp", AHSP), ("/var/cache/ahsp", AHSP),
        ("/var/spool/ahsp", AHSP), ("/opt/ahsp-2/x", {**AHSP, "extra": ["/opt/ahsp-2"]}),
    ],
)  # fmt: skip
def test_directories_of_their_own_pass(path, rule):
    assert problems(path, format="owned_dir", **rule) == []


@pytest.mark.parametrize("tree", ["/opt", "/", "relative", "/opt/../etc", "~/x"])
def test_extra_trees_are_deep_normalised_paths(tree):
    assert problems(tree, format="owned_tree")
    assert problems("/opt/ahsp", format="owned_tree") == []


def test_a_file_directly_in_a_system_directory_is_refused():
    assert problems("/var/log/redis.log", format="file_in_owned_dir", **REDIS)
    assert problems("/etc/cron.d/redis", format="file_in_owned_dir", **REDIS)
    assert problems("/var/log/redis/redis.log", format="file_in_owned_dir", **REDIS) == []
    assert problems("", format="file_in_owned_dir", allow_empty=True, **REDIS) == []


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("cidr", "fe80::1%eth0"), ("cidr", "fe80::1%x   scram-sha-256 trust #"),
        ("cidr", "10.0.0.0/255.0.0.0"), ("cidr", "10.0.0.0/024"), ("cidr", "FD00::/64"),
        ("cidr", "fd00:0::/64"), ("cidr", "10.0.0.0/+8"), ("cidr", " 10.0.0.0/8"),
        ("ip", "fe80::1%eth0"), ("ip", "0:0:0:0:0:0:0:1"), ("ip", "::FFFF:10.0.0.1"),
        ("listen", "[fe80::1%eth0]:8000"), ("listen", "[0::1]:8000"), ("listen", "127.0.0.1:08000"),
        ("listen", "[10.0.0.1]:80"), ("hostname", "010.0.0.1"), ("hostname", "fe80::1%eth0"),
        ("hostname", "10.0.0.1 trust"), ("hostname", "0x7f.1"),
    ],
)  # fmt: skip
def test_addresses_only_in_the_form_every_reader_takes(fmt, value):
    assert problems(value, format=fmt), value


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("cidr", "10.0.0.0/8"), ("cidr", "10.0.0.1"), ("cidr", "fd00::/64"), ("cidr", "::1"),
        ("ip", "::ffff:a00:1"), ("listen", "[::1]:8000"), ("listen", "10.0.0.1:65535"),
        ("hostname", "db.example.com"), ("hostname", "10.0.0.5"), ("hostname", "fd00::5"),
    ],
)  # fmt: skip
def test_canonical_addresses_pass(fmt, value):
    assert problems(value, format=fmt) == []


def test_a_netmask_is_named_in_its_prefix_form():
    (message,) = problems("10.0.0.0/255.0.0.0", format="cidr")
    assert "10.0.0.0/255.0.0.0" in message
    (message,) = problems("FD00::/64", format="cidr")
    assert "write it as fd00::/64" in message


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


def test_mapping_keys_only_from_the_allow_list():
    rule = {
        "keys": {
            "format": "redis_key",
            "allowed": ["maxclients", "active-defrag-*"],
            "allowed_by": "L",
        },
        "values": {"format": "text"},
    }
    assert problems({"maxclients": "10", "active-defrag-cycle-min": "1"}, **rule) == []
    (message,) = problems({"enable-debug-command": "yes"}, **rule)
    assert message.startswith("var['enable-debug-command']: enable-debug-command is not a setting")
    assert "listed in L" in message
    assert problems({"x": "1"}, keys={"format": "redis_key"}) == []


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("prometheus_duration", "15s", "15 s"),
        ("prometheus_duration", "1h30m", "1.5m"),
        ("prometheus_duration", "1y2w3d4h5m6s7ms", "30m1h"),
        ("prometheus_duration", "250ms", "15days"),
        ("prometheus_duration", "292y", "293y"),
        ("prometheus_duration", "1m", "0s"),
        ("prometheus_duration", "15d", ""),
        ("prometheus_size", "10GB", "10 GiB"),
        ("prometheus_size", "512MB", "0GB"),
        ("prometheus_size", "7EB", "8EB"),
        ("prometheus_size", "1B", "10gb"),
        ("http_url", "https://hooks.example.com/alert?x=1", "ftp://x"),
        ("http_url", "http://10.0.0.5:9095/hook", "http://user:pw@host/"),
        ("http_url", "http://[fd00::5]:80/", "http://host:99999/"),
        ("http_url", "http://h/a%20b", "http://h/a%zz"),
        ("http_url", "http://localhost:8080", "http://h/#fragment"),
        ("http_url", "https://h.example.com/p", "https://h.example.com/a b"),
        ("host_port", "mail.example.com:587", "mail.example.com"),
        ("host_port", "10.0.0.1:9100", "10.0.0.1:0"),
        ("host_port", "[fd00::1]:9100", "fd00::1:9100"),
        ("host_port", "web-1:9113", "010.0.0.1:80"),
    ],
)  # fmt: skip
def test_monitoring_formats(fmt, good, bad):
    assert problems(good, format=fmt) == []
    (message,) = problems(bad, format=fmt)
    assert message.startswith("var: must be "), message


@pytest.mark.parametrize("value", [0.05, 0.5, 0.999, 1e-05])
def test_numbers_inside_exclusive_bounds_pass(value):
    assert problems(value, gt=0, lt=1) == []


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, float("nan"), float("inf"), True, "0.5", None])
def test_numbers_outside_exclusive_bounds_are_refused(value):
    (message,) = problems(value, gt=0, lt=1)
    assert message.startswith("var: must be "), message
    assert "above 0 and below 1" in message


def test_fields_of_a_mapping_each_by_its_rule():
    rule = {
        "fields": {
            "job": {"format": "text", "min_length": 1},
            "path": {"format": "path", "required": False},
        }
    }
    assert problems({"job": "node"}, **rule) == []
    assert problems({"job": "node", "path": "/metrics"}, **rule) == []
    assert problems({"path": "/x"}, **rule) == ["var.job: is required"]
    assert problems({"job": "node", "path": "x"}, **rule) == [
        "var.path: must be an absolute path (got 'x')"
    ]
    (message,) = problems({"job": "node", "jobs": "x"}, **rule)
    assert message == "var: has a field 'jobs' that is not one of job, path"
    assert problems("node", **rule) == ["var: must be a mapping with the fields job, path"]


def test_fields_nest_inside_lists():
    rule = {
        "items": {
            "fields": {"targets": {"items": {"fields": {"address": {"format": "host_port"}}}}}
        }
    }
    (message,) = problems([{"targets": [{"address": "h:1"}, {"address": "h"}]}], **rule)
    assert message.startswith("var[0].targets[1].address: must be HOST:PORT"), message
