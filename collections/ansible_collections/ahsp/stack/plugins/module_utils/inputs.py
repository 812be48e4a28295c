"""Format rules for role inputs: what a value must look like to be written safely into its file.

Used by the ``ahsp.stack.check_inputs`` action on the controller. A rule names
a format (below) and, optionally, bounds: ``min``/``max`` for integers,
``gt``/``lt`` (exclusive) for any number. ``fields`` checks a mapping with
named fields, each with its own rule (``required: false`` for an optional
one; a field no rule names is refused). Each check returns human messages
that start with the variable's name, say what is needed and, unless the rule
is secret, what was given.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Where a role may create and own directories: below one of these roots,
# followed by one of the role's own names (``names`` in the rule), for example
# /var/lib/redis or /srv/ahsp. Anything else is refused, so a service user
# never owns a directory that root reads or executes from (/etc/cron.d,
# /usr/local/bin, a home directory). An operator extends the list knowingly
# with ``extra`` (the roles pass ``ahsp_owned_dirs_extra``).
OWNED_DIR_ROOTS = ("/srv", "/var/lib", "/var/log", "/var/cache", "/var/spool", "/etc", "/run")

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
        return None  # normalised; no role may own it (owned_dir_problem)
    if not _PATH.match(value) or value.endswith("/"):
        return "a normalised absolute path of letters, digits and . _ + @ - (no spaces, quotes, $, %, :, ; or trailing /)"
    if any(part in (".", "..") for part in value.split("/")):
        return "a normalised absolute path (no . or .. components)"
    return None


def owned_dir_roots(rule: Mapping[str, Any]) -> list[str]:
    """The directories (and their trees) a rule lets its role own."""
    names = [str(name) for name in rule.get("names") or []]
    roots = [f"{root}/{name}" for root in OWNED_DIR_ROOTS for name in names]
    return roots + [str(extra) for extra in rule.get("extra") or []]


def owned_dir_problem(value: str, rule: Mapping[str, Any]) -> str | None:
    """None when ``value`` is one of the rule's roots or below one of them."""
    roots = owned_dir_roots(rule)
    if any(value == root or value.startswith(root + "/") for root in roots):
        return None
    allowed = ", ".join(roots) if roots else "none configured"
    return (
        f"a directory at or below one this role may own ({allowed}; "
        "list further trees in ahsp_owned_dirs_extra)"
    )


def _owned_tree(value: Any, rule: Mapping[str, Any]) -> str | None:
    """A tree an operator lets the roles own: normalised, at least two levels deep."""
    if not isinstance(value, str):
        return "a path"
    problem = normalised_path_problem(value)
    if problem is None and value.count("/") < 2:
        return "a directory at least two levels deep (such as /opt/ahsp), not a top-level one"
    return problem


def _text(value: Any, rule: Mapping[str, Any]) -> str | None:
    if isinstance(value, bool | int | float):
        return None
    if not isinstance(value, str):
        return "text"
    if not _is_line(value):
        return "one line of text (no newline, carriage return or NUL)"
    if len(value) < int(rule.get("min_length", 0)):
        return f"at least {rule['min_length']} characters"
    if rule.get("trimmed") and value != value.strip():
        return "text without leading or trailing white space (its reader strips it)"
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
    return normalised_path_problem(value) or owned_dir_problem(value, rule)


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
    problem = owned_dir_problem(parent, rule)
    return f"a file in {problem}, not in {parent}" if problem else None


def _filename(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str) or not _FILENAME.match(value) or value in (".", ".."):
        return "a plain file name (letters, digits and . _ + @ -, no /)"
    return None


