"""The ahsp.stack.check_inputs action: a role's inputs checked on the controller, every problem at once.

Its documentation (options, examples, return values) is that of the module of
the same name, plugins/modules/check_inputs.py, where ansible-doc and
ansible-test read an action's documentation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.ahsp.stack.plugins.module_utils.inputs import check_value

display = Display()


def _renders_as(raw: Any, option: dict[str, Any], converted: Any) -> bool:
    """Whether a template given ``raw`` writes what the check saw as ``converted``.

    The argument spec validator converts values (a string to a one-item list,
    "4" to 4), but the templates render the variable as given. Only
    conversions that render identically are accepted: a number given as its
    own decimal text (``-e port=6380``), scalars as text, the boolean words
    every template reads through ``| bool``; a list must be a list and a
    mapping a mapping.
    """
    kind = str(option.get("type", "raw"))
    if kind == "list":
        if not isinstance(raw, list | tuple) or not isinstance(converted, list):
            return False
        item = {"type": option.get("elements", "raw")}
        return len(raw) == len(converted) and all(
            map(_renders_as, raw, [item] * len(raw), converted)
        )
    if kind == "dict":
        return isinstance(raw, Mapping)
    if raw == converted and type(raw) is type(converted):
        return True
    if kind == "int":
        return isinstance(raw, str) and str(converted) == raw
    if kind == "float":
        return isinstance(raw, str | int) and not isinstance(raw, bool)
    if kind == "bool":
        return isinstance(raw, str | int)
    return (
        kind in ("str", "raw", "path")
        and isinstance(raw, str | int | float)
        and not isinstance(raw, bool)
    )


_LEADING_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _with_sources(problem: str, sources: Mapping[str, list[str]]) -> str:
    """A problem with a value the wiring derives, also naming the inputs it is made from.

    The wiring (data/wiring.yml, ``ahsp_wiring_sources``) passes values from
    one role to another under the receiving role's names; the inventory set
    the inputs they come from, and those are what its user can change.
    """
    match = _LEADING_NAME.match(problem)
    made_from = sources.get(match.group(0), []) if match else []
    if not made_from:
        return problem
    return f"{problem} (the wiring makes {match.group(0)} from {', '.join(made_from)})"


_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "str": "a string",
    "list": "a list",
    "dict": "a mapping",
    "path": "a path",
}


def _kind_of(value: Any) -> str:
    """What a given value is, in the words of the messages."""
    for kind, types in (
        ("a boolean", bool),
        ("a string", str),
        ("a mapping", Mapping),
        ("a list", list | tuple),
        ("a number", int | float),
    ):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _coercions(
    spec: dict[str, Any], raw: dict[str, Any], converted: dict[str, Any]
) -> list[tuple[str, str]]:
    """Variables whose given value the templates would render differently from the checked one."""
    found = []
    for name, option in spec.items():
        if name not in raw or name not in converted:
            continue
        if not _renders_as(raw[name], option, converted[name]):
            kind = _KINDS.get(str(option.get("type", "raw")), str(option.get("type")))
            if option.get("type") == "list" and option.get("elements"):
                kind = f"a list (of {option['elements']} values)"
            given = _kind_of(raw[name])
            found.append(
                (name, f"{name}: must be given as {kind}, not as {given} (got {raw[name]!r})")
            )
    return found


def _spec_problems(spec: dict[str, Any], values: dict[str, Any], problems: list[str]) -> set[str]:
    """Check types against the argument spec; the names whose type is wrong.

    What is left renders as the checked value, so ``values`` takes the
    converted values, for the rules to check them in their type.
    """
    mistyped: set[str] = set()
    if not spec:
        return mistyped
    checked = ArgumentSpecValidator(spec).validate(
        {k: v for k, v in values.items() if k in spec}, validate_role_argument_spec=True
    )
    for error in checked.errors:
        problems.append(str(error))
        mistyped.update(name for name in spec if f"'{name}'" in str(error))
    for name, problem in _coercions(spec, values, checked.validated_parameters):
        problems.append(problem)
        mistyped.add(name)
    values.update(
        (name, value)
        for name, value in checked.validated_parameters.items()
        if name not in mistyped
    )
    return mistyped


def _rule_problems(name: str, rule: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """One variable against its rule: required unless the rule says otherwise."""
    if name not in values:
        return [f"{name}: is required"] if rule.get("required", True) else []
    try:
        return check_value(name, values[name], rule, values)
    except (TypeError, ValueError) as exc:
        return [f"{name}: cannot be checked ({exc})"]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _argument_spec(self, entry_point: str) -> dict[str, Any]:
        role = self._task._role
        if not entry_point or role is None:
            return {}
        spec_file = Path(role._role_path) / "meta" / "argument_specs.yml"
        if not spec_file.is_file():
            return {}
        specs = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
        try:
            return specs["argument_specs"][entry_point]["options"]
        except KeyError as exc:
            raise AnsibleError(f"{spec_file}: no options for entry point {entry_point!r}") from exc

    def _value(self, name: str, task_vars: dict[str, Any]) -> Any:
        return self._templar.template(task_vars[name])

    def _warn_renamed(self, renamed: list[dict[str, str]], task_vars: dict[str, Any]) -> None:
        """A deprecation warning for each old variable name the inventory still sets, naming the new one."""
        for item in renamed:
            if item["old"] in task_vars:
                display.deprecated(
                    f"{item['old']} is renamed {item['new']}: set {item['new']} instead "
                    f"(until then {item['new']} takes the value of {item['old']})",
                    version="2.0.0",
                    collection_name="ahsp.stack",
                )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        rules: dict[str, dict[str, Any]] = args.get("rules") or {}
        self._warn_renamed(args.get("renamed") or [], task_vars)
        spec = self._argument_spec(args.get("argument_spec", "main"))

        problems: list[str] = []
        values = self._values([*spec, *rules], task_vars, problems)
        mistyped = _spec_problems(spec, values, problems)
        for name, rule in rules.items():
            if name not in mistyped:  # else already reported with its type
                problems.extend(_rule_problems(name, rule, values))
        if not problems:
            problems.extend(self._condition_problems(args.get("conditions") or []))

        result["changed"] = False
        if problems:
            sources = self._templar.template(task_vars.get("ahsp_wiring_sources") or {})
            problems = [_with_sources(problem, sources) for problem in problems]
            result["failed"] = True
            result["problems"] = problems
            role = self._task._role.get_name() if self._task._role else "inputs"
            result["msg"] = (
                f"{role}: {len(problems)} invalid input(s), nothing was changed:\n- "
                + "\n- ".join(problems)
            )
        else:
            result["msg"] = f"{len(values)} inputs valid"
        return result

    def _values(
        self, names: list[str], task_vars: dict[str, Any], problems: list[str]
    ) -> dict[str, Any]:
        """Each defined variable's value as given; one that cannot be evaluated is a problem."""
        values: dict[str, Any] = {}
        for name in dict.fromkeys(names):
            if name not in task_vars:
                continue
            try:
                values[name] = self._value(name, task_vars)
            except AnsibleError as exc:
                problems.append(f"{name}: cannot be evaluated ({exc.message.splitlines()[0]})")
        return values

    def _condition_problems(self, conditions: list[dict[str, str]]) -> list[str]:
        """Each condition that is false, by its message (evaluated once every value passed its rule)."""
        problems = []
        for condition in conditions:
            try:
                ok = self._templar.evaluate_conditional(condition["that"])
            except AnsibleError as exc:
                problems.append(
                    f"{condition['msg']} (could not evaluate: {exc.message.splitlines()[0]})"
                )
                continue
            if not ok:
                problems.append(condition["msg"])
        return problems
