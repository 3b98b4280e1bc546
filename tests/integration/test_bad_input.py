"""Bad input gets a 4xx naming the field, never a 500, and writes nothing."""

from __future__ import annotations

import pytest

from tests.utils import Api, TestTenant, error_of


def _key_count(api: Api, tenant: TestTenant) -> int:
    return len(api.get("/v1/api-keys?limit=100", key=tenant.admin).json()["data"])


def test_malformed_json_is_a_400_naming_the_body(api: Api, tenant: TestTenant) -> None:
    response = api.post("/v1/api-keys", key=tenant.admin, raw_body=b'{"name": "x",')
    assert response.status_code == 400
    assert error_of(response) | {"request_id": None} == {
        "type": "invalid_request",
        "message": "the body is not valid JSON",
        "field": "body",
        "request_id": None,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": 5}, "role"),
        ({"name": "x", "role": "owner"}, "role"),
        ({"name": 12, "role": "admin"}, "name"),
        ({"role": "admin"}, "name"),
        ({"name": "", "role": "admin"}, "name"),
        ({"name": "x", "role": "admin", "expires_in_days": "30"}, "expires_in_days"),
        ({"name": "x", "role": "admin", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "role": "admin", "expires_in_days": 1.5}, "expires_in_days"),
        ({"name": "x", "role": "admin", "colour": "red"}, "colour"),
    ],
)
def test_wrong_types_and_values_are_a_400_naming_the_field(
    api: Api, tenant: TestTenant, body: dict[str, object], field: str
) -> None:
    before = _key_count(api, tenant)
    response = api.post("/v1/api-keys", key=tenant.admin, json_body=body)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    assert error_of(response)["type"] == "invalid_request"
    assert _key_count(api, tenant) == before


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_a_body_that_is_not_an_object_is_a_400(api: Api, tenant: TestTenant, body: object) -> None:
    raw = b"null" if body is None else None
    response = api.post("/v1/api-keys", key=tenant.admin, json_body=body, raw_body=raw)
    assert response.status_code == 400


def test_a_missing_body_is_a_400(api: Api, tenant: TestTenant) -> None:
    response = api.post("/v1/api-keys", key=tenant.admin)
    assert response.status_code == 400
    assert error_of(response)["field"] == "body"


def test_a_body_that_is_not_json_is_a_415(api: Api, tenant: TestTenant) -> None:
    response = api.post(
        "/v1/api-keys",
        key=tenant.admin,
        raw_body=b"name=x&role=admin",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert error_of(response)["field"] == "Content-Type"


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"), ("size=3", "size")],
)
def test_bad_query_parameters_name_the_parameter(
    api: Api, tenant: TestTenant, query: str, field: str
) -> None:
    response = api.get(f"/v1/api-keys?{query}", key=tenant.admin)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"base_currency": "EURO"}, "base_currency"),
        ({"base_currency": "XYZ"}, "base_currency"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"country": "D1"}, "country"),
        ({}, "version"),
    ],
)
def test_invalid_tenant_settings_name_the_field_and_change_nothing(
    api: Api, tenant: TestTenant, changes: dict[str, object], field: str
) -> None:
    before = api.get("/v1/tenant", key=tenant.admin).json()
    body = {"version": before["version"], **changes} if field != "version" else {"name": "y"}
    response = api.patch("/v1/tenant", key=tenant.admin, json_body=body)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/tenant", key=tenant.admin).json() == before


def test_a_malformed_id_in_the_path_is_a_404_not_a_500(api: Api, tenant: TestTenant) -> None:
    for key_id in ("nope", "key_", "inv_01JD3Z5W4YV6Q3R0M8X2N5B7C9", "key_../../x"):
        assert api.get(f"/v1/api-keys/{key_id}", key=tenant.admin).status_code == 404


def test_errors_carry_the_request_id(api: Api, tenant: TestTenant) -> None:
    first = error_of(api.post("/v1/api-keys", key=tenant.admin, raw_body=b"{"))
    second = error_of(api.post("/v1/api-keys", key=tenant.admin, raw_body=b"{"))
    assert first["request_id"] and second["request_id"] and first["request_id"] != second["request_id"]