def canonical_address(text: str) -> str | None:
    """The address in the one form every reader takes alike, or None when it is not one.

    Python's ``ipaddress`` also accepts forms that pg_hba.conf, nginx, Redis and
    gunicorn read differently or not at all: an IPv6 zone index
    (``fe80::1%eth0``, whose zone may even hold spaces) and non-canonical
    spellings. Only the canonical spelling is accepted, so the value checked is
    the value every file renders.
    """
    if "%" in text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _ip(value: Any, rule: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return "an IP address"
    text = value[1:] if rule.get("optional_prefix") and value.startswith("-") else value
    if rule.get("wildcard") and text == "*":
        return None
    canonical = canonical_address(text)
    if canonical == text:
        return None
    extra = ' (a leading "-" marks an optional one)' if rule.get("optional_prefix") else ""
    if canonical is not None:
        return f"an IP address written in canonical form ({canonical}){extra}"
    return "an IPv4 or IPv6 address in canonical form, without a zone index" + extra


def _cidr(value: Any, rule: Mapping[str, Any]) -> str | None:
    """ADDRESS or ADDRESS/PREFIXLEN, canonical, without host bits or a netmask."""
    what = (
        "an IP address or CIDR network ADDRESS/PREFIXLEN in canonical form, without host bits, "
        "a netmask or a zone index (for example 10.0.0.0/24 or fd00::/64)"
    )
    if not isinstance(value, str) or "%" in value:
        return what
    length = value.partition("/")[2]
    if length and not re.fullmatch(r"0|[1-9][0-9]{0,2}", length):
        return what
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return what
    if value not in (str(network), str(network.network_address) if not length else None):
        return f"{what}; write it as {network}"
    return None


def _listen(value: Any, rule: Mapping[str, Any]) -> str | None:
    """IP:PORT or [IPv6]:PORT, what a systemd socket's ListenStream= takes."""
    match = re.match(
        r"^(\[(?P<v6>[0-9a-f:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>[1-9][0-9]{0,4})$", str(value)
    )
    what = "IP:PORT or [IPv6]:PORT with a canonical address and a port from 1 to 65535"
    if not match or not 1 <= int(match["port"]) <= 65535:
        return what
    address = match["v6"] or match["v4"]
    if canonical_address(address) != address or (match["v6"] and ":" not in address):
        return what
    return None


def _hostname(value: Any, rule: Mapping[str, Any]) -> str | None:
    text = str(value)
    # A last label of digits or 0x-hex is an address to getaddrinfo (inet_aton
    # reads "0x7f.1" and "010.0.0.1" as 127.0.0.1 and 8.0.0.1), never a name.
    numeric_tail = re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", text.rsplit(".", 1)[-1], re.IGNORECASE)
    if _HOSTNAME.match(text) and not numeric_tail:
        return None
    if canonical_address(text) == text:
        return None
    return "a host name, or an IP address in canonical form"


def _host_port(value: Any, rule: Mapping[str, Any]) -> str | None:
    """HOST:PORT or [IPv6]:PORT, the host a name or a canonical address (a scrape target, a smarthost)."""
    what = "HOST:PORT (a host name or canonical IP address, [IPv6] in brackets) with a port from 1 to 65535"
    match = re.match(
        r"^(\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>[1-9][0-9]{0,4})$", str(value)
    )
    if not match or int(match["port"]) > 65535:
        return what
    if match["v6"] is not None:
        ok = ":" in match["v6"] and canonical_address(match["v6"]) == match["v6"]
    else:
        ok = ":" not in match["host"] and _hostname(match["host"], rule) is None
    return None if ok else what


# Prometheus's duration grammar (model.ParseDuration): whole numbers, each unit
# at most once and in this order; "1.5m", "15 s" and "1m1h" are refused.
_PROMETHEUS_DURATION = re.compile(
    r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$"
)
_DURATION_UNIT_MS = (365 * 86400000, 7 * 86400000, 86400000, 3600000, 60000, 1000, 1)
# Prometheus holds a duration in nanoseconds in a signed 64-bit integer.
_MAX_NANOSECONDS = 2**63 - 1


def prometheus_duration_ms(text: str) -> int | None:
    """The duration in milliseconds, or None when Prometheus would not read ``text`` as one."""
    match = _PROMETHEUS_DURATION.match(text) if text else None
    if match is None:
        return None
    numbers = match.groups()[1::2]
    return sum(int(n) * unit for n, unit in zip(numbers, _DURATION_UNIT_MS, strict=True) if n)


def _prometheus_duration(value: Any, rule: Mapping[str, Any]) -> str | None:
    what = (
        "a Prometheus duration above zero: whole numbers with the units y, w, d, h, m, s, ms, "
        'each at most once and in that order, no spaces or fractions (for example "15s" or "1h30m")'
    )
    milliseconds = prometheus_duration_ms(value) if isinstance(value, str) else None
    if not milliseconds:
        return what
    if milliseconds * 1_000_000 > _MAX_NANOSECONDS:
        return "a Prometheus duration of at most 292 years"
    return None


_SIZE = re.compile(r"^([0-9]+)(B|KB|MB|GB|TB|PB|EB)$")
_SIZE_UNIT_EXPONENT = {"B": 0, "KB": 10, "MB": 20, "GB": 30, "TB": 40, "PB": 50, "EB": 60}


def _prometheus_size(value: Any, rule: Mapping[str, Any]) -> str | None:
    """A byte size as Prometheus reads --storage.tsdb.retention.size (units are powers of 1024)."""
    what = 'a size above zero: a whole number and one of the units B, KB, MB, GB, TB, PB, EB (for example "10GB")'
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        return what
    if int(match[1]) << _SIZE_UNIT_EXPONENT[match[2]] > _MAX_NANOSECONDS:
        return "a size below 8EB"
    return None


# http(s)://HOST[:PORT][/PATH][?QUERY]: no user name or password (no "@"
# anywhere), no fragment, a "%" only as an escape of two hex digits.
_HTTP_URL = re.compile(
    r"^https?://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:(?P<port>[1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9._~%+=&,;:/-]*)?(\?[A-Za-z0-9._~%+=&,;:/?-]*)?$"
)


def _http_url(value: Any, rule: Mapping[str, Any]) -> str | None:
    what = (
        "an http:// or https:// URL without a user name or password (no @), fragment, spaces "
        "or quotes, with a host name or canonical IP address and a port from 1 to 65535"
    )
    match = _HTTP_URL.match(value) if isinstance(value, str) else None
    if match is None or re.search(r"%(?![0-9A-Fa-f]{2})", value):
        return what
    if match["port"] and int(match["port"]) > 65535:
        return what
    host = match["host"]
    if host.startswith("["):
        ok = canonical_address(host[1:-1]) == host[1:-1]
    else:
        ok = _hostname(host, rule) is None
    return None if ok else what


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
    "owned_tree": _owned_tree,
    "path": _path,
    "file_in_owned_dir": _file_in_owned_dir,
    "filename": _filename,
    "ip": _ip,
    "cidr": _cidr,
    "listen": _listen,
    "hostname": _hostname,
    "host_port": _host_port,
    "prometheus_duration": _prometheus_duration,
    "prometheus_size": _prometheus_size,
    "http_url": _http_url,
    "regex": _regex,
    **{name: _pattern(name) for name in PATTERNS},
}


