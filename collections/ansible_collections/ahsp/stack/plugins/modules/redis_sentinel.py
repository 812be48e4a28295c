#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_sentinel
short_description: Ask Sentinels which Redis is the primary, or bring one Sentinel's monitoring settings to the wanted ones
description:
  - C(state=query) asks each of I(sentinels) in turn for the address of I(master_name)'s primary and returns the first
    answer (the Sentinels' own view, so a run after a failover finds the new primary instead of assuming inventory
    order); C(primary) is empty when no Sentinel knows the master yet (a first deploy).
  - C(state=present) works on the local Sentinel (I(sentinels) has one entry): when it does not monitor
    I(master_name) yet it starts with C(SENTINEL MONITOR) on I(primary_host)/I(primary_port); then every setting that
    differs is changed with C(SENTINEL SET). Sentinel keeps its own state (replicas, epochs) in its config file, which
    the role writes only once; after that only these commands change it, so a run never fights Sentinel.
  - The credentials Sentinel uses towards Redis (I(auth_user), I(auth_pass)) cannot be read back; they are set on
    every run (the same value again changes nothing and is not reported).
options:
  state: {description: query or present., type: str, choices: [query, present], default: query}
  sentinels: {description: HOST:PORT of the Sentinels to ask (state=query) or of the local one (state=present)., type: list, elements: str, required: true}
  login_user: {description: ACL user to authenticate to the Sentinels as (empty for none)., type: str, default: ""}
  login_password: {description: Its password., type: str, default: "", no_log: true}
  master_name: {description: The monitored service name., type: str, required: true}
  primary_host: {description: Where the primary is when the Sentinel does not monitor it yet., type: str, default: ""}
  primary_port: {description: Its port., type: int, default: 6379}
  quorum: {description: Sentinels that must agree the primary is down., type: int, default: 2}
  settings: {description: Other monitoring settings (down-after-milliseconds, failover-timeout, parallel-syncs, auth-user)., type: dict, default: {}}
  auth_pass: {description: Password Sentinel uses towards Redis (set every run)., type: str, default: "", no_log: true}
  timeout: {description: Seconds to wait for each Sentinel., type: float, default: 2}
author: AHSP infrastructure team
"""

RETURN = r"""
primary: {description: HOST:PORT of the primary ("" when no Sentinel knows it)., returned: state=query, type: str}
applied: {description: Settings changed (state=present)., returned: state=present, type: list, elements: str}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError, connect


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _pairs(flat: list) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def query(module: AnsibleModule) -> None:
    p = module.params
    errors = []
    for address in p["sentinels"]:
        host, port = _split(address)
        try:
            with connect(
                host, port, p["login_user"] or None, p["login_password"] or None, p["timeout"]
            ) as sentinel:
                reply = sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", p["master_name"])
        except RedisError as exc:
            errors.append(f"{address}: {exc}")
            continue
        if reply:
            module.exit_json(
                changed=False, primary=f"{reply[0]}:{reply[1]}", asked=address, errors=errors
            )
    module.exit_json(changed=False, primary="", errors=errors)


def present(module: AnsibleModule) -> None:
    p = module.params
    host, port = _split(p["sentinels"][0])
    applied: list[str] = []
    try:
        with connect(
            host, port, p["login_user"] or None, p["login_password"] or None, p["timeout"], 30
        ) as sentinel:
            masters = {
                _pairs(m).get("name"): _pairs(m) for m in sentinel.call("SENTINEL", "MASTERS")
            }
            current = masters.get(p["master_name"])
            if current is None:
                if not p["primary_host"]:
                    module.fail_json(msg=f"no primary known for {p['master_name']} and none given")
                if not module.check_mode:
                    sentinel.call(
                        "SENTINEL",
                        "MONITOR",
                        p["master_name"],
                        p["primary_host"],
                        p["primary_port"],
                        p["quorum"],
                    )
                applied.append("monitor")
                current = {"quorum": str(p["quorum"])}
            wanted = {"quorum": str(p["quorum"]), **{k: str(v) for k, v in p["settings"].items()}}
            for name, value in wanted.items():
                if current.get(name) != value:
                    applied.append(name)
                    if not module.check_mode:
                        sentinel.call("SENTINEL", "SET", p["master_name"], name, value)
            if p["auth_pass"] and not module.check_mode:
                sentinel.call("SENTINEL", "SET", p["master_name"], "auth-pass", p["auth_pass"])
    except RedisError as exc:
        module.fail_json(msg=f"Sentinel at {host}:{port}: {exc}", applied=applied)
    module.exit_json(changed=bool(applied), applied=applied)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["query", "present"], "default": "query"},
            "sentinels": {"type": "list", "elements": "str", "required": True},
            "login_user": {"type": "str", "default": ""},
            "login_password": {"type": "str", "default": "", "no_log": True},
            "master_name": {"type": "str", "required": True},
            "primary_host": {"type": "str", "default": ""},
            "primary_port": {"type": "int", "default": 6379},
            "quorum": {"type": "int", "default": 2},
            "settings": {"type": "dict", "default": {}},
            "auth_pass": {"type": "str", "default": "", "no_log": True},
            "timeout": {"type": "float", "default": 2},
        },
        supports_check_mode=True,
    )
    (query if module.params["state"] == "query" else present)(module)


if __name__ == "__main__":
    main()
