#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: app_service_state
short_description: Decide whether a gunicorn service must start, restart, reload or nothing, from what it runs
description:
  - Reads the state file the gunicorn master writes when it starts and after every reload (its pid, the release and
    venv it loaded, and when), the unit's state from systemd, and the modification times of the files the service
    depends on.
  - C(start) when the service is not running; C(restart) when it runs another venv than the target release's, or a
    unit file changed since it started; C(reload) when it runs another release than the target, or an environment
    file or its config changed since it last loaded; C(none) otherwise.
  - Changes nothing; the role acts on the answer. Because the answer comes from what runs, not from what this run
    changed, a run that was interrupted after switching releases is finished by the next one.
options:
  service:
    description: The systemd service unit (with its suffix); its socket unit has the same name with C(.socket).
    type: str
    required: true
  state_file:
    description: JSON file the gunicorn master writes (C(when_ready) and C(on_reload) hooks).
    type: path
    required: true
  release_dir:
    description: The release that should run (the target of the current link).
    type: path
    required: true
  current_link:
    description: The link the service runs; its target is returned as RV(live_release).
    type: path
    required: true
  restart_paths:
    description: Files whose change needs a restart (unit files).
    type: list
    elements: path
    default: []
  reload_paths:
    description: Files whose change needs a reload (environment files, the gunicorn config).
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Compare what runs with the target release
  ahsp.stack.app_service_state:
    service: ahsp-gunicorn.service
    state_file: /run/ahsp-gunicorn/state.json
    release_dir: /srv/ahsp/releases/3f9c2a1e
    current_link: /srv/ahsp/current
    restart_paths:
      - /etc/systemd/system/ahsp-gunicorn.service
      - /etc/systemd/system/ahsp-gunicorn.socket
    reload_paths:
      - /etc/ahsp/app.env
      - /etc/ahsp/secrets.env
      - /etc/ahsp/gunicorn.conf.py
  register: gunicorn_state
  check_mode: false

- name: Restart, reload or start gunicorn as the answer says
  ansible.builtin.systemd_service:
    name: ahsp-gunicorn.service
    state: "{{ {'start': 'started', 'restart': 'restarted', 'reload': 'reloaded'}[gunicorn_state.action] }}"
  when: gunicorn_state.action != 'none'
"""

RETURN = r"""
action:
  description: What the service needs; one of C(start), C(restart), C(reload), C(none).
  returned: always
  type: str
  sample: reload
reasons:
  description: Why, one line each (empty for C(none)).
  returned: always
  type: list
  elements: str
  sample: ["it runs /srv/ahsp/releases/9b41d07c, the target is /srv/ahsp/releases/3f9c2a1e"]
running_release:
  description: Release the master last loaded, as its state file records it; empty when the service is not running
    or left no state for its pid.
  returned: always
  type: str
  sample: /srv/ahsp/releases/9b41d07c
main_pid:
  description: The service's main pid (0 when not running).
  returned: always
  type: int
  sample: 4242
live_release:
  description: Real path the current link points at (empty when there is no link).
  returned: always
  type: str
  sample: /srv/ahsp/releases/9b41d07c
target_release:
  description: Real path of O(release_dir) (which may itself be a link, such as C(previous)).
  returned: always
  type: str
  sample: /srv/ahsp/releases/3f9c2a1e
enabled:
  description: Whether the service and its socket both start at boot.
  returned: always
  type: bool
  sample: true
installed:
  description: Whether systemd knows both units (false before their first daemon-reload).
  returned: always
  type: bool
  sample: true
"""

import json
import os
import subprocess
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

_PROPERTIES = (
    "--property=LoadState,ActiveState,MainPID,ExecMainStartTimestampMonotonic,UnitFileState"
)


def _systemd(*units: str) -> list[dict[str, str]]:
    """`systemctl show` of each unit: one call, blocks separated by empty lines."""
    argv = ["systemctl", "show", *units, _PROPERTIES]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout  # noqa: S603
    blocks = out.split("\n\n")
    return [dict(line.split("=", 1) for line in b.splitlines() if "=" in line) for b in blocks][
        : len(units)
    ]


def _boot_time() -> float:
    """Wall-clock time of boot, to turn systemd's monotonic timestamps into epoch seconds."""
    with open("/proc/uptime", encoding="ascii") as uptime:
        return __import__("time").time() - float(uptime.read().split()[0])


def _mtime(path: str) -> float | None:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return None


def decide(
    params: dict, unit: dict[str, str], state: dict | None, boot: float
) -> tuple[str, list[str], str]:
    active = unit.get("ActiveState") in ("active", "reloading")
    pid = int(unit.get("MainPID") or 0)
    if not active or pid == 0:
        return "start", [f"{params['service']} is not running"], ""
    if not state or int(state.get("pid", -1)) != pid:
        return (
            "restart",
            ["the running master left no state for its pid (started outside this role?)"],
            "",
        )
    started = boot + int(unit.get("ExecMainStartTimestampMonotonic") or 0) / 1e6
    target = os.path.realpath(params["release_dir"])
    target_venv = os.path.realpath(os.path.join(target, "venv"))
    reasons: list[str] = []
    if os.path.realpath(state.get("venv", "")) != target_venv:
        reasons.append(f"it runs the venv {state.get('venv')}, the release needs {target_venv}")
    for path in params["restart_paths"]:
        mtime = _mtime(path)
        if mtime is not None and mtime > started:
            reasons.append(f"{path} changed since the service started")
    if reasons:
        return "restart", reasons, state.get("release", "")
    loaded = float(state.get("loaded_at", 0))
    if os.path.realpath(state.get("release", "")) != target:
        reasons.append(f"it runs {state.get('release')}, the target is {target}")
    for path in params["reload_paths"]:
        mtime = _mtime(path)
        if mtime is not None and mtime > loaded:
            reasons.append(f"{path} changed since the service last loaded")
    return ("reload" if reasons else "none"), reasons, state.get("release", "")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "required": True},
            "state_file": {"type": "path", "required": True},
            "release_dir": {"type": "path", "required": True},
            "current_link": {"type": "path", "required": True},
            "restart_paths": {"type": "list", "elements": "path", "default": []},
            "reload_paths": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    service = module.params["service"]
    socket = service.rsplit(".", 1)[0] + ".socket"
    unit, socket_unit = [*_systemd(service, socket), {}, {}][:2]
    link = module.params["current_link"]
    live = os.path.realpath(link) if os.path.lexists(link) else ""
    try:
        state = json.loads(Path(module.params["state_file"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    action, reasons, running = decide(module.params, unit, state, _boot_time())
    module.exit_json(
        changed=False,
        action=action,
        reasons=reasons,
        running_release=running,
        main_pid=int(unit.get("MainPID") or 0),
        live_release=live,
        target_release=os.path.realpath(module.params["release_dir"]),
        enabled=unit.get("UnitFileState") == "enabled"
        and socket_unit.get("UnitFileState") == "enabled",
        installed=unit.get("LoadState") == "loaded" and socket_unit.get("LoadState") == "loaded",
    )


if __name__ == "__main__":
    main()
