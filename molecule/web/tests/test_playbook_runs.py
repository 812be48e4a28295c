"""Runs of the stack's converge from a test: code reload, drift repair, secrets.

These run before test_gunicorn.py (alphabetical), which then checks the
repaired host.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from ahsp_testing import ROOT_DIR, http, run_playbook
from conftest import BASE, SERVICE, main_pid

UNIT = f"/etc/systemd/system/{SERVICE}.service"
CONF = "/etc/ahsp/gunicorn.conf.py"


def _secrets(stack_vars) -> list[str]:
    return [stack_vars[k] for k in ("app_secret_key", "redis_requirepass", "app_admin_password")]


def test_code_change_reloads_without_a_new_master(host, tmp_path: Path, stack_vars):
    source = tmp_path / "app"
    shutil.copytree(ROOT_DIR / "app", source, ignore=shutil.ignore_patterns("__pycache__", ".env"))
    css = source / "static" / "css" / "app.css"
    css.write_text(css.read_text() + "\n/* molecule: a code change */\n")
    master = main_pid(host)
    before = http(host, f"{BASE}/health/")[0].json()["version"]

    changed = run_playbook("converge.yml", "--extra-vars", f"app_source_dir={source}")
    try:
        assert changed.rc == 0, changed.tail()
        assert changed.changed() > 0
        for secret in _secrets(stack_vars):
            assert secret not in changed.output
        deadline = time.monotonic() + 20
        after = before
        while time.monotonic() < deadline and after == before:
            after = http(host, f"{BASE}/health/")[0].json()["version"]
            time.sleep(0.5)
        assert after != before, "the new release's APP_VERSION is not served"
        assert main_pid(host) == master, "a code change must reload, not restart"
        manifest = host.file("/srv/ahsp/static/staticfiles.json").content_string
        assert "app.css" in manifest
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert main_pid(host) == master


def test_drift_is_repaired_and_reported(host, stack_vars):
    host.check_output(f"sed -i 's/^Restart=on-failure/Restart=no/' {UNIT}")
    host.check_output(f"sed -i 's/^workers = .*/workers = 1/' {CONF}")
    host.check_output("chmod 0644 /etc/ahsp/secrets.env")
    host.check_output("sed -i '/^RATELIMIT_REQUESTS=/d' /etc/ahsp/app.env")
    host.check_output("systemctl daemon-reload")
    host.check_output(f"systemctl disable --now {SERVICE}")

    repair = run_playbook("converge.yml", "-vvv")
    assert repair.rc == 0, repair.tail()
    assert repair.changed() > 0, repair.tail()
    for secret in _secrets(stack_vars):
        assert secret not in repair.output

    assert "Restart=on-failure" in host.file(UNIT).content_string
    assert "workers = 4" in host.file(CONF).content_string
    assert host.file("/etc/ahsp/secrets.env").mode == 0o640
    assert "RATELIMIT_REQUESTS='10'" in host.file("/etc/ahsp/app.env").content_string
    assert host.service(SERVICE).is_running
    assert host.service(SERVICE).is_enabled

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()


def test_check_diff_after_converge_is_clean_and_secret_free(stack_vars):
    run = run_playbook("converge.yml", "--check", "--diff")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    for secret in _secrets(stack_vars):
        assert secret not in run.output


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ("gunicorn_systemd_bind=nonsense", "gunicorn_systemd_bind"),
        ("gunicorn_systemd_bind=0.0.0.0:99999", "gunicorn_systemd_bind"),
        ("app_secret_key=too-short", "app_secret_key"),
        ("app_redis_url=redis://user:pw@host:6379/1", "app_redis_url"),
        ("app_environment=prod", "app_environment"),
    ],
)
def test_bad_input_fails_before_any_change(host, overrides, name):
    before = host.check_output(f"sha256sum {UNIT} {CONF} /etc/ahsp/app.env")
    run = run_playbook("converge.yml", "--extra-vars", overrides)
    assert run.rc != 0
    assert name in run.output, run.tail()
    assert host.check_output(f"sha256sum {UNIT} {CONF} /etc/ahsp/app.env") == before
