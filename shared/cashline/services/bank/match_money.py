"""The money side of a bank line's match (services.bank.applying writes it with the line): a new
`bank_transfer` payment allocated to exactly the matched invoices or bills, or a note on a payout or
refund Cashline recorded that the bank showed it; and, on unmatch, the same taken back. Everything
is added to the caller's `PaymentWrites` and written with the line; the one exception is an
installment whose debit a processor has not settled yet, settled first on its own write the way the
processor's "paid" settles it (services.payments.installments; a second time it changes nothing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import partial

from cashline.dal.bank_checks import stage_bank_check_done
from cashline.dal.financing_repository import FinancingRepository
from cashline.dal.payment_repository import REFERENCE_SCOPE, PaymentWrites, reference_claim_value
from cashline.domain.bank.model import Direction as BankDirection
from cashline.domain.bank.reconciliation import BankTransaction, MatchTarget, Proposal, TargetType
from cashline.domain.invoices import Direction, Invoice, InvoiceStatus
from cashline.domain.payments import (
    Allocation,
    Payer,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentSource,
    PaymentStatus,
    Targets,
)
from cashline.domain.payments import HistoryEntry as PaymentHistoryEntry
from cashline.domain.plans import Installment
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.ids import is_id_of, new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.payments.apply import allocate
from cashline.services.payments.context import PAYABLE, Context, alert_if_large, invoices, payments
from cashline.services.payments.installments import WAITING, installment_paid
from cashline.services.payments.received import await_bank_line, payment_of
from cashline.services.payments.reversal import reverse

RECONCILED = "bank_reconciled"  # history action on a payout or refund the bank showed
UNRECONCILED = "bank_unreconciled"
INVOICE_TARGETS = frozenset({TargetType.INVOICE, TargetType.BILL})
EXISTING_PAYMENT_TARGETS = frozenset({TargetType.PAYOUT, TargetType.PAYMENT})


class TargetUnavailableError(ConflictError):
    """A target that cannot take this line (an invoice no longer open, a payout another line
    reconciled): a decision, final, not a write that lost a race and is worth trying again."""


# How far from its due date an installment's debit may be booked (retries move it a few days).
INSTALLMENT_DAYS = 10
plans = FinancingRepository()


def stage_money(
    ctx: Context, tx: BankTransaction, proposal: Proposal, writes: PaymentWrites
) -> tuple[list[str], str | None]:
    """The payment changes a match makes; returns the payments it touched and the counterparty."""
    invoice_targets = [t for t in proposal.targets if t.type in INVOICE_TARGETS]
    fees = sum(t.amount for t in proposal.targets if t.type is TargetType.FEES)
    if proposal.total > tx.amount:
        raise UnprocessableError(
            f"the targets take {proposal.total}, more than the line's {tx.amount}", field="targets"
        )
    payment_ids: list[str] = []
    counterparty_id = proposal.counterparty_id
    if invoice_targets:
        payment = _new_payment(ctx, tx, proposal, tx.amount - fees, writes)
        payment_ids.append(payment.id)
        counterparty_id = counterparty_id or payment.counterparty_id
    for target in proposal.targets:
        if target.type in EXISTING_PAYMENT_TARGETS:
            payment_ids.append(_stage_reconciled(ctx, tx, target.id, writes))
        elif target.type is TargetType.INSTALLMENT:
            payment_ids += filter(None, [_stage_installment(ctx, tx, target, writes)])
    return payment_ids, counterparty_id


def payment_reference(tx: BankTransaction) -> str:
    """The source reference of the payment a match creates: the line's id, numbered after an unmatch
    so the reference claim of the reversed payment does not block the new one. Two workers reading
    the same line compute the same reference, so only one of them can claim it."""
    earlier = sum(1 for entry in tx.history if entry.action in {"matched", "auto_matched"})
    return tx.transaction_id if earlier == 0 else f"{tx.transaction_id}#{earlier + 1}"


def _new_payment(
    ctx: Context, tx: BankTransaction, proposal: Proposal, amount: int, writes: PaymentWrites
) -> Payment:
    """A bank_transfer payment of `amount` allocated to exactly the proposal's invoices or bills."""
    direction = Direction.RECEIVABLE if tx.direction is BankDirection.CREDIT else Direction.PAYABLE
    shares = [
        (_payable_invoice(ctx, tx, target.id, index, direction, target.amount), target.amount)
        for index, target in enumerate(proposal.targets)
        if target.type in INVOICE_TARGETS
    ]
    counterparty_id = proposal.counterparty_id or shares[0][0].counterparty_id
    reference = payment_reference(tx)
    payment = Payment(
        id=new_id("payment"),
        tenant_id=ctx.tenant_id,
        direction=direction,
        source=PaymentSource.BANK_TRANSFER,
        source_reference=reference,
        kind=PaymentKind.PAYMENT,
        status=PaymentStatus.SUCCEEDED,
        amount=amount,
        currency=tx.currency,
        value_date=tx.value_date or tx.booking_date,
        method=PaymentMethod.BANK_TRANSFER,
        payer=Payer(name=tx.counterparty_name, iban=tx.counterparty_iban, counterparty_id=counterparty_id),
        remittance_reference=tx.remittance[:500] or None,
        targets=Targets(counterparty_id=counterparty_id),
        counterparty_id=counterparty_id,
        history=(
            PaymentHistoryEntry(
                at=ctx.now, action="recorded", actor=ctx.actor, note=f"bank line {tx.transaction_id}"
            ),
        ),
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    payment = allocate(ctx, payment, shares, writes)
    if payment.unallocated_amount:
        payment = replace(
            payment, hold_reason="paid more than the matched invoices: kept as the payer's credit"
        )
    writes.payments.append((None, payment))
    writes.claims.append(
        (REFERENCE_SCOPE, reference_claim_value(PaymentSource.BANK_TRANSFER.value, reference), payment.id)
    )
    alert_if_large(ctx, payment, writes)
    return payment


def _payable_invoice(
    ctx: Context, tx: BankTransaction, invoice_id: str, index: int, direction: Direction, amount: int
) -> Invoice:
    """The invoice a target names, checked: the tenant's, this line's direction and currency, open,
    owing at least the target's amount."""
    field = f"targets[{index}].id"
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field=field)
    try:
        invoice = invoices.get_header(ctx.tenant_id, invoice_id)
    except NotFoundError:
        raise NotFoundError("invoice not found", field=field) from None
    if invoice.currency != tx.currency or invoice.direction is not direction:
        raise UnprocessableError(
            f"invoice {invoice.number} is a {invoice.direction.value} in {invoice.currency}; the line is "
            f"a {tx.direction.value} in {tx.currency}",
            field=field,
        )
    if invoice.status not in PAYABLE | {InvoiceStatus.DISPUTED}:
        raise TargetUnavailableError(f"a {invoice.status.value} invoice takes no payment", field=field)
    if amount > invoice.amount_outstanding:
        raise UnprocessableError(
            f"more than invoice {invoice.number} still owes ({invoice.amount_outstanding})",
            field=f"targets[{index}].amount",
        )
    return invoice


