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
  url:
    description: The health URL (C(http://) only; its path is requested, a query string is not sent).
    type: str
    required: true
  host_header:
    description: Host header to send (the app only answers names it serves).
    type: str
    default: localhost
  version:
    description: Release id the answers must report; empty accepts any.
    type: str
    default: ""
  consecutive:
    description: Successful answers needed in a row.
    type: int
    default: 3
  timeout:
    description: Seconds to wait in all.
    type: float
    default: 60
  request_timeout:
    description: Seconds to wait for one answer.
    type: float
    default: 5
  interval:
    description: Seconds between failed attempts.
    type: float
    default: 0.5
attributes:
  check_mode:
    support: full
    description: Only sends GET requests; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Wait until the workers serve the release
  ahsp.stack.http_gate:
    url: http://127.0.0.1:8000/health/
    version: 3f9c2a1e
    consecutive: 3
    timeout: 60

- name: The live release answers (once is enough when nothing changed)
  ahsp.stack.http_gate:
    url: http://127.0.0.1:8000/health/
    version: 3f9c2a1e
    consecutive: 1
    timeout: 5
  register: answer
  failed_when: false

- name: Roll out when it did not
  ansible.builtin.set_fact:
    rollout_needed: "{{ answer.status != 200 or answer.version != '3f9c2a1e' }}"
"""

RETURN = r"""
status:
  description: HTTP status of the last answer (-1 when none came).
  returned: always
  type: int
  sample: 200
body:
  description: The last answer's body (at most 2000 characters), or the connection error when none came.
  returned: always
  type: str
  sample: '{"status": "ok", "version": "3f9c2a1e", "checks": {"database": "ok", "redis": "ok"}}'
version:
  description: The C(version) the last answer reported (empty when its body was not a JSON object with one).
  returned: always
  type: str
  sample: 3f9c2a1e
attempts:
  description: Requests sent.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds waited.
  returned: always
  type: float
  sample: 0.042
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
