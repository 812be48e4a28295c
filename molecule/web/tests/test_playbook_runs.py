"""Runs of the single-host converge from a test: reload, self-healing, check mode, bad input.

A release that fails its gate and drift on every tier are run on the full
stack (molecule/default), whose app hosts run the same roles.

Each test leaves the host converged from app/ (the release the other test
files inspect), whatever it deployed in between.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

from ahsp_testing import (
    bad_input_problems,
    copy_app,
    http,
    run_playbook,
    scenario_dir,
)
from conftest import BASE, SERVICE, live_release, main_pid
from front_bad_inputs import FRONT_BAD_INPUTS
from front_certificates import CERTIFICATE_KEYS
from test_nginx import front, local_ca_on_host  # noqa: F401 (its CA for front())

UNIT = f"/etc/systemd/system/{SERVICE}.service"
CONF = "/etc/ahsp/gunicorn.conf.py"


def _secrets(stack_vars) -> list[str]:
    return [stack_vars[k] for k in ("app_secret_key", "redis_admin_password", "app_admin_password")]


def _served(host) -> str:
    return http(host, f"{BASE}/health/")[0].json()["version"]


def _manifest(host, release: str) -> dict:
    return json.loads(host.file(f"{release}/staticfiles/staticfiles.json").content_string)["paths"]


def _run_until_the_reload(source) -> str:
    """converge.yml with a new release, killed right after `current` switched; its output."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1"}
    cmd = [
        "ansible-playbook", "--inventory", os.environ["MOLECULE_INVENTORY_FILE"],
        str(scenario_dir() / "converge.yml"), "--extra-vars", f"app_source_dir={source}",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        cwd=scenario_dir(), start_new_session=True,
    )  # fmt: skip
    output = []
    try:
        for line in proc.stdout:
            output.append(line)
            if "service | Start, restart or reload gunicorn" in line:
                os.killpg(proc.pid, signal.SIGKILL)
                return "".join(output)
    finally:
        proc.wait(timeout=600)
    raise AssertionError("the run never reached the reload:\n" + "".join(output[-30:]))


def test_interrupted_code_change_is_finished_by_a_reload_with_static_in_the_new_release_only(
    host, tmp_path, stack_vars
):
    """A code change killed right after `current` switched: the next run finishes it by HUP.

    collectstatic writes into the new release's own STATIC_ROOT only, so the
    live release keeps its static files while the next one is collected and
    no page of the old release meets a 404 mid-deploy; the run after the one
    that finished the change has nothing left to do.
    """
    source = copy_app(tmp_path)
    css = source / "static" / "css" / "app.css"
    css.write_text(css.read_text() + "\n/* molecule: a code change */\n")
    js = source / "static" / "js" / "app.js"
    js.write_text(js.read_text() + "\n// molecule: a static change\n")
    master = main_pid(host)
    before = live_release(host)
    old_manifest = host.file(f"{before}/staticfiles/staticfiles.json").content_string

    interrupted = _run_until_the_reload(source)
    try:
        assert "collect | Run collectstatic" in interrupted
        switched = live_release(host)
        assert switched != before, "the run was killed before it switched"
        assert _served(host) == before.rsplit("/", 1)[1], "gunicorn still serves the old release"

        heal = run_playbook("converge.yml", "--extra-vars", f"app_source_dir={source}")
        assert heal.rc == 0, heal.tail()
        assert heal.changed() > 0, heal.tail()
        for secret in _secrets(stack_vars):
            assert secret not in heal.output
        # The gate already waited for the workers to serve the new release.
        assert _served(host) == switched.rsplit("/", 1)[1]
        assert main_pid(host) == master, "a code change must reload, not restart"
        assert host.file("/srv/ahsp/previous").linked_to == before

        new_paths = _manifest(host, switched)
        assert new_paths["js/app.js"] != json.loads(old_manifest)["paths"]["js/app.js"]
        assert host.file(f"{switched}/staticfiles/{new_paths['js/app.js']}.gz").exists
        # The previous release's static files are untouched.
        assert host.file(f"{before}/staticfiles/staticfiles.json").content_string == old_manifest
        # Pages the previous release rendered keep their assets: from the app
        # (which serves the previous release's hashed names too) and from the
        # front (from disk), as the new release's.
        old_js = json.loads(old_manifest)["paths"]["js/app.js"]
        for name in (old_js, new_paths["js/app.js"]):
            (app,) = http(host, f"{BASE}/static/{name}")
            assert app.status == 200, name
            assert front(host, f"https://localhost/static/{name}")["status"] == 200, name

        again = run_playbook("converge.yml", "--extra-vars", f"app_source_dir={source}")
        assert again.rc == 0, again.tail()
        assert again.changed() == 0, again.tail()
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert main_pid(host) == master
    assert _served(host) == before.rsplit("/", 1)[1]


def test_check_diff_after_converge_is_clean_and_secret_free(stack_vars):
    run = run_playbook("converge.yml", "--check", "--diff")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    for secret in _secrets(stack_vars):
        assert secret not in run.output


# Against the real host, to prove a refused value changes nothing on it:
# the front's values (tests/lib/front_bad_inputs.py) and two of the app
# tier's; tests/unit/test_role_inputs.py holds each role's rules for many
# more values.
BAD_INPUTS = [
    # Judged against the host's own addresses.
    ({"gunicorn_systemd_bind": "192.0.2.99:8000"}, "gunicorn_systemd_bind"),
    ({"app_secret_key": "too-short"}, "app_secret_key"),
    *FRONT_BAD_INPUTS,
]


def test_bad_input_fails_before_any_change(host, stack_vars):
    """Each bad value fails the run naming the variable; the host keeps its files and master."""
    files = f"{UNIT} {CONF} /etc/ahsp/app.env /etc/nginx/nginx.conf /etc/nginx/tls/*"
    state = f"sha256sum {files}; readlink /srv/ahsp/current"
    before, pid = host.check_output(state), main_pid(host)

    problems = bad_input_problems(BAD_INPUTS, [*_secrets(stack_vars), *CERTIFICATE_KEYS])
    assert problems == [], "\n".join(problems)
    assert host.check_output(state) == before
    assert main_pid(host) == pid


def test_config_gunicorn_rejects_leaves_the_service_untouched(host):
    """Well-formed but wrong for gunicorn: --check-config refuses it before the file changes."""
    state = f"sha256sum {CONF}; readlink /srv/ahsp/current"
    before, pid = host.check_output(state), main_pid(host)
    run = run_playbook(
        "converge.yml", "--extra-vars", "gunicorn_systemd_wsgi_app=config.wsgi:nothing"
    )
    assert run.rc != 0, run.tail()
    assert "gunicorn_systemd" in run.output and "check-config" in run.output, run.tail()
    assert host.check_output(state) == before
    assert main_pid(host) == pid
    assert http(host, f"{BASE}/health/")[0].status == 200
