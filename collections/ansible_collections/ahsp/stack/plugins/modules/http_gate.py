#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: http_gate
short_description: Wait until a health URL answers 200 with the expected release, several times in a row
description:
  - Sends GET requests, each on a new connection, until I(consecutive) answers in a row have status 200 and a JSON
    body whose C(version) equals I(version) (when given), or until I(timeout) seconds have passed.
  - Several answers in a row, each on its own connection, so that every worker that accepts connections is likely
    to have answered; a worker still running the old release breaks the streak.
  - Fails with the last status and body when the deadline passes; changes nothing.
options:
  url: {description: The health URL., type: str, required: true}
  host_header: {description: Host header to send (the app only answers names it serves)., type: str, default: localhost}
  version: {description: Release id the answers must report; empty accepts any., type: str, default: ""}
  consecutive: {description: Successful answers needed in a row., type: int, default: 3}
  timeout: {description: Seconds to wait in all., type: float, default: 60}
  request_timeout: {description: Seconds to wait for one answer., type: float, default: 5}
  interval: {description: Seconds between failed attempts., type: float, default: 0.5}
author: AHSP infrastructure team
"""

RETURN = r"""
status: {description: Status of the last answer (-1 when none came)., returned: always, type: int}
body: {description: Last answer's body (at most 2000 characters)., returned: always, type: str}
version: {description: The version the last answer reported., returned: always, type: str}
attempts: {description: Requests sent., returned: always, type: int}
elapsed: {description: Seconds waited., returned: always, type: float}
"""

import http.client
import json
import time
import urllib.parse

from ansible.module_utils.basic import AnsibleModule


def probe(url: str, host: str, timeout: float) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers={"Host": host, "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read(100_000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return -1, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "host_header": {"type": "str", "default": "localhost"},
            "version": {"type": "str", "default": ""},
            "consecutive": {"type": "int", "default": 3},
            "timeout": {"type": "float", "default": 60},
            "request_timeout": {"type": "float", "default": 5},
            "interval": {"type": "float", "default": 0.5},
        },
        supports_check_mode=True,
    )
    p = module.params
    start = time.monotonic()
    deadline = start + p["timeout"]
    streak = attempts = 0
    status, body, version = -1, "", ""
    while True:
        attempts += 1
        status, body = probe(p["url"], p["host_header"], p["request_timeout"])
        try:
            version = str(json.loads(body).get("version", ""))
        except (ValueError, AttributeError):
            version = ""
        ok = status == 200 and (not p["version"] or version == p["version"])
        streak = streak + 1 if ok else 0
        if streak >= p["consecutive"]:
            break
        if time.monotonic() >= deadline:
            module.fail_json(
                msg=(
                    f"{p['url']} did not answer 200 with version {p['version'] or '(any)'} "
                    f"{p['consecutive']} times in a row within {p['timeout']:g} s: last status {status}, "
                    f"version {version or '?'}: {body[:500]}"
                ),
                status=status, body=body[:2000], version=version, attempts=attempts,
                elapsed=round(time.monotonic() - start, 3),
            )  # fmt: skip
        if not ok:
            time.sleep(p["interval"])
    module.exit_json(
        changed=False, status=status, body=body[:2000], version=version, attempts=attempts,
        elapsed=round(time.monotonic() - start, 3),
    )  # fmt: skip


if __name__ == "__main__":
    main()
