"""Bad values anywhere in the inventory: site.yml fails, names the variable, and no host changes.

Each case is a real `site.yml` run against the converged stack. Most are
refused by the preflight (every role's input checks, on every host, before
any host changes); some are well-formed and refused by a run-time check
(PostgreSQL's own parser) before the file they would land in is replaced.
Every managed file, link and service process of the hosts is compared
before and after. The runs go four at a time: none of them changes anything.
Values the preflight unit tests (tests/unit/test_preflight.py) already
refuse on the controller are not repeated here.
"""

from __future__ import annotations

from ahsp_testing import bad_input_problems
from conftest import APPS, BACKUP, DB, REDIS, WEB

STATE = {
    REDIS: (
        "sha256sum /etc/redis/redis.conf /etc/redis/redis-auth.conf "
        "/etc/systemd/system/redis-server.service.d/ahsp.conf; "
        "systemctl show -p MainPID -p ActiveState redis-server"
    ),
    DB: (
        "sha256sum /etc/postgresql/*/main/conf.d/ahsp.conf /etc/postgresql/*/main/pg_hba.conf "
        "/etc/pgbackrest/pgbackrest.conf; "
        "systemctl show -p MainPID -p ActiveState 'postgresql@*-main' pgbackrest"
    ),
    **{
        app: (
            "sha256sum /etc/ahsp/app.env /etc/ahsp/secrets.env /etc/ahsp/gunicorn.conf.py "
            "/etc/systemd/system/ahsp-gunicorn.service /etc/systemd/system/ahsp-gunicorn.socket "
            "/usr/local/bin/ahsp-manage; readlink /srv/ahsp/current; "
            "systemctl show -p MainPID -p ActiveState ahsp-gunicorn"
        )
        for app in APPS
    },
    BACKUP: (
        "sha256sum /etc/pgbackrest/pgbackrest.conf /etc/systemd/system/ahsp-pgbackrest-*; "
        "systemctl show -p MainPID -p ActiveState pgbackrest"
    ),
    WEB: (
        "sha256sum /etc/nginx/nginx.conf /etc/nginx/ahsp-upstreams.conf /etc/nginx/tls/*; "
        "systemctl show -p MainPID -p ActiveState nginx"
    ),
}

