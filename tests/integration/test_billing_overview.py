"""The subscriptions overview against DynamoDB Local: status counts and MRR per plan kept in the
transactions that change a subscription (create, pause, resume, change, cancel, issue), the invoices
of the next 30 days with their estimates, another tenant's data never shown, and the request served
by Query/GetItem/BatchGetItem only, in a number of calls that does not grow with the subscriptions.
FROZEN_NOW is 2027-03-15 10:00 UTC; the test tenant is in Europe/Berlin."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest

from bench.dynamodb_meter import metered
from cashline.errors import ConflictError
from cashline.schemas.subscriptions import ItemRequest, NewSubscription
from cashline.services.billing import issuing
from cashline.services.billing import subscriptions as subscription_service
from tests.utils import Api, TestTenant, error_of

pytestmark = pytest.mark.usefixtures("frozen_now")

OVERVIEW = "/v1/subscriptions/overview"


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.body
    body: dict[str, Any] = response.json()
    return body


def _counterparty(api: Api, tenant: TestTenant, name: str) -> str:
    body = {"name": name, "email": "ap@kunde.example", "country": "DE"}
    return str(_created(api.post("/v1/counterparties", key=tenant.finance, json_body=body))["id"])


def _price(api: Api, tenant: TestTenant, name: str, unit_amount: int, interval: str | None) -> str:
    product = _created(
        api.post("/v1/products", key=tenant.finance, json_body={"name": name, "tax_category": "standard"})
    )
    body: dict[str, Any] = {"product_id": product["id"], "currency": "EUR", "unit_amount": unit_amount}
    if interval is None:
        body["usage_type"], body["interval"] = "metered", "month"
    else:
        body["interval"] = interval
    return str(_created(api.post("/v1/prices", key=tenant.finance, json_body=body))["id"])


def _subscribe(
    api: Api, tenant: TestTenant, cp: str, items: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    body = {"counterparty_id": cp, "items": items, **fields}
    return _created(api.post("/v1/subscriptions", key=tenant.finance, json_body=body))


def _overview(api: Api, tenant: TestTenant) -> dict[str, Any]:
    response = api.get(OVERVIEW, key=tenant.read_only)
    assert response.status_code == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def _mrr(body: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """price id -> (subscriptions, mrr)"""
    return {plan["price_id"]: (plan["subscriptions"], plan["mrr"]) for plan in body["mrr"]}


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {status: n for status, n in counts.items() if n}


@pytest.fixture
def book(api: Api, tenant: TestTenant) -> dict[str, Any]:
    """Given a catalog (monthly 30.00, yearly 99.00, quarterly 1.00, weekly 10.00, metered 0.05) and
    seven subscriptions of two customers."""
    kunde, other = _counterparty(api, tenant, "Kunde AG"), _counterparty(api, tenant, "Other GmbH")
    prices = {
        "monthly": _price(api, tenant, "Pro", 3000, "month"),
        "yearly": _price(api, tenant, "Pro yearly", 9900, "year"),
        "quarterly": _price(api, tenant, "Tiny", 100, "quarter"),
        "weekly": _price(api, tenant, "Weekly", 1000, "week"),
        "metered": _price(api, tenant, "API calls", 5, None),
    }
    monthly: list[dict[str, Any]] = [
        {"price_id": prices["monthly"], "quantity": 2},
        {"price_id": prices["metered"]},
    ]
    subs = {
        "monthly": _subscribe(api, tenant, kunde, monthly),
        "trial": _subscribe(api, tenant, kunde, [{"price_id": prices["monthly"]}], trial_end="2027-04-01"),
        "yearly": _subscribe(api, tenant, kunde, [{"price_id": prices["yearly"]}], start_date="2027-04-01"),
        "weekly": _subscribe(api, tenant, other, [{"price_id": prices["weekly"]}]),
    }
    for n in range(3):
        subs[f"quarterly{n}"] = _subscribe(api, tenant, other, [{"price_id": prices["quarterly"]}])
    return {"prices": prices, "subs": subs, "kunde": kunde, "other": other}


def test_a_new_tenant_has_an_empty_overview(api: Api, tenant: TestTenant) -> None:
    body = _overview(api, tenant)
    assert body["object"] == "subscription_overview"
    assert body["counts"] == {
        "trialing": 0,
        "active": 0,
        "past_due": 0,
        "paused": 0,
        "canceled": 0,
        "incomplete": 0,
    }
    assert (body["mrr"], body["mrr_total"], body["upcoming"]) == ([], [], [])
    assert (body["as_of"], body["upcoming_until"]) == ("2027-03-15", "2027-04-14")


def test_counts_mrr_per_plan_and_upcoming_invoices(
    api: Api, tenant: TestTenant, book: dict[str, Any]
) -> None:
    prices, subs = book["prices"], book["subs"]

    body = _overview(api, tenant)

    assert _nonzero(body["counts"]) == {"active": 6, "trialing": 1}
    # Monthly 2 x 30.00 (the trial and the metered item count nothing); yearly 99.00 / 12 = 8.25;
    # three quarterly 1.00: 300 / 3 = 1.00 (rounded once per plan, not 3 x 0.33); weekly
    # 10.00 x 52 / 12 = 43.33.
    assert _mrr(body) == {
        prices["monthly"]: (1, 6000),
        prices["yearly"]: (1, 825),
        prices["quarterly"]: (3, 100),
        prices["weekly"]: (1, 4333),
    }
    assert body["mrr_total"] == [{"currency": "EUR", "mrr": 6000 + 825 + 100 + 4333}]
    plan = next(p for p in body["mrr"] if p["price_id"] == prices["monthly"])
    assert plan == {
        "price_id": prices["monthly"],
        "product_name": "Pro",
        "currency": "EUR",
        "interval": "month",
        "interval_count": 1,
        "subscriptions": 1,
        "quantity": 2,
        "mrr": 6000,
    }
    assert [p["mrr"] for p in body["mrr"]] == sorted((p["mrr"] for p in body["mrr"]), reverse=True)
    # Until 14 April: the weekly's next week (22 March), the trial's and the yearly's first paid
    # invoices (1 April); the monthly (15 April) and quarterly (15 June) ones come later.
    assert [(u["subscription_id"], u["invoice_date"], u["amount_estimate"]) for u in body["upcoming"]] == [
        (subs["weekly"]["id"], "2027-03-22", 1000),
        (subs["trial"]["id"], "2027-04-01", 3000),
        (subs["yearly"]["id"], "2027-04-01", 9900),
    ]
    first = body["upcoming"][0]
    assert first == {
        "subscription_id": subs["weekly"]["id"],
        "counterparty_id": book["other"],
        "counterparty_name": "Other GmbH",
        "status": "active",
        "invoice_date": "2027-03-22",
        "currency": "EUR",
        "amount_estimate": 1000,
    }
    assert body["upcoming"][1]["status"] == "trialing"


def test_pause_resume_change_and_cancel_move_the_figures(
    api: Api, tenant: TestTenant, book: dict[str, Any]
) -> None:
    prices, subs = book["prices"], book["subs"]
    one = f"/v1/subscriptions/{subs['weekly']['id']}"

    # When the weekly subscription is paused, it leaves MRR and the upcoming invoices.
    assert api.post(f"{one}/pause", key=tenant.finance).status_code == 200
    body = _overview(api, tenant)
    assert _nonzero(body["counts"]) == {"active": 5, "trialing": 1, "paused": 1}
    assert prices["weekly"] not in _mrr(body)
    assert subs["weekly"]["id"] not in [u["subscription_id"] for u in body["upcoming"]]

    # Resumed, it is back; then its quantity goes to 2: 20.00 x 52 / 12 = 86.67.
    assert api.post(f"{one}/resume", key=tenant.finance, json_body={}).status_code == 200
    assert _mrr(_overview(api, tenant))[prices["weekly"]] == (1, 4333)
    item = subs["weekly"]["items"][0]["id"]
    change = {"items": [{"id": item, "quantity": 2}], "proration": "none"}
    response = api.post(f"{one}/change", key=tenant.finance, json_body=change)
    assert response.status_code in (200, 201), response.body
    body = _overview(api, tenant)
    assert _mrr(body)[prices["weekly"]] == (1, 8667)
    assert next(p for p in body["mrr"] if p["price_id"] == prices["weekly"])["quantity"] == 2

    # Canceled now, the yearly subscription counts as canceled and its plan is gone.
    cancel = {"at": "now", "prorate": False}
    yearly = f"/v1/subscriptions/{subs['yearly']['id']}/cancel"
    assert api.post(yearly, key=tenant.finance, json_body=cancel).status_code in (200, 201)
    body = _overview(api, tenant)
    assert _nonzero(body["counts"]) == {"active": 5, "trialing": 1, "canceled": 1}
    assert prices["yearly"] not in _mrr(body)
    assert body["mrr_total"] == [{"currency": "EUR", "mrr": 6000 + 100 + 8667}]


def test_the_trial_ending_moves_it_into_mrr_once(
    api: Api, tenant: TestTenant, book: dict[str, Any], frozen_now: Any
) -> None:
    prices = book["prices"]
    # When the sweep issues 1 April's invoices (twice: a repeated tick changes nothing more).
    tick_at = frozen_now + timedelta(days=17)
    for _ in range(2):
        issuing.run_subscription_invoices(tick_at=tick_at, worker="test")
    body = api.get(OVERVIEW, key=tenant.read_only).json()
    assert body["counts"]["trialing"] == 0 and body["counts"]["active"] == 7
    assert _mrr(body)[prices["monthly"]] == (2, 9000)


def test_an_unknown_parameter_is_a_400_naming_it(api: Api, tenant: TestTenant) -> None:
    response = api.get(f"{OVERVIEW}?status=active", key=tenant.read_only)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == "status"
    assert api.get(OVERVIEW).status_code == 401


def test_another_tenants_subscriptions_are_not_shown(
    api: Api, book: dict[str, Any], tenant_factory: Callable[..., TestTenant]
) -> None:
    other = tenant_factory()
    body = _overview(api, other)
    assert sum(body["counts"].values()) == 0 and body["mrr"] == [] and body["upcoming"] == []


def test_the_overview_reads_by_key_only_and_does_not_grow_with_subscriptions(
    api: Api, tenant: TestTenant, book: dict[str, Any]
) -> None:
    with metered() as meter:
        _overview(api, tenant)
    assert set(meter.calls) <= {"GetItem", "Query", "BatchGetItem"}, meter.describe()
    before = meter.total_calls
    for _ in range(3):
        _subscribe(api, tenant, book["other"], [{"price_id": book["prices"]["quarterly"]}])
    with metered() as meter:
        body = _overview(api, tenant)
    assert meter.total_calls == before, meter.describe()
    assert _mrr(body)[book["prices"]["quarterly"]] == (6, 200)


def test_concurrent_subscriptions_never_make_the_figures_drift(
    api: Api, tenant: TestTenant, book: dict[str, Any], frozen_now: datetime
) -> None:
    """Twelve subscriptions of one price created by four writers at once: each commits with its
    counters or not at all (a refused one is a ConflictError, nothing half-written), so the overview
    always equals what the subscriptions say."""
    price = book["prices"]["quarterly"]

    def create(n: int) -> str:
        request = NewSubscription(
            counterparty_id=book["other"], items=[ItemRequest(price_id=price, quantity=1 + n % 2)]
        )
        try:
            return subscription_service.create_subscription(
                tenant.tenant_id, request, actor="test", now=frozen_now
            ).status.value
        except ConflictError:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(create, range(12)))

    listed = api.get("/v1/subscriptions?limit=100", key=tenant.read_only).json()["data"]
    body = _overview(api, tenant)
    by_status: dict[str, int] = {}
    for sub in listed:
        by_status[sub["status"]] = by_status.get(sub["status"], 0) + 1
    assert _nonzero(body["counts"]) == by_status
    quarterly = [s for s in listed if s["items"][0]["price_id"] == price]
    assert len(quarterly) == 3 + outcomes.count("active")
    amount = sum(s["items"][0]["quantity"] * 100 for s in quarterly)
    plan = next(p for p in body["mrr"] if p["price_id"] == price)
    assert (plan["subscriptions"], plan["mrr"]) == (len(quarterly), round(amount / 3))
