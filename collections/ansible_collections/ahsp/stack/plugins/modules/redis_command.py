#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_command
short_description: Run one Redis command on the host, authenticated without putting the password anywhere visible
description:
  - Connects over TCP or the Unix socket, authenticates (ACL user or requirepass), selects a database and runs one
    command, returning its reply. The password travels as a module argument (stdin with pipelining) and then only on
    the socket, never on a command line, in the environment or in the output.
  - Reports no change unless I(changed) says the command changes data; check mode skips commands marked as changing.
options:
  host: {description: Address of the server., type: str, default: 127.0.0.1}
  port: {description: TCP port., type: int, default: 6379}
  unix_socket: {description: Unix socket path; when set it is used instead of I(host) and I(port)., type: str, default: ""}
  login_user: {description: ACL user to authenticate as (empty for requirepass mode)., type: str, default: ""}
  login_password: {description: Password (never logged)., type: str, default: "", no_log: true}
  db: {description: Database to select first., type: int, default: 0}
  command: {description: The command and its arguments., type: list, elements: str, required: true}
  changed: {description: Whether running the command counts as a change., type: bool, default: false}
author: AHSP infrastructure team
"""

RETURN = r"""
reply: {description: The command's reply (strings, integers, lists)., returned: success, type: raw}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError, connect


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int", "default": 6379},
            "unix_socket": {"type": "str", "default": ""},
            "login_user": {"type": "str", "default": ""},
            "login_password": {"type": "str", "default": "", "no_log": True},
            "db": {"type": "int", "default": 0},
            "command": {"type": "list", "elements": "str", "required": True},
            "changed": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode and p["changed"]:
        module.exit_json(changed=True, reply=None)
    try:
        with connect(
            p["host"],
            p["port"],
            p["login_user"] or None,
            p["login_password"] or None,
            5.0,
            0,
            p["unix_socket"],
        ) as client:
            if p["db"]:
                client.call("SELECT", p["db"])
            reply = client.call(*p["command"])
    except RedisError as exc:
        module.fail_json(msg=f"{p['command'][0]} failed: {exc}")
    module.exit_json(changed=p["changed"], reply=reply)


if __name__ == "__main__":
    main()
