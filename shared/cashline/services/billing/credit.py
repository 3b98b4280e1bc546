"""Credit notes for proration credits and cancellations, and the customer's credit balance they
feed, taken off the customer's next invoices first.

A credit note is an ordinary invoice document (`document_kind: credit_note`, source
"subscription"), numbered at once from the tenant's invoice sequence (the same gap-free sequence as
invoices: one document series), its lines the credit lines with their signs turned (a credit of
-15.48 is a credit-note line of 15.48), taxed per rate like the invoice it credits. Its total goes to
the customer's credit balance in the same transaction, so the credit note is stored settled
(`paid`, amount_paid = its total): what it owes the customer now sits in the balance, and counting it
as outstanding too would count it twice. The next invoice takes what it can of the balance: it is
created with `amount_paid` = the credit applied (EN 16931 BT-113, prepaid amount), so it owes
`total - credit` and is finalised partially paid, or paid when the credit covers it.

Worked example (19 % VAT): a downgrade from 90.00 to 30.00 EUR/month effective on day 16 of 31,
invoiced at once, has lines -46.45 (unused 90.00 plan) and +15.48 (rest of the 30.00 plan), net
-30.97: a credit note of 30.97 + 5.88 VAT = 36.85. The balance becomes 36.85; the next month's
invoice of 35.70 (30.00 + 5.70) is created with amount_paid 35.70 (paid), leaving 1.15 of credit for
the month after.

The invoice a credit note credits, when still owed (open, partially paid, overdue), is settled from
the credit first, the rest staying in the balance (services/billing/credit_settlement.py): a
cancelled subscription has no next invoice to take it. Each line of a credit note is taxed as the
credited invoice charged it (`issue_credit_note`). A period whose lines net negative is issued as a
credit note of its negative proration lines first, then the invoice of the rest (issuing.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from cashline.dal.billing_credit import CreditEntry, balance_of, ledger, stage_movement
from cashline.dal.billing_invoices import stage_delivery_due, stage_subscription_invoice_ref
from cashline.dal.invoice_numbers import number_claimed_by, stage_number_claim
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.transactions import Stage
from cashline.domain.access import Tenant, today_for
from cashline.domain.billing.invoice_amounts import StoredAmounts, credited_decisions, stored_amounts
from cashline.domain.billing.invoice_plan import planned_from_pending
from cashline.domain.billing.subscriptions import PendingLine, Subscription
from cashline.domain.billing.tax import tax_lines
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import (
    Direction,
    DocumentKind,
    Invoice,
    NewInvoice,
    Prepared,
    UniqueClaim,
)
from cashline.errors import ConflictError, NotFoundError, ValidationError
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.billing.finalising import (
    MAX_ATTEMPTS,
    NumberToTake,
    next_number_to_take,
    sequence_moved,
    stage_number_taken,
)
from cashline.services.billing.settings import get_billing_settings
from cashline.services.billing.tax import buyer_of, seller_of
from cashline.services.invoices import prepare_invoice, store_prepared
from cashline.services.tenancy import tenants

counterparties = CounterpartyRepository()
invoices = InvoiceRepository()

ACTOR = "system:subscription-billing"
SOURCE = "subscription"

__all__ = [
    "CreditEntry",
    "credit_balance",
    "credit_ledger",
    "credit_to_apply",
    "issue_credit_note",
    "stage_apply_credit",
]


# --- the balance -------------------------------------------------------------------------------


def credit_balance(tenant_id: str, counterparty_id: str, currency: str) -> int:
    """The customer's unused credit in `currency`, minor units (0 when none): one GetItem."""
    return balance_of(tenant_id, counterparty_id, currency)


def credit_ledger(tenant_id: str, counterparty_id: str, currency: str) -> list[CreditEntry]:
    """Every movement of the customer's credit in `currency`, oldest first."""
    return ledger(tenant_id, counterparty_id, currency)


def credit_to_apply(tenant_id: str, counterparty_id: str, currency: str, total: int) -> int:
    """How much credit a new invoice of `total` takes: min(balance, total), never below 0."""
    if total <= 0:
        return 0
    return max(0, min(credit_balance(tenant_id, counterparty_id, currency), total))


def stage_apply_credit(
    write: Any,
    tenant_id: str,
    counterparty_id: str,
    currency: str,
    amount: int,
    invoice_id: str,
    now: datetime,
) -> None:
    """Take `amount` of the customer's credit for invoice `invoice_id`, in the caller's transaction:
    conditioned on the balance covering it (another invoice that took it first fails the whole
    transaction: ConflictError), with its ledger entry. The invoice is written in the same
    transaction with amount_paid = amount. What makes it happen once is the invoice's own claim (a
    period or a change has one invoice), written in the same transaction."""
    if amount <= 0:
        raise ValueError("the credit applied must be positive")
    entry = CreditEntry(
        entry_id=invoice_id,
        counterparty_id=counterparty_id,
        currency=currency,
        amount=-amount,
        source="invoice",
        source_id=invoice_id,
        at=now,
    )
    stage_movement(write, tenant_id, entry)


# --- credit notes ------------------------------------------------------------------------------


