"""The reactions to a payment, through the real services against DynamoDB Local: a payment that pays
an overdue invoice in full ends its collection run and adds one paid entry, dated by the money's value
date, to its counterparty's risk. The decision table alone is in tests/unit/test_reactions.py.

The invoice, its run and the payment are made through the API (their public edge); what the reaction
did is read from the services. Instants are in 2025 and unique to this file (see
test_collection_hardening.py for why).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cashline.domain.invoices import Invoice, InvoiceStatus
from cashline.services import reactions, risk
from tests.utils import Api, TestTenant

pytestmark = pytest.mark.usefixtures("local_cloud")

MADE = datetime(2025, 5, 12, 8, 0, 31, tzinfo=UTC)
PAID_AT = datetime(2025, 5, 12, 9, 0, 37, tzinfo=UTC)
DUE = date(2025, 2, 14)
VALUE_DATE = date(2025, 5, 8)  # the money arrived four days before it was recorded


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body: dict[str, Any] = response.json()
    return body


def overdue_invoice_in_a_run(client: Api, tenant: TestTenant) -> tuple[str, str]:
    """A default campaign with one step, a customer, and an invoice of 119.00 EUR due on DUE, so in
    the campaign from the moment it exists. Returns the counterparty's and the invoice's id."""
    plan = ok(
        client.post(
            "/v1/campaigns",
            key=tenant.admin,
            json_body={"name": "Standard", "steps": [{"offset_days": 1, "channel": "email"}]},
        ),
        201,
    )
    current = ok(client.get("/v1/collection-settings", key=tenant.read_only))
    settings = {**current, "default_campaign_id": plan["id"]}
    ok(client.request("PUT", "/v1/collection-settings", key=tenant.admin, json_body=settings))
    customer = {"name": "Kunde Reaktion", "email": "ap@reaktion.example", "country": "DE"}
    who = ok(client.post("/v1/counterparties", key=tenant.finance, json_body=customer), 201)["id"]
    body = {
        "direction": "receivable",
        "counterparty": {"id": who},
        "number": "RE-REACT-1",
        "issue_date": "2025-01-15",
        "due_date": DUE.isoformat(),
        "currency": "EUR",
        "amount_due": 119_00,
    }
    invoice_id = ok(client.post("/v1/invoices", key=tenant.finance, json_body=body), 201)["id"]
    return who, invoice_id


def run_status(client: Api, tenant: TestTenant, invoice_id: str) -> str:
    return str(ok(client.get(f"/v1/invoices/{invoice_id}/collection", key=tenant.read_only))["status"])


@pytest.fixture
def tenant(tenant_factory: Any) -> TestTenant:
    made: TestTenant = tenant_factory("Reaktion GmbH", now=MADE)
    return made


@pytest.fixture
def reacted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[tuple[Invoice, Invoice]], date]]:
    """Every call of the reactions (still made for real), with the pairs and the paid-on day."""
    seen: list[tuple[list[tuple[Invoice, Invoice]], date]] = []
    real = reactions.invoices_changed

    def noting(tenant_id: str, changes: Any, *, now: datetime, paid_on: date) -> None:
        pairs = list(changes)
        seen.append((pairs, paid_on))
        real(tenant_id, pairs, now=now, paid_on=paid_on)

    monkeypatch.setattr(reactions, "invoices_changed", noting)
    return seen


def test_a_payment_in_full_ends_the_run_and_adds_one_paid_entry_to_the_risk(
    api: Api, tenant: TestTenant, reacted: list[tuple[list[tuple[Invoice, Invoice]], date]]
) -> None:
    # Given an overdue invoice in its collection run, and a counterparty with no payment history
    client = api.at(MADE)
    who, invoice_id = overdue_invoice_in_a_run(client, tenant)
    assert run_status(client, tenant, invoice_id) == "active"
    history, _ = risk.counterparty_risk(tenant.tenant_id, who)
    assert history.paid_invoices == 0

    # When a payment of the whole amount arrives for it
    paying = client.at(PAID_AT)
    body = {"amount": 119_00, "currency": "EUR", "value_date": str(VALUE_DATE), "invoice_id": invoice_id}
    ok(paying.post("/v1/payments", key=tenant.finance, json_body=body), 201)

    # Then the reactions ran once, after the commit, with the invoice's change and the value date
    [(pairs, paid_on)] = reacted
    assert [(before.status, after.status) for before, after in pairs] == [
        (InvoiceStatus.OVERDUE, InvoiceStatus.PAID)
    ]
    assert paid_on == VALUE_DATE

    # and the run is over, and the counterparty's risk has the one payment, as late as the money was
    assert run_status(paying, tenant, invoice_id) == "completed"
    history, _ = risk.counterparty_risk(tenant.tenant_id, who)
    assert history.paid_invoices == 1
    assert history.recent == [
        {
            "invoice_id": invoice_id,
            "due_date": DUE.isoformat(),
            "paid_on": VALUE_DATE.isoformat(),
            "delay": (VALUE_DATE - DUE).days,
        }
    ]


def test_a_part_payment_pauses_the_run_and_leaves_the_risk_alone(
    api: Api, tenant: TestTenant, reacted: list[tuple[list[tuple[Invoice, Invoice]], date]]
) -> None:
    # Given an overdue invoice in its collection run
    client = api.at(MADE)
    who, invoice_id = overdue_invoice_in_a_run(client, tenant)

    # When a part of it is paid
    paying = client.at(PAID_AT)
    body = {"amount": 19_00, "currency": "EUR", "value_date": str(VALUE_DATE), "invoice_id": invoice_id}
    ok(paying.post("/v1/payments", key=tenant.finance, json_body=body), 201)

    # Then the reactions ran once for it, the run waits, and the risk counts no paid invoice
    [(pairs, _)] = reacted
    # (an overdue invoice stays overdue while anything is owed: what moved is the amount paid)
    assert [(before.amount_paid, after.amount_paid, after.status) for before, after in pairs] == [
        (0, 19_00, InvoiceStatus.OVERDUE)
    ]
    run = ok(paying.get(f"/v1/invoices/{invoice_id}/collection", key=tenant.read_only))
    assert (run["status"], run["pause_reason"]) == ("paused", "partial_payment")
    history, _ = risk.counterparty_risk(tenant.tenant_id, who)
    assert (history.paid_invoices, history.recent) == (0, [])
