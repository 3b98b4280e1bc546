"""The demo tenant's subscription billing (infra/localcloud/demo_billing.py) against DynamoDB Local:
one subscription trialing, one upgraded with a proration invoice, one yearly, one past due after a
declined charge, their invoices, and the overview the dashboard's panel reads. FROZEN_NOW is
2027-03-15 10:00 UTC; the test tenant is in Europe/Berlin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from localcloud.demo_billing import DemoBilling, seed_billing
from tests.utils import Api, TestTenant

pytestmark = pytest.mark.usefixtures("frozen_now")

CUSTOMERS = ("Studio Lumière SARL", "Bäckerei Sonnenschein KG", "Alpine Logistics AG", "Harbour & Sons Ltd")


@pytest.fixture
def demo(api: Api, tenant: TestTenant, frozen_now: datetime) -> DemoBilling:
    customers = {}
    for name in CUSTOMERS:
        body = {"name": name, "email": "ap@customer.example", "country": "DE"}
        created = api.post("/v1/counterparties", key=tenant.finance, json_body=body)
        assert created.status_code == 201, created.body
        customers[name] = created.json()["id"]
    return seed_billing(tenant.tenant_id, customers, frozen_now)


def _get(api: Api, tenant: TestTenant, path: str) -> Any:
    response = api.get(path, key=tenant.read_only)
    assert response.status_code == 200, response.body
    return response.json()


def test_the_demo_subscriptions_and_their_invoices(api: Api, tenant: TestTenant, demo: DemoBilling) -> None:
    subs = {
        key: _get(api, tenant, f"/v1/subscriptions/{sub_id}") for key, sub_id in demo.subscriptions.items()
    }
    assert {key: sub["status"] for key, sub in subs.items()} == {
        "trialing": "trialing",
        "upgraded": "active",
        "yearly": "active",
        "past_due": "past_due",
    }
    assert subs["trialing"]["next_invoice_date"] == "2027-03-29" and demo.invoices["trialing"] == []
    # The upgrade moved the plan's item to Pro and invoiced the proration at once.
    assert {item["price_id"] for item in subs["upgraded"]["items"]} == {
        demo.prices["pro_monthly"],
        demo.prices["api_calls"],
    }
    first, proration = (_get(api, tenant, f"/v1/invoices/{i}") for i in demo.invoices["upgraded"])
    assert first["subtotal"] == 29_00 and first["source"] == "subscription"
    assert 0 < proration["subtotal"] < 99_00 - 29_00
    assert len(demo.invoices["yearly"]) == 1
    assert _get(api, tenant, f"/v1/invoices/{demo.invoices['yearly'][0]}")["subtotal"] == 290_00
    # The past-due subscription's first invoice was paid by card, the second one's charge declined.
    paid, declined = (_get(api, tenant, f"/v1/invoices/{i}") for i in demo.invoices["past_due"])
    assert paid["status"] == "paid" and paid["amount_outstanding"] == 0
    assert declined["status"] in {"open", "overdue"} and declined["amount_outstanding"] == 99_00 + 18_81
    assert all(
        invoice["number"] and not invoice["number"].startswith("DRAFT") for invoice in (paid, declined)
    )


def test_the_demo_overview(api: Api, tenant: TestTenant, demo: DemoBilling) -> None:
    overview = _get(api, tenant, "/v1/subscriptions/overview")
    assert {s: n for s, n in overview["counts"].items() if n} == {"trialing": 1, "active": 2, "past_due": 1}
    # Pro: two subscriptions at 99.00; Starter yearly 290.00 / 12 = 24.17; Starter monthly only on trial.
    assert {p["price_id"]: p["mrr"] for p in overview["mrr"]} == {
        demo.prices["pro_monthly"]: 2 * 99_00,
        demo.prices["starter_yearly"]: 24_17,
    }
    assert overview["mrr_total"] == [{"currency": "EUR", "mrr": 2 * 99_00 + 24_17}]
    upcoming = [(u["subscription_id"], u["invoice_date"], u["amount_estimate"]) for u in overview["upcoming"]]
    assert upcoming == [
        (demo.subscriptions["upgraded"], "2027-03-23", 99_00),
        (demo.subscriptions["trialing"], "2027-03-29", 29_00),
        (demo.subscriptions["past_due"], "2027-04-03", 99_00),
    ]
