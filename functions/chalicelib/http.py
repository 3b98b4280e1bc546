"""How every route parses, authorizes, runs and answers. The one place errors become HTTP.

A route is declared with `api_route(...)`: its request, query and response models, the role it
needs and whether it honours `Idempotency-Key`. The declaration also feeds the OpenAPI document,
so a route cannot exist without being documented.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from chalice.app import Blueprint, Chalice, Request, Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from cashline.domain.access import Principal, Role
from cashline.errors import (
    CashlineError,
    ConflictError,
    DependencyUnavailableError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnprocessableError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from cashline.observability import logger
from cashline.schemas.common import ErrorDetail, ErrorOutput, invalid_input, parse_json
from cashline.schemas.openapi import RouteSpec
from chalicelib.auth import api_key_authorizer
from chalicelib.runtime import api_ready, deferred, handler_clock

if TYPE_CHECKING:
    from cashline.services import idempotency
else:
    # Powertools' idempotency utility: imported by the first request that carries an Idempotency-Key.
    idempotency = deferred("cashline.services.idempotency")

# The one table from domain errors to HTTP statuses. Order matters: subclasses before bases.
STATUS_BY_ERROR: list[tuple[type[CashlineError], int]] = [
    (ValidationError, 400),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLargeError, 413),
    (UnsupportedMediaTypeError, 415),
    (UnprocessableError, 422),
    (DependencyUnavailableError, 503),
]

ROUTES: list[RouteSpec] = []

JSON_CONTENT_TYPES = ["application/json"]

BodyT = TypeVar("BodyT")
QueryT = TypeVar("QueryT")


@dataclass(frozen=True, slots=True)
class Call(Generic[BodyT, QueryT]):
    """Everything a route function may use: who calls, with what, and when."""

    principal: Principal | None
    body: BodyT
    query: QueryT
    path: dict[str, str]
    now: datetime
    request_id: str
    raw_body: bytes = b""
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str:
        if self.principal is None:
            raise UnauthorizedError("this route needs an API key")
        return self.principal.tenant_id


@dataclass(frozen=True, slots=True)
class RawOutput:
    """A non-JSON answer (a CSV export): the route declares `produces=` and returns this."""

    body: str
    content_type: str
    filename: str | None = None


def status_of(error: CashlineError) -> int:
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return 400


# Answers carry a tenant's data (or say that a key was refused): no browser or proxy may keep them.
NO_STORE: dict[str, str | list[str]] = {"Cache-Control": "no-store"}


def json_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": "application/json", **NO_STORE, **(headers or {})},
    )


def error_response(status: int, detail: ErrorDetail, headers: dict[str, str] | None = None) -> Response:
    body = ErrorOutput(error=detail).model_dump(mode="json")
    # `field` and `request_id` are always there (null when none); the rest only when they say something.
    body["error"] = {k: v for k, v in body["error"].items() if v is not None or k in {"field", "request_id"}}
    return json_response(status, json.dumps(body), headers)


def _parse(
    model: type[BaseModel] | None, raw: bytes | dict[str, str] | None, *, from_query: bool
) -> BaseModel | None:
    if model is None:
        return None
    if not from_query:
        return parse_json(model, cast(bytes, raw))
    try:
        return model.model_validate(raw or {})
    except PydanticValidationError as exc:
        raise invalid_input(exc) from exc


def _principal(request: Request) -> Principal | None:
    context = (request.context or {}).get("authorizer") or {}
    if "tenant_id" not in context:
        return None
    return Principal(tenant_id=context["tenant_id"], key_id=context["key_id"], role=Role(context["role"]))


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _raw_body(request: Request) -> bytes:
    raw = request.raw_body
    return raw.encode() if isinstance(raw, str) else (raw or b"")


def _query_dict(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def api_route(
    blueprint: Blueprint,
    path: str,
    *,
    method: str,
    summary: str,
    response: type[BaseModel] | None,
    role: Role | None,
    status: int = 200,
    request: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    idempotent: bool = False,
    redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    tag: str = "general",
    accepts: tuple[str, ...] = (),
    produces: str = "application/json",
    also_answers: tuple[int, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route on `blueprint` with parsing, role checks, idempotency and error mapping."""
    spec = RouteSpec(
        method=method,
        path=path,
        summary=summary,
        status=status,
        response_model=response,
        request_model=request,
        query_model=query,
        role=role.value if role else None,
        idempotent=idempotent,
        tag=tag,
        accepts=accepts,
        produces=produces,
        also_answers=also_answers,
    )
    ROUTES.append(spec)

    def decorator(route_function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(route_function)
        def view(**path_params: str) -> Response:
            current = blueprint.current_request
            request_id = str((current.context or {}).get("requestId", ""))
            logger.set_correlation_id(request_id)
            started = time.perf_counter()
            response = _answer(spec, route_function, current, path_params, request_id, redact)
            logger.info(
                "request served",
                route=f"{method} {path}",
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                tenant_id=((current.context or {}).get("authorizer") or {}).get("tenant_id"),
            )
            return response

        blueprint.route(
            path,
            methods=[method],
            authorizer=api_key_authorizer if role else None,
            # Every type reaches _serve, so a wrong body type gets our 415, not Chalice's own shape.
            content_types=["*/*"],
        )(view)
        return route_function

    return decorator


def _answer(
    spec: RouteSpec,
    route_function: Callable[..., Any],
    request: Request,
    path_params: dict[str, str],
    request_id: str,
    redact: Callable[[dict[str, Any]], dict[str, Any]] | None,
) -> Response:
    """Serve the request; every failure becomes a typed error body, a 500 never shows internals."""
    try:
        api_ready()
        return _serve(spec, route_function, request, path_params, request_id, redact)
    except CashlineError as error:
        return error_response(
            status_of(error),
            ErrorDetail(
                type=error.error_type,
                message=error.message,
                field=error.field,
                request_id=request_id,
                rule=_text_or_none(error.details.get("rule")),
                existing_id=_text_or_none(error.details.get("existing_id")),
            ),
        )
    except Exception:
        logger.exception("unhandled error", route=f"{spec.method} {spec.path}")
        return error_response(
            500, ErrorDetail(type="internal_error", message="internal error", request_id=request_id)
        )


def _serve(
    spec: RouteSpec,
    route_function: Callable[..., Any],
    request: Request,
    path_params: dict[str, str],
    request_id: str,
    redact: Callable[[dict[str, Any]], dict[str, Any]] | None,
) -> Response:
    raw_body = _raw_body(request)
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    accepted = spec.accepts or tuple(JSON_CONTENT_TYPES)
    if raw_body and content_type not in accepted:
        raise UnsupportedMediaTypeError(f"send the body as {' or '.join(accepted)}", field="Content-Type")
    # Nothing here inflates a body: a compressed one would be read as if it were the document.
    if raw_body and (request.headers.get("content-encoding") or "identity").strip().lower() != "identity":
        raise UnsupportedMediaTypeError(
            "send the body uncompressed, without Content-Encoding", field="Content-Encoding"
        )
    principal = _principal(request)
    if spec.role is not None:
        if principal is None:
            raise UnauthorizedError("this route needs an API key")
        if not principal.role.can(Role(spec.role)):
            raise ForbiddenError(f"a {principal.role.value} key may not do this; it needs {spec.role}")
    call = Call(
        principal=principal,
        body=None if spec.accepts else _parse(spec.request_model, raw_body, from_query=False),
        query=_parse(spec.query_model, _query_dict(request), from_query=True),
        path=path_params,
        now=handler_clock(),
        request_id=request_id,
        raw_body=raw_body,
        content_type=content_type,
        headers={str(k).lower(): str(v) for k, v in (request.headers or {}).items()},
    )

    if spec.produces != "application/json":
        raw: RawOutput = route_function(call)
        raw_headers: dict[str, str | list[str]] = {"Content-Type": raw.content_type, **NO_STORE}
        if raw.filename:
            raw_headers["Content-Disposition"] = f'attachment; filename="{raw.filename}"'
        return Response(body=raw.body, status_code=spec.status, headers=raw_headers)

    def produce() -> tuple[int, dict[str, Any]]:
        result = route_function(call)
        # A route returns its output model, or (status, model) when the status depends on the result.
        status, output = result if isinstance(result, tuple) else (spec.status, result)
        body = output.model_dump(mode="json") if isinstance(output, BaseModel) else {}
        return status, body

    idempotency_key = request.headers.get("idempotency-key")
    if spec.idempotent and idempotency_key is not None and principal is not None:
        stored = idempotency.run_once(
            tenant_id=principal.tenant_id,
            operation=f"{spec.method} {spec.path}",
            idempotency_key=idempotency_key,
            # Same key, same route, other path ids, query or body: refused, not replayed.
            request_fingerprint=idempotency.fingerprint(
                json.dumps([path_params, _query_dict(request)], sort_keys=True).encode() + b"\n" + raw_body
            ),
            produce=produce,
            redact=redact or (lambda body: body),
            lambda_context=request.lambda_context,
        )
        headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
        return json_response(stored.status_code, json.dumps(stored.body), headers)
    status, body = produce()
    if status == 204:
        return Response(body="", status_code=204, headers=NO_STORE)
    return json_response(status, json.dumps(body))


# The methods API Gateway hands to a function when the API declares them. Any other method on a
# known path would get API Gateway's MISSING_AUTHENTICATION_TOKEN answer (our 404), which tells a
# client the path does not exist; HEAD and OPTIONS are left to API Gateway.
ROUTABLE_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")
METHOD_NOT_ALLOWED_VIEW = "method_not_allowed"


def answer_undeclared_methods(app: Chalice) -> None:
    """Give every path a view for the methods it does not declare: 405 in the API's error shape,
    with `Allow` naming the declared ones. Call it after every blueprint is registered.

    These are real routes (API Gateway methods without an authorizer), so the deployed API and the
    local gateway answer alike; they are not in `ROUTES`, so the OpenAPI document lists none of them.
    """
    for path, entries in list(app.routes.items()):
        undeclared = [method for method in ROUTABLE_METHODS if method not in entries]
        if undeclared:
            app.route(
                path,
                methods=undeclared,
                name=METHOD_NOT_ALLOWED_VIEW,
                # Any body type: a wrong method with a PDF body is still a 405, not a 415.
                content_types=["*/*"],
            )(_method_not_allowed(app, path, ", ".join(sorted(entries))))


def _method_not_allowed(app: Chalice, path: str, allow: str) -> Callable[..., Response]:
    def view(**_path_params: str) -> Response:
        request = cast(Request, app.current_request)  # set by Chalice before any view runs
        return error_response(
            405,
            ErrorDetail(
                type="method_not_allowed",
                message=f"{request.method} is not allowed on {path}; it takes {allow}",
                request_id=str((request.context or {}).get("requestId", "")),
            ),
            {"Allow": allow},
        )

    return view