def _stage_installment(
    ctx: Context, tx: BankTransaction, target: MatchTarget, writes: PaymentWrites
) -> str | None:
    """Cashline's own installment debit seen on the bank: an installment still waiting for the
    processor's word is settled the way a processor's "paid" settles it (services.payments.installments,
    its own write on the plan's version; seen again it changes nothing) and its payment recorded with
    this line; one already paid (the webhook or the debit sweep came first) is only confirmed."""
    installment = _installment(ctx, tx, target.id)
    if installment.amount != target.amount or installment.currency != tx.currency:
        raise UnprocessableError(
            f"installment {target.id} is {installment.amount} {installment.currency}", field="targets"
        )
    if installment.status not in WAITING:
        return None
    reference = f"{payment_reference(tx)}:installment"
    event = PaymentEvent.model_validate(
        {
            "source": PaymentSource.BANK_TRANSFER,
            "event_id": f"bank:{reference}",
            "event_type": "bank.line_matched",
            "occurred_at": ctx.now,
            "action": EventAction.SUCCEEDED,
            "reference": reference,
            "amount": installment.amount,
            "currency": installment.currency,
            "value_date": tx.value_date or tx.booking_date,
            "targets": {"installment_id": installment.installment_id, "plan_id": installment.plan_id},
        }
    )
    settled = installment_paid(ctx, event) or installment
    share = Allocation(
        target_type="installment",
        target_id=settled.installment_id,
        amount=settled.amount,
        currency=settled.currency,
        at=ctx.now,
        actor=ctx.actor,
        plan_id=settled.plan_id,
    )
    payment = replace(
        payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED),
        allocations=(share,),
        allocated_amount=settled.amount,
        unallocated_amount=0,
    )
    writes.payments.append((None, payment))
    writes.claims.append(
        (REFERENCE_SCOPE, reference_claim_value(PaymentSource.BANK_TRANSFER.value, reference), payment.id)
    )
    return payment.id


