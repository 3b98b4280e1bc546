"""The payment services below HTTP (services/payments/), against DynamoDB Local: `process_event`'s
dispatch for each kind of event, allocation across invoices, reversal, a financing installment paid
and failed, and an event delivered twice. Every call is given its instant; no test reads the clock."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cashline.dal.financing_repository import FinancingRepository
from cashline.domain.invoices import Direction, Invoice, InvoiceStatus, NewInvoice
from cashline.domain.payments import Payment, PaymentKind, PaymentMethod, PaymentSource, PaymentStatus
from cashline.domain.plans import Installment, InstallmentStatus, Plan, PlanStatus
from cashline.ids import new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent, Targets
from cashline.services import invoices as invoice_service
from cashline.services.payments.context import Context, Outcome, context_for, invoices, payments
from cashline.services.payments.events import HANDLERS, process_event
from cashline.services.payments.manual import assign
from cashline.services.payments.reversal import OriginalNotSeenError
from tests.bank_setup import installment_under_way
from tests.utils import TestTenant, make_tenant

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture
def shop() -> TestTenant:
    return make_tenant("Payments below HTTP GmbH", now=NOW)


def _invoice(tenant_id: str, number: str, amount: int, *, due: date, customer: str = "K-1") -> Invoice:
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        number=number,
        issue_date=due - timedelta(days=30),
        due_date=due,
        currency="EUR",
        counterparty={"name": f"Kunde {customer}", "external_reference": customer},
        amount_due=amount,
    )
    return invoice_service.create_invoice(tenant_id, new, actor="test", now=NOW).invoice


def _event(
    action: EventAction, reference: str | None, amount: int | None = None, **fields: Any
) -> PaymentEvent:
    return PaymentEvent(
        source=PaymentSource.STRIPE,
        event_id=f"evt_{uuid.uuid4().hex}",
        event_type=f"test.{action.value}",
        occurred_at=NOW,
        action=action,
        reference=reference,
        amount=amount,
        currency="EUR" if amount is not None else None,
        method=fields.pop("method", PaymentMethod.CARD),
        **fields,
    )


def _ctx(tenant_id: str, *, attempt: int = 1) -> Context:
    return context_for(tenant_id, now=NOW, actor="webhook:stripe", delivery_attempt=str(attempt))


def _apply(tenant_id: str, event: PaymentEvent, *, attempt: int = 1) -> tuple[Outcome, Context]:
    ctx = _ctx(tenant_id, attempt=attempt)
    return process_event(ctx, event), ctx


def _payment(tenant_id: str, outcome: Outcome) -> Payment:
    assert outcome.payment_id is not None, outcome
    return payments.get(tenant_id, outcome.payment_id)


def _header(tenant_id: str, invoice: Invoice) -> Invoice:
    return invoices.get_header(tenant_id, invoice.invoice_id)


def _pi() -> str:
    return f"pi_{uuid.uuid4().hex[:16]}"


# ---------------------------------------------------------------------------------------------
# The dispatch table


def test_every_event_action_has_a_handler() -> None:
    # Then no action falls through to "ignored" by accident
    assert set(HANDLERS) == set(EventAction)
    assert HANDLERS[EventAction.CANCELLED] is HANDLERS[EventAction.FAILED]
    assert HANDLERS[EventAction.REFUNDED] is HANDLERS[EventAction.CHARGED_BACK]


# ---------------------------------------------------------------------------------------------
# Money received


def test_a_succeeded_event_pays_the_invoice_it_names_and_its_second_delivery_changes_nothing(
    shop: TestTenant,
) -> None:
    # Given an open invoice and a processor's event naming it
    inv = _invoice(shop.tenant_id, "PS-100", 10_000, due=TODAY + timedelta(days=10))
    event = _event(EventAction.SUCCEEDED, _pi(), 10_000, targets=Targets(invoice_id=inv.invoice_id))

    # When it is processed, then delivered again
    first, _ = _apply(shop.tenant_id, event)
    again, _ = _apply(shop.tenant_id, event)

    # Then the invoice is paid once, and the replay is a duplicate
    assert first.result == "applied"
    assert again == Outcome("duplicate")
    paid = _header(shop.tenant_id, inv)
    assert paid.status is InvoiceStatus.PAID and paid.amount_paid == 10_000
    payment = _payment(shop.tenant_id, first)
    assert [(a.target_id, a.amount) for a in payment.allocations] == [(inv.invoice_id, 10_000)]
    assert payment.allocated_amount == 10_000 and payment.unallocated_amount == 0


def test_two_events_about_one_money_movement_are_one_payment(shop: TestTenant) -> None:
    # Given a payment recorded from one event (Stripe's payment_intent.succeeded)
    inv = _invoice(shop.tenant_id, "PS-110", 5_000, due=TODAY + timedelta(days=10))
    reference = _pi()
    targets = Targets(invoice_id=inv.invoice_id)
    first, _ = _apply(shop.tenant_id, _event(EventAction.SUCCEEDED, reference, 5_000, targets=targets))

    # When another event about the same reference arrives (invoice.paid)
    second, _ = _apply(shop.tenant_id, _event(EventAction.SUCCEEDED, reference, 5_000, targets=targets))

    # Then it merges into the same payment and pays nothing twice
    assert second == Outcome("merged", first.payment_id)
    assert _header(shop.tenant_id, inv).amount_paid == 5_000


def test_a_pending_payment_applies_nothing_until_it_succeeds(shop: TestTenant) -> None:
    inv = _invoice(shop.tenant_id, "PS-120", 7_000, due=TODAY + timedelta(days=10))
    reference, targets = _pi(), Targets(invoice_id=inv.invoice_id)

    pending, _ = _apply(shop.tenant_id, _event(EventAction.PENDING, reference, 7_000, targets=targets))

    assert pending.result == "recorded"
    assert _payment(shop.tenant_id, pending).status is PaymentStatus.PENDING
    assert _header(shop.tenant_id, inv).status is InvoiceStatus.OPEN

    settled, _ = _apply(shop.tenant_id, _event(EventAction.SUCCEEDED, reference, 7_000, targets=targets))

    assert settled == Outcome("applied", pending.payment_id)
    assert _payment(shop.tenant_id, settled).status is PaymentStatus.SUCCEEDED
    assert _header(shop.tenant_id, inv).status is InvoiceStatus.PAID


def test_a_payment_for_a_payer_is_allocated_oldest_first_across_invoices_and_the_rest_is_credit(
    shop: TestTenant,
) -> None:
    # Given a customer with two open invoices, the older due first
    older = _invoice(shop.tenant_id, "PS-130", 4_000, due=TODAY + timedelta(days=3), customer="K-130")
    newer = _invoice(shop.tenant_id, "PS-131", 5_000, due=TODAY + timedelta(days=20), customer="K-130")
    customer = Targets(counterparty_id=older.counterparty_id)

    # When a payment names only the customer, for more than both owe
    outcome, _ = _apply(shop.tenant_id, _event(EventAction.SUCCEEDED, _pi(), 10_000, targets=customer))

    # Then both are paid (the tenant's default rule: oldest first) and the rest is the payer's credit
    payment = _payment(shop.tenant_id, outcome)
    assert [(a.target_id, a.amount) for a in payment.allocations] == [
        (older.invoice_id, 4_000),
        (newer.invoice_id, 5_000),
    ]
    assert payment.unallocated_amount == 1_000
    assert payment.hold_reason == "paid more than was owed: kept as the payer's credit"
    assert _header(shop.tenant_id, older).status is InvoiceStatus.PAID
    assert _header(shop.tenant_id, newer).status is InvoiceStatus.PAID
    credit = payments.credit_payments(shop.tenant_id, older.counterparty_id, "EUR")
    assert [p.id for p in credit] == [payment.id]


def test_a_payer_nobody_knows_is_held_and_a_person_assigns_it(shop: TestTenant) -> None:
    inv = _invoice(shop.tenant_id, "PS-140", 3_000, due=TODAY + timedelta(days=10), customer="K-140")

    held, _ = _apply(shop.tenant_id, _event(EventAction.SUCCEEDED, _pi(), 3_000))

    assert held.result == "held"
    assert _payment(shop.tenant_id, held).hold_reason == "payer not recognized"

    assert held.payment_id is not None
    assigned = assign(_ctx(shop.tenant_id), held.payment_id, [(inv.invoice_id, 3_000)])

    assert assigned.counterparty_id == inv.counterparty_id
    assert assigned.unallocated_amount == 0 and assigned.hold_reason is None
    assert _header(shop.tenant_id, inv).status is InvoiceStatus.PAID


def test_a_payout_is_recorded_and_moves_no_invoice(shop: TestTenant) -> None:
    outcome, _ = _apply(shop.tenant_id, _event(EventAction.PAYOUT, f"po_{uuid.uuid4().hex[:12]}", 90_000))

    payout = _payment(shop.tenant_id, outcome)
    assert outcome.result == "recorded"
    assert payout.kind is PaymentKind.PAYOUT and payout.allocations == ()


def test_an_event_cashline_does_not_act_on_is_remembered_as_seen(shop: TestTenant) -> None:
    event = _event(EventAction.IGNORED, None)

    first, _ = _apply(shop.tenant_id, event)
    again, _ = _apply(shop.tenant_id, event)

    assert first == Outcome("ignored")
    assert again == Outcome("duplicate")


@pytest.mark.parametrize(
    ("action", "alert_type"),
    [(EventAction.DISPUTE_OPENED, "payment.disputed"), (EventAction.MANDATE_ENDED, "mandate.ended")],
)
def test_an_event_that_moves_no_money_raises_its_alert(
    shop: TestTenant, action: EventAction, alert_type: str
) -> None:
    outcome, ctx = _apply(shop.tenant_id, _event(action, f"ref_{uuid.uuid4().hex[:12]}", 2_500))

    assert outcome == Outcome("recorded")
    assert [a.alert_type for a in ctx.committed_alerts] == [alert_type]


# ---------------------------------------------------------------------------------------------
# Money given back


def _paid(shop: TestTenant, *amounts: int) -> tuple[list[Invoice], Payment, str]:
    """Invoices of one customer, due one after the other, paid by one card payment."""
    customer = f"K-{uuid.uuid4().hex[:6]}"
    made = [
        _invoice(
            shop.tenant_id,
            f"PS-{uuid.uuid4().hex[:6]}",
            amount,
            due=TODAY + timedelta(days=5 + n),
            customer=customer,
        )
        for n, amount in enumerate(amounts)
    ]
    reference = _pi()
    targets = Targets(counterparty_id=made[0].counterparty_id)
    outcome, _ = _apply(
        shop.tenant_id, _event(EventAction.SUCCEEDED, reference, sum(amounts), targets=targets)
    )
    return made, _payment(shop.tenant_id, outcome), reference


def test_a_refund_takes_back_the_most_recent_allocation_first_and_reopens_its_invoice(
    shop: TestTenant,
) -> None:
    # Given two invoices paid by one payment
    (first, second), payment, reference = _paid(shop, 4_000, 6_000)

    # When part of it is refunded (PayPal's way: the refund's own amount)
    refund = _event(EventAction.REFUNDED, f"re_{uuid.uuid4().hex[:12]}", 2_500, original_reference=reference)
    outcome, _ = _apply(shop.tenant_id, refund)

    # Then a refund of its own is linked to the payment, and the later invoice owes it again
    record = _payment(shop.tenant_id, outcome)
    assert record.kind is PaymentKind.REFUND and record.related_payment_id == payment.id
    after = payments.get(shop.tenant_id, payment.id)
    assert after.reversed_amount == 2_500 and after.allocated_amount == 7_500
    assert [a.reversed_amount for a in after.allocations] == [0, 2_500]
    assert _header(shop.tenant_id, first).status is InvoiceStatus.PAID
    reopened = _header(shop.tenant_id, second)
    assert reopened.status is InvoiceStatus.PARTIALLY_PAID and reopened.amount_paid == 3_500


def test_a_failure_after_success_reverses_the_whole_payment(shop: TestTenant) -> None:
    (inv,), payment, reference = _paid(shop, 8_000)

    outcome, _ = _apply(shop.tenant_id, _event(EventAction.FAILED, reference, 8_000, failure_reason="late"))

    failed = _payment(shop.tenant_id, outcome)
    assert failed.id == payment.id
    assert failed.status is PaymentStatus.FAILED and failed.failure_reason == "late"
    assert failed.reversed_amount == 8_000 and failed.allocated_amount == 0
    assert _header(shop.tenant_id, inv).status is InvoiceStatus.OPEN


def test_a_chargeback_alerts_and_a_dispute_won_pays_the_reopened_invoice_again(shop: TestTenant) -> None:
    (inv,), payment, reference = _paid(shop, 6_000)
    dispute = f"dp_{uuid.uuid4().hex[:12]}"

    lost, ctx = _apply(
        shop.tenant_id, _event(EventAction.CHARGED_BACK, dispute, 6_000, original_reference=reference)
    )

    assert _payment(shop.tenant_id, lost).kind is PaymentKind.CHARGEBACK
    assert [a.alert_type for a in ctx.committed_alerts] == ["payment.disputed"]
    assert _header(shop.tenant_id, inv).status is InvoiceStatus.OPEN

    won, _ = _apply(
        shop.tenant_id, _event(EventAction.CHARGEBACK_REVERSED, dispute, 6_000, original_reference=reference)
    )

    again = _payment(shop.tenant_id, won)
    assert won.result == "applied" and again.id != payment.id
    assert [a.target_id for a in again.allocations] == [inv.invoice_id]
    assert _header(shop.tenant_id, inv).status is InvoiceStatus.PAID


def test_a_refund_before_its_payment_waits_then_is_recorded_unlinked(shop: TestTenant) -> None:
    refund = _event(EventAction.REFUNDED, f"re_{uuid.uuid4().hex[:12]}", 1_000, original_reference=_pi())

    # The payment it gives back may be a message behind: the first deliveries ask to be retried
    with pytest.raises(OriginalNotSeenError):
        _apply(shop.tenant_id, refund, attempt=1)
    outcome, _ = _apply(shop.tenant_id, refund, attempt=3)

    record = _payment(shop.tenant_id, outcome)
    assert record.related_payment_id is None
    assert record.hold_reason == "the original payment is not known to Cashline"


# ---------------------------------------------------------------------------------------------
# A financing installment's debit


def _plan(tenant_id: str) -> tuple[Plan, Installment]:
    """An active, paid-out plan with one installment whose debit is under way (as the debit sweep
    leaves it)."""
    return installment_under_way(tenant_id, now=NOW, due=TODAY)


def _debit(action: EventAction, plan: Plan, installment: Installment, reference: str) -> PaymentEvent:
    targets = Targets(installment_id=installment.installment_id, plan_id=plan.plan_id)
    return _event(action, reference, installment.amount, targets=targets, method=PaymentMethod.SEPA_DEBIT)


def test_an_installment_paid_by_debit_then_failed_late_goes_into_arrears(shop: TestTenant) -> None:
    plans = FinancingRepository()
    plan, installment = _plan(shop.tenant_id)
    reference = _pi()

    # When the processor says the debit succeeded
    paid, _ = _apply(shop.tenant_id, _debit(EventAction.SUCCEEDED, plan, installment, reference))

    # Then the installment is paid, by a payment of the business applied to it
    payment = _payment(shop.tenant_id, paid)
    assert paid.result == "applied"
    assert payment.direction is Direction.PAYABLE
    assert [(a.target_type, a.target_id) for a in payment.allocations] == [
        ("installment", installment.installment_id)
    ]
    _, (settled,) = plans.get_plan(shop.tenant_id, plan.plan_id)
    assert settled.status is InstallmentStatus.PAID

    # When it fails after all (a late failure)
    failed, ctx = _apply(shop.tenant_id, _debit(EventAction.FAILED, plan, installment, reference))

    # Then the installment is failed, the plan in arrears, and finance hears of it once
    assert _payment(shop.tenant_id, failed).status is PaymentStatus.FAILED
    after, (reopened,) = plans.get_plan(shop.tenant_id, plan.plan_id)
    assert reopened.status is InstallmentStatus.FAILED
    assert after.status is PlanStatus.IN_ARREARS
    assert [a.alert_type for a in ctx.committed_alerts] == ["debit.failed"]


def test_an_installment_event_naming_no_known_plan_is_money_held(shop: TestTenant) -> None:
    ghost = Targets(installment_id=new_id("installment"), plan_id=new_id("plan"))

    outcome, _ = _apply(shop.tenant_id, _event(EventAction.SUCCEEDED, _pi(), 1_000, targets=ghost))

    assert outcome.result == "held"
