"""Subscriptions: what a customer is subscribed to, where its billing cycle stands, and the status rules.

Plain Python: no storage, no clock reads (callers pass the day or instant they ask about).

Lifecycle (``check_transition`` is the one place the allowed moves are listed):
create -> ``trialing`` (a trial ending after the start) or ``active``; ``incomplete`` when charged
automatically and the first invoice's charge failed before any success; ``past_due`` when a charge
fails; back to ``active`` on a success; ``paused`` (no invoices) and back; ``canceled`` is final.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from cashline.domain.billing.catalog import PriceTerms, TaxBehavior, TaxCategory
from cashline.domain.billing.periods import Interval, Period, period_containing


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"


class CollectionMethod(StrEnum):
    CHARGE_AUTOMATICALLY = "charge_automatically"
    SEND_INVOICE = "send_invoice"


class ProrationBehavior(StrEnum):
    CREATE_PRORATIONS = "create_prorations"
    ALWAYS_INVOICE = "always_invoice"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A saved payment method, by the processor's ids: a Stripe payment method on a Stripe customer,
    or a GoCardless mandate."""

    processor: Literal["stripe", "gocardless"]
    customer_id: str | None = None
    payment_method_id: str | None = None
    mandate_id: str | None = None


@dataclass(frozen=True, slots=True)
class Discount:
    """A percent (``percent_basis_points``: 2500 = 25 %) or fixed ``amount`` off each invoice.

    It applies to the invoice's licensed + metered net (never to proration lines), rounded half-up
    once per invoice; an amount discount never takes the net below 0. ``periods`` None = forever;
    ``applied_periods`` counts the invoices it has already reduced.
    """

    discount_id: str
    percent_basis_points: int | None
    amount: int | None
    periods: int | None
    applied_periods: int = 0

    @property
    def exhausted(self) -> bool:
        """True once it has reduced as many invoices as it was granted for."""
        return self.periods is not None and self.applied_periods >= self.periods


@dataclass(frozen=True, slots=True)
class SubscriptionItem:
    item_id: str
    terms: PriceTerms
    quantity: int


@dataclass(frozen=True, slots=True)
class PendingLine:
    """A proration line waiting for the next invoice (``create_prorations``).

    ``amount`` is signed, in minor units, net or gross per ``tax_behavior`` (the price's);
    ``service_end`` is exclusive.
    """

    description: str
    amount: int
    item_id: str
    price_id: str
    tax_category: TaxCategory
    tax_behavior: TaxBehavior
    service_start: date
    service_end: date


@dataclass(frozen=True, slots=True)
class Subscription:
    tenant_id: str
    subscription_id: str
    counterparty_id: str
    currency: str
    status: SubscriptionStatus
    items: tuple[SubscriptionItem, ...]
    # Every recurring item shares them (a create or change mixing intervals is refused).
    interval: Interval
    interval_count: int
    start_date: date
    trial_end: date | None
    billing_cycle_anchor: date
    collection_method: CollectionMethod
    payment_method: PaymentMethod | None
    days_until_due: int | None
    minimum_term_months: int | None
    notice_days: int | None
    discounts: tuple[Discount, ...]
    metadata: dict[str, str]
    # Exclusive end; the period last invoiced (or the trial).
    current_period_start: date
    current_period_end: date
    # The period start whose invoice the issuing sweep makes next; None: nothing more to issue.
    next_invoice_on: date | None
    # item_id -> net charged for the item in the current period (licensed, in advance, after proration).
    period_charged: dict[str, int]
    # item_id -> net already credited against it in the current period (never more than charged).
    period_credited: dict[str, int]
    pending_lines: tuple[PendingLine, ...]
    cancel_at: date | None
    cancel_with_credit: bool
    canceled_on: date | None
    paused_on: date | None
    resumes_on: date | None
    latest_invoice_id: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    def item(self, item_id: str) -> SubscriptionItem | None:
        """The item with this id, or None."""
        return next((item for item in self.items if item.item_id == item_id), None)

    @property
    def pending_proration_amount(self) -> int:
        """Sum of the proration lines waiting for the next invoice (signed, minor units)."""
        return sum(line.amount for line in self.pending_lines)


