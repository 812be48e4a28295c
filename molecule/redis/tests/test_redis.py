"""Behaviour of the Redis the role runs: service, network, auth, config, persistence."""

from __future__ import annotations

import shlex
import time

import pytest
from ahsp_testing import exposure


def test_service_active_and_enabled(host):
    service = host.service("redis-server")
    assert service.is_running
    assert service.is_enabled
    # Type=notify: systemd only reports it active once Redis said READY=1.
    assert host.check_output("systemctl show -p Type --value redis-server") == "notify"


def test_admin_socket_is_private(host):
    sock = host.file("/run/redis/redis-server.sock")
    assert sock.is_socket
    assert (sock.user, sock.mode) == ("redis", 0o700)


def test_listens_only_on_bound_addresses(host):
    listening = host.check_output("ss -ltnH 'sport = :6379' | awk '{print $4}'").split()
    addresses = {a.rsplit(":", 1)[0] for a in listening}
    assert "127.0.0.1" in addresses
    assert addresses <= {"127.0.0.1", "[::1]"}, listening


def test_not_reachable_on_the_container_address(host):
    address = host.check_output("hostname -I").split()[0]
    result = host.run(f"redis-cli -h {address} -p 6379 ping")
    assert "PONG" not in result.stdout
    assert "Connection refused" in (result.stdout + result.stderr)


def test_client_without_password_gets_noauth(cli):
    assert cli("ping", auth=False).startswith("(error) NOAUTH")


def test_client_with_password_gets_pong(cli):
    assert cli("ping") == "PONG"


def test_wrong_password_is_refused(host):
    out = host.run("REDISCLI_AUTH=not-the-password redis-cli -h 127.0.0.1 ping")
    assert "PONG" not in out.stdout
    assert "WRONGPASS" in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("maxmemory", "268435456"),
        ("maxmemory-policy", "allkeys-lru"),
        ("appendonly", "yes"),
        ("appendfsync", "everysec"),
        ("save", "900 1 300 10 60 10000"),
        ("protected-mode", "yes"),
        ("databases", "16"),
        ("supervised", "systemd"),
        ("daemonize", "no"),
    ],
)
def test_running_config(cli, name, expected):
    lines = cli("--raw", "config", "get", name).splitlines()
    assert lines == [name, expected]


def test_aof_written_after_a_write(host, cli):
    cli("set", "molecule:aof", "written")
    aof = host.check_output("ls /var/lib/redis/appendonlydir/")
    assert "appendonly.aof" in aof
    incr = host.check_output(
        "cat /var/lib/redis/appendonlydir/appendonly.aof.*.incr.aof 2>/dev/null || true"
    )
    for _ in range(20):  # everysec: the write reaches the file within about a second
        if "molecule:aof" in incr:
            break
        time.sleep(0.25)
        incr = host.check_output("cat /var/lib/redis/appendonlydir/appendonly.aof.*.incr.aof")
    assert "molecule:aof" in incr


def test_log_file_written(host):
    log = host.file("/var/log/redis/redis-server.log")
    assert log.exists
    assert "Ready to accept connections" in log.content_string


@pytest.mark.parametrize("path", ["/etc/redis/redis.conf", "/etc/redis/redis-auth.conf"])
def test_config_files_private(host, path):
    f = host.file(path)
    assert f.user == "redis"
    assert f.group == "redis"
    assert f.mode == 0o640


def test_password_only_in_the_private_file(host, password):
    """Raw nowhere; in redis.conf syntax (\\ and \" escaped) only in the 0640 password file."""
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    grep = "grep -rlF -- {} /etc /var/log /run 2>/dev/null"
    assert host.run(grep.format(shlex.quote(password))).stdout.split() == []
    assert host.run(grep.format(shlex.quote(escaped))).stdout.split() == [
        "/etc/redis/redis-auth.conf"
    ]


def test_password_not_on_any_command_line(host, password):
    assert password not in host.check_output("ps -eo args")


def test_sandbox_exposure_stays_at_debians_level(host):
    """Debian's hardened unit plus the role's drop-in, as systemd scores it (Debian's: 1.1)."""
    assert exposure(host, "redis-server.service") <= 1.1


def test_config_rewrite_cannot_replace_the_managed_files(host, password):
    """/etc/redis is read-only to the server: CONFIG REWRITE (Sentinel sends one) fails."""
    before = host.check_output("sha256sum /etc/redis/redis.conf")
    answer = host.run(
        f"REDISCLI_AUTH={shlex.quote(password)} redis-cli --raw -h 127.0.0.1 config rewrite"
    )
    assert "ERR" in answer.stdout + answer.stderr, answer.stdout
    assert host.check_output("sha256sum /etc/redis/redis.conf") == before


def test_data_dir_private(host):
    d = host.file("/var/lib/redis")
    assert d.user == "redis"
    assert d.mode == 0o750


def test_data_survives_kill_9_and_systemd_restarts_it(host, cli, password):
    cli("set", "molecule:durable", "still-here")
    time.sleep(1.5)  # appendfsync everysec: older than a second is on disk
    old_pid = host.check_output("systemctl show -p MainPID --value redis-server")
    host.check_output(f"kill -9 {old_pid}")
    ping = f"REDISCLI_AUTH={shlex.quote(password)} redis-cli -h 127.0.0.1 ping"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        new_pid = host.check_output("systemctl show -p MainPID --value redis-server")
        if new_pid not in ("0", old_pid) and host.run(ping).stdout.strip() == "PONG":
            break
        time.sleep(0.2)
    else:
        pytest.fail("redis-server was not back and answering within 5 s of kill -9")
    assert cli("get", "molecule:durable") == '"still-here"'


def test_kernel_tuning_skipped_in_container(host):
    # /proc/sys is read-only in these containers: the role must not have
    # written its sysctl file (it skips with a message instead of failing).
    assert not host.file("/etc/sysctl.d/60-redis.conf").exists
