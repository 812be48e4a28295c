"""Migrations are committed and complete; the admin pages for the domain render."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def test_no_missing_migrations() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # SystemExit(1) if missing


@pytest.mark.parametrize(
    "model", ["project", "classification", "subclassification", "workitem", "apitoken"]
)
def test_admin_changelists_render(admin_client: Client, project: Any, model: str) -> None:
    response = admin_client.get(f"/admin/detail_project/{model}/")
    assert response.status_code == 200


def test_admin_project_change_page_shows_inline(admin_client: Client, project: Any) -> None:
    response = admin_client.get(f"/admin/detail_project/project/{project.pk}/change/")
    assert response.status_code == 200
    assert "Pekerjaan Persiapan" in response.content.decode()


def test_admin_requires_login(client: Client) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
