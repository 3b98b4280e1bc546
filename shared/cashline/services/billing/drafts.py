"""A subscription's invoice as the issuing engine writes it: taxed, credit taken off, stored as a draft
(`DRAFT-<invoice id>` until finalising numbers it) with the subscription's changes in one transaction.

Used by the period invoices and proration invoices of services/billing/issuing.py and, without the
writes, by the upcoming-invoice preview (services/billing/upcoming.py).

What the invoice carries for the documents (PDF, UBL, CII): `metadata` subscription_id, period_start,
period_end (exclusive); `body.details` the tax notes, each line with its tax decision (rate, UNCL5305
category code, treatment, VATEX reason) and service dates, both VAT ids and the credit applied. The
stored lines keep the shape of every other invoice's (`tax_rate` in percent, e.g. "19").

Never negative: `compose_draft` refuses lines totalling below 0 (ValueError; a plan netting negative
is split into a credit note and the invoice of the rest first, issuing.py).

Credit balance: the customer's credit is taken off the invoice's total first (min(balance, total)),
recorded as the invoice's `amount_paid` (EN 16931 BT-113, prepaid), in the same transaction as the
invoice, conditioned on the balance still covering it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from cashline.dal.billing_invoices import stage_finalise_due, stage_subscription_invoice_ref
from cashline.dal.billing_settings import BillingSettings
from cashline.dal.invoice_repository import placeholder_number
from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.transactions import Stage
from cashline.domain.access import Tenant
from cashline.domain.billing.invoice_amounts import StoredAmounts, stored_amounts
from cashline.domain.billing.invoice_plan import PlannedLine
from cashline.domain.billing.periods import Period
from cashline.domain.billing.subscriptions import Subscription
from cashline.domain.billing.tax import TaxedInvoice, tax_lines
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import (
    Direction,
    InvoiceStatus,
    NewInvoice,
    Prepared,
    UniqueClaim,
)
from cashline.errors import ConflictError
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.billing.credit import credit_to_apply, stage_apply_credit
from cashline.services.billing.finalising import KnownReads, finalise_invoice
from cashline.services.billing.tax import buyer_of, seller_of
from cashline.services.invoices import prepare_invoice, store_prepared

counterparties = CounterpartyRepository()

ACTOR = "system:subscription-billing"
SOURCE = "subscription"


@dataclass(frozen=True, slots=True)
class TaxedDraft:
    """A period's (or a change's) invoice as it would be written: planned, taxed, credit applied."""

    taxed: TaxedInvoice
    credit_applied: int
    seller_vat_id: str | None
    buyer_vat_id: str | None
    counterparty: Counterparty  # as read for the tax decision; the invoice names it without a re-read

    @property
    def amount_due(self) -> int:
        return self.taxed.total - self.credit_applied


def compose_draft(
    tenant: Tenant,
    settings: BillingSettings,
    sub: Subscription,
    lines: Sequence[PlannedLine],
    *,
    on: date,
    now: datetime,
) -> TaxedDraft:
    """Tax `lines` for the subscription's customer and take its credit balance off the total."""
    counterparty = counterparties.get_profile(sub.tenant_id, sub.counterparty_id)
    seller = seller_of(tenant, settings)
    buyer = buyer_of(counterparty, settings, now=now)
    taxed = tax_lines(lines, seller, buyer, on=on)
    if taxed.total < 0:
        # Never an invoice-kind document with a negative total: a plan netting negative is split
        # into a credit note and the invoice of the rest before it comes here (issuing.py).
        raise ValueError(f"a subscription invoice cannot total {taxed.total}: issue a credit note")
    credit = (
        credit_to_apply(sub.tenant_id, sub.counterparty_id, sub.currency, taxed.total)
        if taxed.total > 0
        else 0
    )
    return TaxedDraft(
        taxed=taxed,
        credit_applied=credit,
        seller_vat_id=seller.vat_id,
        buyer_vat_id=buyer.vat_id,
        counterparty=counterparty,
    )


