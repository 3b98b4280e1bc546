"""The in-process API Gateway as a WSGI application.

WSGI is what in-process HTTP clients speak (schemathesis, werkzeug's test client): through this
adapter they reach the same gateway emulation `make run` serves, authorizer and error shapes
included, without a socket or a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from localcloud.gateway import ApiGateway

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# What may stay unescaped in a path segment (RFC 3986 pchar), so "/" still separates segments.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _target(environ: dict[str, Any]) -> str:
    # WSGI gives the path decoded (as latin-1 text); API Gateway routes the path as sent.
    path = quote(str(environ.get("PATH_INFO") or "/").encode("latin-1"), safe=_PATH_SAFE)
    query = str(environ.get("QUERY_STRING") or "")
    return f"{path}?{query}" if query else path


def _body(environ: dict[str, Any]) -> bytes | None:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    return body or None


def wsgi_app(gateway: ApiGateway) -> WsgiApp:
    """A WSGI callable that answers every request through `gateway`."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answer = gateway.call(
            str(environ["REQUEST_METHOD"]), _target(environ), headers=_headers(environ), body=_body(environ)
        )
        headers = [(name, value) for name, value in answer.headers.items() if name != "content-length"]
        headers.append(("content-length", str(len(answer.body))))
        start_response(f"{answer.status_code} {_reason(answer.status_code)}", headers)
        return [answer.body]

    return app


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
