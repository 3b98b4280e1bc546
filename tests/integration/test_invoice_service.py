"""The invoice service below HTTP, against DynamoDB Local: creating an invoice that is overdue at once
enters it into its campaign in the same transaction; a person's status change hands the committed
change to `reactions` (and a dispute pauses the run); the overdue check makes an invoice overdue with
its alert and its campaign entry in one transaction.

The campaign and collection settings are set up through the API (they are another area's); what is
tested is called directly. Every instant is fixed (FROZEN_NOW), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cashline.dal.alert_repository import AlertRepository
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.table import CashlineItem
from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceStatus, NewInvoice
from cashline.errors import ConflictError
from cashline.services import invoices, reactions
from cashline.services.tenancy import tenants
from tests.utils import FROZEN_NOW, Api, TestTenant

pytestmark = pytest.mark.usefixtures("frozen_now")

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = FROZEN_NOW.date()
ACTOR = "key:test"
CAMPAIGN = {
    "name": "Service test",
    "steps": [
        {"offset_days": 1, "channel": "email", "template": "first_reminder"},
        {"offset_days": 14, "channel": "email", "template": "final_notice"},
    ],
}


def with_default_campaign(api: Api, tenant: TestTenant) -> str:
    """Given: a tenant whose receivables enter this campaign when they fall overdue."""
    created = api.post("/v1/campaigns", key=tenant.admin, json_body=CAMPAIGN)
    assert created.status_code == 201, created.body
    campaign_id: str = created.json()["id"]
    current = api.get("/v1/collection-settings", key=tenant.read_only).json()
    saved = api.request(
        "PUT",
        "/v1/collection-settings",
        key=tenant.admin,
        json_body={**current, "default_campaign_id": campaign_id},
    )
    assert saved.status_code == 200, saved.body
    return campaign_id


def new_invoice(number: str, due: date, *, amount: int = 12_000) -> NewInvoice:
    return NewInvoice(
        direction=Direction.RECEIVABLE,
        number=number,
        issue_date=min(due, TODAY) - timedelta(days=30),
        due_date=due,
        currency="EUR",
        counterparty={"name": f"Kunde {number}", "email": f"ap-{number.lower()}@kunde.example"},
        amount_due=amount,
    )


def stored_keys(tenant_id: str, invoice_id: str) -> set[str]:
    """The sort keys of what the invoice's item collection holds: `INV` the header, `RUN` its run."""
    return {item.sk for item in CashlineItem.query(invoice_pk(tenant_id, invoice_id))}


def run_of(api: Api, tenant: TestTenant, invoice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}/collection", key=tenant.read_only)
    assert response.status_code == 200, response.body
    found: dict[str, Any] = response.json()
    return found


def actions(tenant_id: str, invoice_id: str) -> list[str]:
    page = invoices.invoice_events(tenant_id, invoice_id, limit=100, starting_after=None)
    return [event.action for event in page.items]


@pytest.fixture
def reacted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, list[tuple[Invoice, Invoice]]]]]:
    """A fake `reactions.invoices_changed` that records what it was handed."""
    calls: list[tuple[str, list[tuple[Invoice, Invoice]]]] = []

    def record(tenant_id: str, changes: Any, *, now: datetime, paid_on: date) -> None:
        assert now == FROZEN_NOW and paid_on == TODAY
        calls.append((tenant_id, list(changes)))

    monkeypatch.setattr(reactions, "invoices_changed", record)
    yield calls


def test_an_invoice_created_overdue_enters_its_campaign_in_the_same_transaction(
    api: Api, tenant: TestTenant
) -> None:
    # Given a tenant with a default campaign
    campaign_id = with_default_campaign(api, tenant)

    # When an invoice due ten days ago is created
    view = invoices.create_invoice(
        tenant.tenant_id, new_invoice("SVC-OD-1", TODAY - timedelta(days=10)), actor=ACTOR, now=FROZEN_NOW
    )

    # Then it is overdue, and its run was written with it: entered by the creation, on step one
    assert view.invoice.status is InvoiceStatus.OVERDUE and view.days_past_due == 10
    assert {"INV", "RUN"} <= stored_keys(tenant.tenant_id, view.invoice.invoice_id)
    run = run_of(api, tenant, view.invoice.invoice_id)
    assert (run["campaign_id"], run["status"]) == (campaign_id, "active")
    assert sorted(actions(tenant.tenant_id, view.invoice.invoice_id)) == ["collection_started", "created"]


