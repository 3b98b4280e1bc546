"""What happens after an invoice change commits (cashline.services.reactions): which committed
changes bring the reminder run in step and which move the counterparty's risk. The two services it
calls are replaced by fakes that note each call, so this is the decision table alone.

The end-to-end case (a payment that pays an overdue invoice completes its run and adds one paid entry
to the risk) is in tests/integration/test_reactions.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceStatus
from cashline.services import reactions
from cashline.services.collections.sync import Synced

S = InvoiceStatus
TENANT = "ten_reactions"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PAID_ON = date(2026, 3, 6)  # the money's value date, days before it was recorded


@dataclass
class Calls:
    """What the fakes were asked to do, in order."""

    synced: list[str] = field(default_factory=list)
    # What bringing a run in step finds: invoice id -> counterparties whose promise it found broken
    broken: dict[str, tuple[str, ...]] = field(default_factory=dict)
    paid: list[tuple[str, date, datetime]] = field(default_factory=list)
    events: list[tuple[str, str, datetime]] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.synced or self.paid or self.events)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    noted = Calls()

    def sync(tenant_id: str, invoice_id: str, *, now: datetime) -> Synced:
        assert tenant_id == TENANT
        noted.synced.append(invoice_id)
        return Synced(None, noted.broken.get(invoice_id, ()))

    def record_paid(tenant_id: str, invoice: Invoice, paid_on: date, now: datetime) -> None:
        assert tenant_id == TENANT
        noted.paid.append((invoice.invoice_id, paid_on, now))

    def record_event(tenant_id: str, counterparty_id: str, kind: str, now: datetime) -> None:
        assert tenant_id == TENANT
        noted.events.append((counterparty_id, kind, now))

    monkeypatch.setattr(reactions, "sync_with_invoice", sync)
    monkeypatch.setattr(
        reactions, "risk", SimpleNamespace(record_paid=record_paid, record_event=record_event)
    )
    return noted


def invoice(invoice_id: str = "inv_1", **changes: object) -> Invoice:
    """An open receivable of 119.00 EUR, due before NOW, nothing paid."""
    made = Invoice(
        tenant_id=TENANT,
        invoice_id=invoice_id,
        direction=Direction.RECEIVABLE,
        document_kind=DocumentKind.INVOICE,
        number=f"RE-{invoice_id}",
        counterparty_id="cp_1",
        counterparty_name="Kunde GmbH",
        segment=None,
        issue_date=date(2026, 1, 20),
        due_date=date(2026, 2, 19),
        currency="EUR",
        subtotal=100_00,
        tax=19_00,
        amount_due=119_00,
        amount_paid=0,
        status=S.OVERDUE,
        status_before_dispute=None,
        description=None,
        source="api",
        metadata={},
        created_at=datetime(2026, 1, 20, 8, 0, tzinfo=UTC),
        updated_at=datetime(2026, 1, 20, 8, 0, tzinfo=UTC),
        version=1,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def react(*changes: tuple[Invoice, Invoice]) -> None:
    reactions.invoices_changed(TENANT, changes, now=NOW, paid_on=PAID_ON)


def test_paid_in_full_by_a_payment_ends_reminders_and_counts_as_paid_on_its_value_date(calls: Calls) -> None:
    before = invoice()
    react((before, replace(before, amount_paid=119_00, status=S.PAID, version=2)))
    assert calls.synced == ["inv_1"]
    assert calls.paid == [("inv_1", PAID_ON, NOW)]
    assert calls.events == []


def test_a_part_payment_brings_the_run_in_step_and_leaves_risk_alone(calls: Calls) -> None:
    before = invoice()
    react((before, replace(before, amount_paid=50_00, status=S.PARTIALLY_PAID)))
    assert calls.synced == ["inv_1"]
    assert calls.paid == [] and calls.events == []


def test_a_reversal_of_a_payment_brings_the_run_in_step_and_leaves_risk_alone(calls: Calls) -> None:
    before = invoice(amount_paid=119_00, status=S.PAID)
    react((before, replace(before, amount_paid=0, status=S.OVERDUE)))
    assert calls.synced == ["inv_1"]
    assert calls.paid == [] and calls.events == []


def test_a_dispute_pauses_reminders_and_adds_one_dispute_to_the_counterparty(calls: Calls) -> None:
    before = invoice()
    react((before, replace(before, status=S.DISPUTED, status_before_dispute=S.OVERDUE)))
    assert calls.synced == ["inv_1"]
    assert calls.events == [("cp_1", "dispute", NOW)]
    assert calls.paid == []


def test_a_dispute_resolved_brings_the_run_in_step_and_is_no_new_dispute(calls: Calls) -> None:
    before = invoice(status=S.DISPUTED, status_before_dispute=S.OVERDUE)
    react((before, replace(before, status=S.OVERDUE, status_before_dispute=None)))
    assert calls.synced == ["inv_1"]
    assert calls.paid == [] and calls.events == []


def test_a_dispute_resolved_over_an_invoice_paid_in_full_is_not_a_payment(calls: Calls) -> None:
    # Paid while disputed: the money was counted when it came; ending the dispute is no payment
    before = invoice(amount_paid=119_00, status=S.DISPUTED, status_before_dispute=S.OVERDUE)
    react((before, replace(before, status=S.PAID, status_before_dispute=None)))
    assert calls.synced == ["inv_1"]
    assert calls.paid == [] and calls.events == []


@pytest.mark.parametrize("ended", [S.VOID, S.WRITTEN_OFF])
def test_a_void_or_a_write_off_stops_reminders_and_leaves_risk_alone(
    calls: Calls, ended: InvoiceStatus
) -> None:
    before = invoice()
    react((before, replace(before, status=ended)))
    assert calls.synced == ["inv_1"]
    assert calls.paid == [] and calls.events == []


@pytest.mark.parametrize(
    "changes",
    [
        {},  # written again unchanged
        {"status": S.OVERDUE, "version": 2},  # the overdue check: the run enters at the sweep
        {"description": "new text", "metadata": {"po": "4711"}},  # an edit that moves no money
    ],
)
def test_a_change_that_moves_neither_money_nor_dispute_does_nothing(
    calls: Calls, changes: dict[str, object]
) -> None:
    before = invoice(status=S.OPEN)
    react((before, replace(before, **changes)))  # type: ignore[arg-type]
    assert not calls.anything


def test_no_changes_do_nothing(calls: Calls) -> None:
    react()
    assert not calls.anything


def test_several_changes_sync_each_invoice_once_in_a_stable_order(calls: Calls) -> None:
    # One payment allocated over two invoices (listed out of order), one of them seen twice
    first, second = invoice("inv_b"), invoice("inv_a")
    react(
        (first, replace(first, amount_paid=19_00, status=S.PARTIALLY_PAID)),
        (second, replace(second, amount_paid=119_00, status=S.PAID)),
        (first, replace(first, amount_paid=19_00, status=S.PARTIALLY_PAID)),
    )
    assert calls.synced == ["inv_a", "inv_b"]
    assert calls.paid == [("inv_a", PAID_ON, NOW)]


def test_moves_reminders_names_each_change_that_brings_the_run_in_step() -> None:
    open_invoice = invoice(status=S.OPEN)
    assert reactions.moves_reminders(open_invoice, replace(open_invoice, amount_paid=1))
    assert reactions.moves_reminders(open_invoice, replace(open_invoice, status=S.DISPUTED))
    assert reactions.moves_reminders(replace(open_invoice, status=S.DISPUTED), open_invoice)
    assert reactions.moves_reminders(open_invoice, replace(open_invoice, status=S.VOID))
    assert not reactions.moves_reminders(open_invoice, replace(open_invoice, status=S.OVERDUE))
    voided = replace(open_invoice, status=S.VOID)
    assert not reactions.moves_reminders(voided, replace(voided, version=2))  # already ended


def test_a_run_brought_in_step_that_finds_a_promise_broken_notes_it_in_the_risk(calls: Calls) -> None:
    # The debtor promised to pay by a day now past; the part payment that arrives is less
    calls.broken["inv_1"] = ("cp_1",)
    before = invoice()
    react((before, replace(before, amount_paid=10_00, status=S.PARTIALLY_PAID)))
    assert calls.synced == ["inv_1"]
    assert calls.events == [("cp_1", "broken_promise", NOW)]
    assert calls.paid == []


def test_promises_broken_notes_one_event_per_counterparty_named(calls: Calls) -> None:
    reactions.promises_broken(TENANT, ("cp_1", "cp_2"), now=NOW)
    reactions.promises_broken(TENANT, (), now=NOW)
    assert calls.events == [("cp_1", "broken_promise", NOW), ("cp_2", "broken_promise", NOW)]
    assert calls.synced == [] and calls.paid == []
