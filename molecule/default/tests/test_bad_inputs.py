"""Bad values anywhere in the inventory: site.yml fails, names the variable, and no host changes.

Each case is a real `site.yml` run against the converged stack. Most are
refused by the preflight (every role's input checks, on every host, before
any host changes); some are well-formed and refused by a run-time check
(PostgreSQL's own parser) before the file they would land in is replaced.
Every managed file, link and service process of the hosts is compared
before and after. The runs go four at a time: none of them changes anything.
Here are a few values of each role's classes, the values only real hosts
can judge (their addresses, the wiring's ports, PostgreSQL's parser) and
those the tiers must agree on; the unit tests (tests/unit/test_role_inputs.py,
test_preflight.py, test_pgbackrest_inputs.py) refuse the rest on the
controller, with the same checks.
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
    ({"redis_bind": ["127.0.0.1", "192.0.2.99"]}, "redis_bind"),
    # postgresql role
    ({"postgresql_listen_addresses": ["127.0.0.1", "192.0.2.99"]}, "postgresql_listen_addresses"),
    # well-formed, refused by PostgreSQL's own parser before the file is replaced
    ({"postgresql_extra_config": {"work_mem": "lots"}}, "postgresql_extra_config"),
    # app role
    ({"app_secret_key": "too-short"}, "app_secret_key"),
    # static_files role
    ({"static_files_owner": "Bad Owner"}, "static_files_owner"),
    # gunicorn_systemd role
    ({"gunicorn_systemd_workers": "many"}, "gunicorn_systemd_workers"),
    # site.yml: values the tiers must agree on
    ({"app_db_port": 5432}, "app_db_port"),
    ({"app_redis_url": "redis://10.0.0.1:6379/1"}, "app_redis_url"),
    # the front
    ({"nginx_upstreams": ["stack-app1:8000"]}, "nginx_upstreams"),
    # backups (the pgbackrest role on the database and backup hosts; the
    # restore targets are refused in test_backups.py)
    ({"pgbackrest_repo_path": "backups/pg"}, "pgbackrest_repo_path"),
    ({"redis_backup_password": "short"}, "redis_backup_password"),
    # monitoring
    ({"prometheus_scrape_interval": "5 seconds"}, "prometheus_scrape_interval"),
]


def _state(hosts) -> dict[str, str]:
    return {name: hosts[name].check_output(command) for name, command in STATE.items()}


def test_every_bad_input_fails_names_the_variable_and_changes_nothing(hosts, secrets):
    prefixes = (
        "redis_", "postgresql_", "app_", "static_files_", "gunicorn_systemd_", "nginx_",
        "pgbackrest_", "prometheus_",
    )  # fmt: skip
    assert len(CASES) >= 12
    assert all(any(name.startswith(p) for _, name in CASES) for p in prefixes)
    before = _state(hosts)

    problems = bad_input_problems(CASES, secrets.values(), workers=4)
    assert problems == [], "\n".join(problems)
    assert _state(hosts) == before
