"""Allocation: who paid and for what, then the payment's money applied to invoices (the ones it names
first, else by the tenant's rule, or one invoice in another currency); what is left is the payer's
credit. Each function adds its invoice changes to the caller's `PaymentWrites`; nothing is written here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from cashline.dal.invoice_repository import InvoiceChange
from cashline.dal.party_repository import claimed_by
from cashline.dal.payment_repository import PaymentWrites
from cashline.domain import allocation as rules
from cashline.domain.access import today_for
from cashline.domain.invoices import (
    Direction,
    DocumentKind,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    check_transition,
    overdue_instant_of,
    settled_status,
)
from cashline.domain.payments import Allocation, Payment, PaymentKind, PaymentStatus
from cashline.domain.references import (
    invoice_number_candidates,
    normalize_invoice_number,
    parse_creditor_references,
)
from cashline.errors import NotFoundError, UnprocessableError
from cashline.ids import is_id_of, new_id
from cashline.services.payments.context import PAYABLE, Context, invoices, parties, payments

# A transaction holds at most 100 items; an invoice costs 2 (header, audit event) plus its totals.
MAX_INVOICES_PER_PAYMENT = 25


@dataclass(frozen=True, slots=True)
class Resolution:
    counterparty_id: str | None
    named: list[Invoice]  # the invoices the payment names, in the order it names them
    hold_reason: str | None = None


def apply_payment(ctx: Context, payment: Payment, writes: PaymentWrites) -> Payment:
    """Allocate a succeeded payment's money (named invoices first, else the tenant's rule); what is
    left is the payer's credit. Adds the invoice changes to `writes`; returns the payment as it is then."""
    if payment.kind is not PaymentKind.PAYMENT or payment.direction is not Direction.RECEIVABLE:
        return payment  # payouts and fees move no invoice
    if any(a.target_type == "installment" for a in payment.allocations):
        return payment
    found = _resolve(ctx, payment)
    payment = replace(payment, counterparty_id=found.counterparty_id or payment.counterparty_id)
    if payment.invoice_amount is not None and found.named:
        return _apply_cross_currency(ctx, payment, found.named[0], writes)
    candidates = [i for i in found.named if i.currency == payment.currency and i.status in PAYABLE]
    if found.named:
        plan = rules.plan_targeted(payment.amount, [_open_item(i) for i in candidates])
        hold = None if candidates else "the invoices it names are not open in this currency"
    elif found.counterparty_id is None:
        plan, hold = rules.AllocationPlan([], payment.amount), found.hold_reason or "payer not recognized"
    elif ctx.settings.allocation_rule is rules.AllocationRule.MANUAL:
        plan, hold = rules.AllocationPlan([], payment.amount), "the tenant allocates by hand (manual rule)"
    else:
        open_invoices = payments.open_invoices(
            ctx.tenant_id, found.counterparty_id, payment.currency, PAYABLE, limit=MAX_INVOICES_PER_PAYMENT
        )
        plan = rules.plan_allocation(
            payment.amount, [_open_item(i) for i in open_invoices], ctx.settings.allocation_rule
        )
        candidates, hold = open_invoices, None
    by_id = {i.invoice_id: i for i in candidates}
    payment = allocate(ctx, payment, [(by_id[a.item_id], a.amount) for a in plan.allocations], writes)
    if payment.unallocated_amount and hold is None:
        hold = "paid more than was owed: kept as the payer's credit"
    return replace(payment, hold_reason=hold if payment.unallocated_amount else None)


def allocate(
    ctx: Context, payment: Payment, shares: list[tuple[Invoice, int]], writes: PaymentWrites
) -> Payment:
    """Apply `shares` of the payment (in the payment's currency) to invoices; moves the credit too."""
    allocations = list(payment.allocations)
    for invoice, amount in shares[:MAX_INVOICES_PER_PAYMENT]:
        writes.invoice_changes.append(_paid_change(ctx, invoice, amount, payment))
        allocations.append(_invoice_share(ctx, invoice, amount))
    applied = sum(a.amount for a in allocations[len(payment.allocations) :])
    allocated = payment.allocated_amount + applied
    unallocated = payment.amount - payment.reversed_amount - allocated
    before_credit = payment.unallocated_amount if payment.status is PaymentStatus.SUCCEEDED else 0
    after = replace(
        payment,
        allocations=tuple(allocations),
        allocated_amount=allocated,
        unallocated_amount=unallocated,
        updated_at=ctx.now,
    )
    if after.counterparty_id and unallocated != before_credit:
        writes.add_credit(after.credit_key, unallocated - before_credit)
    return after


def _invoice_share(ctx: Context, invoice: Invoice, amount: int) -> Allocation:
    return Allocation(
        target_type="invoice",
        target_id=invoice.invoice_id,
        amount=amount,
        currency=invoice.currency,
        at=ctx.now,
        actor=ctx.actor,
        number=invoice.number,
    )


