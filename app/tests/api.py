"""The work-item tree API as tests call it: its URLs, a token, the bearer header."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command


def tree_url(project_id: int) -> str:
    return f"/api/project/{project_id}/list-pekerjaan/tree/"


def save_url(project_id: int) -> str:
    return f"/api/project/{project_id}/list-pekerjaan/save/"


def api_token(username: str) -> str:
    """A new token for ``username``, as ``manage.py create_api_token`` prints it (once)."""
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip()


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