def issue_credit_note(
    tenant_id: str,
    subscription: Subscription,
    lines: Sequence[PendingLine],
    *,
    now: datetime,
    credited_invoice_id: str | None = None,
    also: Sequence[Stage] = (),
    extra_claims: Sequence[UniqueClaim] = (),
) -> str:
    """A numbered credit note of the credit `lines` (they must net negative), dated today in the
    tenant's zone, its total added to the customer's credit balance (with a ledger entry), listed
    among the subscription's invoices and due for delivery, written with `also` (the caller's
    subscription change) and `extra_claims` in ONE transaction; returns its id.

    Each line is taxed as the credited invoice charged it (its rate, category and note from that
    invoice's `body.details`; domain/billing/invoice_amounts.py `credited_decisions`), not with today's
    decision: a VAT id added since does not turn a 19 % charge into a 0 % credit. Lines the credited
    invoice does not hold (or no credited invoice) are decided now.

    A number taken first by another document is read again and the write retried; any other conflict
    (a claim held: the change was credited already; the subscription moved; the number is held
    tenant-wide by a hand-made invoice: change the pattern) is the caller's ConflictError, with nothing
    written.
    """
    if sum(line.amount for line in lines) >= 0:
        raise ValidationError("a credit note's lines must net negative", field="lines")
    tenant = tenants.get(tenant_id)
    settings = get_billing_settings(tenant_id)
    counterparty = counterparties.get_profile(tenant_id, subscription.counterparty_id)
    today = today_for(tenant, now)
    seller, buyer = seller_of(tenant, settings), buyer_of(counterparty, settings, now=now)
    credited = credited_invoice_id or subscription.latest_invoice_id
    decided = credited_decisions(
        [(line.item_id, line.price_id) for line in lines], _details_of(tenant_id, credited)
    )
    taxed = tax_lines(
        [planned_from_pending(line, sign=-1) for line in lines], seller, buyer, on=today, decided=decided
    )
    stored = stored_amounts(taxed, seller_vat_id=seller.vat_id, buyer_vat_id=buyer.vat_id)
    for _ in range(MAX_ATTEMPTS):
        taken = next_number_to_take(tenant_id, settings.number_pattern, today)
        prepared = _prepared(
            tenant, subscription, counterparty, taken.number, stored, today, now, credited_invoice_id
        )
        prepared = replace(prepared, claims=[*prepared.claims, *extra_claims])
        try:
            store_prepared(
                prepared,
                actor=ACTOR,
                also=[*_satellites(tenant_id, subscription, prepared.invoice, taken, now), *also],
            )
        except ConflictError:
            if sequence_moved(tenant_id, taken):
                continue
            holder = number_claimed_by(tenant_id, taken.number)
            if holder is not None and holder != prepared.invoice.invoice_id:
                # Gap-free: the sequence does not skip a number held by a hand-made invoice.
                raise ConflictError(
                    f"the next number {taken.number} is already held by {holder}; change the billing "
                    "settings' number_pattern",
                    field="number",
                ) from None
            raise
        _issued(prepared.invoice)
        return prepared.invoice.invoice_id
    raise ConflictError("too many documents were numbered at the same time; retry", field="number")


def _details_of(tenant_id: str, invoice_id: str | None) -> dict[str, Any] | None:
    """The credited invoice's document details (its lines' tax decisions), None when there is none."""
    if invoice_id is None:
        return None
    try:
        _, body, _ = invoices.get(tenant_id, invoice_id)
    except NotFoundError:
        return None
    return None if body is None else body.details


def _prepared(
    tenant: Tenant,
    subscription: Subscription,
    counterparty: Counterparty,
    number: str,
    stored: StoredAmounts,
    today: date,
    now: datetime,
    credited_invoice_id: str | None,
) -> Prepared:
    credited = credited_invoice_id or subscription.latest_invoice_id
    metadata = {"subscription_id": subscription.subscription_id}
    if credited:
        metadata["credited_invoice_id"] = credited
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        document_kind=DocumentKind.CREDIT_NOTE,
        number=number,
        issue_date=today,
        due_date=today,
        currency=subscription.currency,
        counterparty_id=subscription.counterparty_id,
        description=f"Credit note for subscription {subscription.subscription_id}",
        metadata=metadata,
        # Settled into the customer's credit balance in the same transaction (module docstring).
        amount_paid=stored.stated.total,
    )
    return prepare_invoice(
        tenant,
        new,
        now=now,
        source=SOURCE,
        details=stored.details,
        stated=stored.stated,
        resolved=counterparty,
    )


def _satellites(
    tenant_id: str, subscription: Subscription, note: Invoice, taken: NumberToTake, now: datetime
) -> list[Stage]:
    """What commits with the credit note: its number, its place among the subscription's invoices,
    the balance it adds to (with its ledger entry) and its delivery."""
    credit = CreditEntry(
        entry_id=note.invoice_id,
        counterparty_id=note.counterparty_id,
        currency=note.currency,
        amount=note.amount_due,
        source="credit_note",
        source_id=note.invoice_id,
        at=now,
    )
    return [
        lambda write: stage_number_taken(write, tenant_id, taken, now),
        # Tenant-wide: a hand-made invoice holding the same number makes this a 409, never a duplicate.
        lambda write: stage_number_claim(write, tenant_id, note.number, note.invoice_id, now=now),
        lambda write: stage_subscription_invoice_ref(write, tenant_id, subscription.subscription_id, note),
        lambda write: stage_movement(write, tenant_id, credit),
        lambda write: stage_delivery_due(write, note, now),
    ]


def _issued(note: Invoice) -> None:
    metrics.add_metric(name="CreditNoteIssued", unit=MetricUnit.Count, value=1)
    logger.info(
        "credit note issued",
        tenant_id=note.tenant_id,
        invoice_id=note.invoice_id,
        number=note.number,
        amount=note.amount_due,
        currency=note.currency,
    )
