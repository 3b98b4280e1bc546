"""API Gateway as deployed, emulated around Chalice's local gateway.

Chalice's local gateway lets an authorizer's "Unauthorized" escape as an exception and answers
with its own error bodies; API Gateway answers 401, and template.yaml's GatewayResponses give
the API's error shape. This module does the same, so local answers match deployed ones.
"""

from __future__ import annotations

import json
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
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

from localcloud.handlers import clock_at

_GATEWAY_ERRORS = {
    401: ("unauthorized", "missing, unknown, revoked or expired API key", "Authorization"),
    403: ("forbidden", "access denied", None),
    404: ("not_found", "no such route", None),
}

_UNKNOWN_ROUTE_MARKERS = (b"Missing Authentication Token", b"Authorization header requires")

# As template.yaml's GatewayResponses answer: JSON, never cached.
_ERROR_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}

# The id of the request being handled: set before Chalice builds the event, so that an answer the
# gateway gives itself (a 401) carries the same id the route would have seen.
_REQUEST_ID: ContextVar[str] = ContextVar("gateway_request_id", default="")


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


def _gateway_error(error: LocalGatewayException, request_id: str) -> GatewayResponse:
    status = error.CODE
    # Chalice's local gateway answers an unknown route with 403 "Missing Authentication Token"
    # (or, with an Authorization header, a SigV4 complaint), as API Gateway does; the
    # template's MISSING_AUTHENTICATION_TOKEN GatewayResponse turns that into our 404.
    chalice_body = error.body or b""
    if status == 403 and any(marker in chalice_body for marker in _UNKNOWN_ROUTE_MARKERS):
        status = 404
    return _answer_of_gateway(status, request_id)


def _answer_of_gateway(status: int, request_id: str) -> GatewayResponse:
    error_type, message, field = _GATEWAY_ERRORS.get(status, ("error", "request refused", None))
    # The template's GatewayResponses fill request_id from $context.requestId, as here.
    body = {"error": {"type": error_type, "message": message, "field": field, "request_id": request_id}}
    return GatewayResponse(status, _ERROR_HEADERS, json.dumps(body).encode())


def _lambda_response(answer: GatewayResponse) -> dict[str, Any]:
    return {
        "statusCode": answer.status_code,
        "headers": dict(answer.headers),
        "multiValueHeaders": {},
        "body": answer.body.decode(),
    }


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
        event["requestContext"]["requestId"] = _REQUEST_ID.get() or str(uuid.uuid4())
        return event

    def handle_request(self, method: str, path: str, headers: Any, body: Any) -> Any:
        request_id = str(uuid.uuid4())
        token = _REQUEST_ID.set(request_id)
        try:
            response: dict[str, Any] = super().handle_request(method, path, headers, body)
        except LocalGatewayException as error:
            response = _lambda_response(_gateway_error(error, request_id))
        finally:
            _REQUEST_ID.reset(token)
        if response["statusCode"] == 405 and "MethodNotAllowedError" in str(response.get("body")):
            # Chalice's own 405 is for a method no view takes (HEAD): API Gateway has no such method
            # either and answers MISSING_AUTHENTICATION_TOKEN, which the template makes our 404.
            response = _lambda_response(_answer_of_gateway(404, request_id))
        # API Gateway names the request in every answer, as here.
        response["headers"] = {**(response.get("headers") or {}), "x-amzn-RequestId": request_id}
        return response

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        at: datetime | None = None,
    ) -> GatewayResponse:
        """One request, in process, as the deployed API would answer it; at the instant `at` when
        given (authorizer and route both see it), else at the app's clock."""
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        if body is not None and "content-type" not in lowered:
            lowered["content-type"] = "application/json"
        with clock_at(at):
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
