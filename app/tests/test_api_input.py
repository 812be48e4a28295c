"""Client mistakes are 4xx JSON with the API's error shape, never a 500.

Django's test client with ``raise_request_exception=False`` so a 500 shows up as
a status instead of an exception; test_fuzz_api.py throws generated input at
the same endpoints.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from detail_project.models import WorkItem
from django.test import Client, override_settings

from tests.api import save_url, tree_url

pytestmark = pytest.mark.django_db

ITEM = {"code": "X.1", "name": "Item", "unit": "m", "volume": "1", "unit_price": "1"}


@pytest.fixture
def http() -> Client:
    return Client(raise_request_exception=False)


def tree_with(**item: Any) -> bytes:
    doc = {"classifications": [{"name": "C", "sub_classifications": [
        {"name": "S", "items": [{**ITEM, **item}]}]}]}  # fmt: skip
    return json.dumps(doc).encode()


def post(http: Client, url: str, body: bytes, headers: dict[str, str], ctype: str) -> Any:
    # CONTENT_TYPE also as raw environ: the test client drops it for an empty body.
    response = http.generic(
        "POST", url, data=body, content_type=ctype, headers=headers, CONTENT_TYPE=ctype
    )
    assert response.status_code < 500, response.content
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    if response.status_code >= 400:
        assert isinstance(payload["error"], str) and isinstance(payload["detail"], str)
    return response


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize("path", ["save", "test"])
def test_bodies_over_the_limit_are_413(http: Client, project: Any, bearer: dict, path: str) -> None:
    url = save_url(project.pk) if path == "save" else "/api/test/"
    response = post(http, url, b"[" + b" " * 2000 + b"]", bearer, "application/json")
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


@pytest.mark.parametrize(
    "ctype",
    [
        "multipart/form-data; boundary=xyz",
        "multipart/form-data; boundary=",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=latin-1",
        "",
    ],
)
def test_wrong_content_type_is_415_before_csrf_parses_anything(
    owner: Any, project: Any, ctype: str
) -> None:
    """Session callers too: Django's CSRF check would parse a (malformed) form body."""
    http = Client(enforce_csrf_checks=True, raise_request_exception=False)
    http.force_login(owner)
    response = post(http, save_url(project.pk), b"--xyz\r\nbroken", {}, ctype)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body",
    [
        b'{"classifications": "\\ud800"}',
        b'{"\\udfff": 1, "classifications": []}',
        b"[" * 3000 + b"]" * 3000,
        b"{" + b'"a":{' * 3000 + b"}" * 3001,
        b'{"classifications": [' + b"1" * 5000 + b"]}",
        b"\xff\xfe\x00{",
        b"",
    ],
    ids=["surrogate", "surrogate-key", "deep-list", "deep-object", "huge-int", "utf16", "empty"],
)
def test_undecodable_or_unparsable_bodies_are_400(
    http: Client, project: Any, bearer: dict, body: bytes
) -> None:
    response = post(http, save_url(project.pk), body, bearer, "application/json; charset=utf-8")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"name": "nul\x00byte"}, "name"),
        ({"code": "\x00"}, "code"),
        ({"name": "\ud800"}, None),  # caught as undecodable JSON before validation
        ({"volume": "1" * 30}, "volume"),
        ({"volume": "999999999999.9999"}, "volume"),  # 16 digits: SQLite would round it
        ({"unit_price": "12345678901234.56"}, "unit_price"),
        ({"unit_price": 10**40}, "unit_price"),
        ({"volume": "1e999999999"}, "volume"),
        ({"volume": "-1e-999999999"}, "volume"),
        ({"unit_price": "NaN"}, "unit_price"),
        ({"unit_price": "sNaN"}, "unit_price"),
        ({"volume": "Infinity"}, "volume"),
        ({"volume": 1e308}, "volume"),
    ],
)
def test_values_the_database_cannot_store_are_400(
    http: Client, project: Any, bearer: dict, item: dict, field: str | None
) -> None:
    response = post(http, save_url(project.pk), tree_with(**item), bearer, "application/json")
    assert response.status_code == 400
    body = response.json()
    if field is not None:
        assert body["error"] == "validation_failed"
        path = f"classifications[0].sub_classifications[0].items[0].{field}"
        assert path in body["errors"], body
    assert not WorkItem.objects.filter(code="X.1").exists()


def test_the_largest_storable_values_are_stored_and_totalled_exactly(
    http: Client, project: Any, bearer: dict
) -> None:
    volume, price = Decimal("99999999999.9999"), Decimal("9999999999999.99")
    body = tree_with(volume=str(volume), unit_price=str(price))
    response = post(http, save_url(project.pk), body, bearer, "application/json")
    assert response.status_code == 200
    (item,) = response.json()["classifications"][0]["sub_classifications"][0]["items"]
    assert (item["volume"], item["unit_price"]) == (str(volume), str(price))
    # 99999999999.9999 * 9999999999999.99 = 999999999999998000000000.000001 exactly
    # (30 significant digits: the default decimal context, 28, would round it).
    assert item["total"] == "999999999999998000000000.00"
    assert response.json()["total"] == item["total"]


@pytest.mark.parametrize("project_id", [2**63, 10**30])
def test_ids_beyond_the_database_range_are_404(http: Client, bearer: dict, project_id: int) -> None:
    for method, url in (("GET", tree_url(project_id)), ("POST", save_url(project_id))):
        response = http.generic(
            method, url, data=tree_with(), content_type="application/json", headers=bearer
        )
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_unknown_api_paths_are_json_404(http: Client) -> None:
    response = http.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}


def test_pages_keep_html_404(http: Client) -> None:
    response = http.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_csrf_failure_is_json_with_the_reason(owner: Any, project: Any) -> None:
    http = Client(enforce_csrf_checks=True, raise_request_exception=False)
    http.force_login(owner)
    response = post(http, save_url(project.pk), tree_with(), {}, "application/json")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "csrf_failed"
    assert "CSRF cookie not set" in body["detail"]
