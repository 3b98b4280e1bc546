"""Builders and helpers the tests share: API calls, tenants with keys of every role, the fixed instant."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cashline.clock import parse_utc
from cashline.domain.access import Role
from cashline.services.access import TenantSettings, create_api_key, create_tenant
from chalicelib.runtime import handler_clock
from localcloud.gateway import ApiGateway, GatewayResponse

# The instant a test runs at when it opts in (the `frozen_now` fixture; `api.at(...)` and `fire_schedule`'s
# `at` take any instant): away from today, so nothing passes only because of the day it runs on.
# CASHLINE_TEST_NOW moves it, to check that a test depends on no particular date (test_financing's
# calendar cases, fixed dates from 2027-06 on, need it before them).
FROZEN_NOW = parse_utc(os.environ.get("CASHLINE_TEST_NOW") or "2027-03-15T10:00:00Z")


@dataclass
class Api:
    """Calls the API in process, through the same gateway emulation `make run` serves."""

    gateway: ApiGateway
    instant: datetime | None = None  # None: the app's clock (the system clock unless a test set one)

    def at(self, instant: datetime) -> Api:
        """The same client, its requests answered as if it were `instant` (authorizer and route)."""
        return replace(self, instant=instant)

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json_body: Any = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> GatewayResponse:
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        body = (
            raw_body
            if raw_body is not None
            else (None if json_body is None else json.dumps(json_body).encode())
        )
        return self.gateway.call(method, path, headers=all_headers, body=body, at=self.instant)

    def get(self, path: str, **kwargs: Any) -> GatewayResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> GatewayResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> GatewayResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> GatewayResponse:
        return self.request("DELETE", path, **kwargs)


@dataclass
class TestTenant:
    __test__ = False  # a fixture value, not a test class

    tenant_id: str
    keys: dict[Role, str] = field(default_factory=dict)
    key_ids: dict[Role, str] = field(default_factory=dict)

    @property
    def admin(self) -> str:
        return self.keys[Role.ADMIN]

    @property
    def finance(self) -> str:
        return self.keys[Role.FINANCE]

    @property
    def read_only(self) -> str:
        return self.keys[Role.READ_ONLY]


def make_tenant(name: str = "Acme GmbH", *, now: datetime | None = None) -> TestTenant:
    now = now or handler_clock()  # the instant the test runs the app at, so keys are valid then
    tenant = create_tenant(
        TenantSettings(name=name, country="DE", base_currency="EUR", timezone="Europe/Berlin"), now=now
    )
    made = TestTenant(tenant_id=tenant.tenant_id)
    for role in Role:
        created = create_api_key(tenant.tenant_id, name=f"test {role.value}", role=role, now=now)
        made.keys[role] = created.secret
        made.key_ids[role] = created.key.key_id
    return made


def error_of(response: GatewayResponse) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    return error
