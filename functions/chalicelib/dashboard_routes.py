"""/dashboard: the web dashboard, three static files (HTML, CSS, JavaScript) served by the API itself.

No authorizer on these routes: the page asks for an API key, keeps it in the tab's sessionStorage and
calls the public API with `Authorization: Bearer <key>`, so it can read nothing a key could not.
The files live under chalicelib/ so that Chalice ships them in the Lambda package.

The page links its CSS and JavaScript as `dashboard/app.css?v=<hash>` (relative, so the deployed
stage prefix such as `/api/dashboard` still works): the HTML is revalidated on every load, the
assets are cached and a new deployment changes their URL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from chalice.app import Blueprint, Response

from cashline.schemas.openapi import RouteSpec
from chalicelib.http import ROUTES

dashboard = Blueprint(__name__)

FILES = Path(__file__).with_name("dashboard")
TAG = "dashboard"

# Everything the page loads comes from this origin; the icon is an empty data: URL (no /favicon.ico 404).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Asset:
    path: str
    filename: str
    content_type: str
    cache_control: str
    summary: str


ASSETS = [
    Asset(
        "/dashboard",
        "index.html",
        "text/html; charset=utf-8",
        "no-cache",
        "The web dashboard (asks for an API key, then reads the API with it)",
    ),
    Asset(
        "/dashboard/app.js",
        "app.js",
        "text/javascript; charset=utf-8",
        "public, max-age=86400",
        "The dashboard's script",
    ),
    Asset(
        "/dashboard/app.css",
        "app.css",
        "text/css; charset=utf-8",
        "public, max-age=86400",
        "The dashboard's style sheet",
    ),
]


@cache
def _version(filename: str) -> str:
    return hashlib.sha256((FILES / filename).read_bytes()).hexdigest()[:12]


@cache
def _body(filename: str) -> str:
    text = (FILES / filename).read_text(encoding="utf-8")
    if filename == "index.html":
        for asset in ("app.css", "app.js"):
            text = text.replace(f'"dashboard/{asset}"', f'"dashboard/{asset}?v={_version(asset)}"')
    return text


def _serve(asset: Asset) -> Response:
    return Response(
        body=_body(asset.filename),
        status_code=200,
        headers={
            "Content-Type": asset.content_type,
            "Cache-Control": asset.cache_control,
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _register(asset: Asset) -> None:
    def view() -> Response:
        return _serve(asset)

    view.__name__ = "dashboard_" + asset.filename.replace(".", "_")
    dashboard.route(asset.path, methods=["GET"])(view)
    # Not an api_route (it answers JSON only), but listed in openapi.json like every route.
    ROUTES.append(
        RouteSpec(
            method="GET",
            path=asset.path,
            summary=asset.summary,
            status=200,
            response_model=None,
            tag=TAG,
            produces=asset.content_type.split(";")[0],
        )
    )


for _asset in ASSETS:
    _register(_asset)