def test_an_invoice_that_cannot_be_written_starts_no_run(api: Api, tenant: TestTenant) -> None:
    # Given a tenant with a default campaign, and an overdue invoice already stored under a number
    with_default_campaign(api, tenant)
    tenant_record = tenants.get(tenant.tenant_id)
    due = TODAY - timedelta(days=3)
    first = invoices.prepare_invoice(
        tenant_record, new_invoice("SVC-OD-2", due), now=FROZEN_NOW, source="api"
    )
    invoices.store_prepared(first, actor=ACTOR)
    # ... and a second one for the same counterparty and number, prepared with a run of its own
    duplicate = invoices.prepare_invoice(
        tenant_record,
        new_invoice("SVC-OD-2", due),
        now=FROZEN_NOW,
        source="api",
        resolved=first.new_counterparty,
    )
    assert duplicate.collection is not None

    # When it is stored, the number's claim fails
    with pytest.raises(ConflictError) as refused:
        invoices.store_prepared(duplicate, actor=ACTOR)

    # Then nothing of it was written: neither the invoice nor the run it would have started
    assert refused.value.field == "number"
    assert refused.value.details["existing_id"] == first.invoice.invoice_id
    assert stored_keys(tenant.tenant_id, duplicate.invoice.invoice_id) == set()


def test_a_status_change_hands_the_committed_change_to_reactions(
    tenant: TestTenant, reacted: list[tuple[str, list[tuple[Invoice, Invoice]]]]
) -> None:
    # Given an open invoice
    view = invoices.create_invoice(
        tenant.tenant_id, new_invoice("SVC-ST-1", TODAY + timedelta(days=20)), actor=ACTOR, now=FROZEN_NOW
    )

    # When a person disputes it
    disputed = invoices.change_status(
        tenant.tenant_id,
        view.invoice.invoice_id,
        InvoiceStatus.DISPUTED,
        actor=ACTOR,
        now=FROZEN_NOW,
        expected_version=view.invoice.version,
    )

    # Then reactions got the committed before/after pair, once
    assert disputed.invoice.status is InvoiceStatus.DISPUTED
    [(tenant_id, [(before, after)])] = reacted
    assert tenant_id == tenant.tenant_id
    assert (before.status, after.status) == (InvoiceStatus.OPEN, InvoiceStatus.DISPUTED)
    assert after.status_before_dispute is InvoiceStatus.OPEN


def test_a_refused_status_change_reaches_no_reaction(
    tenant: TestTenant, reacted: list[tuple[str, list[tuple[Invoice, Invoice]]]]
) -> None:
    # Given an open invoice read at its version
    view = invoices.create_invoice(
        tenant.tenant_id, new_invoice("SVC-ST-2", TODAY + timedelta(days=20)), actor=ACTOR, now=FROZEN_NOW
    )

    # When a change is sent for a stale version, and one the state machine forbids
    with pytest.raises(ConflictError):
        invoices.change_status(
            tenant.tenant_id,
            view.invoice.invoice_id,
            InvoiceStatus.VOID,
            actor=ACTOR,
            now=FROZEN_NOW,
            expected_version=view.invoice.version + 1,
        )
    with pytest.raises(ConflictError):
        invoices.change_status(
            tenant.tenant_id, view.invoice.invoice_id, InvoiceStatus.PAID, actor=ACTOR, now=FROZEN_NOW
        )

    # Then nothing committed, and nothing reacted
    assert reacted == []
    assert (
        invoices.get_invoice(tenant.tenant_id, view.invoice.invoice_id, now=FROZEN_NOW).invoice
        == view.invoice
    )


def test_a_dispute_pauses_the_run_and_its_end_resumes_it(api: Api, tenant: TestTenant) -> None:
    # Given an overdue invoice on its way through its campaign
    with_default_campaign(api, tenant)
    view = invoices.create_invoice(
        tenant.tenant_id, new_invoice("SVC-ST-3", TODAY - timedelta(days=5)), actor=ACTOR, now=FROZEN_NOW
    )
    assert run_of(api, tenant, view.invoice.invoice_id)["status"] == "active"

    # When it is disputed, then the dispute resolved
    invoices.change_status(
        tenant.tenant_id, view.invoice.invoice_id, InvoiceStatus.DISPUTED, actor=ACTOR, now=FROZEN_NOW
    )
    paused = run_of(api, tenant, view.invoice.invoice_id)
    resolved = invoices.change_status(
        tenant.tenant_id, view.invoice.invoice_id, InvoiceStatus.OPEN, actor=ACTOR, now=FROZEN_NOW
    )

    # Then the run paused for the dispute, and resumed with the invoice overdue again
    assert paused["pause_reason"] == "dispute"
    assert resolved.invoice.status is InvoiceStatus.OVERDUE
    assert run_of(api, tenant, view.invoice.invoice_id)["status"] == "active"


