"""A credit note settles the invoice it credits first (services/billing/credit.py issues it).

See `settle_credited_invoice`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cashline.dal.billing_credit import CreditEntry, stage_movement
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.party_records import UniqueRecord
from cashline.dal.party_repository import claimed_by, unique_record
from cashline.dal.transactions import UnitOfWork
from cashline.domain.access import today_for
from cashline.domain.invoices import Invoice, check_transition, settled_status
from cashline.errors import ConflictError, NotFoundError
from cashline.observability import MetricUnit, metrics
from cashline.services import reactions
from cashline.services.billing.credit import credit_balance
from cashline.services.payments.apply import invoice_change
from cashline.services.payments.context import PAYABLE, context_for

invoices = InvoiceRepository()

ACTOR = "system:subscription-billing"
# The claim that makes a credit note settle its credited invoice once (`<credit note id>`).
SETTLED_SCOPE = "CNSETTLE"
SETTLE_TRIES = 3


# --- the credited invoice settled first ----------------------------------------------------------


def settle_credited_invoice(tenant_id: str, note_id: str, *, now: datetime) -> int:
    """Apply credit note `note_id` to the invoice it credits (its `credited_invoice_id`), as far as
    that invoice is still owed, before the customer's balance keeps the rest; returns the amount.

    Why: a cancelled subscription has no next invoice to take the balance, so a credit for an unpaid
    period would otherwise leave that invoice open and in collection for money the customer is owed
    back. Like a payment allocation (services/payments/apply.py `invoice_change` and the invoice
    repository's `stage_changes`: amount paid, status, totals, day figures, audit event; then the
    same reactions: a paid invoice completes its collection), in ONE transaction with the balance
    taken (conditioned on covering it) and a claim `CNSETTLE <note>`, so it happens once. Only an
    invoice that is open, partially paid or overdue is settled (a draft, disputed, paid or void one is
    left as it is). Worked example: invoice 35.70 unpaid, cancel with a credit note of 17.27 -> the
    invoice 17.27 paid, 18.43 still owed, balance 0; with the invoice already paid the 17.27 stays in
    the balance. Runs after the credit note committed: a process dying in between leaves the credit in
    the balance (taken by the next invoice, or by a repeated call)."""
    for _ in range(SETTLE_TRIES):
        note = invoices.get_header(tenant_id, note_id)
        credited_id = note.metadata.get("credited_invoice_id")
        if not credited_id or _settled_already(tenant_id, note_id):
            return 0
        try:
            invoice = invoices.get_header(tenant_id, credited_id)
        except NotFoundError:
            return 0
        balance = credit_balance(tenant_id, note.counterparty_id, note.currency)
        amount = min(note.amount_due, balance, invoice.amount_outstanding)
        if invoice.status not in PAYABLE or invoice.currency != note.currency or amount <= 0:
            return 0
        try:
            _commit_settlement(tenant_id, note, invoice, amount, now)
        except ConflictError:
            continue  # paid, settled or changed meanwhile: look again
        return amount
    return 0


def _commit_settlement(tenant_id: str, note: Invoice, invoice: Invoice, amount: int, now: datetime) -> None:
    ctx = context_for(tenant_id, now=now, actor=ACTOR)
    paid = invoice.amount_paid + amount
    today = today_for(ctx.tenant, now)
    status = settled_status(invoice.amount_due, paid, invoice.due_date, today)
    if status is not invoice.status:
        check_transition(invoice.status, status, by_person=False)
    after = replace(invoice, amount_paid=paid, status=status, updated_at=now)
    change = invoice_change(
        ctx, invoice, after, "credit_applied", f"credit note {note.number}: {amount} {note.currency}"
    )
    taken = CreditEntry(
        entry_id=f"{note.invoice_id}-{invoice.invoice_id}",
        counterparty_id=note.counterparty_id,
        currency=note.currency,
        amount=-amount,
        source="invoice",
        source_id=invoice.invoice_id,
        at=now,
    )
    claim = unique_record(tenant_id, SETTLED_SCOPE, note.invoice_id, invoice.invoice_id, now)
    work = UnitOfWork("the credited invoice or the credit balance changed meanwhile")
    work.add(lambda write: write.save(claim, condition=UniqueRecord.pk.does_not_exist()))
    work.add(lambda write: stage_movement(write, tenant_id, taken))
    work.add(lambda write: invoices.stage_changes(write, [change], credits={}, tenant_id=tenant_id, now=now))
    work.commit()
    metrics.add_metric(name="CreditNoteSettledInvoice", unit=MetricUnit.Count, value=1)
    reactions.invoices_changed(tenant_id, [(invoice, after)], now=now, paid_on=today)


def _settled_already(tenant_id: str, note_id: str) -> bool:
    return claimed_by(tenant_id, SETTLED_SCOPE, note_id) is not None
