"""Money given back: a payment that failed (also after it had succeeded), a refund, a chargeback; and
the money of a dispute won coming back. What is taken back reopens the invoices it had paid."""

from __future__ import annotations

from dataclasses import replace

from cashline.dal.invoice_repository import InvoiceChange
from cashline.dal.payment_repository import PaymentWrites
from cashline.domain import allocation as rules
from cashline.domain.access import today_for
from cashline.domain.invoices import Invoice, InvoiceStatus, settled_status
from cashline.domain.payments import DEBIT_METHODS, HistoryEntry, Payment, PaymentKind, PaymentStatus
from cashline.errors import DependencyUnavailableError
from cashline.schemas.payment_events import EventAction, PaymentEvent, Targets
from cashline.services.payments.apply import invoice_change
from cashline.services.payments.context import (
    Context,
    Outcome,
    add_alert,
    claim,
    commit,
    invoices,
    payment_detail,
    payments,
)
from cashline.services.payments.installments import installment_failed
from cashline.services.payments.received import on_succeeded, payment_of

ORIGINAL_WAIT_ATTEMPTS = 3


class OriginalNotSeenError(DependencyUnavailableError):
    """Retry later: the event refers to a payment Cashline has not recorded yet."""


def on_failed(ctx: Context, event: PaymentEvent) -> Outcome:
    reference = event.reference or event.event_id
    existing = payments.by_reference(ctx.tenant_id, event.source, reference)
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    status = PaymentStatus.FAILED
    if event.targets.installment_id and event.targets.plan_id:
        installment_failed(ctx, event, writes)
    if existing is None:
        payment = payment_of(ctx, event, None, status=status)
        writes.payments.append((None, payment))
        claim(writes, event, payment.id, new_reference=reference)
    else:
        payment = existing
        if existing.status is PaymentStatus.SUCCEEDED:
            payment = reverse(ctx, existing, existing.amount - existing.reversed_amount, writes)
        entry = HistoryEntry(
            at=ctx.now, action="failed", actor=ctx.actor, event_id=event.event_id, note=event.failure_reason
        )
        payment = replace(
            payment,
            status=status,
            failure_reason=event.failure_reason,
            history=(*payment.history, entry),
            unallocated_amount=0,
            updated_at=ctx.now,
        )
        writes.payments.append((existing, payment))
        claim(writes, event, payment.id, new_reference=None)
    # A customer's Direct Debit that failed is news for finance; an installment's failure raised its
    # own alert with the installment's outcome (services/debits.py).
    debit = (payment.method or "") in DEBIT_METHODS and not event.targets.installment_id
    if event.action is EventAction.FAILED and debit:
        add_alert(writes, ctx, "debit.failed", {**payment_detail(payment), "reason": event.failure_reason})
    commit(ctx, writes)
    return Outcome("recorded", payment.id)


def on_given_back(ctx: Context, event: PaymentEvent) -> Outcome:
    """A refund or chargeback: a payment of its own kind, linked to the original, whose allocations
    it takes back (credit first, then the most recent allocation first) and reopens."""
    original_ref = event.original_reference or event.reference
    original = payments.by_reference(ctx.tenant_id, event.source, original_ref) if original_ref else None
    kind = PaymentKind.REFUND if event.action is EventAction.REFUNDED else PaymentKind.CHARGEBACK
    if original is None and ctx.delivery_attempt < ORIGINAL_WAIT_ATTEMPTS:
        # Deliveries come out of order: the payment it gives back may be a message behind. Wait for
        # it (the queue delivers again after its visibility timeout); after that, record it unlinked.
        raise OriginalNotSeenError(f"{kind.value} for {original_ref}: the payment is not recorded yet")
    amount = event.amount or 0
    if original is not None and event.amount_is_cumulative:
        amount = max(0, amount - original.reversed_amount)  # what this event adds to what was given back
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    # A cumulative amount (Stripe) is safe to see again: each event gives back only what is new, so
    # each event is its own record. Otherwise the refund's own id is the one money movement.
    given_back = (
        f"{event.event_id if event.amount_is_cumulative else (event.reference or event.event_id)}:{kind}"
    )
    if amount == 0 or payments.by_reference(ctx.tenant_id, event.source, given_back) is not None:
        claim(writes, event, original.id if original else "-", new_reference=None)
        commit(ctx, writes)
        return Outcome("merged", original.id if original else None)
    record = replace(
        payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED),
        kind=kind,
        amount=amount,
        related_payment_id=original.id if original else None,
        counterparty_id=original.counterparty_id if original else None,
        hold_reason=None if original else "the original payment is not known to Cashline",
    )
    if original is not None and amount > 0 and original.status is PaymentStatus.SUCCEEDED:
        after = reverse(ctx, original, amount, writes, note=f"{kind.value} {record.id}")
        writes.payments.append((original, after))
    writes.payments.append((None, record))
    claim(writes, event, record.id, new_reference=given_back)
    if kind is PaymentKind.CHARGEBACK:
        add_alert(writes, ctx, "payment.disputed", {**payment_detail(record), "reason": event.failure_reason})
    commit(ctx, writes)
    return Outcome("recorded", record.id)


