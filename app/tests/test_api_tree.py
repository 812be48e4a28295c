"""GET /api/project/<id>/list-pekerjaan/tree/: contents and every way of (not) authenticating."""

from __future__ import annotations

import hashlib
from io import StringIO
from typing import Any

import pytest
from detail_project.models import ApiToken
from django.core.management import call_command
from django.test import Client

from tests.api import api_token, bearer_header, tree_url

pytestmark = pytest.mark.django_db


def test_session_user_gets_nested_tree_with_decimal_totals(
    client: Client, owner: Any, project: Any
) -> None:
    client.force_login(owner)
    response = client.get(tree_url(project.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["project"] == {"id": project.pk, "name": "Gedung Kantor"}
    assert [c["name"] for c in body["classifications"]] == [
        "Pekerjaan Persiapan",
        "Pekerjaan Struktur",
    ]
    prep, struct = body["classifications"]
    (clearing,) = prep["sub_classifications"]
    assert clearing["name"] == "Pembersihan"
    first, second = clearing["items"]
    assert first == {
        "id": first["id"],
        "code": "A.1",
        "name": "Pembersihan lapangan",
        "unit": "m2",
        "volume": "120.5000",
        "unit_price": "15000.00",
        "total": "1807500.00",
    }
    # 0.3333 * 10000.01 = 3333.003333 → rounded half-up to cents.
    assert second["total"] == "3333.00"
    assert clearing["total"] == "1810833.00"
    assert prep["total"] == "1810833.00"
    assert struct["total"] == "0.00"
    assert struct["sub_classifications"][0]["items"] == []
    assert body["total"] == "1810833.00"


def test_bearer_token_authenticates(client: Client, owner: Any, project: Any) -> None:
    raw = api_token("owner")
    response = client.get(tree_url(project.pk), headers=bearer_header(raw))
    assert response.status_code == 200
    assert response.json()["total"] == "1810833.00"


def test_token_is_stored_only_as_sha256(owner: Any) -> None:
    raw = api_token("owner")
    token = ApiToken.objects.get(user=owner)
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.key_hash, token.prefix, token.name}
    assert len(raw) >= 40


def test_create_api_token_unknown_user_fails() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "nobody", stdout=StringIO())


def test_anonymous_gets_json_401_not_a_redirect(client: Client, project: Any) -> None:
    response = client.get(tree_url(project.pk))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Location" not in response
    assert response.json()["error"] == "unauthorized"


def test_invalid_bearer_token_is_401_invalid_token(
    client: Client, owner: Any, project: Any
) -> None:
    client.force_login(owner)  # a bad token is not rescued by a valid session
    response = client.get(tree_url(project.pk), headers=bearer_header("nope"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_inactive_users_token_is_rejected(client: Client, owner: Any, project: Any) -> None:
    raw = api_token("owner")
    owner.is_active = False
    owner.save()
    response = client.get(tree_url(project.pk), headers=bearer_header(raw))
    assert response.status_code == 401


@pytest.mark.parametrize("auth", ["session", "bearer"])
def test_other_users_project_is_404(
    client: Client, other_user: Any, project: Any, auth: str
) -> None:
    headers = {}
    if auth == "session":
        client.force_login(other_user)
    else:
        headers = bearer_header(api_token("other"))
    response = client.get(tree_url(project.pk), headers=headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "Gedung" not in response.content.decode()


def test_missing_project_is_404(client: Client, owner: Any) -> None:
    client.force_login(owner)
    assert client.get(tree_url(999_999)).status_code == 404


def test_wrong_method_is_json_405(client: Client, owner: Any, project: Any) -> None:
    client.force_login(owner)
    response = client.delete(tree_url(project.pk))
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
