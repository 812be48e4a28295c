#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_sentinel
short_description: Ask Sentinels which Redis is the primary, or bring one Sentinel's monitoring settings to the wanted ones
description:
  - C(state=query) asks each of I(sentinels) in turn for the address of I(master_name)'s primary and returns the first
    answer (the Sentinels' own view, so a run after a failover finds the new primary instead of assuming inventory
    order); C(primary) is empty when no Sentinel knows the master yet (a first deploy).
  - C(state=present) works on the local Sentinel (I(sentinels) has one entry); when it does not monitor
    I(master_name) yet it starts with C(SENTINEL MONITOR) on I(primary_host)/I(primary_port); then every setting that
    differs is changed with C(SENTINEL SET). Sentinel keeps its own state (replicas, epochs) in its config file, which
    the role writes only once; after that only these commands change it, so a run never fights Sentinel.
  - The credentials Sentinel uses towards Redis (C(auth-user) in I(settings), I(auth_pass)) and towards the other
    Sentinels (I(sentinel_user), I(sentinel_pass)) cannot be read back with a command; they are compared with the
    lines Sentinel wrote for them in I(config_file) and set only when they differ (without I(config_file), set on
    every run, never reported).
options:
  state:
    description: V(query) asks for the primary; V(present) brings the local Sentinel's monitoring to the wanted settings.
    type: str
    choices: [query, present]
    default: query
  sentinels:
    description: C(HOST:PORT) of the Sentinels to ask (O(state=query)) or of the local one (O(state=present)).
    type: list
    elements: str
    required: true
  login_user:
    description: ACL user to authenticate to the Sentinels as (empty for none).
    type: str
    default: ""
  login_password:
    description: Its password (never logged).
    type: str
    default: ""
  master_name:
    description: The monitored service name.
    type: str
    required: true
  primary_host:
    description: Where the primary is when the Sentinel does not monitor it yet.
    type: str
    default: ""
  primary_port:
    description: Its port.
    type: int
    default: 6379
  quorum:
    description: Sentinels that must agree the primary is down.
    type: int
    default: 2
  settings:
    description:
      - Other monitoring settings, by the name C(SENTINEL SET) takes (for example C(down-after-milliseconds),
        C(failover-timeout), C(parallel-syncs), C(auth-user)).
    type: dict
    default: {}
  auth_pass:
    description: Password Sentinel uses towards Redis (never logged).
    type: str
    default: ""
  sentinel_user:
    description: ACL user this Sentinel uses towards the other Sentinels (O(state=present)).
    type: str
    default: ""
  sentinel_pass:
    description: Its password (never logged).
    type: str
    default: ""
  config_file:
    description: The local Sentinel's config file, to compare the credentials with (O(state=present)).
    type: path
  timeout:
    description: Seconds to wait for each Sentinel.
    type: float
    default: 2
attributes:
  check_mode:
    support: full
    description: O(state=query) runs as usual; O(state=present) reports what it would set, and sets nothing.
  diff_mode:
    support: none
    description: The names of the settings applied are returned; their values are not shown.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Ask the Sentinels for the primary
  ahsp.stack.redis_sentinel:
    state: query
    sentinels: [10.0.0.11:26379, 10.0.0.12:26379, 10.0.0.13:26379]
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    master_name: ahsp
  register: sentinel_answer
  run_once: true
  check_mode: false

- name: Monitor the primary with the wanted settings
  ahsp.stack.redis_sentinel:
    state: present
    sentinels: ["127.0.0.1:26379"]
    login_user: ahsp-admin
    login_password: "{{ redis_admin_password }}"
    master_name: ahsp
    primary_host: "{{ sentinel_answer.primary | regex_replace(':[0-9]+$', '') }}"
    primary_port: "{{ sentinel_answer.primary | regex_replace('^.*:', '') }}"
    quorum: 2
    settings:
      down-after-milliseconds: 5000
      failover-timeout: 30000
      parallel-syncs: 1
      auth-user: ahsp-sentinel
    auth_pass: "{{ redis_sentinel_password }}"
    sentinel_user: ahsp-admin
    sentinel_pass: "{{ redis_admin_password }}"
    config_file: /etc/redis/ahsp-sentinel.conf
