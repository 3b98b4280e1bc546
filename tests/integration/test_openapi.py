"""openapi.json: generated, valid OpenAPI 3.1, every route the app serves, and what each answers."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from chalicelib.health_routes import server_url
from chalicelib.http import METHOD_NOT_ALLOWED_VIEW, ROUTES, STATUS_BY_ERROR
from tests.utils import Api, TestTenant, error_of


def _document(api: Api, **kwargs: Any) -> dict[str, Any]:
    response = api.get("/v1/openapi.json", **kwargs)
    assert response.status_code == 200, response.body
    document: dict[str, Any] = response.json()
    return document


def test_every_route_is_documented(api: Api, chalice_app: Any) -> None:
    document = _document(api)
    # The 405 answers to undeclared methods are routes too, but not operations to document.
    served = {
        (path, method.lower())
        for path, methods in chalice_app.routes.items()
        for method, entry in methods.items()
        if entry.view_name != METHOD_NOT_ALLOWED_VIEW
    }
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert served == documented


def test_schemas_come_from_the_pydantic_models(api: Api) -> None:
    document = _document(api)
    schemas = document["components"]["schemas"]
    assert {"ErrorOutput", "CreateApiKeyRequest", "CreatedApiKeyOutput", "TenantOutput"} <= set(schemas)
    assert schemas["CreateApiKeyRequest"]["properties"]["role"]["$ref"].endswith("/Role")
    create = document["paths"]["/v1/api-keys"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert create["x-required-role"] == "admin"
    assert document["paths"]["/v1/health"]["get"]["security"] == []


def test_the_document_is_valid_openapi(api: Api) -> None:
    # Finding 13: list routes referred to `PageOutput[X]` while the component was `PageOutput_X_`.
    document = _document(api)

    validate(document)  # raises, naming the first problem

    pages = [
        operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        for operations in document["paths"].values()
        for operation in operations.values()
        if "PageOutput" in str(operation["responses"].get("200", {}))
    ]
    assert len(pages) >= 12
    assert all(
        ref.removeprefix("#/components/schemas/") in document["components"]["schemas"] for ref in pages
    )


def test_the_document_names_the_server_the_client_reached() -> None:
    # Given the request API Gateway forwards for its default endpoint (the stage is in the path)
    headers = {"host": "abc123.execute-api.eu-central-1.amazonaws.com", "x-forwarded-proto": "https"}
    context = {"path": "/api/v1/openapi.json"}

    # Then the server is that origin and stage, so a generated client needs no base URL
    assert server_url(headers, context) == "https://abc123.execute-api.eu-central-1.amazonaws.com/api"
    assert server_url({"host": "127.0.0.1:8000"}, {"path": "/v1/openapi.json"}) == "http://127.0.0.1:8000"
    # A Host header is the client's: anything but a host name is not echoed into the document
    assert server_url({"host": 'evil"><script>'}, {}) == "/"
    assert server_url({}, {}) == "/"


def test_the_served_document_carries_its_server(api: Api) -> None:
    document = _document(api, headers={"Host": "127.0.0.1:8000"})
    assert document["servers"] == [
        {"url": "http://127.0.0.1:8000", "description": "The API that served this document"}
    ]


@pytest.mark.parametrize(
    ("amounts", "valid"),
    [
        ({"amount_due": 100}, True),
        ({"lines": [{"description": "d", "quantity": "1", "unit_amount": 100, "tax_rate": "19"}]}, True),
        ({}, False),
        (
            {
                "amount_due": 100,
                "lines": [{"description": "d", "quantity": "1", "unit_amount": 100, "tax_rate": "19"}],
            },
            False,
        ),
    ],
)
def test_creating_an_invoice_takes_exactly_one_of_amount_due_and_lines(
    api: Api, tenant: TestTenant, amounts: dict[str, Any], valid: bool
) -> None:
    # Given a request body with both, one or neither of amount_due and lines
    body = {
        "direction": "receivable",
        "counterparty": {"name": "Kunde GmbH"},
        "number": f"INV-{len(amounts)}-{valid}",
        "issue_date": "2026-01-10",
        "due_date": "2026-02-10",
        "currency": "EUR",
        **amounts,
    }
    document = _document(api)
    schema = {"$ref": "#/components/schemas/CreateInvoiceRequest", "components": document["components"]}

    # Then the document and the route agree on it
    assert Draft202012Validator(schema).is_valid(body) is valid
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code == (201 if valid else 400), response.body


def _operations_with_a_body(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]


def test_every_route_with_a_body_answers_415_to_another_type_and_documents_it(
    api: Api, tenant: TestTenant
) -> None:
    # Given every operation the document says takes a body
    document = _document(api)
    operations = _operations_with_a_body(document)
    assert len(operations) == sum(1 for route in ROUTES if route.takes_body) > 30

    for method, path, operation in operations:
        # When it is sent a body of a type it does not take (ids need not exist: the type is checked first)
        url = path.replace("{", "x_").replace("}", "")
        response = api.request(
            method.upper(), url, key=tenant.admin, raw_body=b"hello", headers={"Content-Type": "text/plain"}
        )

        # Then it answers 415 naming Content-Type, and the document lists 415 (and 413) for it
        assert response.status_code == 415, (method, path, response.body)
        assert error_of(response)["field"] == "Content-Type"
        assert {"413", "415"} <= set(operation["responses"]), (method, path)
        assert "text/plain" not in operation["requestBody"]["content"]


def test_statuses_answered_with_the_route_model_are_documented(api: Api) -> None:
    document = _document(api)
    imports = document["paths"]["/v1/imports"]["post"]["responses"]["422"]["content"]["application/json"]
    health = document["paths"]["/v1/health"]["get"]["responses"]["503"]["content"]["application/json"]
    assert {"$ref": "#/components/schemas/ImportOutput"} in imports["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/HealthOutput"} in health["schema"]["anyOf"]
    assert "content" in document["paths"]["/v1/openapi.json"]["get"]["responses"]["200"]


def test_every_status_an_error_maps_to_is_documented(api: Api) -> None:
    # Given the one table from domain errors to statuses, and the statuses the document lists
    document = _document(api)
    documented = {
        status
        for operations in document["paths"].values()
        for op in operations.values()
        for status in op["responses"]
    }

    # Then a status a route can answer with an error body is in the document (a new one must be added)
    assert {str(status) for _, status in STATUS_BY_ERROR} <= documented