def _installment(ctx: Context, tx: BankTransaction, installment_id: str) -> Installment:
    """The installment a target names: among the tenant's installments due within INSTALLMENT_DAYS of
    the line's booking date (one Query by due date; a debit is booked close to its due date)."""
    if is_id_of("installment", installment_id):
        around = tx.booking_date
        window = timedelta(days=INSTALLMENT_DAYS)
        for installment in plans.installments_due(ctx.tenant_id, around - window, around + window):
            if installment.installment_id == installment_id:
                return installment
    raise NotFoundError(f"no installment {installment_id} due near {tx.booking_date}", field="targets")


def _stage_reconciled(ctx: Context, tx: BankTransaction, payment_id: str, writes: PaymentWrites) -> str:
    """A payout or refund Cashline recorded is the money this line shows: noted on the payment (on its
    version), so a second line cannot reconcile it too."""
    if not is_id_of("payment", payment_id):
        raise NotFoundError("payment not found", field="targets")
    before = payments.get(ctx.tenant_id, payment_id)
    if before.currency != tx.currency:
        raise UnprocessableError(f"payment {payment_id} is in {before.currency}", field="targets")
    if reconciled_by(before) is not None:
        raise TargetUnavailableError(
            f"payment {payment_id} is reconciled with another bank line already",
            field="targets",
            details={"bank_transaction_id": reconciled_by(before)},
        )
    entry = PaymentHistoryEntry(at=ctx.now, action=RECONCILED, actor=ctx.actor, note=tx.transaction_id)
    writes.payments.append((before, replace(before, history=(*before.history, entry), updated_at=ctx.now)))
    # The bank showed the money: the "not in bank" check has nothing left to watch.
    writes.also.append(
        partial(stage_bank_check_done, tenant_id=ctx.tenant_id, payment_id=payment_id, now=ctx.now)
    )
    return payment_id


def reconciled_by(payment: Payment) -> str | None:
    """The bank line a payout or refund is reconciled with now, from its history."""
    line: str | None = None
    for entry in payment.history:
        if entry.action == RECONCILED:
            line = entry.note
        elif entry.action == UNRECONCILED:
            line = None
    return line


def stage_undo_payment(
    ctx: Context, tx: BankTransaction, payment_id: str, writes: PaymentWrites, reason: str
) -> None:
    before = payments.get(ctx.tenant_id, payment_id)
    note = f"bank line {tx.transaction_id} unmatched" + (f": {reason}" if reason else "")
    if any(a.target_type == "installment" for a in before.allocations):
        # The installment stays paid: the plan's books follow the processor and the debit sweep, and
        # money that left the account is not un-paid by a person re-filing a bank line. The payment
        # this line recorded for it is released from the line (noted), not reversed.
        entry = PaymentHistoryEntry(at=ctx.now, action=UNRECONCILED, actor=ctx.actor, note=note)
        writes.payments.append(
            (before, replace(before, history=(*before.history, entry), updated_at=ctx.now))
        )
        return
    if before.source is PaymentSource.BANK_TRANSFER and before.kind is PaymentKind.PAYMENT:
        if before.status is not PaymentStatus.SUCCEEDED:
            return  # reversed meanwhile (refunded, failed): nothing left to take back
        after = reverse(ctx, before, before.amount - before.reversed_amount, writes, note=note)
        writes.payments.append((before, after))
        return
    entry = PaymentHistoryEntry(at=ctx.now, action=UNRECONCILED, actor=ctx.actor, note=note)
    after = replace(before, history=(*before.history, entry), updated_at=ctx.now)
    writes.payments.append((before, after))
    # No bank line shows this payout any more: watch for one again (creating the check is idempotent).
    await_bank_line(after, writes)
