"""Format rules for role inputs: what a value must look like to be written safely into its file.

Used by the ``ahsp.stack.check_inputs`` action on the controller. A rule names
a format (below) and, optionally, bounds. Each check returns human messages
that start with the variable's name, say what is needed and, unless the rule
is secret, what was given.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Directories that belong to the base system or to the filesystem hierarchy:
# a role that chowns or chmods one of them breaks the host for everyone else.
SYSTEM_DIRS = frozenset(
    {
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
        "/lost+found", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/run/lock", "/sbin",
        "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib64",  # noqa: S108
        "/usr/libexec", "/usr/local", "/usr/local/bin", "/usr/local/etc", "/usr/local/lib",
        "/usr/local/sbin", "/usr/local/share", "/usr/sbin", "/usr/share", "/usr/src", "/var",
        "/var/backups", "/var/cache", "/var/lib", "/var/local", "/var/lock", "/var/log",
        "/var/mail", "/var/opt", "/var/run", "/var/spool", "/var/tmp", "/etc/default",  # noqa: S108
        "/etc/systemd", "/etc/systemd/system", "/etc/ssl", "/etc/logrotate.d", "/etc/sysctl.d",
        "/etc/tmpfiles.d", "/lib/systemd", "/usr/lib/systemd",
    }
)  # fmt: skip
# Virtual or boot file systems: nothing of ours lives below them.
SYSTEM_TREES = ("/proc/", "/sys/", "/dev/", "/boot/")

# A path component: no whitespace, quotes, `$`, `%`, `\`, `:` or `;`, so the
# path is safe in a systemd unit, a shell word, a colon-separated list and a
# redis.conf or postgresql.conf value alike.
_PATH = re.compile(r"^(/[A-Za-z0-9._+@-]+)+$")
_FILENAME = re.compile(r"^[A-Za-z0-9._+@-]+$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)

PATTERNS: dict[str, tuple[str, str]] = {
    # format: (regular expression, what it means for the message)
    "unix_name": (
        r"^[a-z_][a-z0-9_-]{0,31}$",
        "a user or group name (useradd rules: lower case letter or _, then letters, digits, _ or -; at most 32)",
    ),
    "unit_name": (
        r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$",
        "a systemd unit name without suffix (letters, digits, _ . -)",
    ),
    "env_key": (
        r"^[A-Za-z_][A-Za-z0-9_]*$",
        "an environment variable name (letters, digits and _, not starting with a digit)",
    ),
    "redis_key": (
        r"^[a-z][a-z0-9-]*$",
        "a redis.conf directive name (lower case letters, digits and -)",
    ),
    "pg_setting": (
        r"^[a-z_][a-z0-9_]*([.][a-z_][a-z0-9_]*)?$",
        "a PostgreSQL setting name (lower case letters, digits and _, optionally class.name)",
    ),
    "pg_identifier": (
        r"^[a-z_][a-z0-9_]{0,62}$",
        "a PostgreSQL identifier (lower case letters, digits and _, at most 63)",
    ),
    "redis_memory": (
        r"^(0|[1-9][0-9]*)(b|k|kb|m|mb|g|gb)?$",
        'a Redis memory value: a number with an optional unit b, k, kb, m, mb, g or gb (for example "256mb")',
    ),
    "pg_memory": (
        r"^[1-9][0-9]*(kB|MB|GB|TB)$",
        'a PostgreSQL memory value: a number with a unit kB, MB, GB or TB (for example "128MB")',
    ),
    "redis_save_point": (
        r"^[1-9][0-9]* [0-9]+$",
        'an RDB save point "SECONDS CHANGES" (for example "900 1")',
    ),
    "redis_url": (
        r"^rediss?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/[0-9]{1,2}$",
        "a Redis URL redis://HOST:PORT/DB without credentials",
    ),
    "allowed_host": (
        r"^(\*|\.?[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$",
        "a host name, .domain, * or [IPv6] as Django's ALLOWED_HOSTS takes it",
    ),
    "origin": (
        r"^https?://(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$",
        "an origin scheme://host[:port] (for example https://ahsp.example.com)",
    ),
}


def _show(value: Any, secret: bool) -> str:
    return "" if secret else f" (got {value!r})"


def _is_line(value: str) -> bool:
    return not any(ch in value for ch in ("\n", "\r", "\0"))


def normalised_path_problem(value: str) -> str | None:
    if not value.startswith("/"):
        return "an absolute path"
    if value == "/":
        return None  # normalised, and refused as the system's root by system_dir_problem
    if not _PATH.match(value) or value.endswith("/"):
        return "a normalised absolute path of letters, digits and . _ + @ - (no spaces, quotes, $, %, :, ; or trailing /)"
    if any(part in (".", "..") for part in value.split("/")):
        return "a normalised absolute path (no . or .. components)"
    return None


def system_dir_problem(value: str) -> str | None:
    if value in SYSTEM_DIRS or value == "/":
        return "a directory of its own, not one that belongs to the base system"
    if value.startswith(SYSTEM_TREES):
        return "a directory outside /proc, /sys, /dev and /boot"
    return None


def _text(value: Any, rule: Mapping[str, Any]) -> str | None:
    if isinstance(value, bool | int | float):
        return None
    if not isinstance(value, str):
        return "text"
    if not _is_line(value):
        return "one line of text (no newline, carriage return or NUL)"
    if len(value) < int(rule.get("min_length", 0)):
        return f"at least {rule['min_length']} characters"
    return None


def _secret(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return "a string"
    minimum = int(rule.get("min_length", 1))
    if len(value) < minimum:
        return f"at least {minimum} characters"
    if any(not ("!" <= ch <= "~") for ch in value):
        return "printable ASCII without spaces (generate one with: openssl rand -hex 32)"
    return None


def _owned_dir(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return "a path"
    return normalised_path_problem(value) or system_dir_problem(value)


def _path(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return "a path"
    return normalised_path_problem(value)


def _file_in_owned_dir(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return "a path"
    problem = normalised_path_problem(value)
    if problem:
        return problem
    parent = value.rsplit("/", 1)[0] or "/"
    if system_dir_problem(parent):
        return (
            f"a file in a directory of its own (its directory {parent} belongs to the base system)"
        )
    return None


def _filename(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str) or not _FILENAME.match(value) or value in (".", ".."):
        return "a plain file name (letters, digits and . _ + @ -, no /)"
    return None


def _ip(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return "an IP address"
    text = value[1:] if rule.get("optional_prefix") and value.startswith("-") else value
    if rule.get("wildcard") and text == "*":
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        extra = ' (a leading "-" marks an optional one)' if rule.get("optional_prefix") else ""
        return "an IPv4 or IPv6 address" + extra
    return None


def _cidr(value: Any, rule: Mapping[str, Any]) -> str | None:
    try:
        ipaddress.ip_network(str(value))
    except ValueError:
        return "an IP address or CIDR network without host bits (for example 10.0.0.0/24, not 10.0.0.1/24)"
    return None


def _listen(value: Any, rule: Mapping[str, Any]) -> str | None:
    """IP:PORT or [IPv6]:PORT, what a systemd socket's ListenStream= takes."""
    match = re.match(
        r"^(\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>[0-9]{1,5})$", str(value)
    )
    what = "IP:PORT or [IPv6]:PORT with a port from 1 to 65535"
    if not match or not 1 <= int(match["port"]) <= 65535:
        return what
    try:
        ipaddress.ip_address(match["v6"] or match["v4"])
    except ValueError:
        return what
    return None


