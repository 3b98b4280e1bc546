"""openapi.json is generated, and it lists every route the app serves."""

from __future__ import annotations

from typing import Any

from tests.utils import Api


def test_every_route_is_documented(api: Api, chalice_app: Any) -> None:
    document = api.get("/v1/openapi.json").json()
    served = {(path, method.lower()) for path, methods in chalice_app.routes.items() for method in methods}
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert served == documented


def test_schemas_come_from_the_pydantic_models(api: Api) -> None:
    document = api.get("/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"ErrorOutput", "CreateApiKeyRequest", "CreatedApiKeyOutput", "TenantOutput"} <= set(schemas)
    assert schemas["CreateApiKeyRequest"]["properties"]["role"]["$ref"].endswith("/Role")
    create = document["paths"]["/v1/api-keys"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert create["x-required-role"] == "admin"
    assert document["paths"]["/v1/health"]["get"]["security"] == []
