"""The OpenAPI 3.1 document, generated from the route registry and the pydantic models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cashline.schemas.common import ErrorOutput

_ERROR_STATUSES = {
    "400": "Invalid request: the error names the field",
    "401": "Missing, unknown, revoked or expired API key",
    "403": "The key's role may not do this",
    "404": "Not found (also: belongs to another tenant)",
    "409": "Conflict: duplicate, stale version, illegal state change, or the same Idempotency-Key in flight",
    "422": "Well-formed but breaks a business rule",
}


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    summary: str
    status: int
    response_model: type[BaseModel] | None
    request_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    role: str | None = None
    idempotent: bool = False
    tag: str = "general"
    accepts: tuple[str, ...] = ()  # raw request bodies (CSV, XML, PDF) instead of a JSON model
    produces: str = "application/json"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = schemas[model.__name__]
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(route: RouteSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "OK"}
    if route.response_model is not None:
        success["content"] = {"application/json": {"schema": _ref(route.response_model)}}
    elif route.produces != "application/json":
        success["content"] = {route.produces: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(route.status): success}
    for status, description in _ERROR_STATUSES.items():
        if route.role is None and status in {"401", "403"}:
            continue
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": _ref(ErrorOutput)}},
        }
    operation: dict[str, Any] = {"summary": route.summary, "tags": [route.tag], "responses": responses}
    operation["security"] = [{"apiKey": []}] if route.role else []
    if route.role:
        operation["x-required-role"] = route.role
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_names(route.path)
    ]
    if route.query_model is not None:
        parameters += _query_parameters(route.query_model, schemas)
    if route.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "Replays the first response for the same key and body for 24 hours",
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if route.accepts:
        operation["requestBody"] = {
            "required": True,
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in route.accepts},
        }
    elif route.request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.request_model)}},
        }
    return operation


def _path_names(path: str) -> list[str]:
    return [segment[1:-1] for segment in path.split("/") if segment.startswith("{") and segment.endswith("}")]


def build_openapi(routes: list[RouteSpec], *, title: str, version: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorOutput}
    for route in routes:
        models.update(m for m in (route.response_model, route.request_model, route.query_model) if m)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema(
        [(model, "validation") for model in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes, key=lambda r: (r.path, r.method)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "clk_..."}},
        },
    }
