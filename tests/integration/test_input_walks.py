"""Walks over the API's own OpenAPI document: every JSON body refuses an unknown field, every date
refuses a date outside 1970..2100, every range refuses its bounds reversed, each with a 400 that
names the field. A route added later is walked too, or the coverage checks below fail."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from cashline.schemas.common import range_pairs
from tests.utils import Api, TestTenant, error_of

# A minimal body each write route's model accepts. Validation runs before the route does, so the
# ids in the path need not exist (the fx-rates body is read by its service, for a real tenant).
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/v1/tenant"): {"version": 1},
    ("post", "/v1/api-keys"): {"name": "walk", "role": "admin"},
    ("post", "/v1/invoices"): {
        "direction": "receivable",
        "counterparty": {"name": "Kunde AG"},
        "number": "W-1",
        "issue_date": "2026-01-05",
        "due_date": "2026-02-04",
        "currency": "EUR",
        "amount_due": 100,
    },
    ("post", "/v1/invoices/{invoice_id}/status"): {"status": "open"},
    ("post", "/v1/campaigns"): {"name": "c", "steps": [{"offset_days": 1, "channel": "email"}]},
    ("patch", "/v1/campaigns/{campaign_id}"): {"version": 1},
    ("post", "/v1/campaigns/{campaign_id}/preview"): {"invoice_id": "inv_x"},
    ("put", "/v1/collection-settings"): {},
    ("put", "/v1/counterparties/{counterparty_id}/campaign"): {"campaign_id": None},
    ("post", "/v1/reminder-templates"): {"name": "walk", "channel": "email", "language": "de", "body": "Hi"},
    ("post", "/v1/invoices/{invoice_id}/collection"): {"action": "pause"},
    ("post", "/v1/invoices/{invoice_id}/promises"): {"date": "2026-03-02", "amount": 100},
    ("post", "/v1/letters/{letter_id}/status"): {"status": "printed"},
    ("patch", "/v1/tasks/{task_id}"): {"version": 1},
    ("post", "/v1/counterparties"): {"name": "Kunde AG"},
    ("patch", "/v1/counterparties/{counterparty_id}"): {"version": 1},
    ("post", "/v1/invoices/{invoice_id}/documents"): {"content_type": "application/pdf"},
    ("put", "/v1/financing/settings"): {},
    ("post", "/v1/financing/quotes"): {
        "payout_date": "2026-03-02",
        "installments": 3,
        "amount": 100_000,
        "currency": "EUR",
    },
    ("post", "/v1/invoices/{invoice_id}/financing"): {"payout_date": "2026-03-02", "installments": 3},
    ("post", "/v1/processor-connections"): {"provider": "stripe", "webhook_secret": "whsec_12345678"},
    ("post", "/v1/processor-connections/{connection_id}/rotate-secret"): {"webhook_secret": "whsec_12345678"},
    ("post", "/v1/payments"): {"amount": 100, "currency": "EUR", "value_date": "2026-01-05"},
    ("post", "/v1/payments/{payment_id}/allocations"): {
        "allocations": [{"invoice_id": "inv_x", "amount": 1}]
    },
    ("put", "/v1/payment-settings"): {},
    ("post", "/v1/fx-rates"): {
        "date": "2026-01-05",
        "rates": [{"base": "EUR", "quote": "CHF", "rate": "0.93"}],
    },
    ("post", "/v1/counterparties/{counterparty_id}/statements"): {"from": "2026-01-01", "to": "2026-01-31"},
    ("post", "/v1/bank-transactions/{transaction_id}/match"): {"proposal": 0},
    ("post", "/v1/bank-transactions/{transaction_id}/ignore"): {"reason": "own transfer"},
    ("post", "/v1/bank-transactions/{transaction_id}/unmatch"): {},
    ("post", "/v1/bank-discrepancies/{discrepancy_id}/resolve"): {"note": "fees agreed"},
    ("post", "/v1/bank-accounts"): {"name": "Hausbank", "currency": "EUR", "iban": "DE89370400440532013000"},
    ("patch", "/v1/bank-accounts/{bank_account_id}"): {"version": 1},
    ("put", "/v1/reconciliation-settings"): {"auto_match_threshold": 95, "not_in_bank_days": 7},
    ("post", "/v1/products"): {"name": "Seats", "tax_category": "standard"},
    ("patch", "/v1/products/{product_id}"): {},
    ("post", "/v1/prices"): {
        "product_id": "prd_x",
        "currency": "EUR",
        "unit_amount": 100,
        "interval": "month",
    },
    ("patch", "/v1/prices/{price_id}"): {},
    ("post", "/v1/subscriptions"): {
        "counterparty_id": "cp_x",
        "items": [{"price_id": "prc_x", "quantity": 1}],
        "start_date": "2026-01-05",
        "collection_method": "send_invoice",
    },
    ("post", "/v1/subscriptions/{subscription_id}/change"): {"items": [{"price_id": "prc_x", "quantity": 1}]},
    ("post", "/v1/subscriptions/{subscription_id}/cancel"): {"at": "period_end"},
    ("post", "/v1/subscriptions/{subscription_id}/resume"): {},
    ("post", "/v1/subscription-items/{item_id}/usage"): {"quantity": 1, "timestamp": "2026-01-05T10:00:00Z"},
    ("put", "/v1/billing-settings"): {},
}
# Bodies that are not a Cashline JSON model, and why an unknown field is not an error there.
RAW_BODIES = {
    # A processor's event: it adds fields whenever it likes; the signature, not the shape, is checked.
    ("post", "/v1/webhooks/stripe/{connection_id}"),
    ("post", "/v1/webhooks/gocardless/{connection_id}"),
    ("post", "/v1/webhooks/paypal/{connection_id}"),
    # Files: an e-invoice (XML or PDF) and a CSV import, checked by their own parsers.
    ("post", "/v1/invoices/import"),
    ("post", "/v1/imports"),
    # A bank file (camt XML, MT940, CSV): its format is read from the bytes by its own parsers.
    ("post", "/v1/bank-statements"),
    # An invoice logo (PNG or JPEG): its type read from the bytes, its size from the image header.
    ("put", "/v1/billing-settings/logo"),
}
OUTSIDE = ["0001-01-01", "1969-12-31", "2101-01-01", "9999-12-31"]
OUTSIDE_PERIODS = ["9999-12", "9999-W52", "0001-01", "1969-W01"]


def _document(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = api.get("/v1/openapi.json").json()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def _json_body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = (operation.get("requestBody") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    return schema if schema and "$ref" in schema else None


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _kinds(document: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema and, through references and unions, every schema it may be."""
    schema = _resolve(document, schema)
    yield schema
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _kinds(document, option)


