#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_replication
short_description: Make a Redis data node the primary or a replica of the primary, at run time
description:
  - Replication is run-time state here, never written to redis.conf by the role; after a failover Sentinel points
    the nodes elsewhere, and a file holding C(replicaof) would be put back by the next run, undoing the failover.
  - A node that should replicate I(primary_host):I(primary_port) and does not is told C(REPLICAOF) it.
  - A node that should be the primary and replicates something is promoted only when I(promote) is true (no Sentinel
    knows the service yet, a first deploy); otherwise a Sentinel is in charge and the module reports without acting.
options:
  unix_socket: {description: The node's admin Unix socket., type: str, required: true}
  login_user: {description: ACL user to authenticate as (the admin user)., type: str, default: ""}
  login_password: {description: Its password., type: str, required: true, no_log: true}
  primary_host: {description: Address of the primary., type: str, required: true}
  primary_port: {description: Its port., type: int, default: 6379}
  is_primary: {description: Whether this node is the primary., type: bool, required: true}
  promote: {description: Promote this node if it should be the primary but replicates (no Sentinel in charge yet)., type: bool, default: false}
  wait: {description: Seconds to wait for the node to accept connections., type: float, default: 0}
author: AHSP infrastructure team
"""

RETURN = r"""
role: {description: The node's role afterwards (master or slave)., returned: always, type: str}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError, connect


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "unix_socket": {"type": "str", "required": True},
            "login_user": {"type": "str", "default": ""},
            "login_password": {"type": "str", "required": True, "no_log": True},
            "primary_host": {"type": "str", "required": True},
            "primary_port": {"type": "int", "default": 6379},
            "is_primary": {"type": "bool", "required": True},
            "promote": {"type": "bool", "default": False},
            "wait": {"type": "float", "default": 0},
        },
        supports_check_mode=True,
    )
    p = module.params
    changed = False
    try:
        with connect(
            "", 0, p["login_user"] or None, p["login_password"], 5.0, p["wait"], p["unix_socket"]
        ) as node:
            role = node.call("ROLE")
            kind = role[0]
            if p["is_primary"]:
                if kind != "master" and p["promote"]:
                    changed = True
                    if not module.check_mode:
                        node.call("REPLICAOF", "NO", "ONE")
                        kind = "master"
            else:
                following = kind == "slave" and (str(role[1]), int(role[2])) == (
                    p["primary_host"],
                    p["primary_port"],
                )
                if not following:
                    changed = True
                    if not module.check_mode:
                        node.call("REPLICAOF", p["primary_host"], p["primary_port"])
                        kind = "slave"
    except RedisError as exc:
        module.fail_json(msg=f"Redis at {p['unix_socket']}: {exc}")
    module.exit_json(changed=changed, role=kind)


if __name__ == "__main__":
    main()
