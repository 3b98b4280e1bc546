"""What a subscription's next invoice will hold (no writes), and the invoices it has had.

The preview is the issuing engine's own plan and tax (services/billing/issuing.py) for the period
starting on `next_invoice_on`, with what is known at the moment asked: the usage reported so far in
the current period, the proration lines waiting, the discounts still running and the customer's
credit balance now. Reads only: the subscription, tenant, settings, counterparty, usage totals and
credit balance (GetItems), the pending scheduled change (one Query) and its prices.

What the preview applies first: a scheduled change or cancellation dated on or before the next
invoice's day (domain/billing/invoice_plan.py `with_scheduled`). A plan netting negative previews the
invoice of the rest, the credit note of the negative proration lines taken off it through the credit
balance (as issuing does). A paused subscription answers `status: "paused"` with no line and 0 amounts
(its period and issue date: the day it resumes when one is set, else today): nothing is issued while
paused. An amount beyond MAX_MINOR_UNITS (a huge quantity or usage) is a 422 naming the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from cashline.dal.billing_invoices import subscription_invoice_ids
from cashline.dal.billing_settings import BillingSettings
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.pagination import Page
from cashline.domain.access import Tenant, today_for
from cashline.domain.billing.invoice_amounts import rate_text
from cashline.domain.billing.invoice_plan import (
    ItemAmountLimitError,
    PlannedLine,
    split_credit,
    with_scheduled,
)
from cashline.domain.billing.subscription_changes import ChangeKind, ChangeRuleError
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus
from cashline.domain.invoices import Invoice
from cashline.domain.money import AmountLimitError
from cashline.errors import NotFoundError, UnprocessableError
from cashline.services.billing.changes import resolve_items
from cashline.services.billing.credit import credit_balance
from cashline.services.billing.drafts import TaxedDraft, compose_draft
from cashline.services.billing.issuing import plan_next_invoice
from cashline.services.billing.scheduled_changes import scheduled_change_of
from cashline.services.billing.settings import get_billing_settings
from cashline.services.tenancy import tenants

subscriptions = SubscriptionRepository()
invoices = InvoiceRepository()


@dataclass(frozen=True, slots=True)
class UpcomingLine:
    description: str
    quantity: int
    unit_amount: int
    amount: int  # net, minor units, signed
    tax_rate: str  # percent, e.g. "19"
    kind: str  # licensed | metered | proration | discount


@dataclass(frozen=True, slots=True)
class UpcomingInvoiceView:
    subscription_id: str
    period_start: date
    period_end: date  # exclusive
    issue_date: date
    lines: tuple[UpcomingLine, ...]
    subtotal: int
    tax: int
    total: int
    credit_applied: int
    amount_due: int
    currency: str
    status: str = "upcoming"  # "paused": nothing is issued until the subscription resumes


def upcoming_invoice(tenant_id: str, subscription_id: str, *, now: datetime) -> UpcomingInvoiceView:
    """The next invoice as it would be issued with what is known at `now` (no writes; module docstring).

    NotFoundError naming `subscription_id` for an unknown or another tenant's subscription, and for
    one that will issue no more invoices (canceled, or its last one issued); UnprocessableError naming
    the item whose amount is beyond the limit."""
    sub = subscriptions.get(tenant_id, subscription_id)
    tenant = tenants.get(tenant_id)
    if sub.status is SubscriptionStatus.PAUSED:
        return _paused(sub, sub.resumes_on or today_for(tenant, now))
    if sub.next_invoice_on is None:
        raise NotFoundError("the subscription has no upcoming invoice", field="subscription_id")
    try:
        sub = _as_scheduled(sub)
        period, plan = plan_next_invoice(sub, start=sub.next_invoice_on or sub.current_period_end)
        settings = get_billing_settings(tenant_id)
        lines, credits = split_credit(plan.lines)
        draft = compose_draft(tenant, settings, sub, lines, on=period.start, now=now)
        if credits:
            draft = _with_credit_note(tenant, settings, sub, draft, credits, period.start, now)
    except ItemAmountLimitError as exc:
        raise UnprocessableError(str(exc), field=f"items.{exc.item_id}") from exc
    except AmountLimitError as exc:
        raise UnprocessableError(str(exc), field="items") from exc
    taxed = draft.taxed
    return UpcomingInvoiceView(
        subscription_id=sub.subscription_id,
        period_start=period.start,
        period_end=period.end_exclusive,
        issue_date=period.start,
        lines=tuple(
            UpcomingLine(
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.net_amount,
                tax_rate=rate_text(line.decision.rate_basis_points),
                kind=line.kind,
            )
            for line in taxed.lines
        ),
        subtotal=taxed.subtotal,
        tax=taxed.tax,
        total=taxed.total,
        credit_applied=draft.credit_applied,
        amount_due=draft.amount_due,
        currency=sub.currency,
    )


def _paused(sub: Subscription, day: date) -> UpcomingInvoiceView:
    return UpcomingInvoiceView(
        subscription_id=sub.subscription_id,
        period_start=day,
        period_end=day,
        issue_date=day,
        lines=(),
        subtotal=0,
        tax=0,
        total=0,
        credit_applied=0,
        amount_due=0,
        currency=sub.currency,
        status="paused",
    )


def _as_scheduled(sub: Subscription) -> Subscription:
    """`sub` with its pending scheduled change applied when it comes first (`with_scheduled`)."""
    change = scheduled_change_of(sub.tenant_id, sub.subscription_id)
    if change is None or sub.next_invoice_on is None or change.effective_date > sub.next_invoice_on:
        return sub
    resolved = [] if change.kind is ChangeKind.CANCEL else resolve_items(sub.tenant_id, change.items)[0]
    try:
        return with_scheduled(sub, change, resolved)
    except ChangeRuleError as exc:
        raise UnprocessableError(str(exc), field=exc.field) from exc


def _with_credit_note(
    tenant: Tenant,
    settings: BillingSettings,
    sub: Subscription,
    draft: TaxedDraft,
    credits: Sequence[PlannedLine],
    on: date,
    now: datetime,
) -> TaxedDraft:
    """The preview's credit once the credit note of `credits` (negative proration lines) has joined
    the balance: min(balance + the note's total, the invoice's total), as issuing's second step
    takes it. (The note is taxed here with today's decision; issued, it takes the credited invoice's.)"""
    flipped = [replace(line, amount=-line.amount, unit_amount=-line.unit_amount) for line in credits]
    note = compose_draft(tenant, settings, sub, flipped, on=on, now=now)
    balance = credit_balance(sub.tenant_id, sub.counterparty_id, sub.currency)
    return replace(draft, credit_applied=min(balance + note.taxed.total, draft.taxed.total))


def subscription_invoices(
    tenant_id: str, subscription_id: str, *, limit: int, starting_after: str | None
) -> Page[Invoice]:
    """The subscription's invoices and credit notes, newest issue date first: one Query on its
    index, then each invoice's header (GetItem by key). Another tenant's subscription is a 404."""
    subscriptions.get(tenant_id, subscription_id)
    ids = subscription_invoice_ids(tenant_id, subscription_id, limit=limit, starting_after=starting_after)
    return Page(
        items=[invoices.get_header(tenant_id, invoice_id) for invoice_id in ids.items],
        next_cursor=ids.next_cursor,
    )