def _is_date(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    return any(s.get("format") in {"date", "date-time"} for s in _kinds(document, schema))


def _is_period(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    return any(r"\d{4}" in s.get("pattern", "") for s in _kinds(document, schema))


def _date_fields(
    document: dict[str, Any], schema: dict[str, Any], body: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], bool]]:
    """(path, is_period) of every date or period field of `schema`: all of an object's own, and those
    of nested objects and lists that `body` holds."""
    for kind in _kinds(document, schema):
        for name, field in (kind.get("properties") or {}).items():
            if _is_date(document, field) or _is_period(document, field):
                yield (*path, name), _is_period(document, field)
            elif isinstance(body, dict) and name in body:
                value = body[name]
                item_schema: dict[str, Any] = next(
                    (s["items"] for s in _kinds(document, field) if "items" in s), {}
                )
                for index, item in enumerate(value if isinstance(value, list) else []):
                    yield from _date_fields(document, item_schema, item, (*path, name, index))
                if isinstance(value, dict):
                    yield from _date_fields(document, field, value, (*path, name))


def _with(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x_01JD3Z5W4YV6Q3R0M8X2N5B7C9", path)


def _send(api: Api, tenant: TestTenant, method: str, path: str, body: dict[str, Any]) -> Any:
    return api.request(method.upper(), _concrete(path), key=tenant.admin, json_body=body)


def _a_value(document: dict[str, Any], schema: dict[str, Any]) -> str:
    """A value a required query parameter accepts: its first allowed one."""
    return next(str(s["enum"][0]) for s in _kinds(document, schema) if s.get("enum"))


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def test_every_write_route_with_a_body_is_walked(api: Api) -> None:
    document = _document(api)
    with_body = {(m, p) for m, p, op in _operations(document) if op.get("requestBody")}
    # A new write route fails here until it has a valid body above (or a reason to take raw bytes).
    assert with_body == set(VALID_BODIES) | RAW_BODIES
    print(f"\nunknown field walk: {len(VALID_BODIES)} JSON body routes, {len(RAW_BODIES)} raw ones exempt")
    assert all(_json_body_schema(op) for m, p, op in _operations(document) if (m, p) in VALID_BODIES)


@pytest.mark.parametrize(("method", "path"), sorted(VALID_BODIES))
def test_every_body_refuses_an_unknown_field(api: Api, tenant: TestTenant, method: str, path: str) -> None:
    response = _send(api, tenant, method, path, {**VALID_BODIES[(method, path)], "evil_extra": 1})
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == "evil_extra"


def test_every_query_refuses_an_unknown_parameter(api: Api, tenant: TestTenant) -> None:
    walked, document = 0, _document(api)
    for method, path, operation in _operations(document):
        if not any(p["in"] == "query" for p in operation.get("parameters", [])):
            continue
        body = VALID_BODIES.get((method, path))
        required = "".join(
            f"{p['name']}={_a_value(document, p['schema'])}&"
            for p in operation["parameters"]
            if p["in"] == "query" and p.get("required")
        )
        response = api.request(
            method.upper(), f"{_concrete(path)}?{required}evil_extra=1", key=tenant.admin, json_body=body
        )
        assert response.status_code == 400, (method, path, response.body)
        assert error_of(response)["field"] == "evil_extra", (method, path)
        walked += 1
    assert walked >= 19
    print(f"\nunknown query parameter walk: {walked} routes")


def _body_date_cases(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], str, str]]:
    """(method, path, body, field, why) for every date in every body: outside the window, and
    every range reversed."""
    for (method, path), body in VALID_BODIES.items():
        operation = document["paths"][path][method]
        schema = _json_body_schema(operation)
        assert schema is not None
        fields = list(_date_fields(document, schema, body))
        for field_path, is_period in fields:
            for value in OUTSIDE_PERIODS if is_period else OUTSIDE:
                yield method, path, _with(body, field_path, value), _field(field_path), value
        names = [p[-1] for p, _ in fields if len(p) == 1]
        for lower, upper in range_pairs([str(n) for n in names]):
            reversed_body = {**body, lower: "2026-06-01", upper: "2026-01-01"}
            yield method, path, reversed_body, upper, "reversed"