def _apply_cross_currency(ctx: Context, payment: Payment, invoice: Invoice, writes: PaymentWrites) -> Payment:
    amount = payment.invoice_amount or 0
    if invoice.status not in PAYABLE or amount > invoice.amount_outstanding:
        raise UnprocessableError(
            f"invoice_amount exceeds what invoice {invoice.invoice_id} still owes "
            f"({invoice.amount_outstanding} {invoice.currency})",
            field="invoice_amount",
        )
    writes.invoice_changes.append(_paid_change(ctx, invoice, amount, payment))
    rate = (Decimal(amount) / Decimal(payment.amount)).quantize(Decimal("0.000001"))
    return replace(
        payment,
        allocations=(*payment.allocations, _invoice_share(ctx, invoice, amount)),
        allocated_amount=payment.amount,
        unallocated_amount=0,
        invoice_currency=invoice.currency,
        fx_rate=str(rate),
        counterparty_id=invoice.counterparty_id,
    )


def _open_item(invoice: Invoice) -> rules.OpenItem:
    return rules.OpenItem(
        item_id=invoice.invoice_id,
        due_date=invoice.due_date,
        issue_date=invoice.issue_date,
        outstanding=invoice.amount_outstanding,
        currency=invoice.currency,
    )


def _paid_change(ctx: Context, before: Invoice, amount: int, payment: Payment) -> InvoiceChange:
    paid = before.amount_paid + amount
    today = today_for(ctx.tenant, ctx.now)
    status = settled_status(before.amount_due, paid, before.due_date, today)
    if (
        before.status in {InvoiceStatus.DISPUTED, InvoiceStatus.WRITTEN_OFF}
        and status is not InvoiceStatus.PAID
    ):
        status = before.status  # a dispute or write-off stays until a person resolves it
    if status is not before.status:
        check_transition(before.status, status, by_person=False)
    after = replace(before, amount_paid=paid, status=status, updated_at=ctx.now)
    return invoice_change(
        ctx, before, after, "payment_applied", f"payment {payment.id}: {amount} {before.currency}"
    )


def invoice_change(ctx: Context, before: Invoice, after: Invoice, action: str, note: str) -> InvoiceChange:
    """An invoice's new amount paid (and status), with the audit event that tells it."""
    changes: dict[str, list[object]] = {"amount_paid": [before.amount_paid, after.amount_paid]}
    if after.status is not before.status:
        changes["status"] = [before.status.value, after.status.value]
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=after.invoice_id,
        at=ctx.now,
        actor=ctx.actor,
        action=action,
        changes=changes,
        note=note,
    )
    return InvoiceChange(before, after, event, overdue_instant_of(ctx.tenant, after))


def _resolve(ctx: Context, payment: Payment) -> Resolution:
    """Who paid and for what: explicit ids first, then invoice numbers or creditor references in the
    remittance text, then the payer's reference or name."""
    named = _named_invoices(ctx.tenant_id, payment)
    counterparty_id = (
        payment.targets.counterparty_id
        or payment.payer.counterparty_id
        or payment.counterparty_id
        or (named[0].counterparty_id if named else None)
    )
    if counterparty_id and not counterparty_exists(ctx.tenant_id, counterparty_id):
        counterparty_id = None
    if counterparty_id is None and payment.payer.reference:
        counterparty_id = claimed_by(ctx.tenant_id, "CPREF", payment.payer.reference)
    if counterparty_id is None and payment.payer.name:
        matches = parties.find_by_name(ctx.tenant_id, payment.payer.name)
        counterparty_id = matches[0].counterparty_id if len(matches) == 1 else None
    if named and counterparty_id:
        named = [i for i in named if i.counterparty_id == counterparty_id] or named
    return Resolution(counterparty_id, named)


def counterparty_exists(tenant_id: str, counterparty_id: str) -> bool:
    if not is_id_of("counterparty", counterparty_id):
        return False
    try:
        parties.get_profile(tenant_id, counterparty_id)
    except NotFoundError:
        return False
    return True


def _named_invoices(tenant_id: str, payment: Payment) -> list[Invoice]:
    ids: list[str] = []
    if payment.targets.invoice_id and is_id_of("invoice", payment.targets.invoice_id):
        ids.append(payment.targets.invoice_id)
    texts = [payment.targets.invoice_number, payment.remittance_reference]
    numbers: list[str] = []
    for text in filter(None, texts):
        numbers += parse_creditor_references(text) + invoice_number_candidates(text)
    seen: set[str] = set()
    for number in numbers:
        key = normalize_invoice_number(number)
        if not key or key in seen:
            continue
        seen.add(key)
        ids += [i for i, _ in payments.invoices_by_number(tenant_id, payment.direction.value, key)]
    found: list[Invoice] = []
    for invoice_id in dict.fromkeys(ids):
        try:
            invoice = invoices.get_header(tenant_id, invoice_id)
        except NotFoundError:
            continue
        if invoice.direction is payment.direction and invoice.document_kind is DocumentKind.INVOICE:
            found.append(invoice)
    return found
