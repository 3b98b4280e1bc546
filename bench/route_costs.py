"""DynamoDB calls and consumed capacity per route, the authorizer's share shown apart."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.dynamodb_meter import metered
from cashline.domain.access import Role
from cashline.services.access import create_api_key
from localcloud.gateway import ApiGateway
from tests.utils import make_tenant


@dataclass(frozen=True)
class RouteFigure:
    route: str
    status: int
    calls: int
    operations: str
    read_units: float
    write_units: float


def _measure(name: str, action: Callable[[], Any]) -> RouteFigure:
    with metered() as meter:
        response = action()
    return RouteFigure(
        name, response.status_code, meter.total_calls, meter.describe(), meter.read_units, meter.write_units
    )


def measure_routes(gateway: ApiGateway) -> list[RouteFigure]:
    tenant = make_tenant("Bench GmbH")
    admin = {"authorization": f"Bearer {tenant.admin}"}
    victim = create_api_key(tenant.tenant_id, name="to revoke", role=Role.READ_ONLY, now=datetime.now(UTC))

    def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        raw = None if body is None else json.dumps(body).encode()
        return gateway.call(method, path, headers={**admin, **(headers or {})}, body=raw)

    version = call("GET", "/v1/tenant").json()["version"]
    new_key = {"name": "bench", "role": "finance"}
    return _access_routes(gateway, tenant, call, version, new_key, victim.key.key_id) + _business_routes(call)


def _business_routes(call: Any) -> list[RouteFigure]:
    """Counterparties, invoices, financing and reports: one of each route with realistic data."""
    supplier = call("POST", "/v1/counterparties", {"name": "Bench Supplier", "tax_id": "DE123123123"}).json()
    bill_body = {
        "direction": "payable",
        "counterparty": {"id": supplier["id"]},
        "issue_date": "2026-11-01",
        "due_date": "2027-03-01",
        "currency": "EUR",
        "lines": [{"description": "Steel", "quantity": "10", "unit_amount": 12_345, "tax_rate": "19"}],
    }
    figures = [
        _measure(
            "POST /v1/counterparties", lambda: call("POST", "/v1/counterparties", {"name": "Bench Customer"})
        ),
        _measure("GET /v1/counterparties/{id}", lambda: call("GET", f"/v1/counterparties/{supplier['id']}")),
        _measure(
            "POST /v1/invoices (lines, existing counterparty)",
            lambda: call("POST", "/v1/invoices", {**bill_body, "number": "B-1"}),
        ),
        _measure(
            "POST /v1/invoices (inline new counterparty)",
            lambda: call(
                "POST", "/v1/invoices", {**bill_body, "number": "B-2", "counterparty": {"name": "Inline New"}}
            ),
        ),
    ]
    bill = call("GET", "/v1/invoices?direction=payable&limit=1").json()["data"][0]
    call(
        "PUT",
        "/v1/financing/settings",
        {"version": 0, "debit": {"processor": "stripe", "customer_id": "c", "payment_method_id": "p"}},
    )
    figures += [
        _measure("GET /v1/invoices/{id}", lambda: call("GET", f"/v1/invoices/{bill['id']}")),
        _measure(
            "GET /v1/invoices?status=open&limit=20", lambda: call("GET", "/v1/invoices?status=open&limit=20")
        ),
        _measure(
            "POST /v1/invoices/{id}/status (disputed)",
            lambda: call("POST", f"/v1/invoices/{bill['id']}/status", {"status": "disputed"}),
        ),
        _measure(
            "POST /v1/invoices/{id}/status (open)",
            lambda: call("POST", f"/v1/invoices/{bill['id']}/status", {"status": "open"}),
        ),
        _measure("GET /v1/invoices/{id}/events", lambda: call("GET", f"/v1/invoices/{bill['id']}/events")),
        _measure(
            "POST /v1/financing/quotes",
            lambda: call(
                "POST",
                "/v1/financing/quotes",
                {"amount": 500_000, "currency": "EUR", "payout_date": "2027-01-15", "installments": 6},
            ),
        ),
        _measure(
            "POST /v1/invoices/{id}/financing (6 installments)",
            lambda: call(
                "POST",
                f"/v1/invoices/{bill['id']}/financing",
                {"payout_date": "2027-01-15", "installments": 6},
            ),
        ),
    ]
    plan = call("GET", "/v1/financing/plans?limit=1").json()["data"][0]
    figures += [
        _measure("GET /v1/financing/plans/{id}", lambda: call("GET", f"/v1/financing/plans/{plan['id']}")),
        _measure(
            "GET /v1/reports/upcoming (8 weeks)", lambda: call("GET", "/v1/reports/upcoming?group_by=week")
        ),
        _measure("GET /v1/reports/summary", lambda: call("GET", "/v1/reports/summary")),
    ]
    return figures


def _access_routes(
    gateway: ApiGateway, tenant: Any, call: Any, version: int, new_key: dict[str, str], victim_key: str
) -> list[RouteFigure]:
    return [
        _measure("GET /v1/health (no auth)", lambda: gateway.call("GET", "/v1/health")),
        _measure("GET /v1/openapi.json (no auth, no database)", lambda: call("GET", "/v1/openapi.json")),
        _measure("GET /v1/tenant", lambda: call("GET", "/v1/tenant")),
        _measure("PATCH /v1/tenant", lambda: call("PATCH", "/v1/tenant", {"version": version, "name": "B2"})),
        _measure("POST /v1/api-keys", lambda: call("POST", "/v1/api-keys", new_key)),
        _measure(
            "POST /v1/api-keys + Idempotency-Key (first)",
            lambda: call("POST", "/v1/api-keys", new_key, {"idempotency-key": "bench-1"}),
        ),
        _measure(
            "POST /v1/api-keys + Idempotency-Key (replay)",
            lambda: call("POST", "/v1/api-keys", new_key, {"idempotency-key": "bench-1"}),
        ),
        _measure("GET /v1/api-keys?limit=20", lambda: call("GET", "/v1/api-keys?limit=20")),
        _measure("GET /v1/api-keys/{id}", lambda: call("GET", f"/v1/api-keys/{victim_key}")),
        _measure("DELETE /v1/api-keys/{id}", lambda: call("DELETE", f"/v1/api-keys/{victim_key}")),
        _measure(
            "any route, refused key (401)",
            lambda: gateway.call(
                "GET", "/v1/tenant", headers={"authorization": "Bearer " + tenant.admin[:-3] + "xyz"}
            ),
        ),
    ]


@dataclass(frozen=True)
class SweepFigure:
    keys_in_table: int
    due_in_tick: int
    calls: int
    items_read: int
    read_units: float
    write_units: float


def measure_sweep(app: Any, sizes: list[int], due: int, start: datetime) -> list[SweepFigure]:
    """A housekeeping tick with `due` keys due, among `size` keys that expire later."""
    from localcloud.handlers import fire_schedule

    figures = []
    for offset, size in enumerate(sizes):
        tick = start + timedelta(days=30 * offset)
        fire_schedule(app, "housekeeping", tick - timedelta(hours=1))  # sets the sweep cursor
        tenant = make_tenant(f"Sweep {size}")
        created = tick - timedelta(days=1)
        for index in range(size):
            days = 1 if index < due else 400  # `due` expire at tick time, the rest next year
            create_api_key(
                tenant.tenant_id, name=f"k{index}", role=Role.READ_ONLY, now=created, expires_in_days=days
            )
        with metered() as meter:
            result = fire_schedule(app, "housekeeping", tick)
        figures.append(
            SweepFigure(
                size, due, meter.total_calls, result["items_read"], meter.read_units, meter.write_units
            )
        )
    return figures
