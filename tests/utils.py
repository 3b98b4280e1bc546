"""Builders and helpers the tests share: API calls, tenants with keys of every role."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cashline.domain.access import Role
from cashline.services.access import TenantSettings, create_api_key, create_tenant
from localcloud.gateway import ApiGateway, GatewayResponse


@dataclass
class Api:
    """Calls the API in process, through the same gateway emulation `make run` serves."""

    gateway: ApiGateway

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
        return self.gateway.call(method, path, headers=all_headers, body=body)

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
    now = now or datetime.now(UTC)
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