def test_the_overdue_check_marks_an_invoice_overdue_with_its_alert_and_campaign_entry(
    api: Api, tenant: TestTenant
) -> None:
    # Given an open receivable, due far beyond the other tests' ticks, in a tenant with a campaign
    campaign_id = with_default_campaign(api, tenant)
    due = TODAY + timedelta(days=450)
    view = invoices.create_invoice(
        tenant.tenant_id, new_invoice("SVC-OC-1", due), actor=ACTOR, now=FROZEN_NOW
    )
    assert view.invoice.status is InvoiceStatus.OPEN
    assert "RUN" not in stored_keys(tenant.tenant_id, view.invoice.invoice_id)
    # The day after the due date begins at midnight in Berlin; a few minutes on, so no other test's
    # tick is this one.
    tick_at = datetime.combine(due + timedelta(days=1), time(0, 7, 13), tzinfo=BERLIN).astimezone(UTC)

    # When the overdue check runs at that tick, then once more at the same tick
    result = invoices.run_overdue_check(tick_at=tick_at, worker="test-worker")
    again = invoices.run_overdue_check(tick_at=tick_at, worker="test-worker")

    # Then the invoice is overdue, entered its campaign in the same change, and the tick counts once
    assert result.claimed and result.items_changed >= 1
    assert not again.claimed
    overdue = invoices.get_invoice(tenant.tenant_id, view.invoice.invoice_id, now=tick_at).invoice
    assert overdue.status is InvoiceStatus.OVERDUE and overdue.version == view.invoice.version + 1
    assert run_of(api, tenant, view.invoice.invoice_id)["campaign_id"] == campaign_id
    assert sorted(actions(tenant.tenant_id, view.invoice.invoice_id)) == [
        "collection_started",
        "created",
        "status_changed",
    ]
    [alert] = AlertRepository().recent(tenant.tenant_id, 10)
    assert (alert.alert_type, alert.detail["invoice_id"]) == ("invoice.overdue", view.invoice.invoice_id)


def test_a_counterpartys_invoices_are_read_through_its_repository(tenant: TestTenant) -> None:
    # Given one counterparty's open EUR invoice, a USD one, a credit note and a voided invoice
    first = invoices.create_invoice(
        tenant.tenant_id, new_invoice("SVC-CP-1", TODAY + timedelta(days=20)), actor=ACTOR, now=FROZEN_NOW
    )
    counterparty_id = first.invoice.counterparty_id

    def another(number: str, **changes: Any) -> Invoice:
        new = replace(
            new_invoice(number, TODAY + timedelta(days=30)),
            counterparty=None,
            counterparty_id=counterparty_id,
            **changes,
        )
        return invoices.create_invoice(tenant.tenant_id, new, actor=ACTOR, now=FROZEN_NOW).invoice

    another("SVC-CP-2", currency="USD")
    another("SVC-CP-3", document_kind=DocumentKind.CREDIT_NOTE)
    voided = another("SVC-CP-4")
    invoices.change_status(
        tenant.tenant_id, voided.invoice_id, InvoiceStatus.VOID, actor=ACTOR, now=FROZEN_NOW
    )
    repository = invoices.invoices

    # When they are read, all of them and narrowed to what a payment in EUR could pay
    every = repository.of_counterparty(tenant.tenant_id, counterparty_id, Direction.RECEIVABLE)
    payable = repository.of_counterparty(
        tenant.tenant_id,
        counterparty_id,
        Direction.RECEIVABLE,
        statuses=[InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE],
        currency="EUR",
        kind=DocumentKind.INVOICE,
    )

    # Then each comes back as an invoice, found by the repository's own index keys
    assert sorted(i.number for i in every) == ["SVC-CP-1", "SVC-CP-2", "SVC-CP-3", "SVC-CP-4"]
    assert [i.invoice_id for i in payable] == [first.invoice.invoice_id]
    assert repository.of_counterparty(tenant.tenant_id, counterparty_id, Direction.PAYABLE) == []
