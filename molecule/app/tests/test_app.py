"""The app role's result: user, tree, environment, venv, offline install, secrets."""

from __future__ import annotations

import pytest
from ahsp_testing import run_playbook


def test_system_user_without_login(host):
    user = host.user("ahsp")
    assert user.exists
    assert user.group == "ahsp"
    assert user.shell == "/usr/sbin/nologin"
    assert user.home == "/srv/ahsp"


@pytest.mark.parametrize(
    ("path", "owner", "group", "mode"),
    [
        ("/srv/ahsp", "root", "ahsp", 0o750),
        ("/srv/ahsp/releases", "root", "ahsp", 0o750),
        ("/srv/ahsp/shared/data", "ahsp", "ahsp", 0o750),
        ("/srv/ahsp/shared/media", "ahsp", "ahsp", 0o750),
        ("/var/log/ahsp", "ahsp", "adm", 0o2750),
        ("/etc/ahsp/app.env", "root", "ahsp", 0o640),
        ("/etc/ahsp/secrets.env", "root", "ahsp", 0o640),
    ],
)
def test_tree_owners_and_modes(host, path, owner, group, mode):
    f = host.file(path)
    assert f.exists
    assert (f.user, f.group, f.mode) == (owner, group, mode)


def test_current_release_and_venv_links(host):
    current = host.file("/srv/ahsp/current")
    assert current.is_symlink
    assert current.linked_to.startswith("/srv/ahsp/releases/")
    assert host.file("/srv/ahsp/current/manage.py").exists
    assert not host.file("/srv/ahsp/current/tests").exists, "tests are not shipped"
    venv = host.file("/srv/ahsp/venv")
    assert venv.is_symlink
    assert host.file("/srv/ahsp/venv/bin/gunicorn").exists


def test_code_is_not_writable_by_the_app_user(host):
    result = host.run("setpriv --reuid=ahsp --regid=ahsp --init-groups touch /srv/ahsp/current/x")
    assert result.rc != 0


def test_env_file_values(host):
    env = host.file("/etc/ahsp/app.env").content_string
    for line in (
        "DEBUG='false'",
        "ALLOWED_HOSTS='ahsp.example.com,127.0.0.1,localhost'",
        "CSRF_TRUSTED_ORIGINS='https://ahsp.example.com'",
        "SECURE_SSL_REDIRECT='true'",
        "SECURE_HSTS_SECONDS='31536000'",
        "REDIS_URL='redis://127.0.0.1:6379/1'",
        "SQLITE_PATH='/srv/ahsp/shared/data/db.sqlite3'",
        "STATIC_ROOT='/srv/ahsp/static'",
        "TIME_ZONE='Asia/Jakarta'",
    ):
        assert line in env
    assert "SECRET_KEY" not in env
    assert "REDIS_PASSWORD" not in env


def test_secrets_only_in_the_secret_file(host, app_vars):
    for secret in (app_vars["app_secret_key"], app_vars["app_redis_password"]):
        hits = host.run(f"grep -rlF -- '{secret}' /etc /srv /var/log /run 2>/dev/null").stdout
        assert hits.split() == ["/etc/ahsp/secrets.env"]


def test_manage_py_check_passes_in_the_venv(host):
    out = host.check_output("ahsp-manage check --deploy --fail-level WARNING 2>&1")
    assert "no issues" in out


def test_migrations_applied(host):
    out = host.check_output("ahsp-manage showmigrations detail_project")
    assert "[X] 0001_initial" in out
    assert host.file("/srv/ahsp/shared/data/db.sqlite3").user == "ahsp"


def test_host_has_no_route_to_any_index(host):
    assert "default" not in host.check_output("ip route")
    pip = host.run("/srv/ahsp/venv/bin/python -m pip download --no-deps -d /tmp/x six==1.16.0")
    assert pip.rc != 0


def test_offline_reinstall_from_the_wheelhouse(host):
    # A fresh venv from the same wheelhouse, with no network: what the role does.
    cmd = (
        "rm -rf /tmp/v && python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --no-index "
        "--find-links /srv/ahsp/wheelhouse/* --require-hashes "
        "-r /srv/ahsp/wheelhouse/*/requirements.txt && /tmp/v/bin/python -c 'import django'"
    )
    assert host.run(cmd).rc == 0


def test_gunicorn_handlers_notified(host):
    # First converge: new venv (restart) and new code (reload).
    assert host.file("/run/molecule-gunicorn-restart-notified").exists
    assert host.file("/run/molecule-gunicorn-reload-notified").exists


def test_rerun_unchanged_and_secret_free(app_vars):
    run = run_playbook("converge.yml", "--diff", "-vv")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    for secret in (app_vars["app_secret_key"], app_vars["app_redis_password"]):
        assert secret not in run.output


def test_env_value_drift_is_repaired(host):
    host.check_output("sed -i '/^RATELIMIT_REQUESTS=/d' /etc/ahsp/app.env")
    host.check_output("echo 'SECRET_KEY=tampered' >> /etc/ahsp/secrets.env")
    run = run_playbook("converge.yml")
    assert run.rc == 0, run.tail()
    assert run.changed() >= 2
    assert "RATELIMIT_REQUESTS='10'" in host.file("/etc/ahsp/app.env").content_string
    assert "tampered" not in host.file("/etc/ahsp/secrets.env").content_string
