"""POST /api/project/<id>/list-pekerjaan/save/: replace semantics, validation, CSRF, atomicity."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from detail_project.models import Classification, SubClassification, WorkItem
from django.test import Client

from tests.api import save_url, tree_url

pytestmark = pytest.mark.django_db

VALID_TREE: dict[str, Any] = {
    "classifications": [
        {
            "name": "Pekerjaan Tanah",
            "sub_classifications": [
                {
                    "name": "Galian",
                    "items": [
                        {"code": "B.1", "name": "Galian tanah", "unit": "m3",
                         "volume": "10.25", "unit_price": "85000"},
                        {"code": "B.2", "name": "Urugan pasir", "unit": "m3",
                         "volume": 0.1, "unit_price": 3},
                    ],
                },
                {"name": "Kosong", "items": []},
            ],
        },
        {"name": "Pekerjaan Atap", "sub_classifications": []},
    ]
}  # fmt: skip


def post(client: Client, project_id: int, body: Any, headers: dict[str, str]) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        save_url(project_id), data=data, content_type="application/json", headers=headers
    )


def snapshot(project: Any) -> list[tuple[Any, ...]]:
    return list(
        WorkItem.objects.filter(sub_classification__classification__project=project)
        .order_by("pk")
        .values_list("sub_classification__classification__name", "sub_classification__name",
                     "code", "name", "unit", "volume", "unit_price")
    )  # fmt: skip


def test_save_replaces_the_tree(client: Client, project: Any, bearer: dict[str, str]) -> None:
    response = post(client, project.pk, VALID_TREE, bearer)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [c["name"] for c in body["classifications"]] == ["Pekerjaan Tanah", "Pekerjaan Atap"]
    items = body["classifications"][0]["sub_classifications"][0]["items"]
    assert [(i["code"], i["volume"], i["unit_price"], i["total"]) for i in items] == [
        ("B.1", "10.2500", "85000.00", "871250.00"),
        # 0.1 arrives as a JSON number and must stay exactly 0.1, not a float.
        ("B.2", "0.1000", "3.00", "0.30"),
    ]
    assert body["total"] == "871250.30"
    assert not WorkItem.objects.filter(code__startswith="A.").exists()
    assert Classification.objects.filter(project=project).count() == 2
    assert SubClassification.objects.filter(classification__project=project).count() == 2


def test_get_then_post_round_trips(
    client: Client, owner: Any, project: Any, bearer: dict[str, str]
) -> None:
    before = client.get(tree_url(project.pk), headers=bearer).json()
    response = post(client, project.pk, before, bearer)
    assert response.status_code == 200

    def strip_ids(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip_ids(v) for k, v in node.items() if k != "id"}
        if isinstance(node, list):
            return [strip_ids(v) for v in node]
        return node

    assert strip_ids(response.json()) == strip_ids(before)


@pytest.mark.parametrize("body", ["{not json", b"\xff\xfe", b"\xef\xbb\xbf{}", "[1,]"])
def test_bad_json_is_400_and_changes_nothing(
    client: Client, project: Any, bearer: dict[str, str], body: Any
) -> None:
    before = snapshot(project)
    response = post(client, project.pk, body, bearer)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert snapshot(project) == before


def test_invalid_fields_are_400_with_paths_and_nothing_written(
    client: Client, project: Any, bearer: dict[str, str]
) -> None:
    bad = copy.deepcopy(VALID_TREE)
    items = bad["classifications"][0]["sub_classifications"][0]["items"]
    items[0]["volume"] = "-1"  # negative
    items[1]["unit_price"] = "abc"  # not a number
    items.append({"code": "B.1", "name": "dup", "unit": "m", "volume": "1", "unit_price": "1"})
    items.append({"code": "X" * 51, "name": 5, "unit": "m", "volume": True, "unit_price": "1.234"})
    bad["classifications"][1]["name"] = ""
    bad["classifications"].append("not an object")
    before = snapshot(project)

    response = post(client, project.pk, bad, bearer)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_failed"
    errors = body["errors"]
    p = "classifications[0].sub_classifications[0].items"
    assert set(errors) == {
        f"{p}[0].volume",
        f"{p}[1].unit_price",
        f"{p}[2].code",
        f"{p}[3].code",
        f"{p}[3].name",
        f"{p}[3].volume",
        f"{p}[3].unit_price",
        "classifications[1].name",
        "classifications[2]",
    }
    assert "Duplicate code" in errors[f"{p}[2].code"][0]
    # Valid parts of the same request were not written either.
    assert snapshot(project) == before
    assert not WorkItem.objects.filter(code="B.1").exists()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"classifications": "x"},
        {},
        {"classifications": [{"name": "a", "sub_classifications": [{"name": "b", "items": [{}]}]}]},
    ],
)
def test_wrong_shapes_are_400(
    client: Client, project: Any, bearer: dict[str, str], body: Any
) -> None:
    before = snapshot(project)
    response = post(client, project.pk, body, bearer)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_failed"
    assert snapshot(project) == before


def test_session_post_requires_csrf(owner: Any, project: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = post(client, project.pk, VALID_TREE, {})
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"

    client.get("/")  # the landing page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = post(client, project.pk, VALID_TREE, {"X-CSRFToken": token})
    assert response.status_code == 200, response.content


def test_bearer_post_needs_no_csrf(project: Any, bearer: dict[str, str]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post(client, project.pk, VALID_TREE, bearer).status_code == 200


def test_anonymous_save_is_401(client: Client, project: Any) -> None:
    before = snapshot(project)
    response = post(client, project.pk, VALID_TREE, {})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(project) == before


def test_other_users_project_cannot_be_saved(client: Client, other_user: Any, project: Any) -> None:
    client.force_login(other_user)
    before = snapshot(project)
    response = client.post(
        save_url(project.pk), data=json.dumps(VALID_TREE), content_type="application/json"
    )
    assert response.status_code == 404
    assert snapshot(project) == before


def test_get_on_save_is_405(client: Client, project: Any, bearer: dict[str, str]) -> None:
    assert client.get(save_url(project.pk), headers=bearer).status_code == 405
