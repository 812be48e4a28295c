"""Redis with Sentinel: topology, least privilege, failover under load, the old primary's return.

Order matters inside this module (pytest runs it top to bottom): the first
tests read the converged topology; the failover tests change which node is
the primary, and the last ones check that a playbook run afterwards follows
the Sentinels instead of the inventory's order.

Failures under load are 5xx answers, refused or reset connections and
timeouts. During a failover the API keeps answering (the limiter fails open,
the tree falls back to the database) while /health/ reports the outage with
a 503 until the app reaches the new primary: the time until /health/ is 200
again is the failover time the test reports and bounds.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time

import pytest
from ahsp_load import Load
from ahsp_testing import ROOT_DIR, http, run_playbook
from conftest import (
    APP,
    NODES,
    REDIS1,
    SERVICE,
    address,
    health_status,
    primary,
    redis_cli,
    role,
    wait_for,
)

# The app host's own address (load from the controller; health from the app host).
HEALTH = "http://127.0.0.1:8000/health/"
RESULTS = ROOT_DIR / "build" / "ha-failover.json"
RATE = 40.0
PRIVATE_FILES = (
    "/etc/redis/ahsp-sentinel.conf",
    "/etc/redis/users.acl",
    "/etc/redis/redis-auth.conf",
)


def sentinel(host, *args: str) -> str:
    """A Sentinel command as the admin (its password is the data nodes' admin password)."""
    return redis_cli(host, *args, port=26379, secret="redis_admin_password")


def docker(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True, timeout=120)


def record(name: str, result: dict) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data[name] = result
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


@pytest.fixture(scope="module")
def addresses(hosts) -> dict[str, str]:
    return {name: address(hosts[name]) for name in hosts}


@pytest.fixture(scope="module")
def tree_url(hosts, addresses) -> tuple[str, dict[str, str]]:
    """A project tree and a bearer token, on the app host; the URL the controller loads."""
    script = (
        "from django.contrib.auth import get_user_model; "
        "from detail_project.models import Project; "
        "user = get_user_model().objects.get(username='admin'); "
        "project, _ = Project.objects.get_or_create(owner=user, name='molecule ha'); "
        "print(project.pk)"
    )
    app = hosts[APP]
    out = app.check_output(f"ahsp-manage shell -c {shlex.quote(script)}")
    project_id = int(out.splitlines()[-1])
    token = app.check_output("ahsp-manage create_api_token admin --name ha").splitlines()[-1]
    tree = f"http://{addresses[APP]}:8000/api/project/{project_id}/list-pekerjaan/tree/"
    return tree, {"Authorization": f"Bearer {token}"}


def node_by_address(addresses, ip: str) -> str:
    return next(name for name in NODES if addresses[name] == ip)


def test_one_primary_one_replica_three_sentinels_agree(hosts, addresses, secrets):
    roles = {name: role(hosts[name]) for name in NODES}
    assert sorted(roles.values()) == ["master", "slave"], roles
    expected = next(addresses[name] for name, r in roles.items() if r == "master")
    for name in hosts:
        answer = sentinel(hosts[name], "sentinel", "get-master-addr-by-name", SERVICE).split()
        assert answer == [expected, "6379"], (name, answer)
    info = sentinel(hosts[REDIS1], "sentinel", "master", SERVICE).splitlines()
    fields = dict(zip(info[::2], info[1::2], strict=False))
    assert fields["num-other-sentinels"] == "2", fields
    assert fields["num-slaves"] == "1", fields
    assert fields["quorum"] == "2", fields
    assert fields["down-after-milliseconds"] == "5000", fields


def test_replica_replicates_as_its_own_user(hosts):
    replica = next(hosts[name] for name in NODES if role(hosts[name]) == "slave")
    info = redis_cli(replica, "info", "replication")
    assert "master_link_status:up" in info, info
    assert 'masteruser "ahsp-replica"' in replica.check_output("cat /etc/redis/redis-auth.conf")


def test_app_finds_the_primary_through_all_sentinels(hosts, addresses):
    env = hosts[APP].file("/etc/ahsp/app.env").content_string.splitlines()
    assert 'REDIS_URL="redis://ahsp/1"' in env, env
    sentinels = next(line for line in env if line.startswith("REDIS_SENTINELS="))
    for name in hosts:
        assert f"{addresses[name]}:26379" in sentinels, sentinels
    assert health_status(hosts[APP], HEALTH) == 200


@pytest.mark.parametrize("port", [6379, 26379])
def test_anonymous_and_default_users_are_refused(hosts, addresses, port):
    """From the app host, without credentials or as `default`, on data nodes and Sentinels."""
    probe = (
        "import socket, sys; s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5); "
        "s.sendall(b'PING\\r\\nAUTH default nothing-at-all\\r\\n'); import time; time.sleep(0.3); "
        "print(s.recv(400).decode())"
    )
    for name in NODES:
        out = hosts[APP].check_output(f"python3 -c {shlex.quote(probe)} {addresses[name]} {port}")
        assert "NOAUTH" in out, (name, port, out)
        assert "WRONGPASS" in out, (name, port, out)


def test_app_user_cannot_administer_sentinels_or_data_nodes(hosts, addresses, secrets):
    """The app's user lists the masters (what redis-py asks); it cannot reconfigure or fail over."""
    app = hosts[APP]

    def as_app(port: int, *words: str) -> str:
        where = ("-h", addresses[REDIS1])
        return redis_cli(
            app, *where, *words, port=port, user="ahsp-app", secret="redis_app_password"
        )

    assert SERVICE in as_app(26379, "sentinel", "masters").splitlines()
    for words in (
        ("sentinel", "get-master-addr-by-name", SERVICE),
        ("sentinel", "failover", SERVICE),
        ("sentinel", "remove", SERVICE),
        ("sentinel", "set", SERVICE, "quorum", "1"),
    ):
        assert "NOPERM" in as_app(26379, *words), words
    assert "NOPERM" in as_app(6379, "config", "get", "maxmemory")
    assert "NOPERM" in as_app(6379, "replicaof", "no", "one")


def test_kill_9_of_the_primary_redis_server_is_survived(hosts, addresses, tree_url):
    """systemd restarts it well before Sentinel's down-after: same primary, API unaffected."""
    url, headers = tree_url
    before = primary(hosts)
    node = hosts[node_by_address(addresses, before)]
    with Load([url], rate=RATE, headers=headers, max_seconds=120) as load:
        time.sleep(2)
        node.check_output("systemctl kill --signal=KILL redis-server")
        wait_for(lambda: health_status(hosts[APP], HEALTH) == 200, 30, "healthy after kill -9")
        time.sleep(2)
    assert not load.summary.failures, load.summary.describe()
    record("kill_9_primary", {"requests": load.summary.sent, "failed": 0})


def test_failover_under_load_then_the_old_primary_returns_as_replica(hosts, addresses, tree_url):
    url, headers = tree_url
    old = primary(hosts)
    old_name = node_by_address(addresses, old)
    new_name = next(name for name in NODES if name != old_name)
    with Load([url], rate=RATE, headers=headers, max_seconds=300) as load:
        time.sleep(2)
        stopped = time.monotonic()
        docker("stop", "--time", "1", old_name)
        try:
            wait_for(
                lambda: primary(hosts, asking=(new_name, APP)) == addresses[new_name],
                60,
                "Sentinels promote the replica",
            )
            promoted = time.monotonic() - stopped
            wait_for(
                lambda: health_status(hosts[APP], HEALTH) == 200,
                30,
                "app healthy on the new primary",
            )
            healthy = time.monotonic() - stopped
            time.sleep(2)
        finally:
            docker("start", old_name)
    summary = load.summary
    record(
        "docker_stop_primary",
        {
            "promoted_s": round(promoted, 1),
            "app_healthy_s": round(healthy, 1),
            "requests": summary.sent,
            "failed": len(summary.failures),
            "statuses": {str(k): v for k, v in summary.statuses().items()},
            "p99_ms": round(summary.percentile(0.99) * 1000, 1),
        },
    )
    assert not summary.failures, summary.describe()
    # Bounded by down-after (5 s) + election + the app's breaker (5 s) and lookup.
    assert healthy < 30, healthy

    # The stopped node comes back: its Sentinel and the others turn it into a replica.
    wait_for(lambda: role(hosts[old_name]) == "slave", 60, "old primary rejoins as replica")
    wait_for(
        lambda: "master_link_status:up" in redis_cli(hosts[old_name], "info", "replication"),
        60,
        "old primary replicates the new one",
    )


def test_limit_holds_on_the_new_primary(hosts, addresses):
    """The shared limit is enforced again once the app is on the new primary (fresh bucket)."""
    current = node_by_address(addresses, primary(hosts))
    redis_cli(hosts[current], "-n", "1", "flushdb")
    responses = http(hosts[APP], "http://127.0.0.1:8000/api/test/", method="POST", count=12)
    statuses = [r.status for r in responses]
    assert statuses == [200] * 10 + [429] * 2, statuses


def test_a_run_after_failover_follows_the_sentinels_and_changes_nothing(hosts, addresses):
    current = primary(hosts)
    run = run_playbook("converge.yml")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail(120)
    assert primary(hosts) == current
    assert role(hosts[node_by_address(addresses, current)]) == "master"


def test_no_secret_in_verbose_output_or_process_lists(hosts, secrets):
    run = run_playbook("converge.yml", "-vvv")
    assert run.rc == 0, run.tail()
    for name, value in secrets.items():
        assert value not in run.output, f"{name} appears in the -vvv output"
    for host in hosts.values():
        processes = host.check_output("ps -eo args")
        for name, value in secrets.items():
            assert value not in processes, f"{name} in a process list on {host.backend.host}"
        for path in PRIVATE_FILES:
            f = host.file(path)
            if f.exists:
                assert f.mode & 0o007 == 0, (path, oct(f.mode))


def test_admin_password_file_is_roots_only(hosts):
    for name in NODES:
        f = hosts[name].file("/root/.redis-admin-password")
        assert (f.user, f.mode) == ("root", 0o600), name
