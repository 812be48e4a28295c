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
extends_documentation_fragment:
  - ahsp.stack.redis_connection
options:
  db:
    description: Database to select first.
    type: int
    default: 0
  command:
    description: The command and its arguments, one word each.
    type: list
    elements: str
    required: true
  changed:
    description: Whether running the command counts as a change (and is skipped in check mode).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: A command marked with O(changed) is not run in check mode; any other command runs.
  diff_mode:
    support: none
    description: The module knows nothing of what a command changes.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Reset the /api/test/ rate-limit counters
  ahsp.stack.redis_command:
    port: 6379
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    db: 1
    command:
      - EVAL
      - "local n = 0 for _, k in ipairs(redis.call('SCAN', 0, 'MATCH', ARGV[1], 'COUNT', 10000)[2]) do n = n + redis.call('DEL', k) end return n"
      - "0"
      - "ahsp:rate_limit:api_test:*"
  changed_when: false

- name: Which role the node has
  ahsp.stack.redis_command:
    unix_socket: /run/redis/redis-server.sock
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    command: [ROLE]
  register: redis_role
"""

RETURN = r"""
reply:
  description:
    - The command's reply, decoded as Redis sends it; a string, an integer, a list of replies or null.
    - Null in check mode for a command marked with O(changed), which is not run.
  returned: success
  type: raw
  sample: [master, 1543, [[10.0.0.12, "6379", "1543"]]]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.redis_module import (
    CONNECTION_ARGUMENT_SPEC,
    connect_with,
)
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
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
        with connect_with(p) as client:
            if p["db"]:
                client.call("SELECT", p["db"])
            reply = client.call(*p["command"])
    except RedisError as exc:
        module.fail_json(msg=f"{p['command'][0]} failed: {exc}")
    module.exit_json(changed=p["changed"], reply=reply)


if __name__ == "__main__":
    main()
