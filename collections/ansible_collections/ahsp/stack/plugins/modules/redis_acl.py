#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_acl
short_description: Make a running Redis hold exactly the users of its ACL file, without dropping a client
description:
  - The ACL file (C(aclfile)) is the source of truth; this module makes the running server agree with it and reports
    a change only when the users the server holds (C(ACL LIST)) changed.
  - On Redis 7.2 and later it runs C(ACL LOAD), which keeps the connections of users that still exist. Redis 7.0 (Debian 12)
    drops every connection on C(ACL LOAD) (redis/redis#11986), so there each user of the file is applied with
    C(ACL SETUSER <name> reset <rules>) and users not in the file are removed with C(ACL DELUSER); the same end state,
    with no client disconnected but those of removed users.
  - The file is checked by the role before it replaces the live one (the server parses it); this module reads the
    live file.
extends_documentation_fragment:
  - ahsp.stack.redis_connection
options:
  login_user:
    description: ACL user to authenticate as (the admin user).
    type: str
    required: true
  login_password:
    description: Its password (never logged).
    type: str
    required: true
  acl_file:
    description: The live ACL file (data nodes). Exactly one of O(acl_file) and O(users) is given.
    type: path
  users:
    description:
      - The users as C(ACL SETUSER) words, each [name, rules...] (a Sentinel, which has no ACL file), as the
        C(ahsp.stack.acl_users) filter makes them. Applied with C(ACL SETUSER) on every Redis version; users not
        listed are removed.
    type: list
    elements: list
  wait:
    description: Seconds to wait for the server to accept connections.
    type: float
    default: 0
attributes:
  check_mode:
    support: partial
    details: Reports the users the server holds and applies nothing; it cannot tell whether applying would change
      them, so it reports no change.
    description: Applies nothing in check mode.
  diff_mode:
    support: none
    description: The users' rules hold password hashes, so no diff is shown.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The running server holds the users of the ACL file
  ahsp.stack.redis_acl:
    unix_socket: /run/redis/redis-server.sock
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    acl_file: /etc/redis/users.acl
    wait: 30

- name: A Sentinel's users (a Sentinel has no ACL file)
  ahsp.stack.redis_acl:
    port: 26379
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    users: >-
      {{ [{'name': 'default', 'rules': 'off resetkeys resetchannels -@all'},
          {'name': 'ahsp-admin', 'rules': 'on ~* &* +@all', 'passwords': [redis_admin_password]}]
         | ahsp.stack.acl_users }}
    wait: 30
"""

RETURN = r"""
method:
  description: How the users were applied, C(ACL LOAD) or C(ACL SETUSER); C(none) in check mode.
  returned: always
  type: str
  sample: ACL SETUSER
users:
  description: Names of the users the server holds afterwards (before, in check mode), in name order.
  returned: always
  type: list
  elements: str
  sample: [ahsp-admin, ahsp-app, default]
"""

import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.redis_module import (
    CONNECTION_ARGUMENT_SPEC,
    connect_with,
)
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError, info


def file_users(path: str) -> list[list[str]]:
    """The `user <name> <rules...>` lines of an ACL file, split as Redis splits them."""
    users = []
    with open(path, encoding="utf-8") as acl:
        for line in acl:
            # No comments: `#<hash>` is a stored password, and Redis allows
            # no comment lines in an ACL file.
            words = shlex.split(line)
            if words and words[0] == "user" and len(words) >= 2:
                users.append(words[1:])
    return users


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "login_user": {"type": "str", "required": True},
            "login_password": {"type": "str", "required": True, "no_log": True},
            "acl_file": {"type": "path"},
            "users": {"type": "list", "elements": "list"},
            "wait": {"type": "float", "default": 0},
        },
        required_one_of=[("acl_file", "users")],
        mutually_exclusive=[("acl_file", "users")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        client = connect_with(p, 5.0, p["wait"])
    except RedisError as exc:
        module.fail_json(msg=f"Redis is not usable as {p['login_user']}: {exc}")
    with client:
        before = sorted(client.call("ACL", "LIST"))
        if module.check_mode:
            module.exit_json(
                changed=False, method="none", users=[line.split()[1] for line in before]
            )
        try:
            if p["acl_file"] and version(info(client, "server").get("redis_version", "0")) >= (
                7,
                2,
            ):
                method = "ACL LOAD"
                client.call("ACL", "LOAD")
            else:
                method = "ACL SETUSER"
                wanted = (
                    file_users(p["acl_file"])
                    if p["acl_file"]
                    else [[str(w) for w in u] for u in p["users"]]
                )
                for name, *rules in wanted:
                    client.call("ACL", "SETUSER", name, "reset", *rules)
                names = {user[0] for user in wanted}
                for name in client.call("ACL", "USERS"):
                    if name not in names:
                        client.call("ACL", "DELUSER", name)
            after = sorted(client.call("ACL", "LIST"))
        except RedisError as exc:
            module.fail_json(msg=f"applying {p['acl_file'] or 'the users'} failed: {exc}")
    module.exit_json(
        changed=after != before, method=method, users=[line.split()[1] for line in after]
    )


if __name__ == "__main__":
    main()
