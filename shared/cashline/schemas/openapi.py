"""The OpenAPI 3.1 document, generated from the route registry and the pydantic models.

The document must stay valid for `openapi-spec-validator` and true to what the routes answer:
tests/integration/test_openapi.py validates it and tests/integration/test_schema_fuzz.py calls
every operation with schemathesis and checks each answer against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from cashline.schemas.common import ErrorOutput

_ERROR_STATUSES = {
    "400": "Invalid request: the error names the field",
    "401": "Missing, unknown, revoked or expired API key",
    "403": "The key's role may not do this",
    "404": "Not found (also: belongs to another tenant)",
    "409": "Conflict: duplicate, stale version, illegal state change, or the same Idempotency-Key in flight",
    "413": "The body, or what it decompresses to, is larger than the limit the error names",
    "415": "The body's Content-Type is not one this route takes (the error lists them)",
    "422": "Well-formed but breaks a business rule",
    "503": "A dependency (database, storage, a payment processor) is unavailable: retry later",
}
# Every route may answer these; 401/403 only with a role, 413/415 only with a body.
_ALWAYS = ("400", "404", "409", "422", "503")
_WITH_ROLE = ("401", "403")
_WITH_BODY = ("413", "415")

_SUCCESS = {200: "OK", 201: "Created", 204: "Done, nothing to answer"}

Use = Literal["request", "response"]
# Requests are described as pydantic validates them, answers as it serialises them; a model used
# both ways whose two descriptions differ becomes `X-Input` and `X-Output`.
_MODE: dict[Use, JsonSchemaMode] = {"request": "validation", "response": "serialization"}


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
    # Statuses besides `status` that answer with the response model (a CSV import's 422 report).
    also_answers: tuple[int, ...] = ()

    @property
    def takes_body(self) -> bool:
        return bool(self.accepts) or self.request_model is not None


class _Schemas:
    """The components and the `$ref` of each model, as pydantic names them.

    Generic models are named `PageOutput_InvoiceOutput_` in the components; the refs come from the
    same call, so they always agree (a ref built from `__name__` would say `PageOutput[...]`).
    """

    def __init__(self, routes: list[RouteSpec]) -> None:
        wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = {(ErrorOutput, "serialization")}
        for route in routes:
            wanted.update((m, "validation") for m in (route.request_model, route.query_model) if m)
            if route.response_model is not None:
                wanted.add((route.response_model, "serialization"))
        ordered = sorted(wanted, key=lambda item: (item[0].__name__, item[1]))
        refs, top = models_json_schema(ordered, ref_template="#/components/schemas/{model}")
        self.refs = refs
        self.components: dict[str, Any] = top.get("$defs", {})

    def ref(self, model: type[BaseModel], use: Use) -> dict[str, Any]:
        return dict(self.refs[(model, _MODE[use])])

    def resolve(self, model: type[BaseModel], use: Use) -> dict[str, Any]:
        name = self.ref(model, use)["$ref"].rsplit("/", 1)[-1]
        schema: dict[str, Any] = self.components[name]
        return schema


def _query_value_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: drop pydantic's `null` branch and `null` default."""
    schema = {k: v for k, v in schema.items() if not (k == "default" and v is None)}
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [branch for branch in branches if branch != {"type": "null"}]
        del schema["anyOf"]
        schema = {**schema, **kept[0]} if len(kept) == 1 else {**schema, "anyOf": kept}
    return schema


def _query_parameters(model: type[BaseModel], schemas: _Schemas) -> list[dict[str, Any]]:
    schema = schemas.resolve(model, "request")
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _query_value_schema(prop)}
        for name, prop in schema.get("properties", {}).items()
    ]


def _content(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {media: {"schema": schema}}


def _responses(route: RouteSpec, schemas: _Schemas) -> dict[str, Any]:
    error = schemas.ref(ErrorOutput, "response")
    success: dict[str, Any] = {"description": _SUCCESS.get(route.status, "OK")}
    if route.status == 204:
        pass  # no content at all, not an empty JSON object
    elif route.response_model is not None:
        success["content"] = _content(schemas.ref(route.response_model, "response"))
    elif route.produces != "application/json":
        success["content"] = _content({"type": "string"}, route.produces)
    else:
        success["content"] = _content({"type": "object"})  # a document of its own (this one)
    responses: dict[str, Any] = {str(route.status): success}
    statuses = [*_ALWAYS, *(_WITH_ROLE if route.role else ()), *(_WITH_BODY if route.takes_body else ())]
    for status in sorted(statuses):
        responses[status] = {"description": _ERROR_STATUSES[status], "content": _content(error)}
    for status in route.also_answers:
        if route.response_model is None:
            continue
        own = schemas.ref(route.response_model, "response")
        known = responses.get(str(status))
        schema = {"anyOf": [own, error]} if known else own
        description = known["description"] if known else "See the answer's fields"
        responses[str(status)] = {"description": description, "content": _content(schema)}
    return dict(sorted(responses.items()))


def _request_body(route: RouteSpec, schemas: _Schemas) -> dict[str, Any] | None:
    if route.accepts:
        content: dict[str, Any] = {}
        for media in route.accepts:
            if media == "application/json":
                # A raw JSON body (a processor's webhook event) is read by the route itself.
                model = route.request_model
                content.update(_content(schemas.ref(model, "request") if model else {"type": "object"}))
            else:
                content.update(_content({"type": "string", "format": "binary"}, media))
        return {"required": True, "content": content}
    if route.request_model is not None:
        return {"required": True, "content": _content(schemas.ref(route.request_model, "request"))}
    return None


def _parameters(route: RouteSpec, schemas: _Schemas) -> list[dict[str, Any]]:
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
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Replays the first response for the same key and body for 24 hours",
            }
        )
    return parameters


def _operation(route: RouteSpec, schemas: _Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary,
        "tags": [route.tag],
        "responses": _responses(route, schemas),
        "security": [{"apiKey": []}] if route.role else [],
    }
    if route.role:
        operation["x-required-role"] = route.role
    parameters = _parameters(route, schemas)
    if parameters:
        operation["parameters"] = parameters
    body = _request_body(route, schemas)
    if body is not None:
        operation["requestBody"] = body
    return operation


def _operation_id(route: RouteSpec) -> str:
    # Client generators name methods after it: `post_v1_invoices_invoice_id_status`.
    words = [segment.strip("{}").replace("-", "_").replace(".", "_") for segment in route.path.split("/")]
    return "_".join([route.method.lower(), *(word for word in words if word)])


def _path_names(path: str) -> list[str]:
    return [segment[1:-1] for segment in path.split("/") if segment.startswith("{") and segment.endswith("}")]


def build_openapi(
    routes: list[RouteSpec], *, title: str, version: str, server_url: str = "/"
) -> dict[str, Any]:
    """The document for `routes`; `server_url` is where the API answers (relative: this host)."""
    schemas = _Schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes, key=lambda r: (r.path, r.method)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url, "description": "The API that served this document"}],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "clk_..."}},
        },
    }
