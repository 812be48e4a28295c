"""The options every ahsp.stack module that talks to Redis takes to connect and log in."""

from __future__ import annotations


class ModuleDocFragment:
    """``extends_documentation_fragment: ahsp.stack.redis_connection``."""

    DOCUMENTATION = r"""
options:
  host:
    description: Address of the server.
    type: str
    default: 127.0.0.1
  port:
    description: TCP port.
    type: int
    default: 6379
  unix_socket:
    description: Unix socket path; when set it is used instead of O(host) and O(port).
    type: str
    default: ""
  login_user:
    description: ACL user to authenticate as (none or empty for requirepass mode).
    type: str
  login_password:
    description: Password (never logged); none or empty to send no C(AUTH).
    type: str
"""
