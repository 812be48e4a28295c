"""ensure_admin: idempotent superuser management for playbooks (password on stdin)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError

from tests.helpers import command_output

pytestmark = pytest.mark.django_db


def _run(monkeypatch, password: str, *args: str) -> str:
    return command_output(monkeypatch, "ensure_admin", *args, stdin=password + "\n")


def test_creates_then_reports_unchanged(monkeypatch):
    assert _run(monkeypatch, "a-long-admin-pass", "boss", "--email", "b@example.com") == "created"
    assert _run(monkeypatch, "a-long-admin-pass", "boss", "--email", "b@example.com") == "unchanged"
    user = get_user_model().objects.get(username="boss")
    assert user.is_superuser
    assert user.is_staff
    assert user.check_password("a-long-admin-pass")


def test_password_change_is_an_update(monkeypatch):
    _run(monkeypatch, "a-long-admin-pass", "boss")
    assert _run(monkeypatch, "another-long-pass", "boss") == "updated"
    assert get_user_model().objects.get(username="boss").check_password("another-long-pass")


def test_short_password_refused(monkeypatch):
    with pytest.raises(CommandError, match="at least 12"):
        _run(monkeypatch, "short", "boss")
    assert not get_user_model().objects.filter(username="boss").exists()
