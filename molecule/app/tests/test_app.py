"""The app role alone: user, layout, release, venv, environment files, offline install, secrets."""

from __future__ import annotations

import hashlib
import json
import shlex

import pytest
from ahsp_testing import run_playbook

SECRETS = ("app_secret_key", "redis_app_password")


@pytest.fixture(scope="module")
def release(host) -> str:
    """The one release the converge installed (nothing switches to it in this scenario)."""
    (path,) = host.check_output("ls -d /srv/ahsp/releases/*/").split()
    return path.rstrip("/")


def manage(host, release: str, *args: str) -> str:
    return host.check_output(
        f"AHSP_RELEASE_DIR={release} ahsp-manage " + " ".join(shlex.quote(a) for a in args)
    )


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
        ("/etc/ahsp", "root", "ahsp", 0o750),
        ("/etc/ahsp/app.env", "root", "ahsp", 0o640),
        ("/etc/ahsp/secrets.env", "root", "ahsp", 0o640),
    ],
)
def test_tree_owners_and_modes(host, path, owner, group, mode):
    f = host.file(path)
    assert f.exists
    assert (f.user, f.group, f.mode) == (owner, group, mode)


def test_release_names_itself_and_its_venv(host, release):
    assert host.file(f"{release}/manage.py").exists
    assert host.file(f"{release}/RELEASE").content_string.strip() == release.rsplit("/", 1)[1]
    venv = host.file(f"{release}/venv")
    assert venv.is_symlink
    assert venv.linked_to.startswith("/srv/ahsp/venvs/")
    assert host.file(f"{release}/venv/bin/gunicorn").exists
    # Nothing switches in this scenario: going live is the gunicorn_systemd role's job.
    assert not host.file("/srv/ahsp/current").exists


def test_release_holds_only_shipped_files(host, release):
    files = host.check_output(f"cd {release} && find . -path ./venv -prune -o -print")
    for unwanted in ("/tests", ".env", "__pycache__", ".pyc", ".sqlite3", ".venv", ".git"):
        assert unwanted not in files, unwanted


def test_code_is_not_writable_by_the_app_user(host, release):
    result = host.run(f"setpriv --reuid=ahsp --regid=ahsp --init-groups touch {release}/x")
    assert result.rc != 0


def test_env_file_values(host):
    env = host.file("/etc/ahsp/app.env").content_string
    for line in (
        'DEBUG="false"',
        'ALLOWED_HOSTS="ahsp.example.com,127.0.0.1,localhost"',
        'CSRF_TRUSTED_ORIGINS="https://ahsp.example.com"',
        'TRUSTED_PROXIES="10.0.0.0/8"',
        'SECURE_SSL_REDIRECT="true"',
        'SECURE_HSTS_SECONDS="31536000"',
        'REDIS_URL="redis://127.0.0.1:6379/1"',
        'SQLITE_PATH="/srv/ahsp/shared/data/db.sqlite3"',
        'TIME_ZONE="Asia/Jakarta"',
    ):
        assert line in env.splitlines()
    assert "SECRET_KEY" not in env
    assert "REDIS_PASSWORD" not in env


@pytest.mark.parametrize("reader", ["python-dotenv", "systemd"])
def test_secrets_read_back_exactly(host, app_vars, release, reader):
    """The password has " ' and \\ in it: both readers of the format get it back byte for byte."""
    wanted = hashlib.sha256(app_vars["redis_app_password"].encode()).hexdigest()
    if reader == "python-dotenv":
        code = (
            "import hashlib; from dotenv import dotenv_values; "
            "v = dotenv_values('/etc/ahsp/secrets.env', interpolate=False)['REDIS_PASSWORD']; "
            "print(hashlib.sha256(v.encode()).hexdigest())"
        )
        out = host.check_output(f"{release}/venv/bin/python -c {shlex.quote(code)}")
    else:
        out = host.check_output(
            "systemd-run --quiet --wait --pipe --collect -p EnvironmentFile=/etc/ahsp/secrets.env "
            "/bin/sh -c 'printf %s \"$REDIS_PASSWORD\" | sha256sum' | cut -d' ' -f1"
        )
    assert out.strip() == wanted


def test_secrets_only_in_the_secret_file(host, app_vars):
    for name in SECRETS:
        secret = app_vars[name]
        escaped = secret.replace("\\", "\\\\").replace('"', '\\"')
        grep = "grep -rlF -- {} /etc /srv /var/log /run 2>/dev/null"
        assert host.run(grep.format(shlex.quote(escaped))).stdout.split() == [
            "/etc/ahsp/secrets.env"
        ], name
        if escaped != secret:
            assert host.run(grep.format(shlex.quote(secret))).stdout.split() == [], name


def test_manage_wrapper_sources_nothing_with_a_shell(host):
    wrapper = host.file("/usr/local/bin/ahsp-manage").content_string
    assert "AHSP_ENV_FILES=" in wrapper
    assert "/etc/ahsp/secrets.env" in wrapper
    assert not any(line.lstrip().startswith((". ", "source ")) for line in wrapper.splitlines())


