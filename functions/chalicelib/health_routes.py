"""GET /v1/health (no auth) and GET /v1/openapi.json: both public, both cheap."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from cashline.schemas.access import HealthDependency, HealthOutput
from cashline.schemas.openapi import RouteSpec, build_openapi
from chalicelib.http import ROUTES, Call, api_route, json_response
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:
    from cashline.services import health as health_checks
else:
    health_checks = deferred("cashline.services.health")  # imported by the first health request

health = Blueprint(__name__)

API_VERSION = "2026-11-22"
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
_PREFIX = re.compile(r"(/[A-Za-z0-9_-]{1,128})?")
OPENAPI_PATH = "/v1/openapi.json"
OPENAPI_ROUTE = RouteSpec(
    method="GET",
    path=OPENAPI_PATH,
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
    also_answers=(503,),  # degraded: the same body, each dependency's status
)
def get_health(call: Call[Any, Any]) -> tuple[int, HealthOutput]:
    settings = api_ready()
    dependencies = [
        HealthDependency(name=d.name, ok=d.ok, latency_ms=d.latency_ms, detail=d.detail)
        for d in health_checks.check_health(settings)
    ]
    healthy = all(d.ok for d in dependencies)
    output = HealthOutput(
        status="ok" if healthy else "degraded", stage=settings.stage, dependencies=dependencies
    )
    return (200 if healthy else 503), output


@health.route(OPENAPI_PATH, methods=["GET"])
def get_openapi() -> Response:
    # Registered by hand, not through api_route: it documents the routes, itself included.
    request = health.current_request
    document = build_openapi(
        [*ROUTES, OPENAPI_ROUTE],
        title="Cashline API",
        version=API_VERSION,
        server_url=server_url(request.headers or {}, request.context or {}),
    )
    return json_response(200, json.dumps(document))


def server_url(headers: Mapping[str, str], context: Mapping[str, Any]) -> str:
    """Where this API answers, as the client reached it, so a generated client needs no base URL.

    API Gateway's `requestContext.path` keeps the stage (`/api/v1/openapi.json`) that the route's
    own path drops. Without a usable Host header: "/", this host.
    """
    host = str(headers.get("host") or "")
    if not _HOST.fullmatch(host):  # the Host header is the client's: never echo anything else
        return "/"
    scheme = str(headers.get("x-forwarded-proto") or "http").lower()
    served = str(context.get("path") or OPENAPI_PATH)
    prefix = served.removesuffix(OPENAPI_PATH) if served.endswith(OPENAPI_PATH) else ""
    if not _PREFIX.fullmatch(prefix):
        prefix = ""
    return f"{'https' if scheme == 'https' else 'http'}://{host}{prefix}"