# (extra vars, the variable the refusal must name)
CASES = [
    # redis role
    ({"redis_logfile": "/var/log/redis.log"}, "redis_logfile"),
    ({"redis_bind": ["127.0.0.1", "192.0.2.99"]}, "redis_bind"),
    ({"redis_extra_config": {"Protected-Mode": "no"}}, "redis_extra_config"),
    ({"redis_extra_config": {"maxclients": "100\nprotected-mode no"}}, "redis_extra_config"),
    ({"redis_maxmemory": "lots"}, "redis_maxmemory"),
    # postgresql role
    ({"postgresql_allowed_clients": ["10.0.0.1/24"]}, "postgresql_allowed_clients"),
    ({"postgresql_listen_addresses": ["127.0.0.1", "192.0.2.99"]}, "postgresql_listen_addresses"),
    ({"postgresql_port": 70000}, "postgresql_port"),
    ({"postgresql_extra_config": {"listen_addresses": "*"}}, "postgresql_extra_config"),
    # well-formed, refused by PostgreSQL's own parser before the file is replaced
    ({"postgresql_extra_config": {"work_mem": "lots"}}, "postgresql_extra_config"),
    # app role
    ({"app_extra_env": {"allowed_hosts": "*"}}, "app_extra_env"),
    ({"app_extra_env": {"TIME_ZONE": "UTC\nDEBUG=true"}}, "app_extra_env"),
    ({"app_extra_env": {"REDIS_SENTINEL_PASSWORD": "not-here"}}, "app_extra_env"),
    ({"app_extra_secret_env": {"API_KEY ": "x"}}, "app_extra_secret_env"),
    ({"app_base_dir": "/srv"}, "app_base_dir"),
    ({"app_config_dir": "/etc"}, "app_config_dir"),
    ({"app_user": "root\nUser=root"}, "app_user"),
    ({"app_secret_key": "too-short"}, "app_secret_key"),
    ({"app_redis_url": "redis://user:pw@10.0.0.1:6380/1"}, "app_redis_url"),
    ({"app_trusted_proxies": ["10.0.0.1/8"]}, "app_trusted_proxies"),
    ({"app_allowed_hosts": ["a.example.com,b.example.com"]}, "app_allowed_hosts"),
    # static_files role
    ({"static_files_owner": "Bad Owner"}, "static_files_owner"),
    # gunicorn_systemd role
    ({"gunicorn_systemd_workers": "many"}, "gunicorn_systemd_workers"),
    ({"gunicorn_systemd_log_dir": "/var/log"}, "gunicorn_systemd_log_dir"),
    ({"gunicorn_systemd_proc_name": "ahsp'; import os #"}, "gunicorn_systemd_proc_name"),
    # secrets, one name from the inventory to every host that reads them
    # site.yml: values the tiers must agree on
    ({"app_db_port": 5432}, "app_db_port"),
    ({"app_redis_url": "redis://10.0.0.1:6379/1"}, "app_redis_url"),
    # Allow-lists: the value checked is the value rendered, by each file's reader.
    (
        {"postgresql_allowed_clients": ["fe80::1%x scram-sha-256 trust"]},
        "postgresql_allowed_clients",
    ),
    (
        {"gunicorn_systemd_forwarded_allow_ips": ["10.0.0.0/255.0.0.0"]},
        "gunicorn_systemd_forwarded_allow_ips",
    ),
    ({"app_media_root": "/usr/local/bin"}, "app_media_root"),
    ({"postgresql_extra_config": {"archive_command": "cp %p /tmp/x"}}, "archive_command"),
    ({"app_extra_env": {"STATIC_ROOT": "/srv/ahsp/shared/data"}}, "STATIC_ROOT"),
    ({"app_extra_env": {"LOGIN_FAILURE_LIMIT": " 5"}}, "LOGIN_FAILURE_LIMIT"),
    # the front
    ({"nginx_upstreams": ["stack-app1:8000"]}, "nginx_upstreams"),
    ({"nginx_server_names": ["stack web"]}, "nginx_server_names"),
    ({"nginx_tls_source": "none", "app_secure_ssl_redirect": True}, "nginx_tls_source"),
    ({"nginx_requests_per_second_per_client": "50r/s"}, "nginx_requests_per_second_per_client"),
    # backups (the pgbackrest role on the database and backup hosts; the
    # restore targets are refused in test_backups.py)
    ({"pgbackrest_retention_full": 0}, "pgbackrest_retention_full"),
    (
        {"pgbackrest_cipher_passphrase": "only-27-characters-01234567"},
        "pgbackrest_cipher_passphrase",
    ),
    ({"pgbackrest_repo_path": "/etc/pgbackrest-repo"}, "pgbackrest_repo_path"),
    ({"pgbackrest_repo_path": "backups/pg"}, "pgbackrest_repo_path"),
    ({"pgbackrest_full_schedule": "Sun 25:00"}, "pgbackrest_full_schedule"),
    ({"pgbackrest_check_schedule": "every 15 minutes"}, "pgbackrest_check_schedule"),
    ({"pgbackrest_archive_timeout": 300}, "pgbackrest_archive_timeout"),
    ({"postgresql_extra_config": {"restore_command": "cp /x/%f %p"}}, "restore_command"),
    ({"redis_backup_password": "short"}, "redis_backup_password"),
    # monitoring
    ({"prometheus_scrape_interval": "5 seconds"}, "prometheus_scrape_interval"),
    (
        {"prometheus_alertmanager_webhook_urls": ["ftp://x.example/alerts"]},
        "prometheus_alertmanager_webhook_urls",
    ),
]


def _state(hosts) -> dict[str, str]:
    return {name: hosts[name].check_output(command) for name, command in STATE.items()}


def test_every_bad_input_fails_names_the_variable_and_changes_nothing(hosts, secrets):
    prefixes = (
        "redis_", "postgresql_", "app_", "static_files_", "gunicorn_systemd_", "nginx_",
        "pgbackrest_", "prometheus_",
    )  # fmt: skip
    assert len(CASES) >= 25
    assert all(any(name.startswith(p) for _, name in CASES) for p in prefixes)
    before = _state(hosts)

    problems = bad_input_problems(CASES, secrets.values(), workers=4)
    assert problems == [], "\n".join(problems)
    assert _state(hosts) == before
