"""Each role's own input rules, for the values of every role at once: bad values fail, named.

Each case is a host of one inventory (connection local, so no host is
touched) whose host variables are the case's values; one ansible-playbook
run applies every role's tasks/validate.yml, in the order site.yml runs
them, to every case. The tier wiring is left out (ANSIBLE_VARS_ENABLED):
these tests hold the roles' own rules, the values a user gives a role.

test_preflight.py runs the whole preflight, wiring included, for what only
the whole stack can judge: values the wiring passes from one role to
another, the tiers' agreement, the stack's shape, missing values, and one
value of each role to prove the preflight applies that role's rules.
"""

from __future__ import annotations

import json

import pytest
from ansible_json import validation_play, validation_results
from front_bad_inputs import FRONT_BAD_INPUTS
from front_certificates import CERTIFICATE_KEYS

ROLES = ["redis", "postgresql", "app", "static_files", "gunicorn_systemd", "nginx"]
PLAY = validation_play("Validate every role's inputs, as the preflight does", ROLES)
# What the single-host scenario gives the roles without the wiring.
BASE = {
    "redis_admin_password": "r3dis-'\"\\$-0123456789",
    "redis_app_password": "r3dis-app-'\"\\$-0123456789",
    "postgresql_db_password": "pg-'\"\\$-0123456789abc",
    "app_secret_key": "s3cret-key-with-plenty-of-characters-0123456789-abcdefghijkl",
    "app_allowed_hosts": ["localhost"],
    "nginx_tls_source": "local_ca",
    "nginx_server_names": ["localhost", "127.0.0.1"],
    "nginx_upstreams": ["127.0.0.1:8000"],
    "nginx_local_ca_dir": "/srv/inventory/.secrets/local-ca",
    "static_files_readers": ["www-data"],
}
SECRETS = ("r3dis-", "pg-'", *CERTIFICATE_KEYS)