def test_manage_py_check_deploy_passes_in_the_venv(host, release):
    out = manage(host, release, "check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in out


def test_migrations_applied(host, release):
    out = manage(host, release, "showmigrations", "detail_project")
    assert "[X] 0001_initial" in out
    assert host.file("/srv/ahsp/shared/data/db.sqlite3").user == "ahsp"


def test_publishes_its_layout_for_the_other_roles(app_vars):
    run = run_playbook("converge.yml", "--tags", "app_validate", "-v")
    assert run.rc == 0, run.tail()
    assert '"app_layout"' in run.output
    assert '"current_release": "/srv/ahsp/current"' in run.output


def test_host_has_no_route_to_any_index(host, release):
    assert "default" not in host.check_output("ip route")
    pip = host.run(f"{release}/venv/bin/python -m pip download --no-deps -d /tmp/x six==1.16.0")
    assert pip.rc != 0


def test_offline_reinstall_from_the_wheelhouse(host):
    # A fresh venv from the same wheelhouse, with no network: what the role does.
    cmd = (
        "rm -rf /tmp/v && python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --no-index "
        "--find-links /srv/ahsp/wheelhouse/* --require-hashes "
        "-r /srv/ahsp/wheelhouse/*/requirements.txt && /tmp/v/bin/python -c 'import django'"
    )
    assert host.run(cmd).rc == 0


def test_rerun_unchanged_and_secret_free(app_vars):
    run = run_playbook("converge.yml", "--diff", "-vv")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    for name in SECRETS:
        assert app_vars[name] not in run.output


def test_env_value_drift_is_repaired(host):
    host.check_output("sed -i '/^RATELIMIT_REQUESTS=/d' /etc/ahsp/app.env")
    host.check_output("echo 'SECRET_KEY=tampered' >> /etc/ahsp/secrets.env")
    run = run_playbook("converge.yml")
    assert run.rc == 0, run.tail()
    assert run.changed() >= 2
    assert 'RATELIMIT_REQUESTS="10"' in host.file("/etc/ahsp/app.env").content_string
    assert "tampered" not in host.file("/etc/ahsp/secrets.env").content_string


def test_environment_the_release_refuses_never_goes_live(host):
    """Each value passes the role's checks (the app's own reader), but the release's settings
    refuse the combination: the staged files are refused and the live ones stay as they were.
    """
    state = "sha256sum /etc/ahsp/app.env /etc/ahsp/secrets.env"
    before = host.check_output(state)
    extra = {"app_extra_env": {"TIME_ZONE": "Asia/Jakarta", "LOGIN_FAILURE_LIMIT": 0}}
    refused = run_playbook("converge.yml", "--extra-vars", json.dumps(extra))
    assert refused.rc != 0, refused.tail()
    assert "does not boot with the new environment files" in refused.output, refused.tail()
    assert "LOGIN_FAILURE_LIMIT" in refused.output, refused.tail()
    assert host.check_output(state) == before
    assert 'LOGIN_FAILURE_LIMIT="0"' in host.file("/etc/ahsp/app.env.next").content_string

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()
    assert host.check_output(state) == before


def test_release_drift_is_put_back_then_clean(host, release):
    """An edited, a removed and a re-permissioned file of the release: one run puts all three
    back (the layout run compares the tree with its archive), the next changes nothing.
    """
    settings = f"{release}/config/settings.py"
    manage_py = host.file(f"{release}/manage.py").content_string
    urls = host.file(f"{release}/config/urls.py").content_string
    host.check_output(f"echo '# edited on the host' >> {release}/manage.py")
    host.check_output(f"rm {release}/config/urls.py")
    host.check_output(f"chmod 0600 {settings}")

    repair = run_playbook("converge.yml")
    assert repair.rc == 0, repair.tail()
    assert repair.changed() >= 1, repair.tail()
    assert host.file(f"{release}/manage.py").content_string == manage_py
    assert host.file(f"{release}/config/urls.py").content_string == urls
    assert host.file(settings).mode == 0o644

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        # A few values of the role's classes against the real host;
        # tests/unit/test_role_inputs.py holds its rules for many more.
        ({"app_extra_env": {"TIME_ZONE": "UTC\nDEBUG=true"}}, "app_extra_env"),
        ({"app_extra_env": {"SECRET_KEY": "x" * 60}}, "app_extra_env"),
        ({"app_media_root": "/etc/cron.d"}, "app_media_root"),
        ({"app_secret_key": "too-short"}, "app_secret_key"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_bad_input_fails_before_any_change(host, overrides, name):
    state = "sha256sum /etc/ahsp/app.env /etc/ahsp/secrets.env /usr/local/bin/ahsp-manage"
    before = host.check_output(state)
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(overrides))
    assert run.rc != 0, run.tail()
    assert name in run.output, run.tail()
    assert "changed: [" not in run.output, run.tail()
    assert host.check_output(state) == before
