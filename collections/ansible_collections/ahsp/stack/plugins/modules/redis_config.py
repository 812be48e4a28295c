#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_config
short_description: Bring a running Redis to the settings of its rendered redis.conf without a restart where possible
description:
  - Compares each setting with what the running server reports (C(CONFIG GET)) and applies the ones that differ and
    that Redis can change at run time with C(CONFIG SET). The file on disk stays the source of truth (no
    C(CONFIG REWRITE)); this module only makes the running server agree with it.
  - Settings listed in I(restart_settings), and any that Redis refuses to change at run time, are not touched and are
    returned in C(restart_required) so the role can restart the server instead.
  - Waits up to I(wait) seconds for the server to accept the connection first.
extends_documentation_fragment:
  - ahsp.stack.redis_connection
options:
  login_password:
    description: Password (never logged).
    type: str
    required: true
  settings:
    description:
      - Setting name to value, in redis.conf syntax without quotes (for example C(maxmemory) V(256mb)).
      - Compared as Redis reports them (memory sizes in bytes, words single-spaced, case ignored).
    type: dict
    default: {}
  restart_settings:
    description: Settings that only a restart applies here (even if Redis could set some of them at run time).
    type: list
    elements: str
    default: []
  wait:
    description: Seconds to wait for the server to accept connections.
    type: float
    default: 0
  timeout:
    description: Socket timeout in seconds.
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    description: Reports the settings it would apply with C(CONFIG SET), and sets none.
  diff_mode:
    support: none
    description: The names of the settings applied are returned; their values are not shown.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Bring the running server to redis.conf (CONFIG SET where Redis allows it)
  ahsp.stack.redis_config:
    unix_socket: /run/redis/redis-server.sock
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    settings:
      maxmemory: 256mb
      maxmemory-policy: allkeys-lru
      port: 6379
    restart_settings: [port, bind, unixsocket, dir]
    wait: 30
  register: redis_runtime

- name: Restart for what only a restart applies
  ansible.builtin.systemd_service:
    name: redis-server.service
    state: restarted
  when: redis_runtime.restart_required | length > 0
"""

RETURN = r"""
applied:
  description: Settings changed with C(CONFIG SET) (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [maxmemory]
restart_required:
  description:
    - Settings whose running value differs and that only a restart applies (listed in O(restart_settings), unknown
      to the running server, or refused by C(CONFIG SET) as immutable or protected).
    - V(credentials) alone when the server refuses the given credentials (changed at run time, or a password change
      in requirepass mode); only a restart applies the rendered files then.
  returned: always
  type: list
  elements: str
  sample: [port]
pid:
  description: The server's process id (0 when the credentials were refused).
  returned: always
  type: int
  sample: 812
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.redis_module import (
    CONNECTION_ARGUMENT_SPEC,
    connect_with,
)
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError, info

_MEMORY = re.compile(r"^(\d+)(b|k|kb|m|mb|g|gb)?$", re.IGNORECASE)
_UNITS = {
    None: 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}


def normalise(value: str) -> str:
    """The form Redis reports: memory in bytes, words single-spaced, lower case."""
    text = " ".join(str(value).split()).lower()
    match = _MEMORY.match(text)
    if match:
        return str(int(match[1]) * _UNITS[match[2]])
    return text


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "login_password": {"type": "str", "required": True, "no_log": True},
            "settings": {"type": "dict", "default": {}},
            "restart_settings": {"type": "list", "elements": "str", "default": []},
            "wait": {"type": "float", "default": 0},
            "timeout": {"type": "float", "default": 5},
        },
        supports_check_mode=True,
    )
    p = module.params
    where = p["unix_socket"] or f"{p['host']}:{p['port']}"
    try:
        client = connect_with(p, p["timeout"], p["wait"])
    except RedisError as exc:
        if str(exc).startswith(("WRONGPASS", "NOAUTH")):
            # The running server holds other credentials than the rendered files (changed at run
            # time, or a password change in requirepass mode): only a restart applies the files.
            module.exit_json(changed=False, applied=[], restart_required=["credentials"], pid=0)
        module.fail_json(msg=f"Redis at {where} is not usable: {exc}")

    applied: list[str] = []
    restart: list[str] = []
    with client:
        pid = int(info(client, "server").get("process_id", 0))
        for name, wanted in sorted(p["settings"].items()):
            reply = client.call("CONFIG", "GET", name)
            current = reply[1] if reply and len(reply) >= 2 else None
            if current is not None and normalise(current) == normalise(wanted):
                continue
            if name in p["restart_settings"] or current is None:
                restart.append(name)
                continue
            if module.check_mode:
                applied.append(name)
                continue
            try:
                client.call("CONFIG", "SET", name, str(wanted))
            except RedisError as exc:
                if "immutable" in str(exc).lower() or "protected" in str(exc).lower():
                    restart.append(name)
                    continue
                module.fail_json(msg=f"CONFIG SET {name} failed: {exc}", applied=applied)
            applied.append(name)
    module.exit_json(changed=bool(applied), applied=applied, restart_required=restart, pid=pid)


if __name__ == "__main__":
    main()
