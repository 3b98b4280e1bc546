"""Metered usage: one report of a subscription item's usage, and the rules it must meet.

Plain Python: no storage, no clock reads.

A report carries a quantity, the instant it was used and an idempotency key. Its instant's business
day (in the tenant's zone) picks the billing period it counts in (``usage_period_start``); that
period is billed in arrears by the invoice of the period after it, which reads the total kept under
the subscription's ``current_period_start`` (domain/billing/invoice_plan.py ``previous_period``).
So a report is keyed by the subscription's own periods, not by the anchor's cycle: a short first
period [10 Jan, 1 Feb) keeps its usage under 10 Jan, a period begun by a resume on 16 May under
16 May. ``increment`` adds the quantity to the period's total (a ``sum``
price); ``set`` makes it the period's value unless a later report already set one (a ``last`` price:
the value reported with the latest instant wins, whatever order the reports arrive in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from cashline.domain.billing.catalog import PriceTerms, TiersMode, UsageType, amount_for_quantity
from cashline.domain.billing.invoice_plan import first_paid_day, period_starting
from cashline.domain.billing.periods import period_containing
from cashline.domain.billing.subscriptions import (
    PendingLine,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from cashline.domain.money import MAX_MINOR_UNITS, AmountLimitError

# A client clock a little ahead of ours is not an error; a report from further ahead is.
FUTURE_TOLERANCE = timedelta(minutes=5)


class UsageAction(StrEnum):
    INCREMENT = "increment"
    SET = "set"


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One accepted usage report (what a repeat of its idempotency key answers)."""

    tenant_id: str
    usage_id: str
    subscription_id: str
    item_id: str
    quantity: int
    action: UsageAction
    timestamp: datetime
    period_start: date
    idempotency_key: str
    request_hash: str
    created_at: datetime


def request_hash(quantity: int, timestamp: datetime, action: UsageAction) -> str:
    """A fingerprint of what a report asks, so a repeat of its key can tell "same" from "other"
    (the instant is compared in UTC: 10:00+01:00 and 09:00Z are the same report)."""
    text = f"{quantity}|{timestamp.astimezone(UTC).isoformat()}|{action.value}"
    return hashlib.sha256(text.encode()).hexdigest()


def too_far_ahead(timestamp: datetime, now: datetime) -> bool:
    """True for a report dated beyond ``now`` + FUTURE_TOLERANCE."""
    return timestamp > now + FUTURE_TOLERANCE


class UsagePeriodError(ValueError):
    """A report's day is in no period that is still open for usage (the caller's 422, ``timestamp``)."""


def usage_period_start(sub: Subscription, day: date) -> date:
    """The start of the period a report of business day ``day`` counts in: the key its total is
    kept under, the one the invoice after that period reads.

    - a day of the current period [current_period_start, current_period_end): current_period_start;
    - an earlier day: UsagePeriodError (that period is already invoiced, its usage with it);
    - a later day (the period has ended but the sweep has not issued the next one yet, at most a
      tick late): the start of the period the engine issues next (``next_invoice_on``) or, after
      more missed ticks, the cycle's period holding the day;
    - a later day while paused, after the cancellation day, or with nothing more to issue:
      UsagePeriodError (no period will bill it).

    Example: started 10 Jan, anchored on the 1st, monthly: 15 Jan -> 10 Jan (the short first period);
    on 1 Feb at 00:03, before the sweep's tick, 1 Feb -> 1 Feb; after the 1 Feb invoice, 31 Jan is
    refused (billed by it already).
    """
    if day < sub.current_period_start:
        raise UsagePeriodError(
            f"{day.isoformat()} is before the open period starting "
            f"{sub.current_period_start.isoformat()} (already invoiced, or before the start)"
        )
    if sub.cancel_at is not None and day >= sub.cancel_at:
        raise UsagePeriodError(f"the subscription ends on {sub.cancel_at.isoformat()}")
    if day < sub.current_period_end:
        return sub.current_period_start
    next_on = sub.next_invoice_on
    if sub.status is SubscriptionStatus.PAUSED or next_on is None or day < next_on:
        raise UsagePeriodError(f"no billing period of the subscription is open on {day.isoformat()}")
    if day < period_starting(sub, next_on).end_exclusive:
        return next_on
    # Later periods than the next one are whole cycles of the anchor.
    return period_containing(sub.billing_cycle_anchor, sub.interval, sub.interval_count, day).start


def _beyond_limit(terms: PriceTerms, quantity: int) -> bool:
    """Whether some total up to ``quantity`` would be billed beyond MAX_MINOR_UNITS. A volume price's
    amount drops where a cheaper tier begins, so the last quantity of every tier below is checked too
    (making the function monotone, so it can be bisected)."""
    checked = [quantity]
    if terms.tiers_mode is TiersMode.VOLUME:
        checked += [t.up_to for t in terms.tiers if t.up_to is not None and t.up_to < quantity]
    try:
        for q in checked:
            amount_for_quantity(terms, q)
    except AmountLimitError:
        return True
    return False


def max_period_quantity(terms: PriceTerms) -> int:
    """The largest period total a metered item may reach: at most MAX_MINOR_UNITS units, and no
    total up to it billed beyond MAX_MINOR_UNITS minor units (the invoice could not be issued).
    Example: 0.02 EUR a call -> 10^15 / 2 = 5 x 10^14 calls; a free price -> 10^15 units. A report
    that would take the total past it is refused (the caller's 422 naming ``quantity``)."""
    if not _beyond_limit(terms, MAX_MINOR_UNITS):
        return MAX_MINOR_UNITS
    low, high = 0, MAX_MINOR_UNITS  # invariant: low allowed, high beyond (amount of 0 is 0)
    while high - low > 1:
        middle = (low + high) // 2
        if _beyond_limit(terms, middle):
            high = middle
        else:
            low = middle
    return low


def usage_billed_early(sub: Subscription) -> bool:
    """Whether the usage of the current period is billable when the period is cut short (by a
    cancellation, or the deletion of a metered item): not in a trial, where usage is free."""
    return sub.current_period_start >= first_paid_day(sub)


def usage_lines(
    items: Sequence[SubscriptionItem], totals: Mapping[str, int], start: date, until: date
) -> tuple[PendingLine, ...]:
    """The metered ``items``' usage of [``start``, ``until``) as lines for an invoice (``totals``:
    item id -> the period's total, as the issuing engine reads it), priced with
    ``amount_for_quantity`` like the invoice of the next period would have. For a cancellation (its
    final document) and a deleted metered item (a pending line for the next invoice): the usage
    reported so far would otherwise never be billed. Example: 0.02 EUR a call, 200 calls from
    1 Jan, item deleted on 20 Jan -> "API calls: 200 used 2027-01-01 to 2027-01-19", 4.00 EUR."""
    lines: list[PendingLine] = []
    for item in items:
        quantity = totals.get(item.item_id, 0)
        if item.terms.usage_type is not UsageType.METERED or quantity <= 0:
            continue
        last = max(until - timedelta(days=1), start)
        span = f"{start.isoformat()} to {last.isoformat()}"
        lines.append(
            PendingLine(
                description=f"{item.terms.product_name}: {quantity} used {span}",
                amount=amount_for_quantity(item.terms, quantity),
                item_id=item.item_id,
                price_id=item.terms.price_id,
                tax_category=item.terms.tax_category,
                tax_behavior=item.terms.tax_behavior,
                service_start=start,
                service_end=max(until, start + timedelta(days=1)),
            )
        )
    return tuple(lines)