def _query_date_cases(document: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(path, query, field, why) for every date or period query parameter of every GET route."""
    for method, path, operation in _operations(document):
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if method != "get" or not query:
            continue
        dates = [p["name"] for p in query if _is_date(document, p["schema"])]
        periods = [p["name"] for p in query if _is_period(document, p["schema"])]
        for name in dates:
            for value in OUTSIDE:
                yield path, f"{name}={value}", name, value
        for name in periods:
            for value in OUTSIDE_PERIODS:
                yield path, f"{name}={value}", name, value
        for lower, upper in range_pairs(dates):
            yield path, f"{lower}=2026-06-01&{upper}=2026-01-01", upper, "reversed"


def test_every_date_in_a_body_is_checked(api: Api, tenant: TestTenant) -> None:
    routes, cases = set(), 0
    for method, path, body, field, why in _body_date_cases(_document(api)):
        response = _send(api, tenant, method, path, body)
        assert response.status_code == 400, (method, path, field, why, response.body)
        assert error_of(response)["field"] == field, (method, path, why)
        routes.add((method, path))
        cases += 1
    # The routes that take a date in their body today (a new one only adds to them).
    assert {
        ("post", "/v1/invoices"),
        ("post", "/v1/invoices/{invoice_id}/promises"),
        ("patch", "/v1/tasks/{task_id}"),
        ("post", "/v1/financing/quotes"),
        ("post", "/v1/invoices/{invoice_id}/financing"),
        ("post", "/v1/payments"),
        ("post", "/v1/fx-rates"),
        ("post", "/v1/counterparties/{counterparty_id}/statements"),
    } <= routes
    print(f"\nbody date walk: {len(routes)} routes, {cases} cases")


def test_every_date_in_a_query_is_checked(api: Api, tenant: TestTenant) -> None:
    routes, cases = set(), 0
    for path, query, field, why in _query_date_cases(_document(api)):
        response = api.get(f"{_concrete(path)}?{query}", key=tenant.admin)
        assert response.status_code == 400, (path, query, response.body)
        assert error_of(response)["field"] == field, (path, query, why)
        routes.add(path)
        cases += 1
    assert {
        "/v1/invoices",
        "/v1/invoices/export",
        "/v1/payments",
        "/v1/tasks",
        "/v1/reports/upcoming",
        "/v1/reports/summary",
        "/v1/reports/aging",
        "/v1/fx-rates",
    } <= routes
    print(f"\nquery date walk: {len(routes)} routes, {cases} cases")


@pytest.mark.parametrize(
    "query",
    [
        "/v1/payments?value_date_from=2027-01-01&value_date_to=2026-01-01",
        "/v1/tasks?due_from=2027-01-01&due_to=2026-01-01",
        "/v1/reports/aging?as_of=9999-12-31",
        "/v1/reports/aging?as_of=0001-01-01",
        "/v1/reports/upcoming?period=9999-12",
        "/v1/reports/upcoming?period=9999-W52",
        "/v1/fx-rates?on=0001-01-01",
    ],
)
def test_the_dates_the_issue_found_are_a_400(api: Api, tenant: TestTenant, query: str) -> None:
    response = api.get(query, key=tenant.read_only)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] in {"value_date_to", "due_to", "as_of", "period", "on"}


def _text_fields(document: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    """A body's own string fields that take free text (not dates, choices or numbers)."""
    for kind in _kinds(document, schema):
        for name, field in (kind.get("properties") or {}).items():
            kinds = list(_kinds(document, field))
            if any(k.get("type") == "string" and "format" not in k and "enum" not in k for k in kinds):
                yield name


def test_every_text_field_of_every_body_refuses_a_control_character(api: Api, tenant: TestTenant) -> None:
    document, routes, cases = _document(api), set(), 0
    for (method, path), body in VALID_BODIES.items():
        schema = _json_body_schema(document["paths"][path][method])
        assert schema is not None
        for name in set(_text_fields(document, schema)):
            response = _send(api, tenant, method, path, {**body, name: "a\x00b"})
            assert response.status_code == 400, (method, path, name, response.body)
            assert error_of(response)["field"] == name, (method, path, name)
            routes.add((method, path))
            cases += 1
    assert len(routes) >= 20
    print(f"\ncontrol character walk: {len(routes)} routes, {cases} fields")
