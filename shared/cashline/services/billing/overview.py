"""The subscriptions overview of the dashboard: how many subscriptions per status, MRR per plan, and
the invoices the next 30 days will bring.

Reads only, and never in proportion to the subscriptions held: one Query of the tenant's
pre-aggregates (dal/billing_overview.py, kept in the transactions that change a subscription), one
Query of the upcoming index (at most UPCOMING_LIMIT subscriptions), one BatchGetItem for their
customers' names, and the tenant (GetItem) for its today.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cashline.dal.billing_overview import counterparty_names, overview_totals, upcoming_subscriptions
from cashline.domain.access import today_for
from cashline.domain.billing.invoice_plan import period_starting, plan_period_invoice
from cashline.domain.billing.mrr import monthly_amount
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus
from cashline.services.tenancy import tenants

UPCOMING_DAYS = 30
UPCOMING_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PlanMrr:
    """One price's monthly recurring revenue (domain/billing/mrr.py: what counts, the rule)."""

    price_id: str
    product_name: str
    currency: str
    interval: str
    interval_count: int
    subscriptions: int
    quantity: int
    amount_per_interval: int
    mrr: int


@dataclass(frozen=True, slots=True)
class UpcomingEstimate:
    """A subscription's next invoice: its day and an estimate of its amount (see `estimate`)."""

    subscription_id: str
    counterparty_id: str
    counterparty_name: str | None
    status: SubscriptionStatus
    invoice_date: date
    currency: str
    amount_estimate: int


@dataclass(frozen=True, slots=True)
class SubscriptionOverview:
    as_of: date
    counts: dict[SubscriptionStatus, int]
    mrr: list[PlanMrr]
    mrr_total: dict[str, int]
    upcoming_until: date
    upcoming: list[UpcomingEstimate]


def estimate(sub: Subscription) -> int:
    """The next invoice's amount before tax, from the issuing engine's own plan
    (domain/billing/invoice_plan.py) for the period starting `next_invoice_on`: licensed items in
    advance, pending proration lines and discounts. Without metered usage (not known until the
    period ends), tax and the customer's credit balance. 0 when nothing is to come."""
    if sub.next_invoice_on is None:
        return 0
    period = period_starting(sub, sub.next_invoice_on)
    ending = sub.cancel_at is not None and sub.cancel_at <= period.start
    return plan_period_invoice(sub, period, {}, charge_in_advance=not ending).amount


def _plans(tenant_id: str) -> tuple[dict[SubscriptionStatus, int], list[PlanMrr]]:
    totals = overview_totals(tenant_id)
    counts = {status: totals.counts.get(status, 0) for status in SubscriptionStatus}
    plans = [
        PlanMrr(
            price_id=p.price_id,
            product_name=p.product_name,
            currency=p.currency,
            interval=p.interval.value,
            interval_count=p.interval_count,
            subscriptions=p.subscriptions,
            quantity=p.quantity,
            amount_per_interval=p.amount_per_interval,
            mrr=monthly_amount(p.amount_per_interval, p.interval, p.interval_count),
        )
        for p in totals.plans
        # A plan all of whose subscriptions left keeps its (zero) item; it is not shown.
        if p.subscriptions > 0
    ]
    plans.sort(key=lambda p: (p.currency, -p.mrr, p.price_id))
    return counts, plans


def subscription_overview(tenant_id: str, *, now: datetime) -> SubscriptionOverview:
    """Counts per status, MRR per plan and per currency (the sum of the plans' rounded figures), and
    the invoices to come until 30 days after the tenant's today (inclusive; also any whose day has
    come that the sweep has not issued yet), soonest first."""
    today = today_for(tenants.get(tenant_id), now)
    until = today + timedelta(days=UPCOMING_DAYS)
    counts, plans = _plans(tenant_id)
    mrr_total: dict[str, int] = defaultdict(int)
    for plan in plans:
        mrr_total[plan.currency] += plan.mrr
    due = upcoming_subscriptions(tenant_id, last=until, limit=UPCOMING_LIMIT)
    names = counterparty_names(tenant_id, (sub.counterparty_id for sub in due))
    upcoming = [
        UpcomingEstimate(
            subscription_id=sub.subscription_id,
            counterparty_id=sub.counterparty_id,
            counterparty_name=names.get(sub.counterparty_id),
            status=sub.status,
            invoice_date=sub.next_invoice_on,
            currency=sub.currency,
            amount_estimate=estimate(sub),
        )
        for sub in due
        if sub.next_invoice_on is not None
    ]
    return SubscriptionOverview(
        as_of=today,
        counts=counts,
        mrr=plans,
        mrr_total=dict(sorted(mrr_total.items())),
        upcoming_until=until,
        upcoming=upcoming,
    )