"""

RETURN = r"""
primary:
  description: C(HOST:PORT) of the primary, as the first Sentinel that knows it answers; empty when none does.
  returned: O(state=query)
  type: str
  sample: 10.0.0.11:6379
asked:
  description: The Sentinel that named the primary.
  returned: O(state=query) and a Sentinel knows the primary
  type: str
  sample: 10.0.0.11:26379
errors:
  description: The Sentinels that could not be asked, each with its error (asked before the one that answered).
  returned: O(state=query)
  type: list
  elements: str
  sample: ["10.0.0.12:26379: cannot connect to 10.0.0.12:26379: [Errno 111] Connection refused"]
applied:
  description:
    - What was changed, in order; C(monitor) when monitoring started, then each setting set with C(SENTINEL SET) or
      C(SENTINEL CONFIG SET) (in check mode, what would be).
    - Credentials count only when O(config_file) is given and shows they differ; without it they are set on every
      run and never reported.
  returned: O(state=present)
  type: list
  elements: str
  sample: [monitor, down-after-milliseconds, failover-timeout]
"""

import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ahsp.stack.plugins.module_utils.resp import RedisError, connect


def _split(address: str) -> tuple[str, int]:
    host, _sep, port = address.rpartition(":")
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


def _written(path: str | None, master: str) -> dict[str, str]:
    """The credential lines of Sentinel's config file, by setting name (raw value)."""
    if not path:
        return {}
    found: dict[str, str] = {}
    prefixes = {
        "auth-user": f"sentinel auth-user {master} ",
        "auth-pass": f"sentinel auth-pass {master} ",
        "sentinel-user": "sentinel sentinel-user ",
        "sentinel-pass": "sentinel sentinel-pass ",
    }
    with open(path, encoding="utf-8") as conf:
        for line in conf:
            for name, prefix in prefixes.items():
                if line.startswith(prefix):
                    found[name] = line[len(prefix) :].rstrip("\n")
    return found


def _same(raw: str | None, value: str) -> bool:
    """Whether a written value is `value`, as written bare or in Redis' quoting."""
    if raw is None:
        return False
    if raw == value:
        return True
    try:
        return shlex.split(raw) == [value]
    except ValueError:
        return False


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
            written = _written(p["config_file"], p["master_name"])
            wanted = {"quorum": str(p["quorum"]), **{k: str(v) for k, v in p["settings"].items()}}
            if p["auth_pass"]:
                wanted["auth-pass"] = p["auth_pass"]
            for name, value in wanted.items():
                if name in ("auth-user", "auth-pass"):
                    if _same(written.get(name), value):
                        continue
                    if p["config_file"]:
                        applied.append(name)
                elif current.get(name) == value:
                    continue
                else:
                    applied.append(name)
                if not module.check_mode:
                    sentinel.call("SENTINEL", "SET", p["master_name"], name, value)
            for name in ("sentinel-user", "sentinel-pass"):
                value = p[name.replace("-", "_")]
                if not value or _same(written.get(name), value):
                    continue
                if p["config_file"]:
                    applied.append(name)
                if not module.check_mode:
                    sentinel.call("SENTINEL", "CONFIG", "SET", name, value)
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
            "sentinel_user": {"type": "str", "default": ""},
            "sentinel_pass": {"type": "str", "default": "", "no_log": True},
            "config_file": {"type": "path"},
            "timeout": {"type": "float", "default": 2},
        },
        supports_check_mode=True,
    )
    (query if module.params["state"] == "query" else present)(module)


if __name__ == "__main__":
    main()