def _hostname(value: Any, rule: Mapping[str, Any]) -> str | None:
    text = str(value)
    if _HOSTNAME.match(text):
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return "a host name or IP address"
    return None


def _pattern(name: str) -> Callable[[Any, Mapping[str, Any]], str | None]:
    regex, what = PATTERNS[name]
    compiled = re.compile(regex, re.IGNORECASE if name == "redis_memory" else 0)

    def check(value: Any, rule: Mapping[str, Any]) -> str | None:
        return None if isinstance(value, str) and compiled.match(value) else what

    return check


def _regex(value: Any, rule: Mapping[str, Any]) -> str | None:
    return (
        None
        if re.match(rule["pattern"], str(value))
        else rule.get("what", f"matching {rule['pattern']}")
    )


FORMATS: dict[str, Callable[[Any, Mapping[str, Any]], str | None]] = {
    "text": _text,
    "secret": _secret,
    "owned_dir": _owned_dir,
    "path": _path,
    "file_in_owned_dir": _file_in_owned_dir,
    "filename": _filename,
    "ip": _ip,
    "cidr": _cidr,
    "listen": _listen,
    "hostname": _hostname,
    "regex": _regex,
    **{name: _pattern(name) for name in PATTERNS},
}


def check_value(
    name: str, value: Any, rule: Mapping[str, Any], values: Mapping[str, Any]
) -> list[str]:
    """Every problem of ``value`` (the variable ``name``) against ``rule``; [] when it is fine."""
    secret = bool(rule.get("secret"))
    if rule.get("allow_empty") and value in ("", [], {}, None):
        return []
    problems: list[str] = []

    if "min" in rule or "max" in rule:
        low, high = rule.get("min"), rule.get("max")
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{name}: must be an integer{_show(value, secret)}"]
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"from {low} to {high}"
                if low is not None and high is not None
                else (f"at least {low}" if low is not None else f"at most {high}")
            )
            problems.append(f"{name}: must be {bounds}{_show(value, secret)}")

    fmt = rule.get("format")
    if fmt:
        checker = FORMATS.get(fmt)
        if checker is None:
            raise ValueError(f"rule for {name}: unknown format {fmt!r}")
        if isinstance(value, str) and not _is_line(value):
            problems.append(
                f"{name}: must be one line of text (no newline, carriage return or NUL)"
            )
        elif (problem := checker(value, rule)) is not None:
            problems.append(f"{name}: must be {problem}{_show(value, secret)}")

    if "items" in rule:
        if not isinstance(value, Sequence) or isinstance(value, str):
            return [*problems, f"{name}: must be a list"]
        if len(value) < int(rule.get("min_items", 0)):
            problems.append(
                f"{name}: must have at least {rule['min_items']} entr{'y' if rule['min_items'] == 1 else 'ies'}"
            )
        for index, item in enumerate(value):
            problems.extend(check_value(f"{name}[{index}]", item, rule["items"], values))

    if "keys" in rule or "values" in rule:
        if not isinstance(value, Mapping):
            return [*problems, f"{name}: must be a mapping"]
        key_rule = rule.get("keys", {})
        managed = {str(k).strip().casefold() for k in key_rule.get("not_in", [])}
        for key, item in value.items():
            label = f"{name}[{key!r}]"
            key_text = str(key)
            if key_text != key_text.strip():
                problems.append(f"{label}: the name has leading or trailing spaces")
            elif key_text.strip().casefold() in managed:
                problems.append(
                    f"{label}: the role sets {key_text.strip()} itself; use the role's own variable instead"
                )
            elif key_rule:
                problems.extend(
                    check_value(
                        label,
                        key_text,
                        {k: v for k, v in key_rule.items() if k != "not_in"},
                        values,
                    )
                )
            if "values" in rule:
                problems.extend(check_value(label, item, rule["values"], values))
    return problems
