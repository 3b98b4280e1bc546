"""Money received: a payment that succeeded (applied to invoices, or to a financing installment), one
that is pending; and how an event becomes a `Payment` (a processor's payout: services.payments.payouts)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from cashline.dal.bank_checks import stage_bank_check
from cashline.dal.bank_repository import bank
from cashline.dal.payment_repository import PaymentWrites
from cashline.domain.bank.bank_checks import bank_check_due_at, needs_bank_check
from cashline.domain.invoices import Direction
from cashline.domain.payments import (
    Allocation,
    HistoryEntry,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from cashline.errors import UnprocessableError
from cashline.ids import new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.payments.apply import apply_payment
from cashline.services.payments.context import (
    Context,
    Outcome,
    alert_if_large,
    claim,
    commit,
    payments,
)
from cashline.services.payments.installments import installment_paid


def on_succeeded(ctx: Context, event: PaymentEvent) -> Outcome:
    reference = event.reference or event.event_id
    existing = payments.by_reference(ctx.tenant_id, event.source, reference)
    if existing is not None and existing.status is PaymentStatus.SUCCEEDED:
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        claim(writes, event, existing.id, new_reference=None)
        commit(ctx, writes)
        return Outcome("merged", existing.id)
    if event.amount is None or event.currency is None:
        raise UnprocessableError("the event carries no amount", field="amount")
    payment = payment_of(ctx, event, existing, status=PaymentStatus.SUCCEEDED)
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    installment = None
    if event.targets.installment_id and event.targets.plan_id:
        installment = installment_paid(ctx, event)
    if installment is not None:
        # The business repaying its financing: money out of its account, applied to the installment.
        share = Allocation(
            target_type="installment",
            target_id=installment.installment_id,
            amount=installment.amount,
            currency=installment.currency,
            at=ctx.now,
            actor=ctx.actor,
            plan_id=installment.plan_id,
        )
        payment = replace(
            payment,
            direction=Direction.PAYABLE,
            allocations=(share,),
            allocated_amount=payment.amount,
            unallocated_amount=0,
        )
    else:
        payment = apply_payment(ctx, payment, writes)
    writes.payments.append((existing, payment))
    claim(writes, event, payment.id, new_reference=None if existing else reference)
    await_bank_line(payment, writes)
    alert_if_large(ctx, payment, writes)
    commit(ctx, writes)
    return Outcome("applied" if payment.allocated_amount else "held", payment.id)


def on_pending(ctx: Context, event: PaymentEvent) -> Outcome:
    reference = event.reference or event.event_id
    existing = payments.by_reference(ctx.tenant_id, event.source, reference)
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    if existing is not None or event.amount is None or event.currency is None:
        claim(writes, event, existing.id if existing else "-", new_reference=None)
        commit(ctx, writes)
        return Outcome("merged" if existing else "ignored", existing.id if existing else None)
    payment = payment_of(ctx, event, None, status=PaymentStatus.PENDING)
    writes.payments.append((None, payment))
    claim(writes, event, payment.id, new_reference=reference)
    commit(ctx, writes)
    return Outcome("recorded", payment.id)


def on_ignored(ctx: Context, event: PaymentEvent) -> Outcome:
    """Acknowledged and remembered as seen, nothing else."""
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    claim(writes, event, "-", new_reference=None)
    commit(ctx, writes)
    return Outcome("ignored")


def await_bank_line(payment: Payment, writes: PaymentWrites) -> None:
    """A processor reported this money paid to the business's bank (a payout, a payment settled by
    bank transfer): watch for its bank line in the same transaction, so the "not in bank" check
    (services.bank.bank_check_sweep) flags it if no line shows it within the tenant's days."""
    if not needs_bank_check(payment):
        return
    days = bank.get_settings(payment.tenant_id).not_in_bank_days
    writes.also.append(
        partial(
            stage_bank_check,
            tenant_id=payment.tenant_id,
            payment_id=payment.id,
            due_at=bank_check_due_at(payment, days=days),
            now=writes.now,
        )
    )


def payment_of(
    ctx: Context, event: PaymentEvent, existing: Payment | None, *, status: PaymentStatus
) -> Payment:
    """The payment an event reports: `existing` brought up to date, or a new one."""
    entry = HistoryEntry(
        at=ctx.now, action=f"event:{event.action.value}", actor=ctx.actor, event_id=event.event_id
    )
    if existing is not None:
        # A pending payment that settles, or a failed one the payer retried under the same reference
        # (Stripe keeps the PaymentIntent): what was taken back before is history, not a deduction.
        return replace(
            existing,
            status=status,
            reversed_amount=0 if status is PaymentStatus.SUCCEEDED else existing.reversed_amount,
            amount=event.amount if event.amount is not None else existing.amount,
            value_date=event.value_date or existing.value_date,
            method=event.method or existing.method,
            targets=existing.targets.merged_with(event.targets.to_domain()),
            history=(*existing.history, entry),
            updated_at=ctx.now,
        )
    return Payment(
        id=new_id("payment"),
        tenant_id=ctx.tenant_id,
        # An installment debit is the business paying Cashline; everything else is money received.
        direction=Direction.PAYABLE if event.targets.installment_id else Direction.RECEIVABLE,
        source=event.source,
        source_event_id=event.event_id,
        source_reference=event.reference or event.event_id,
        connection_id=ctx.connection_id,
        kind=PaymentKind.PAYOUT if event.action is EventAction.PAYOUT else PaymentKind.PAYMENT,
        status=status,
        amount=event.amount or 0,
        currency=event.currency or "EUR",
        value_date=event.value_date or ctx.now.date(),
        method=event.method,
        payer=event.payer.to_domain(),
        remittance_reference=event.remittance_reference,
        targets=event.targets.to_domain(),
        raw_payload_key=ctx.raw_payload_key,
        failure_reason=event.failure_reason,
        history=(entry,),
        created_at=ctx.now,
        updated_at=ctx.now,
    )
