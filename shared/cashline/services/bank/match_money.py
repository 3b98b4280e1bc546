"""The money side of a bank line's match (services.bank.applying writes it with the line): a new
`bank_transfer` payment allocated to exactly the matched invoices or bills, or a note on a payout or
refund Cashline recorded that the bank showed it (resolving its NOT_IN_BANK discrepancy, if one was
flagged), or Cashline's own installment debit settled; and, on unmatch, the same taken back. The
targets are checked first (services.bank.match_targets). Everything is added to the caller's
`PaymentWrites` and written with the line in one transaction, the installment's settlement included.

An installment whose debit a processor started (it has the processor's reference) is recorded under
the processor's source and that reference, claimed like a processor's payment: the processor's
"paid" coming later finds it by reference and merges (services.payments.received.on_succeeded), and
a line coming after the processor's "paid" reconciles the payment the processor recorded. One
payment either way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial

from cashline.dal.bank_checks import stage_bank_check_done
from cashline.dal.financing_repository import FinancingRepository, installment_day
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
from cashline.domain.plans import Installment, InstallmentStatus, PlanStatus
from cashline.errors import NotFoundError, UnprocessableError
from cashline.ids import is_id_of, new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.bank.flags import payment_flag_resolved
from cashline.services.bank.match_targets import (
    EXISTING_PAYMENT_TARGETS,
    INVOICE_TARGETS,
    TargetUnavailableError,
    check_targets,
    recorded_payment,
)
from cashline.services.payments.apply import allocate
from cashline.services.payments.context import PAYABLE, Context, alert_if_large, invoices, payments
from cashline.services.payments.installments import WAITING
from cashline.services.payments.received import await_bank_line, payment_of
from cashline.services.payments.reversal import reverse

RECONCILED = "bank_reconciled"  # history action on a payout or refund the bank showed
UNRECONCILED = "bank_unreconciled"
PROCESSOR_SOURCES = {source.value: source for source in (PaymentSource.STRIPE, PaymentSource.GOCARDLESS)}
__all__ = ["Moves", "TargetUnavailableError", "reconciled_by", "stage_money", "stage_undo_payment"]


@dataclass(frozen=True, slots=True)
class Moves:
    """What a match did to payments: those it created (an unmatch reverses them) and those recorded
    elsewhere that it reconciled (an unmatch only takes the bank's confirmation back)."""

    created: tuple[str, ...]
    reconciled: tuple[str, ...]
    counterparty_id: str | None


# How far from its due date an installment's debit may be booked (retries move it a few days).
INSTALLMENT_DAYS = 10
plans = FinancingRepository()


def stage_money(ctx: Context, tx: BankTransaction, proposal: Proposal, writes: PaymentWrites) -> Moves:
    """The payment changes a match makes (module docstring); refused, before anything is staged, when
    the targets do not fit the line (services.bank.match_targets)."""
    check_targets(tx, proposal)
    invoice_targets = [t for t in proposal.targets if t.type in INVOICE_TARGETS]
    fees = sum(t.amount for t in proposal.targets if t.type is TargetType.FEES)
    created: list[str] = []
    reconciled: list[str] = []
    counterparty_id = proposal.counterparty_id
    if invoice_targets:
        payment = _new_payment(ctx, tx, proposal, tx.amount - fees, writes)
        created.append(payment.id)
        counterparty_id = counterparty_id or payment.counterparty_id
    for index, target in enumerate(proposal.targets):
        if target.type in EXISTING_PAYMENT_TARGETS:
            reconciled.append(_stage_reconciled(ctx, tx, recorded_payment(tx, target, index), index, writes))
        elif target.type is TargetType.INSTALLMENT:
            made, confirmed = _stage_installment(ctx, tx, target, index, writes)
            created += filter(None, [made])
            reconciled += filter(None, [confirmed])
    return Moves(tuple(created), tuple(reconciled), counterparty_id)


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
    ctx: Context, tx: BankTransaction, target: MatchTarget, index: int, writes: PaymentWrites
) -> tuple[str | None, str | None]:
    """Cashline's own installment debit seen on the bank: (the payment created, the payment
    reconciled). One still waiting for the processor's word is settled here, in the line's
    transaction (the same stage the debit sweep and the processor's "paid" write, on the plan's
    version), and its payment recorded (module docstring). One already paid: the payment the
    processor's "paid" recorded is reconciled, if there is one; else it is only confirmed."""
    found = _installment(ctx, tx, target.id, index)
    if found.currency != tx.currency:
        raise UnprocessableError(
            f"installment {target.id} is in {found.currency}", field=f"targets[{index}].id"
        )
    if found.amount != target.amount:
        raise UnprocessableError(
            f"installment {target.id} is {found.amount}, not {target.amount}",
            field=f"targets[{index}].amount",
        )
    plan, installments = plans.get_plan(ctx.tenant_id, found.plan_id)  # consistent: the version written
    installment = next(i for i in installments if i.installment_id == found.installment_id)
    source = PROCESSOR_SOURCES.get(installment.processor or "")
    by_processor = source is not None and bool(installment.processor_reference)
    if installment.status not in WAITING:
        if not by_processor or source is None or installment.processor_reference is None:
            return None, None
        existing = payments.by_reference(ctx.tenant_id, source, installment.processor_reference)
        if existing is None:
            return None, None  # the debit sweep settled it; the processor's payment is still to come
        return None, _stage_reconciled(ctx, tx, existing, index, writes)
    open_left = [
        i
        for i in installments
        if i.installment_id != installment.installment_id
        and i.status not in {InstallmentStatus.PAID, InstallmentStatus.CANCELLED}
    ]
    paid = replace(
        installment, status=InstallmentStatus.PAID, paid_at=ctx.now, failure_reason=None, phase="start"
    )
    writes.also.append(
        partial(
            plans.stage_outcome,
            plan=plan,
            installment=paid,
            retry_instant=None,
            paid_delta=installment.amount,
            days=[installment_day(ctx.tenant_id, installment, -1)],
            plan_status=None if open_left or plan.status is PlanStatus.COMPLETED else PlanStatus.COMPLETED,
            now=ctx.now,
        )
    )
    payment = _installment_payment(ctx, tx, installment, source if by_processor else None)
    writes.payments.append((None, payment))
    writes.claims.append(
        (
            REFERENCE_SCOPE,
            reference_claim_value(payment.source.value, payment.source_reference or ""),
            payment.id,
        )
    )
    return payment.id, None


