"""Issue 11, findings 10 and 15: what every answer carries (no-store, a request id), 405 for a
method a path does not take, who may write a statement, and one shape for every resource."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from chalicelib.http import ROUTABLE_METHODS
from localcloud.template import load_template
from tests.utils import Api, TestTenant, error_of

# A syntactically valid id of each kind: an undeclared method must be refused before any lookup.
_SAMPLE_ID = "01JD3Z5W4YV6Q3R0M8X2N5B7C9"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: f"x_{_SAMPLE_ID}", path)


@pytest.fixture(scope="module")
def document(api: Api) -> dict[str, Any]:
    openapi: dict[str, Any] = api.get("/v1/openapi.json").json()
    return openapi


def test_every_answer_with_or_without_a_key_and_every_error_says_no_store(
    api: Api, tenant: TestTenant
) -> None:
    # Given answers of every kind: data, a list, a CSV export, and errors from the route, the
    # authorizer, the role check and the gateway
    answers = {
        "200": api.get("/v1/tenant", key=tenant.read_only),
        "list": api.get("/v1/invoices", key=tenant.read_only),
        "csv": api.get("/v1/invoices/export?format=csv", key=tenant.read_only),
        "400": api.get("/v1/invoices?limit=0", key=tenant.read_only),
        "401": api.get("/v1/tenant"),
        "403": api.get("/v1/api-keys", key=tenant.read_only),
        "404 id": api.get(f"/v1/invoices/inv_{_SAMPLE_ID}", key=tenant.read_only),
        "404 route": api.get("/v1/nothing-here", key=tenant.read_only),
        "405": api.delete(f"/v1/invoices/inv_{_SAMPLE_ID}", key=tenant.admin),
    }
    # Then no browser or proxy may keep any of them
    for name, response in answers.items():
        assert response.headers.get("cache-control") == "no-store", (name, response.headers)
    assert answers["200"].status_code == 200 and answers["csv"].status_code == 200


def test_an_undeclared_method_on_every_path_is_405_in_the_error_shape_with_allow(
    api: Api, tenant: TestTenant, document: dict[str, Any]
) -> None:
    checked = 0
    for path, operations in document["paths"].items():
        declared = sorted(method.upper() for method in operations)
        for method in ROUTABLE_METHODS:
            if method in declared:
                continue
            # When a method the path does not declare is sent (with a key and without one)
            for key in (tenant.admin, None):
                response = api.request(method, _concrete(path), key=key, json_body={"x": 1})
                # Then it is a 405 in the API's error shape, naming the methods the path takes
                assert response.status_code == 405, (method, path, response.body)
                error = error_of(response)
                assert error["type"] == "method_not_allowed"
                assert error["request_id"]
                assert response.headers["allow"] == ", ".join(declared), (method, path)
            checked += 1
    assert checked > 100  # every path of the API, not a sample (about 180 path/method pairs)


def test_a_method_no_route_takes_answers_404_in_the_error_shape_as_api_gateway_does(
    api: Api, tenant: TestTenant
) -> None:
    # HEAD is left to API Gateway, which has no such method and answers 404 (the template's
    # MISSING_AUTHENTICATION_TOKEN); Chalice's own 405 body must not leak locally either
    response = api.request("HEAD", "/v1/tenant", key=tenant.admin)
    assert response.status_code == 404
    assert error_of(response)["type"] == "not_found"
    assert response.headers["cache-control"] == "no-store"


def test_a_401_names_its_request_like_every_other_answer(api: Api) -> None:
    for key in (None, "clk_nonsense"):
        response = api.get("/v1/tenant", key=key)
        assert response.status_code == 401
        request_id = error_of(response)["request_id"]
        assert request_id and request_id == response.headers["x-amzn-requestid"]


def test_the_deployed_gateway_answers_in_the_same_shape_as_the_local_one(api: Api) -> None:
    # Given the GatewayResponses of template.yaml
    responses = {
        props["Properties"]["ResponseType"]: props["Properties"]
        for props in load_template()["Resources"].values()
        if props["Type"] == "AWS::ApiGateway::GatewayResponse"
    }
    # Then API Gateway's own refusals of every kind are covered
    assert {
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } <= set(responses)
    for response_type, props in responses.items():
        assert props["ResponseParameters"]["gatewayresponse.header.Cache-Control"] == "'no-store'", (
            response_type
        )
        template = props["ResponseTemplates"]["application/json"]
        for key in ('"type"', '"message"', '"field"', '"request_id": "$context.requestId"'):
            assert key in template, (response_type, key)
    # And the local gateway's 401 says what the deployed one says, with a real id for the placeholder
    local = error_of(api.get("/v1/tenant"))
    deployed = responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"]
    assert f'"message": "{local["message"]}"' in deployed and f'"field": "{local["field"]}"' in deployed


def test_a_statement_is_written_to_s3_so_it_needs_a_finance_key(
    api: Api, tenant: TestTenant, document: dict[str, Any]
) -> None:
    path = f"/v1/counterparties/cp_{_SAMPLE_ID}/statements"
    body = {"from": "2026-01-01", "to": "2026-01-31", "format": "csv"}
    # A read-only key is refused before anything is written
    refused = api.post(path, key=tenant.read_only, json_body=body)
    assert refused.status_code == 403
    assert error_of(refused)["type"] == "forbidden"
    # A finance key gets past the role check (this counterparty does not exist: 404)
    assert api.post(path, key=tenant.finance, json_body=body).status_code == 404
    # And the OpenAPI document says so
    operation = document["paths"]["/v1/counterparties/{counterparty_id}/statements"]["post"]
    assert operation["x-required-role"] == "finance"


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _is_object(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    resolved = _resolve(document, schema)
    return resolved.get("type") == "object" or "properties" in resolved


def test_no_route_wraps_its_resource_in_a_single_key(document: dict[str, Any]) -> None:
    wrappers = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if not schema:
                    continue
                properties = _resolve(document, schema).get("properties", {})
                if len(properties) == 1 and _is_object(document, next(iter(properties.values()))):
                    wrappers.append(f"{method.upper()} {path}: {next(iter(properties))}")
    assert wrappers == []


def test_connections_payments_and_payment_settings_answer_the_object_itself(
    frozen_now: datetime, api: Api, tenant: TestTenant
) -> None:
    created = api.post(
        "/v1/processor-connections",
        key=tenant.admin,
        json_body={"provider": "stripe", "webhook_secret": "whsec_shape_test_1"},
    )
    assert created.status_code == 201, created.body
    connection = created.json()
    assert connection["webhook_path"].endswith(connection["id"])
    assert api.get(f"/v1/processor-connections/{connection['id']}", key=tenant.read_only).json() == connection
    rotated = api.post(
        f"/v1/processor-connections/{connection['id']}/rotate-secret",
        key=tenant.admin,
        json_body={"webhook_secret": "whsec_shape_test_2"},
    ).json()
    assert rotated["id"] == connection["id"]

    paid = api.post(
        "/v1/payments",
        key=tenant.finance,
        json_body={"amount": 1000, "currency": "EUR", "value_date": str(frozen_now.date())},
    )
    assert paid.status_code == 201, paid.body
    payment = paid.json()
    assert payment["amount"] == 1000
    assert api.get(f"/v1/payments/{payment['id']}", key=tenant.read_only).json()["id"] == payment["id"]

    current = api.get("/v1/payment-settings", key=tenant.read_only).json()
    assert {"allocation_rule", "version"} <= set(current)
