# The documentation of the ahsp.stack.check_inputs action. The work is done on
# the controller by the action plugin of the same name
# (plugins/action/check_inputs.py); Ansible reads an action's documentation
# from the module of its name, so this file holds only that.
from __future__ import annotations

DOCUMENTATION = r"""
module: check_inputs
short_description: Validate a role's inputs against its argument specs and the files they land in
description:
  - Runs on the controller only (no module is sent to the host), so a role or a whole-stack preflight can check every
    input of every host before anything changes.
  - Types, choices and required values come from the role's C(meta/argument_specs.yml) (Ansible's own validator, so
    C(-e port=6380) given as a string is accepted as an integer).
  - Formats come from O(rules) (one rule per variable), and cross-variable conditions from O(conditions). Every
    problem is reported at once, each naming its variable; secret values are never echoed.
  - The conditions are evaluated only when every variable passed its type and rule, so that each condition can rely
    on well-formed values.
  - A problem with a value that the stack's wiring derives from other inputs (the mapping C(ahsp_wiring_sources) in
    the collection's C(data/wiring.yml)) also names those inputs, which are the ones the inventory set.
options:
  rules:
    description:
      - Variable name to rule. A rule is a mapping with C(format) (the formats are those of C(FORMATS) in the
        collection's C(plugins/module_utils/inputs.py), such as C(path), C(ip), C(hostname), C(secret), C(regex), with
        their own keys, such as C(pattern) and C(what) for C(regex)) and optional C(min)/C(max) (integers),
        C(gt)/C(lt) (numbers, the bounds excluded), C(min_length), C(items) (rule for each list element) with
        C(min_items), C(keys)/C(values) (rules for a mapping's keys and values), C(fields) (a rule for each named
        field of a mapping, reported as C(variable.field)), C(not_in) (names a mapping key may not take; compared
        trimmed and case-folded),
        C(allow_empty), C(secret) (never show the value), C(required) (default V(true)).
      - A variable that is not defined is reported as required unless its rule says C(required=false).
    type: dict
    default: {}
  conditions:
    description:
      - Each a mapping C(that) (a Jinja expression, as in a C(when)) and C(msg) (the problem to report, naming the
        variables); each C(that) must be true.
    type: list
    elements: dict
    default: []
  renamed:
    description:
      - Variables renamed, each C(old) and C(new). For each old name that is set, a deprecation warning names the new
        one (the old names keep working until the collection's next major version).
    type: list
    elements: dict
    default: []
  argument_spec:
    description: Entry point of the role's C(meta/argument_specs.yml) to check types against; empty skips it.
    type: str
    default: main
attributes:
  action:
    support: full
    description: Runs as the action plugin of the same name, on the controller.
  async:
    support: none
    description: Runs on the controller at once; there is nothing to wait for.
  check_mode:
    support: full
    description: Changes nothing; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  platform:
    support: full
    platforms: all
    description: Needs no connection to the host; only its variables.
notes:
  - Called from a role's tasks, the role's own C(meta/argument_specs.yml) is read (O(argument_spec) names the entry
    point); elsewhere, such as a playbook's preflight, there is none, and only O(rules) and O(conditions) apply.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Inputs fit redis.conf and the host
  ahsp.stack.check_inputs:
    rules:
      redis_port: {min: 1, max: 65535}
      redis_bind: {items: {format: ip, optional_prefix: true, wildcard: true}, min_items: 1}
      redis_admin_password: {format: secret, min_length: 16, secret: true, allow_empty: "{{ redis_acl_enabled | bool }}"}
      redis_replicaof:
        format: regex
        pattern: '^([0-9.]+|\[[0-9A-Fa-f:]+\]):[0-9]{1,5}$'
        what: "IP:PORT of the primary"
        allow_empty: true
    conditions:
      - that: redis_acl_enabled | bool or redis_admin_password | length > 0
        msg: redis_admin_password is required in requirepass mode (or turn on redis_acl_enabled with users).

- name: The stack's shape and the values tiers must agree on (a playbook, no role)
  ahsp.stack.check_inputs:
    argument_spec: ""
    conditions:
      - that: groups['app'] | default([]) | length > 0
        msg: the inventory needs at least one host in the app group.
"""

RETURN = r"""
msg:
  description: C(N inputs valid), or the role, the number of problems and each problem on its own line.
  returned: always
  type: str
  sample: "redis: 1 invalid input(s), nothing was changed:\n- redis_port: must be from 1 to 65535 (got 70000)"
problems:
  description: Every problem found, each naming its variable (secret values are never shown).
  returned: failed
  type: list
  elements: str
  sample: ["redis_port: must be from 1 to 65535 (got 70000)"]
"""
