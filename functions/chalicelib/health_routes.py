"""GET /v1/health (no auth) and GET /v1/openapi.json: both public, both cheap."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Blueprint, Response

from cashline.schemas.access import HealthDependency, HealthOutput
from cashline.schemas.openapi import RouteSpec, build_openapi
from cashline.services.health import check_health
from chalicelib.http import ROUTES, Call, api_route, json_response
from chalicelib.runtime import api_ready

health = Blueprint(__name__)

API_VERSION = "2026-11-22"
OPENAPI_ROUTE = RouteSpec(
    method="GET",
    path="/v1/openapi.json",
    summary="This OpenAPI document",
    status=200,
    response_model=None,
    tag="meta",
)


@api_route(
    health,
    "/v1/health",
    method="GET",
    summary="The API and its dependencies (503 when degraded)",
    response=HealthOutput,
    role=None,
    tag="meta",
)
def get_health(call: Call[Any, Any]) -> tuple[int, HealthOutput]:
    settings = api_ready()
    dependencies = [
        HealthDependency(name=d.name, ok=d.ok, latency_ms=d.latency_ms, detail=d.detail)
        for d in check_health(settings)
    ]
    healthy = all(d.ok for d in dependencies)
    output = HealthOutput(
        status="ok" if healthy else "degraded", stage=settings.stage, dependencies=dependencies
    )
    return (200 if healthy else 503), output


@health.route("/v1/openapi.json", methods=["GET"])
def get_openapi() -> Response:
    # Registered by hand, not through api_route: it documents the routes, itself included.
    document = build_openapi([*ROUTES, OPENAPI_ROUTE], title="Cashline API", version=API_VERSION)
    return json_response(200, json.dumps(document))
