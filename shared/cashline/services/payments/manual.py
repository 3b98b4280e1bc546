"""The API's side of payments: a payment recorded by a person or the bank-transfer channel (the same
path as a webhook's), money assigned to invoices by hand, and reading payments."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from cashline.dal.pagination import Page
from cashline.dal.payment_repository import PaymentFilter, PaymentWrites
from cashline.domain.invoices import Direction, Invoice, InvoiceStatus
from cashline.domain.payments import Payment, PaymentKind, PaymentSource, PaymentStatus
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.ids import is_id_of
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.payments.apply import allocate, apply_payment, counterparty_exists
from cashline.services.payments.context import (
    PAYABLE,
    Context,
    Outcome,
    alert_if_large,
    claim,
    commit,
    invoices,
    payments,
    retrying,
)
from cashline.services.payments.received import payment_of


def record_payment(
    ctx: Context,
    event: PaymentEvent,
    *,
    invoice_amount: int | None,
    counterparty_id: str | None,
    direction: Direction = Direction.RECEIVABLE,
) -> Payment:
    """A payment a person or the bank-transfer channel reports: the same path as a webhook's."""
    if event.targets.invoice_id:
        invoices.get_header(ctx.tenant_id, event.targets.invoice_id)  # 404 for an unknown or foreign invoice
    if counterparty_id and not counterparty_exists(ctx.tenant_id, counterparty_id):
        raise NotFoundError("counterparty not found", field="counterparty_id")
    reference = event.reference or event.event_id
    # Only a bank's own reference can arrive twice; a fresh id claims nothing (a retried request is the
    # Idempotency-Key's to answer), which saves two claim writes per payment.
    banked = reference != event.event_id

    def work() -> Outcome:
        existing = payments.by_reference(ctx.tenant_id, event.source, reference) if banked else None
        if existing is not None:
            return Outcome("duplicate", existing.id)
        payment = replace(
            payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED),
            invoice_amount=invoice_amount,
            counterparty_id=counterparty_id,
            direction=direction,
        )
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        payment = apply_payment(ctx, payment, writes)
        writes.payments.append((None, payment))
        if banked:
            claim(writes, event, payment.id, new_reference=reference)
        alert_if_large(ctx, payment, writes)
        commit(ctx, writes)
        return Outcome("applied", payment.id)

    def done() -> Outcome | None:
        if not banked:
            return None
        existing = payments.by_reference(ctx.tenant_id, event.source, reference)
        return Outcome("duplicate", existing.id) if existing else None

    outcome = retrying(work, done_already=done)
    if outcome.result == "duplicate" and event.source is PaymentSource.BANK_TRANSFER:
        raise ConflictError(
            "this bank transfer is recorded already",
            field="bank_reference",
            details={"existing_id": outcome.payment_id},
        )
    return payments.get(ctx.tenant_id, outcome.payment_id or "")


def assign(ctx: Context, payment_id: str, shares: list[tuple[str, int]]) -> Payment:
    """A person applies a payment's unapplied money (held, or the payer's credit) to invoices."""
    if not is_id_of("payment", payment_id):
        raise NotFoundError("payment not found", field="payment_id")

    def work() -> Outcome:
        before = payments.get(ctx.tenant_id, payment_id)
        if before.status is not PaymentStatus.SUCCEEDED or before.kind is not PaymentKind.PAYMENT:
            raise ConflictError(
                f"a {before.status.value} {before.kind.value} cannot be allocated", field="payment_id"
            )
        total = sum(amount for _, amount in shares)
        if total > before.unallocated_amount:
            raise UnprocessableError(
                f"allocations total {total} but only {before.unallocated_amount} is unallocated",
                field="allocations",
            )
        chosen = [
            (_invoice_for_assignment(ctx.tenant_id, invoice_id, index, before, amount), amount)
            for index, (invoice_id, amount) in enumerate(shares)
        ]
        payment = replace(before, counterparty_id=before.counterparty_id or chosen[0][0].counterparty_id)
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        if payment.counterparty_id and not before.counterparty_id:
            # Held money of an unknown payer becomes this counterparty's credit, then is used.
            writes.add_credit(payment.credit_key, payment.unallocated_amount)
        after = allocate(ctx, payment, chosen, writes)
        hold = after.hold_reason if after.unallocated_amount else None
        writes.payments.append((before, replace(after, hold_reason=hold)))
        commit(ctx, writes)
        return Outcome("applied", payment_id)

    retrying(work, done_already=lambda: None)
    return payments.get(ctx.tenant_id, payment_id)


def _invoice_for_assignment(
    tenant_id: str, invoice_id: str, index: int, payment: Payment, amount: int
) -> Invoice:
    field = f"allocations[{index}].invoice_id"
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field=field)
    try:
        invoice = invoices.get_header(tenant_id, invoice_id)
    except NotFoundError:
        raise NotFoundError("invoice not found", field=field) from None
    if invoice.currency != payment.currency or invoice.direction is not payment.direction:
        raise UnprocessableError("the invoice is in another currency or direction", field=field)
    if invoice.status not in PAYABLE | {InvoiceStatus.DISPUTED}:
        raise ConflictError(f"a {invoice.status.value} invoice takes no payment", field=field)
    if amount > invoice.amount_outstanding:
        raise UnprocessableError(
            f"more than the invoice still owes ({invoice.amount_outstanding})",
            field=f"allocations[{index}].amount",
        )
    return invoice


def get_payment(tenant_id: str, payment_id: str) -> Payment:
    if not is_id_of("payment", payment_id):
        raise NotFoundError("payment not found", field="payment_id")
    return payments.get(tenant_id, payment_id)


def list_payments(
    tenant_id: str, flt: PaymentFilter, *, limit: int, starting_after: str | None
) -> Page[Payment]:
    return payments.list(tenant_id, flt, limit=limit, starting_after=starting_after)


def manual_event(
    *,
    source: PaymentSource,
    amount: int,
    currency: str,
    value_date: date,
    method: str,
    payer_name: str | None,
    payer_iban: str | None,
    remittance_reference: str | None,
    invoice_id: str | None,
    bank_reference: str | None,
    event_id: str,
    now: datetime,
) -> PaymentEvent:
    """The event a person's or the bank channel's report stands for, validated like a processor's."""
    return PaymentEvent.model_validate(
        {
            "source": source,
            "event_id": event_id,
            "event_type": "payment.recorded",
            "occurred_at": now,
            "action": EventAction.SUCCEEDED,
            "reference": bank_reference or event_id,
            "amount": amount,
            "currency": currency,
            "method": method,
            "value_date": value_date,
            "payer": {"name": payer_name, "iban": payer_iban},
            "remittance_reference": remittance_reference,
            "targets": {"invoice_id": invoice_id},
        }
    )