def _without(rule: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k not in names}


def _allowed_key_problems(label: str, key: str, key_rule: Mapping[str, Any]) -> list[str]:
    """A mapping key must match one of the rule's ``allowed`` patterns (fnmatch), when it has any.

    ``allowed_by`` names the variables the list comes from, for the message:
    the role's vetted list and the one an operator extends knowingly.
    """
    allowed = key_rule.get("allowed")
    if allowed is None or any(fnmatch.fnmatchcase(key, str(p)) for p in allowed):
        return []
    return [
        f"{label}: {key} is not a setting this map may set (the vetted ones are listed in "
        f"{key_rule.get('allowed_by', 'the role')}; settings that load code, run commands, enable "
        "admin commands or log statements are left out on purpose)"
    ]


def check_value(
    name: str, value: Any, rule: Mapping[str, Any], values: Mapping[str, Any]
) -> list[str]:
    """Every problem of ``value`` (the variable ``name``) against ``rule``; [] when it is fine."""
    if rule.get("allow_empty") and value in ("", [], {}, None):
        return []
    secret = bool(rule.get("secret"))
    if "min" in rule or "max" in rule:
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{name}: must be an integer{_show(value, secret)}"]
        problems = _bounds_problems(name, value, rule, secret)
    elif "gt" in rule or "lt" in rule:
        problems = _number_problems(name, value, rule, secret)
    else:
        problems = []
    if rule.get("format"):
        problems.extend(_format_problems(name, value, rule, secret))
    if "items" in rule:
        if not isinstance(value, Sequence) or isinstance(value, str):
            return [*problems, f"{name}: must be a list"]
        problems.extend(_list_problems(name, value, rule, values))
    if "keys" in rule or "values" in rule:
        if not isinstance(value, Mapping):
            return [*problems, f"{name}: must be a mapping"]
        problems.extend(_mapping_problems(name, value, rule, values))
    if "fields" in rule:
        if not isinstance(value, Mapping):
            return [
                *problems,
                f"{name}: must be a mapping with the fields {', '.join(rule['fields'])}",
            ]
        problems.extend(_field_problems(name, value, rule, values))
    return problems


