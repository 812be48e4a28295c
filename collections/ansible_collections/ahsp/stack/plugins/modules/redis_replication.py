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
extends_documentation_fragment:
  - ahsp.stack.redis_connection
options:
  primary_host:
    description: Address of the primary.
    type: str
    required: true
  primary_port:
    description: Its port.
    type: int
    default: 6379
  is_primary:
    description: Whether this node is the primary.
    type: bool
    required: true
  promote:
    description: Promote this node if it should be the primary but replicates (no Sentinel in charge yet).
    type: bool
    default: false
  wait:
    description: Seconds to wait for the node to accept connections.
    type: float
    default: 0
attributes:
  check_mode:
    support: full
    description: Reports whether the node would be promoted or told C(REPLICAOF), and changes nothing.
  diff_mode:
    support: none
    description: The node's role is returned; no diff is shown.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Replicate the primary
  ahsp.stack.redis_replication:
    unix_socket: /run/redis/redis-server.sock
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    primary_host: 10.0.0.11
    primary_port: 6379
    is_primary: false
    wait: 30

- name: Be the primary on a first deploy, before any Sentinel is in charge
  ahsp.stack.redis_replication:
    unix_socket: /run/redis/redis-server.sock
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    primary_host: 127.0.0.1
    primary_port: 0
    is_primary: true
    promote: true
"""

RETURN = r"""
role:
  description: The node's role afterwards as C(ROLE) reports it, V(master) or V(slave) (in check mode, the role it has).
  returned: success
  type: str
  sample: slave
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
        with connect_with(p, wait=p["wait"]) as node:
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
        module.fail_json(msg=f"Redis at {p['unix_socket'] or p['host']}: {exc}")
    module.exit_json(changed=changed, role=kind)


if __name__ == "__main__":
    main()