def _installment_payment(
    ctx: Context, tx: BankTransaction, installment: Installment, source: PaymentSource | None
) -> Payment:
    """The installment's payment, recorded by this line: under the processor's source and reference
    when the processor started the debit (so its "paid" merges into it), else as a bank transfer
    referenced by the line. Noted as reconciled with this line: no other line can take it."""
    if source is not None and installment.processor_reference:
        reference = installment.processor_reference
    else:
        source, reference = PaymentSource.BANK_TRANSFER, f"{payment_reference(tx)}:installment"
    event = PaymentEvent.model_validate(
        {
            "source": source,
            "event_id": f"bank:{payment_reference(tx)}:installment",
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
    share = Allocation(
        target_type="installment",
        target_id=installment.installment_id,
        amount=installment.amount,
        currency=installment.currency,
        at=ctx.now,
        actor=ctx.actor,
        plan_id=installment.plan_id,
    )
    payment = payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED)
    entry = PaymentHistoryEntry(at=ctx.now, action=RECONCILED, actor=ctx.actor, note=tx.transaction_id)
    return replace(
        payment,
        allocations=(share,),
        allocated_amount=installment.amount,
        unallocated_amount=0,
        history=(*payment.history, entry),
    )


def _installment(ctx: Context, tx: BankTransaction, installment_id: str, index: int) -> Installment:
    """The installment a target names: among the tenant's installments due within INSTALLMENT_DAYS of
    the line's booking date (one Query by due date; a debit is booked close to its due date)."""
    if is_id_of("installment", installment_id):
        around = tx.booking_date
        window = timedelta(days=INSTALLMENT_DAYS)
        for installment in plans.installments_due(ctx.tenant_id, around - window, around + window):
            if installment.installment_id == installment_id:
                return installment
    raise NotFoundError(
        f"no installment {installment_id} due near {tx.booking_date}", field=f"targets[{index}].id"
    )


def _stage_reconciled(
    ctx: Context, tx: BankTransaction, before: Payment, index: int, writes: PaymentWrites
) -> str:
    """A payout, refund or installment payment Cashline recorded is the money this line shows: noted
    on the payment (on its version), so a second line cannot reconcile it too."""
    payment_id = before.id
    if reconciled_by(before) is not None:
        raise TargetUnavailableError(
            f"payment {payment_id} is reconciled with another bank line already",
            field=f"targets[{index}].id",
            details={"bank_transaction_id": reconciled_by(before)},
        )
    entry = PaymentHistoryEntry(at=ctx.now, action=RECONCILED, actor=ctx.actor, note=tx.transaction_id)
    writes.payments.append((before, replace(before, history=(*before.history, entry), updated_at=ctx.now)))
    # The bank showed the money: the "not in bank" check has nothing left to watch, and a NOT_IN_BANK
    # discrepancy flagged meanwhile (the line came late) is resolved with this match.
    writes.also.append(
        partial(stage_bank_check_done, tenant_id=ctx.tenant_id, payment_id=payment_id, now=ctx.now)
    )
    flagged = payment_flag_resolved(
        ctx.tenant_id, payment_id, transaction_id=tx.transaction_id, now=ctx.now, actor=ctx.actor
    )
    if flagged is not None:
        writes.also.append(flagged)
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
    ctx: Context,
    tx: BankTransaction,
    payment_id: str,
    writes: PaymentWrites,
    reason: str,
    *,
    reconciled: bool,
) -> None:
    """Take back what the line's match did to one payment: a payment it created is reversed (an
    installment's stays: see below); one it only `reconciled` loses the bank's confirmation, and only
    if this line is the one that gave it. A payment neither created nor reconciled by this line (a
    line stored before `reconciled_payment_ids` was kept) is left alone."""
    before = payments.get(ctx.tenant_id, payment_id)
    note = f"bank line {tx.transaction_id} unmatched" + (f": {reason}" if reason else "")
    installment = any(a.target_type == "installment" for a in before.allocations)
    if not reconciled and not installment and _created_by(tx, before):
        if before.status is not PaymentStatus.SUCCEEDED:
            return  # reversed meanwhile (refunded, failed): nothing left to take back
        after = reverse(ctx, before, before.amount - before.reversed_amount, writes, note=note)
        writes.payments.append((before, after))
        return
    if reconciled_by(before) != tx.transaction_id and not (installment and not reconciled):
        return  # not this line's to take back
    # An installment stays paid: the plan's books follow the processor and the debit sweep, and money
    # that left the account is not un-paid by a person re-filing a bank line. Its payment is released
    # from the line (noted), not reversed.
    entry = PaymentHistoryEntry(at=ctx.now, action=UNRECONCILED, actor=ctx.actor, note=note)
    after = replace(before, history=(*before.history, entry), updated_at=ctx.now)
    writes.payments.append((before, after))
    if not installment:
        # No bank line shows this payout any more: watch for one again (the check is idempotent).
        await_bank_line(after, writes)


def _created_by(tx: BankTransaction, payment: Payment) -> bool:
    """Whether the line's match created this payment: a bank transfer referenced by the line."""
    reference = payment.source_reference or ""
    return (
        payment.source is PaymentSource.BANK_TRANSFER
        and payment.kind is PaymentKind.PAYMENT
        and (reference == tx.transaction_id or reference.startswith(f"{tx.transaction_id}#"))
    )