def new_subscription(
    *,
    tenant_id: str,
    subscription_id: str,
    counterparty_id: str,
    currency: str,
    status: SubscriptionStatus,
    items: tuple[SubscriptionItem, ...],
    interval: Interval,
    interval_count: int,
    start_date: date,
    trial_end: date | None,
    billing_cycle_anchor: date,
    collection_method: CollectionMethod,
    payment_method: PaymentMethod | None,
    days_until_due: int | None,
    minimum_term_months: int | None,
    notice_days: int | None,
    discounts: tuple[Discount, ...],
    metadata: dict[str, str],
    current: Period,
    next_invoice_on: date | None,
    now: datetime,
) -> Subscription:
    """A subscription as it is created at `now`: nothing charged, credited or pending in its
    `current` period, no end or pause, no invoice yet, version 0."""
    return Subscription(
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        counterparty_id=counterparty_id,
        currency=currency,
        status=status,
        items=items,
        interval=interval,
        interval_count=interval_count,
        start_date=start_date,
        trial_end=trial_end,
        billing_cycle_anchor=billing_cycle_anchor,
        collection_method=collection_method,
        payment_method=payment_method,
        days_until_due=days_until_due,
        minimum_term_months=minimum_term_months,
        notice_days=notice_days,
        discounts=discounts,
        metadata=metadata,
        current_period_start=current.start,
        current_period_end=current.end_exclusive,
        next_invoice_on=next_invoice_on,
        period_charged={},
        period_credited={},
        pending_lines=(),
        cancel_at=None,
        cancel_with_credit=False,
        canceled_on=None,
        paused_on=None,
        resumes_on=None,
        latest_invoice_id=None,
        created_at=now,
        updated_at=now,
        version=0,
    )


class TransitionError(ValueError):
    """A status change the lifecycle does not allow; the message names both statuses."""


_S = SubscriptionStatus
_ALLOWED: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    _S.TRIALING: frozenset({_S.ACTIVE, _S.PAST_DUE, _S.INCOMPLETE, _S.PAUSED, _S.CANCELED}),
    # -> incomplete: created active, its first invoice's charge failed (services/billing/charging.py).
    _S.ACTIVE: frozenset({_S.PAST_DUE, _S.PAUSED, _S.CANCELED, _S.INCOMPLETE}),
    _S.INCOMPLETE: frozenset({_S.ACTIVE, _S.CANCELED}),
    _S.PAST_DUE: frozenset({_S.ACTIVE, _S.PAUSED, _S.CANCELED}),
    _S.PAUSED: frozenset({_S.ACTIVE, _S.TRIALING, _S.CANCELED}),
    _S.CANCELED: frozenset(),
}


def check_transition(current: SubscriptionStatus, target: SubscriptionStatus) -> None:
    """Raise TransitionError unless a subscription may go from ``current`` to ``target``.

    Staying in the same status is not a transition and is refused too (a second pause is a
    conflict, not a silent success), except ``past_due`` -> ``past_due`` (another failed retry).
    """
    if current == target == _S.PAST_DUE:
        return
    if target not in _ALLOWED[current]:
        raise TransitionError(f"a subscription cannot go from {current.value} to {target.value}")


def tenant_day_start(day: date, timezone: str) -> datetime:
    """The instant (in UTC) the business day ``day`` begins in the tenant's zone: when the issuing
    sweep issues a period starting that day. E.g. 1 Feb 2027 in Europe/Berlin -> 2027-01-31 23:00 UTC.
    """
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))


def tenant_today(now: datetime, timezone: str) -> date:
    """The tenant's business day at the instant ``now``."""
    return now.astimezone(ZoneInfo(timezone)).date()


