"""Monthly recurring revenue (MRR) per plan: what a subscription contributes, and the monthly rule.

Plain Python: no storage, no clock. The dashboard's overview keeps, per tenant, one running sum per
price (dal/billing_overview.py) that each subscription change moves by ``contributions(after) -
contributions(before)``; the monthly figure is computed from that sum when it is read.

What counts:

* subscriptions ``active`` or ``past_due`` (a past-due customer still owes the period); trials,
  ``incomplete``, ``paused`` and ``canceled`` ones contribute nothing;
* licensed items of a recurring price (an interval): ``amount_for_quantity(terms, quantity)`` per
  interval, as the price states it (net for exclusive, gross for inclusive prices); before
  discounts, tax and proration. Metered items and one-off prices contribute nothing (usage is not
  recurring revenue until billed).

The monthly rule, for a price billed every ``interval_count`` ``interval``\\s, applied once per plan
to the sum over its subscriptions and rounded half-up (halves away from zero) once:

=========  ====================================
interval   monthly amount
=========  ====================================
month      sum / count
quarter    sum / (3 x count)
year       sum / (12 x count)
week       sum x 52 / (12 x count)
day        sum x 365 / (12 x count)
=========  ====================================

Worked example: three subscriptions of a 1.00 EUR quarterly price: sum 300 minor units, 300 / 3 =
100 -> 1.00 EUR a month (rounding each subscription first would give 3 x 33 = 0.99). A 10.00 EUR
weekly price: 1000 x 52 / 12 = 4333.33 -> 43.33 EUR. A 99.00 EUR yearly price: 9900 / 12 = 825 ->
8.25 EUR.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cashline.domain.billing.catalog import PriceTerms, UsageType, amount_for_quantity
from cashline.domain.billing.periods import Interval
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus

# The statuses whose subscriptions count towards MRR.
MRR_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})

# (numerator, denominator) of "one interval in months", before interval_count.
_MONTHLY_FACTOR: dict[Interval, tuple[int, int]] = {
    Interval.MONTH: (1, 1),
    Interval.QUARTER: (1, 3),
    Interval.YEAR: (1, 12),
    Interval.WEEK: (52, 12),
    Interval.DAY: (365, 12),
}


@dataclass(frozen=True, slots=True)
class PlanKey:
    """One plan of the overview: a price, in its currency."""

    currency: str
    price_id: str


@dataclass(frozen=True, slots=True)
class PlanContribution:
    """What subscriptions add to one plan's running sum: the amount per interval and how many
    subscriptions (and units) hold it. ``interval``/``interval_count``/``product_name`` describe the
    price (the same on every contribution to it)."""

    amount_per_interval: int
    subscriptions: int
    quantity: int
    interval: Interval
    interval_count: int
    product_name: str


def _recurring(terms: PriceTerms) -> bool:
    return terms.interval is not None and terms.usage_type is UsageType.LICENSED


def contributions(sub: Subscription | None) -> dict[PlanKey, PlanContribution]:
    """What ``sub`` adds to each plan's running sum (nothing for None or a status outside
    MRR_STATUSES). Two items of one price add up, and count as one subscription."""
    if sub is None or sub.status not in MRR_STATUSES:
        return {}
    amounts: dict[PlanKey, int] = defaultdict(int)
    quantities: dict[PlanKey, int] = defaultdict(int)
    terms_of: dict[PlanKey, PriceTerms] = {}
    for item in sub.items:
        if not _recurring(item.terms):
            continue
        key = PlanKey(item.terms.currency, item.terms.price_id)
        amounts[key] += amount_for_quantity(item.terms, item.quantity)
        quantities[key] += item.quantity
        terms_of[key] = item.terms
    return {
        key: PlanContribution(
            amount_per_interval=amount,
            subscriptions=1,
            quantity=quantities[key],
            interval=terms_of[key].interval or Interval.MONTH,
            interval_count=terms_of[key].interval_count,
            product_name=terms_of[key].product_name,
        )
        for key, amount in amounts.items()
    }


def contribution_deltas(
    before: Subscription | None, after: Subscription | None
) -> dict[PlanKey, PlanContribution]:
    """``contributions(after) - contributions(before)`` per plan, leaving out plans that do not move
    (so a change that keeps MRR as it was writes nothing)."""
    old, new = contributions(before), contributions(after)
    deltas: dict[PlanKey, PlanContribution] = {}
    for key in old.keys() | new.keys():
        was, now = old.get(key), new.get(key)
        described = now or was
        assert described is not None  # the key came from one of them
        amount = (now.amount_per_interval if now else 0) - (was.amount_per_interval if was else 0)
        count = (now.subscriptions if now else 0) - (was.subscriptions if was else 0)
        quantity = (now.quantity if now else 0) - (was.quantity if was else 0)
        if amount or count or quantity:
            deltas[key] = PlanContribution(
                amount_per_interval=amount,
                subscriptions=count,
                quantity=quantity,
                interval=described.interval,
                interval_count=described.interval_count,
                product_name=described.product_name,
            )
    return deltas


def monthly_amount(amount_per_interval: int, interval: Interval, interval_count: int) -> int:
    """The monthly-normalised amount (the module's table), rounded half-up once, halves away from 0.

    >>> monthly_amount(300, Interval.QUARTER, 1)
    100
    >>> monthly_amount(1000, Interval.WEEK, 1)
    4333
    """
    if interval_count < 1:
        raise ValueError("interval_count must be at least 1")
    numerator, denominator = _MONTHLY_FACTOR[interval]
    scaled, divisor = amount_per_interval * numerator, denominator * interval_count
    magnitude = (2 * abs(scaled) + divisor) // (2 * divisor)
    return magnitude if scaled >= 0 else -magnitude