def _stored(draft: TaxedDraft) -> StoredAmounts:
    return stored_amounts(
        draft.taxed,
        seller_vat_id=draft.seller_vat_id,
        buyer_vat_id=draft.buyer_vat_id,
        credit_applied=draft.credit_applied,
    )


def _description(sub: Subscription, period: Period) -> str:
    names = ", ".join(dict.fromkeys(item.terms.product_name for item in sub.items))
    return f"Subscription {names} {period.start.isoformat()} to {period.last_day.isoformat()}"


def prepare_draft(
    tenant: Tenant,
    settings: BillingSettings,
    sub: Subscription,
    draft: TaxedDraft,
    period: Period,
    *,
    issue_day: date,
    now: datetime,
    claim: UniqueClaim,
) -> Prepared:
    """The draft invoice, numbered `DRAFT-<its id>` until finalised (which claims its number)."""
    days = sub.days_until_due if sub.days_until_due is not None else settings.days_until_due
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        number="DRAFT",
        issue_date=issue_day,
        due_date=issue_day + timedelta(days=days),
        currency=sub.currency,
        counterparty_id=sub.counterparty_id,
        description=_description(sub, period),
        metadata={
            "subscription_id": sub.subscription_id,
            "period_start": period.start.isoformat(),
            "period_end": period.end_exclusive.isoformat(),
        },
        status=InvoiceStatus.DRAFT,
        amount_paid=draft.credit_applied,
    )
    stored = _stored(draft)
    prepared = prepare_invoice(
        tenant,
        new,
        now=now,
        source=SOURCE,
        details=stored.details,
        extra_claims=[claim],
        stated=stored.stated,
        resolved=draft.counterparty,
    )
    return with_placeholder_number(prepared)


def with_placeholder_number(prepared: Prepared) -> Prepared:
    """`prepared` numbered `DRAFT-<its id>` without a number claim: the placeholder is unique by its
    id, and finalising claims the sequence number (dal/invoice_repository.py placeholder_number).
    Such a draft must be stored with its finalise work item (`store_draft` does)."""
    invoice = prepared.invoice
    claims = [c for c in prepared.claims if c.scope != "INVNO"]
    numbered = replace(invoice, number=placeholder_number(invoice.invoice_id))
    return replace(prepared, invoice=numbered, claims=claims)


def store_draft(
    tenant: Tenant,
    settings: BillingSettings,
    sub: Subscription,
    prepared: Prepared,
    draft: TaxedDraft,
    also: Sequence[Stage],
    now: datetime,
) -> str:
    """Write the draft with `also` and its satellites in one transaction, then finalise it when the
    tenant reviews no drafts. ConflictError (nothing written) when the period or change was issued
    meanwhile or the subscription changed."""
    invoice = prepared.invoice
    stages: list[Stage] = [
        *also,
        lambda write: stage_subscription_invoice_ref(write, sub.tenant_id, sub.subscription_id, invoice),
        lambda write: stage_finalise_due(write, invoice, now + timedelta(hours=settings.auto_finalise_hours)),
    ]
    if draft.credit_applied:
        stages.append(
            lambda write: stage_apply_credit(
                write,
                sub.tenant_id,
                sub.counterparty_id,
                sub.currency,
                draft.credit_applied,
                invoice.invoice_id,
                now,
            )
        )
    store_prepared(prepared, actor=ACTOR, also=stages)
    metrics.add_metric(name="SubscriptionInvoiceIssued", unit=MetricUnit.Count, value=1)
    if settings.auto_finalise_hours == 0:
        try:
            # Tenant, pattern and subscription as read here: finalising reads none of them again.
            known = KnownReads(tenant, settings.number_pattern, sub)
            finalise_invoice(tenant.tenant_id, invoice.invoice_id, now=now, known=known)
        except ConflictError:
            # Finalised meanwhile (the finalise sweep took its item first): nothing left to do.
            logger.info(
                "draft finalised meanwhile", tenant_id=tenant.tenant_id, invoice_id=invoice.invoice_id
            )
    return invoice.invoice_id