class SubscriptionRuleError(ValueError):
    """Input that breaks a subscription rule; ``field`` names the offending input."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class StartPlan:
    """Where a new subscription's billing begins.

    ``current`` is the trial when trialing, else the first paid period (not invoiced yet);
    ``next_invoice_on`` is the first paid day: the trial's end, else the start date.
    """

    anchor: date
    current: Period
    first_paid_period: Period
    next_invoice_on: date


def earliest_start(today: date, interval: Interval, interval_count: int) -> date:
    """``today`` minus one billing interval, month ends clamped (31 Mar, monthly -> 28 Feb): the
    earliest start date a new subscription may have (``check_start_not_too_early``)."""
    return period_containing(today, interval, interval_count, today - timedelta(days=1)).start


def check_start_not_too_early(start_date: date, today: date, interval: Interval, interval_count: int) -> None:
    """Refuse (SubscriptionRuleError naming ``start_date``) a start earlier than ``today`` minus one
    billing interval. A backdated start is invoiced at once, period by period, every invoice numbered
    (numbers cannot be taken back), already overdue and so dunned; a start from 2020 would issue
    dozens inside one request. At most one interval back keeps that to the one or two periods a late
    entry needs. An older subscription is migrated with a start date of today and the anchor of its
    cycle. Example: today 31 March 2027, monthly: 28 February (31 Mar - 1 month, clamped) is
    accepted, 27 February refused; yearly every 1: 31 March 2026 accepted.
    """
    one_interval_back = earliest_start(today, interval, interval_count)
    if start_date < one_interval_back:
        raise SubscriptionRuleError(
            f"start_date must not be before {one_interval_back.isoformat()} (one billing interval ago); "
            "migrate an older subscription with start_date today and its billing_cycle_anchor",
            "start_date",
        )


def plan_start(
    start_date: date, trial_end: date | None, anchor: date | None, interval: Interval, interval_count: int
) -> StartPlan:
    """The anchor (default: the first paid day) and the first periods of a new subscription.

    The anchor must lie in [first paid day, first paid day + one interval). An anchor after the first
    paid day makes a short first period [first paid day, anchor), charged by day against the cycle
    period containing the first paid day (invoice_plan.period_starting). Worked example: start
    10 January 2027, anchor 1 February, monthly: first paid period [10 Jan, 1 Feb) = 22 of the 31
    days of [1 Jan, 1 Feb); 30.00 EUR a month -> 3000 x 22 / 31 = 2129.03 -> 21.29 EUR (half-up).
    An anchor on the 29th-31st bills on the last day of shorter months (periods.py).
    """
    if trial_end is not None and trial_end <= start_date:
        raise SubscriptionRuleError("trial_end must be after start_date", "trial_end")
    paid_from = trial_end or start_date
    anchor = anchor or paid_from
    if anchor < paid_from:
        raise SubscriptionRuleError(
            f"billing_cycle_anchor must not be before {paid_from.isoformat()} (the first paid day)",
            "billing_cycle_anchor",
        )
    one_interval_later = period_containing(paid_from, interval, interval_count, paid_from).end_exclusive
    if anchor >= one_interval_later:
        raise SubscriptionRuleError(
            f"billing_cycle_anchor must be before {one_interval_later.isoformat()} (within one interval)",
            "billing_cycle_anchor",
        )
    cycle = period_containing(anchor, interval, interval_count, paid_from)
    first = Period(paid_from, cycle.end_exclusive)
    current = Period(start_date, trial_end) if trial_end is not None else first
    return StartPlan(anchor=anchor, current=current, first_paid_period=first, next_invoice_on=paid_from)


def resumed(sub: Subscription, day: date, now: datetime) -> Subscription:
    """``sub`` (paused) resumed on ``day``. Inside what was paid, or the trial (``day`` before
    ``next_invoice_on``), it just continues: the next invoice comes at its usual date. After it, the
    periods that started while paused are skipped and the period from ``day`` to the next cycle
    boundary is the next invoiced one (charged by day, as a short first period; the anchor is kept).
    """
    if sub.status is not SubscriptionStatus.PAUSED:
        raise TransitionError(f"only a paused subscription resumes; this one is {sub.status.value}")
    trialing = sub.trial_end is not None and day < sub.trial_end
    next_on = sub.next_invoice_on
    if next_on is not None and day > next_on:
        next_on = day
    return replace(
        sub,
        status=SubscriptionStatus.TRIALING if trialing else SubscriptionStatus.ACTIVE,
        next_invoice_on=next_on,
        paused_on=None,
        resumes_on=None,
        updated_at=now,
    )