def reverse(
    ctx: Context, payment: Payment, amount: int, writes: PaymentWrites, *, note: str = "failed"
) -> Payment:
    """Take `amount` back from a succeeded payment: its unapplied credit first, then its allocations,
    the most recent first; the invoices reopen with the audit trail showing it."""
    from_credit = min(amount, payment.unallocated_amount)
    standing = [
        rules.Allocation(item_id=f"{i}", amount=a.standing)
        for i, a in enumerate(payment.allocations)
        if a.standing > 0 and a.target_type == "invoice"
    ]
    taken = rules.plan_reversal(amount - from_credit, standing)
    allocations = list(payment.allocations)
    for share in taken:
        index = int(share.item_id)
        allocation = allocations[index]
        before = invoices.get_header(ctx.tenant_id, allocation.target_id)
        writes.invoice_changes.append(_unpaid_change(ctx, before, share.amount, note))
        allocations[index] = replace(allocation, reversed_amount=allocation.reversed_amount + share.amount)
    returned = from_credit + sum(s.amount for s in taken)
    if payment.counterparty_id and from_credit:
        writes.add_credit(payment.credit_key, -from_credit)
    reversed_total = payment.reversed_amount + returned
    entry = HistoryEntry(
        at=ctx.now, action="reversed", actor=ctx.actor, note=f"{returned} taken back: {note}"
    )
    return replace(
        payment,
        allocations=tuple(allocations),
        allocated_amount=payment.allocated_amount - (returned - from_credit),
        unallocated_amount=payment.unallocated_amount - from_credit,
        reversed_amount=reversed_total,
        status=PaymentStatus.REVERSED if reversed_total >= payment.amount else payment.status,
        history=(*payment.history, entry),
        updated_at=ctx.now,
    )


def _unpaid_change(ctx: Context, before: Invoice, amount: int, note: str) -> InvoiceChange:
    paid = before.amount_paid - amount
    status = before.status
    if before.status in {
        InvoiceStatus.PAID,
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.OVERDUE,
        InvoiceStatus.OPEN,
    }:
        status = settled_status(before.amount_due, paid, before.due_date, today_for(ctx.tenant, ctx.now))
    after = replace(before, amount_paid=paid, status=status, updated_at=ctx.now)
    return invoice_change(
        ctx, before, after, "payment_reversed", f"{amount} {before.currency} taken back: {note}"
    )


def on_dispute_won(ctx: Context, event: PaymentEvent) -> Outcome:
    """The money a chargeback took returns: a new payment aimed at what the chargeback reopened."""
    original = (
        payments.by_reference(ctx.tenant_id, event.source, event.original_reference)
        if event.original_reference
        else None
    )
    targets = event.targets
    if original is not None:
        reopened = [
            a.target_id for a in original.allocations if a.reversed_amount and a.target_type == "invoice"
        ]
        targets = Targets(
            invoice_id=reopened[0] if reopened else None, counterparty_id=original.counterparty_id
        )
    won = event.model_copy(
        update={
            "reference": f"{event.reference or event.event_id}:won",
            "targets": targets,
            "action": EventAction.SUCCEEDED,
        }
    )
    return on_succeeded(ctx, won)
