"""API Gateway as deployed, emulated around Chalice's local gateway.

Chalice's local gateway lets an authorizer's "Unauthorized" escape as an exception and answers
with its own error bodies; API Gateway answers 401, and template.yaml's GatewayResponses give
the API's error shape. This module does the same, so local answers match deployed ones.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from chalice.app import Chalice, UnauthorizedError
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    NotAuthorizedError,
)

_GATEWAY_ERRORS = {
    401: ("unauthorized", "missing, unknown, revoked or expired API key", "Authorization"),
    403: ("forbidden", "access denied", None),
    404: ("not_found", "no such route", None),
}

_UNKNOWN_ROUTE_MARKERS = (b"Missing Authentication Token", b"Authorization header requires")


class _ApiGatewayAuthorizer(LocalGatewayAuthorizer):
    def authorize(self, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        try:
            return super().authorize(raw_path, lambda_event, lambda_context)
        except UnauthorizedError as exc:
            raise NotAuthorizedError(
                {"x-amzn-ErrorType": "UnauthorizedException"}, b'{"message":"Unauthorized"}'
            ) from exc


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _gateway_error(error: LocalGatewayException) -> GatewayResponse:
    status = error.CODE
    # Chalice's local gateway answers an unknown route with 403 "Missing Authentication Token"
    # (or, with an Authorization header, a SigV4 complaint), as API Gateway does; the
    # template's MISSING_AUTHENTICATION_TOKEN GatewayResponse turns that into our 404.
    chalice_body = error.body or b""
    if status == 403 and any(marker in chalice_body for marker in _UNKNOWN_ROUTE_MARKERS):
        status = 404
    error_type, message, field = _GATEWAY_ERRORS.get(status, ("error", "request refused", None))
    body = {"error": {"type": error_type, "message": message, "field": field, "request_id": None}}
    return GatewayResponse(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def thread_safe(app: Chalice) -> Chalice:
    """Give the app a per-thread `current_request`, as `chalice local` does.

    Lambda runs one request per process; a local server (or a concurrency test) runs many at once
    in one process, and a shared `current_request` would hand one request's body to another.
    """
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    return app


class ApiGateway(LocalGateway):
    def __init__(self, app: Chalice, config: Config | None = None):
        super().__init__(thread_safe(app), config or Config.create(lambda_timeout=30))
        self._authorizer = _ApiGatewayAuthorizer(app)

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: Any) -> Any:
        event = super()._generate_lambda_event(method, path, headers, body)
        # API Gateway gives every request an id; logs and error bodies carry it.
        event["requestContext"]["requestId"] = str(uuid.uuid4())
        return event

    def handle_request(self, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            return super().handle_request(method, path, headers, body)
        except LocalGatewayException as error:
            converted = _gateway_error(error)
            return {
                "statusCode": converted.status_code,
                "headers": converted.headers,
                "multiValueHeaders": {},
                "body": converted.body.decode(),
            }

    def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> GatewayResponse:
        """One request, in process, as the deployed API would answer it."""
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        if body is not None and "content-type" not in lowered:
            lowered["content-type"] = "application/json"
        response = self.handle_request(method.upper(), path, lowered, body)
        raw = response.get("body") or b""
        return GatewayResponse(
            status_code=int(response["statusCode"]),
            headers={k.lower(): v for k, v in (response.get("headers") or {}).items()},
            body=raw if isinstance(raw, bytes) else str(raw).encode(),
        )


class ApiGatewayRequestHandler(ChaliceRequestHandler):
    """Chalice's HTTP handler for the local server, over ApiGateway instead of LocalGateway."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config):
        self.local_gateway = ApiGateway(app_object, config)
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the app logs each request as JSON; the access line would only repeat it
