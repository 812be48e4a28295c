"""ensure_database: the playbook's migration check and admin account in one Django start."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext

from tests.helpers import command_output

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-admin-pass"


def _run(monkeypatch: pytest.MonkeyPatch, stdin: str, *args: str) -> str:
    return command_output(monkeypatch, "ensure_database", *args, stdin=stdin)


def _admin(monkeypatch: pytest.MonkeyPatch, password: str = PASSWORD) -> str:
    return _run(monkeypatch, password + "\n", "--admin", "boss", "--email", "b@example.com")


@pytest.fixture
def pending() -> tuple[str, str]:
    """One leaf migration forgotten (inside the test's transaction): migrate has work to do."""
    leaf = sorted(MigrationLoader(connection).graph.leaf_nodes())[0]
    MigrationRecorder(connection).record_unapplied(*leaf)
    with pytest.raises(SystemExit):  # `migrate --check` agrees: migrations are unapplied
        call_command("migrate", check_unapplied=True, verbosity=0)
    return leaf


def test_migrated_database_creates_then_reports_unchanged(monkeypatch):
    assert _admin(monkeypatch) == "created"
    assert _admin(monkeypatch) == "unchanged"
    user = get_user_model().objects.get(username="boss")
    assert (user.is_superuser, user.is_staff, user.email) == (True, True, "b@example.com")
    assert user.check_password(PASSWORD)


def test_password_change_is_an_update(monkeypatch):
    _admin(monkeypatch)
    assert _admin(monkeypatch, "another-long-pass") == "updated"
    assert get_user_model().objects.get(username="boss").check_password("another-long-pass")


def test_without_admin_reads_no_stdin_and_writes_nothing(monkeypatch):
    """How the playbook calls it in check mode: the database is only read."""
    with CaptureQueriesContext(connection) as queries:
        assert _run(monkeypatch, "") == "unchanged"
    written = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert written == []


@pytest.mark.usefixtures("pending")
def test_pending_migrations_leave_the_admin_alone(monkeypatch):
    assert _admin(monkeypatch) == "pending"
    assert _run(monkeypatch, "") == "pending"
    assert not get_user_model().objects.filter(username="boss").exists()


def test_once_migrated_the_admin_is_ensured(monkeypatch, pending):
    assert _admin(monkeypatch) == "pending"
    # What `migrate` records (its schema changes cannot run inside this test's transaction).
    MigrationRecorder(connection).record_applied(*pending)
    assert _admin(monkeypatch) == "created"


def test_short_password_refused_before_anything(monkeypatch):
    with pytest.raises(CommandError, match="at least 12"):
        _admin(monkeypatch, "short")
    assert not get_user_model().objects.filter(username="boss").exists()