def _number_problems(name: str, value: Any, rule: Mapping[str, Any], secret: bool) -> list[str]:
    """A number (integer or decimal) outside the rule's exclusive bounds ``gt`` and ``lt``."""
    low, high = rule.get("gt"), rule.get("lt")
    bounds = " and ".join(
        text for text in (
            f"above {low}" if low is not None else "",
            f"below {high}" if high is not None else "",
        ) if text
    )  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return [f"{name}: must be a number {bounds}{_show(value, secret)}"]
    if (low is None or value > low) and (high is None or value < high):
        return []
    return [f"{name}: must be {bounds}{_show(value, secret)}"]


def _field_problems(
    name: str, value: Mapping[Any, Any], rule: Mapping[str, Any], values: Mapping[str, Any]
) -> list[str]:
    """Each named field against its rule; a missing required field, and a field no rule names."""
    fields: Mapping[str, Mapping[str, Any]] = rule["fields"]
    problems = [
        f"{name}: has a field {key!r} that is not one of {', '.join(fields)}"
        for key in value
        if key not in fields
    ]
    for field, field_rule in fields.items():
        if field in value:
            problems.extend(check_value(f"{name}.{field}", value[field], field_rule, values))
        elif field_rule.get("required", True):
            problems.append(f"{name}.{field}: is required")
    return problems


def _bounds_problems(name: str, value: int, rule: Mapping[str, Any], secret: bool) -> list[str]:
    """An integer outside the rule's ``min``/``max``."""
    low, high = rule.get("min"), rule.get("max")
    if (low is None or value >= low) and (high is None or value <= high):
        return []
    if low is not None and high is not None:
        bounds = f"from {low} to {high}"
    else:
        bounds = f"at least {low}" if low is not None else f"at most {high}"
    return [f"{name}: must be {bounds}{_show(value, secret)}"]


def _format_problems(name: str, value: Any, rule: Mapping[str, Any], secret: bool) -> list[str]:
    """A value its ``format`` does not accept (every format wants one line of text first)."""
    checker = FORMATS.get(rule["format"])
    if checker is None:
        raise ValueError(f"rule for {name}: unknown format {rule['format']!r}")
    if isinstance(value, str) and not _is_line(value):
        return [f"{name}: must be one line of text (no newline, carriage return or NUL)"]
    problem = checker(value, rule)
    return [] if problem is None else [f"{name}: must be {problem}{_show(value, secret)}"]


def _list_problems(
    name: str, value: Sequence[Any], rule: Mapping[str, Any], values: Mapping[str, Any]
) -> list[str]:
    """Too few entries, and each entry against the ``items`` rule."""
    problems = []
    if len(value) < int(rule.get("min_items", 0)):
        count = rule["min_items"]
        problems.append(f"{name}: must have at least {count} entr{'y' if count == 1 else 'ies'}")
    for index, item in enumerate(value):
        problems.extend(check_value(f"{name}[{index}]", item, rule["items"], values))
    return problems


def _mapping_problems(
    name: str, value: Mapping[Any, Any], rule: Mapping[str, Any], values: Mapping[str, Any]
) -> list[str]:
    """Each key against the ``keys`` rule (names the role sets itself refused), each value against ``values``."""
    problems = []
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
                check_value(label, key_text, _without(key_rule, "not_in", "allowed"), values)
                or _allowed_key_problems(label, key_text, key_rule)
            )
        if "values" in rule:
            problems.extend(check_value(label, item, rule["values"], values))
    return problems
