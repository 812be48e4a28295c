#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_function_library
short_description: Load a Redis function library on the primary, and keep only the versions still wanted
description:
  - Redis functions (Redis 7) are loaded once by an administrator and called by clients with C(FCALL), so a client
    user needs no C(EVAL) or C(SCRIPT) rights and cannot run code of its own on the server.
  - On a replica the module does nothing (functions reach replicas through replication) and says so in RV(role).
  - On the primary it loads O(code) as library O(name) when that library is missing or holds other code. A library
    name carries its version, so an old and a new release of the app can call their own functions side by side
    during a rolling deploy. Libraries whose names start with O(prefix) and that are neither O(name) nor listed in
    O(keep) are deleted.
extends_documentation_fragment:
  - ahsp.stack.redis_connection
options:
  name:
    description: The library's name, as the C(#!lua name=...) line of O(code) declares it.
    type: str
    required: true
  code:
    description: The library's source, starting with its C(#!lua name=...) line.
    type: str
    required: true
  prefix:
    description: Libraries whose names start with it belong to this application; empty keeps every other library.
    type: str
    default: ""
  keep:
    description: Other library names (of releases still on the hosts) not to delete.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description:
      - Reports what it would load and delete without doing it.
      - A server that does not accept connections yet (a host the same run would set up) is reported as a load.
  diff_mode:
    support: none
    description: Library sources are not shown.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The release's function library on the Redis primary
  ahsp.stack.redis_function_library:
    host: 10.0.0.5
    port: 6379
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    name: ahsp_0123456789
    code: "{{ library.code }}"
    prefix: ahsp_
    keep: [ahsp_9876543210]
"""

RETURN = r"""
role:
  description:
    - The node's replication role (C(master) or C(slave)); only a C(master) is changed.
    - Empty in check mode when the server did not accept the connection.
  returned: success
  type: str
  sample: master
loaded:
  description: Whether O(name) was loaded (it was missing or held other code).
  returned: success
  type: bool
  sample: true
deleted:
  description: The libraries deleted (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [ahsp_9876543210]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.redis_module import (
    CONNECTION_ARGUMENT_SPEC,
    connect_with,
)
from ansible_collections.ahsp.stack.plugins.module_utils.resp import (
    Client,
    RedisConnectionError,
    RedisError,
)


def _libraries(client: Client) -> dict[str, str]:
    """Library name to source, as ``FUNCTION LIST WITHCODE`` reports them."""
    reply = client.call("FUNCTION", "LIST", "WITHCODE") or []
    libraries = {}
    for entry in reply:
        fields = dict(zip(entry[::2], entry[1::2], strict=False))
        libraries[str(fields["library_name"])] = str(fields.get("library_code", ""))
    return libraries


def _converge(module: AnsibleModule, client: Client) -> dict:
    """Load the wanted library and delete stale ones of the prefix; what was done."""
    p = module.params
    role = str(client.call("ROLE")[0])
    if role != "master":
        return {"changed": False, "role": role, "loaded": False, "deleted": []}
    present = _libraries(client)
    load = present.get(p["name"]) != p["code"]
    wanted = {p["name"], *p["keep"]}
    stale = sorted(
        name
        for name in present
        if p["prefix"] and name.startswith(p["prefix"]) and name not in wanted
    )
    if not module.check_mode:
        if load:
            client.call("FUNCTION", "LOAD", "REPLACE", p["code"])
        for name in stale:
            client.call("FUNCTION", "DELETE", name)
    return {"changed": load or bool(stale), "role": role, "loaded": load, "deleted": stale}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "name": {"type": "str", "required": True},
            "code": {"type": "str", "required": True},
            "prefix": {"type": "str", "default": ""},
            "keep": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    first_line = module.params["code"].split("\n", 1)[0]
    if first_line.strip() != f"#!lua name={module.params['name']}":
        module.fail_json(msg=f"code must start with '#!lua name={module.params['name']}'")
    try:
        with connect_with(module.params) as client:
            result = _converge(module, client)
    except RedisConnectionError as exc:
        if not module.check_mode:
            module.fail_json(msg=f"function library {module.params['name']}: {exc}")
        # A check-mode run on a host the same run would set up: Redis is not
        # there yet, and the real run would load the library.
        result = {"changed": True, "role": "", "loaded": True, "deleted": [], "msg": str(exc)}
    except RedisError as exc:
        module.fail_json(msg=f"function library {module.params['name']}: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