BAD = [
    # redis
    ({"redis_dir": "/var/lib"}, "redis_dir"),
    ({"redis_dir": "/etc/cron.d"}, "redis_dir"),
    ({"redis_port": "06379"}, "redis_port"),
    ({"redis_logfile": "/var/log/redis.log"}, "redis_logfile"),
    ({"redis_replicaof": "10.0.0.5:06379"}, "redis_replicaof"),
    ({"redis_maxmemory": "lots"}, "redis_maxmemory"),
    ({"redis_extra_config_unsafe_directives": ["a b"]}, "redis_extra_config_unsafe_directives"),
    # Extra settings outside the vetted lists: admin commands, loading code.
    ({"redis_extra_config": {"enable-debug-command": "yes"}}, "enable-debug-command"),
    ({"redis_extra_config": {"Protected-Mode": "no"}}, "redis_extra_config"),
    ({"redis_extra_config": {"maxclients": "100\nprotected-mode no"}}, "redis_extra_config"),
    ({"redis_maxmemory": "256xb"}, "redis_maxmemory"),
    ({"redis_maxmemory_policy": "most-recent"}, "redis_maxmemory_policy"),
    ({"redis_port": 70000}, "redis_port"),
    ({"redis_port": "sixty"}, "redis_port"),
    ({"redis_admin_password": "short"}, "redis_admin_password"),
    ({"redis_admin_password": "has a space in it, sixteen+"}, "redis_admin_password"),
    ({"redis_save": ["900"]}, "redis_save"),
    ({"redis_bind": ["redis.example.com"]}, "redis_bind"),
    ({"redis_bind": []}, "redis_bind"),
    ({"redis_appendfsync": "sometimes"}, "redis_appendfsync"),
    (
        {"redis_extra_config": {"latency-monitor-threshold": "100\nprotected-mode no"}},
        "redis_extra_config",
    ),
    ({"redis_logfile": "relative.log"}, "redis_logfile"),
    ({"redis_dir": "/srv/redis data"}, "redis_dir"),
    # postgresql
    ({"postgresql_db_password": "too-short"}, "postgresql_db_password"),
    ({"postgresql_extra_config": {"Port": 1}}, "postgresql_extra_config"),
    ({"postgresql_extra_config": {"listen_addresses": "*"}}, "postgresql_extra_config"),
    ({"postgresql_extra_config": {"shared_preload_libraries": "x"}}, "shared_preload_libraries"),
    ({"postgresql_extra_config": {"archive_command": "cp %p /tmp/x"}}, "archive_command"),
    ({"postgresql_extra_config": {"restore_command": "cp /x/%f %p"}}, "restore_command"),
    (
        {"postgresql_extra_config_unsafe_settings": "x"},
        "postgresql_extra_config_unsafe_settings: must be given as a list",
    ),
    # Forms a file reads differently from the check: a zone index.
    (
        {"postgresql_allowed_clients": ["fe80::1%x  scram-sha-256 trust"]},
        "postgresql_allowed_clients",
    ),
    ({"postgresql_monitoring_user": "Bad User"}, "postgresql_monitoring_user"),
    ({"postgresql_allowed_clients": ["10.0.0.1/24"]}, "postgresql_allowed_clients"),
    ({"postgresql_db_password": "short"}, "postgresql_db_password"),
    ({"postgresql_db_password": "has a space in it, sixteen+"}, "postgresql_db_password"),
    ({"postgresql_port": 70000}, "postgresql_port"),
    ({"postgresql_port": "five"}, "postgresql_port"),
    ({"postgresql_allowed_clients": ["10.0.0.0/33"]}, "postgresql_allowed_clients"),
    ({"postgresql_allowed_clients": ["app.example.com"]}, "postgresql_allowed_clients"),
    ({"postgresql_allowed_clients": []}, "postgresql_allowed_clients"),
    ({"postgresql_listen_addresses": ["*"]}, "postgresql_listen_addresses"),
    ({"postgresql_shared_buffers": "lots"}, "postgresql_shared_buffers"),
    ({"postgresql_shared_buffers": "128mb"}, "postgresql_shared_buffers"),
    ({"postgresql_max_connections": 0}, "postgresql_max_connections"),
    ({"postgresql_db_name": "Bad-Name"}, "postgresql_db_name"),
    ({"postgresql_extra_config": {"port": 5433}}, "postgresql_extra_config"),
    ({"postgresql_extra_config": {"Port ": 5433}}, "postgresql_extra_config"),
    ({"postgresql_service_state": "sometimes"}, "postgresql_service_state"),
    # app
    ({"app_extra_env": {"DEBUG": "true"}}, "app_extra_env"),
    ({"app_extra_env": {"allowed_hosts": "*"}}, "app_extra_env"),
    ({"app_extra_env": {"TIME_ZONE": "UTC\nDEBUG=true"}}, "app_extra_env"),
    ({"app_extra_env": {"REDIS_SENTINEL_PASSWORD": "not-here"}}, "app_extra_env"),
    ({"app_extra_env": {"STATIC_ROOT": "/srv/ahsp/shared/data"}}, "STATIC_ROOT"),
    ({"app_extra_env": {"LOGIN_FAILURE_LIMIT": " 5"}}, "LOGIN_FAILURE_LIMIT"),
    ({"app_extra_secret_env": {"X": "a\nb"}}, "app_extra_secret_env"),
    ({"app_extra_secret_env": {"API_KEY ": "x"}}, "app_extra_secret_env"),
    ({"app_config_dir": "/etc"}, "app_config_dir"),
    ({"app_media_root": "/usr/local/bin"}, "app_media_root"),
    ({"app_user": "root\nUser=root"}, "app_user"),
    ({"app_redis_url": "redis://user:pw@10.0.0.1:6380/1"}, "app_redis_url"),
    ({"app_trusted_proxies": ["10.0.0.1/8"]}, "app_trusted_proxies"),
    ({"app_allowed_hosts": ["a.example.com,b.example.com"]}, "app_allowed_hosts"),
    ({"app_internal_hosts": ["app-1.example.com"]}, "app_internal_hosts"),
    ({"app_metrics_allowed_networks": ["10.0.0.1/8"]}, "app_metrics_allowed_networks"),
    ({"app_extra_env": {"debug": "true"}}, "app_extra_env"),
    ({"app_extra_env": {"DB_CONN_MAX_AGE": "soon"}}, "app_extra_env"),
    ({"app_base_dir": "/srv"}, "app_base_dir"),
    ({"app_media_root": "/var/lib"}, "app_media_root"),
    ({"app_trusted_proxies": "10.0.0.0/8"}, "app_trusted_proxies: must be given as a list"),
    ({"app_trusted_proxies": ["fe80::1%eth0"]}, "app_trusted_proxies"),
    ({"app_user": "Bad User"}, "app_user"),
    ({"app_redis_url": "redis://user:pw@host:6379/1"}, "app_redis_url"),
    ({"app_allowed_hosts": ["a.example.com, b.example.com"]}, "app_allowed_hosts"),
    ({"app_debug": "true", "app_environment": "staging"}, "app_debug"),
    # Lists given as strings: named by their own rule, not a rendering error.
    ({"app_allowed_hosts": "a.example.com"}, "app_allowed_hosts: must be given as a list"),
    ({"app_internal_hosts": "10.0.0.5"}, "app_internal_hosts: must be given as a list"),
    ({"app_front_proxies": "10.0.0.5"}, "app_front_proxies: must be given as a list"),
    ({"redis_extra_config_unsafe_directives": "x"}, "must be given as a list"),
    # static_files
    ({"static_files_readers": ["www data"]}, "static_files_readers"),
    # gunicorn_systemd
    ({"gunicorn_systemd_bind": "nonsense"}, "gunicorn_systemd_bind"),
    ({"gunicorn_systemd_bind": "0.0.0.0:99999"}, "gunicorn_systemd_bind"),
    ({"gunicorn_systemd_workers": "many"}, "gunicorn_systemd_workers"),
    ({"gunicorn_systemd_user": "ahsp\nUser=root"}, "gunicorn_systemd_user"),
    ({"gunicorn_systemd_env_files": ["/etc/ahsp/app env"]}, "gunicorn_systemd_env_files"),
    (
        {"gunicorn_systemd_forwarded_allow_ips": ["10.0.0.1/8"]},
        "gunicorn_systemd_forwarded_allow_ips",
    ),
    ({"gunicorn_systemd_writable_paths": "/"}, "gunicorn_systemd_writable_paths"),
    ({"gunicorn_systemd_log_dir": "~/logs"}, "gunicorn_systemd_log_dir"),
    ({"gunicorn_systemd_log_dir": "/var/log"}, "gunicorn_systemd_log_dir"),
    ({"gunicorn_systemd_proc_name": "ahsp'; import os #"}, "gunicorn_systemd_proc_name"),
    (
        {"gunicorn_systemd_forwarded_allow_ips": ["10.0.0.0/255.0.0.0"]},
        "gunicorn_systemd_forwarded_allow_ips",
    ),
    ({"app_environment": "prod"}, "app_environment"),
    # nginx: the web scenario's cases (every value lands in an nginx file), then more.
    *FRONT_BAD_INPUTS,
    ({"nginx_server_names": ["a.*.example.org"]}, "nginx_server_names"),
    ({"nginx_requests_per_second_per_client": "50r/s"}, "nginx_requests_per_second_per_client"),
    ({"nginx_acme_server": "http://acme.example.org/directory"}, "nginx_acme_server"),
    ({"nginx_static_dirs": ["/srv/ahsp/current/static files"]}, "nginx_static_dirs"),
    ({"nginx_static_dirs": ["/srv/ahsp/current/staticfiles;"]}, "nginx_static_dirs"),
    ({"nginx_status_port": 70000}, "nginx_status_port"),
]


def _label(index: int, extra: dict) -> str:
    """The case as JSON, but a certificate case by its number: its key is a secret."""
    return f"certificate-{index}" if "nginx_tls_private_key" in extra else json.dumps(extra)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict[str, dict], str]:
    cases = {f"bad-{index}": {**BASE, **extra} for index, (extra, _) in enumerate(BAD)}
    cases["good"] = BASE
    return validation_results(tmp_path_factory.mktemp("roles"), PLAY, cases)


def test_the_base_values_pass_every_role(runs):
    results, _ = runs
    assert not results["good"].get("failed"), results["good"].get("msg")


@pytest.mark.parametrize(
    ("index", "name"),
    [(index, name) for index, (_, name) in enumerate(BAD)],
    ids=[_label(index, extra) for index, (extra, _) in enumerate(BAD)],
)
def test_a_bad_value_fails_and_names_the_variable(runs, index, name):
    results, output = runs
    result = results[f"bad-{index}"]
    assert result.get("failed"), result
    assert "invalid input(s), nothing was changed" in result["msg"], result["msg"]
    assert name in result["msg"], result["msg"]
    for secret in SECRETS:
        assert secret not in output
