"""MRR per plan (domain/billing/mrr.py): what a subscription contributes, the deltas a change
writes, and the monthly rule with its worked examples."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cashline.domain.billing.catalog import Tier, TiersMode, UsageType
from cashline.domain.billing.mrr import PlanKey, contribution_deltas, contributions, monthly_amount
from cashline.domain.billing.periods import Interval
from cashline.domain.billing.subscriptions import SubscriptionItem, SubscriptionStatus
from tests.billing_utils import price_terms as terms
from tests.unit.test_billing_invoice_plan import subscription


@pytest.mark.parametrize(
    ("amount", "interval", "count", "monthly"),
    [
        (3000, Interval.MONTH, 1, 3000),
        (6000, Interval.MONTH, 2, 3000),
        (300, Interval.QUARTER, 1, 100),  # three 1.00 quarterly subscriptions: 1.00, not 3 x 0.33
        (9900, Interval.YEAR, 1, 825),
        (1000, Interval.WEEK, 1, 4333),  # 1000 x 52 / 12 = 4333.33
        (100, Interval.DAY, 1, 3042),  # 100 x 365 / 12 = 3041.67
        (3, Interval.MONTH, 2, 2),  # 1.5: halves round up
        (-3, Interval.MONTH, 2, -2),  # and away from zero below it
        (0, Interval.YEAR, 3, 0),
    ],
)
def test_the_monthly_rule(amount: int, interval: Interval, count: int, monthly: int) -> None:
    assert monthly_amount(amount, interval, count) == monthly


def test_an_interval_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="interval_count"):
        monthly_amount(100, Interval.MONTH, 0)


def test_only_active_and_past_due_licensed_recurring_items_count() -> None:
    tiered = terms(
        "prc_seats",
        None,
        tiers=(Tier(up_to=5, unit_amount=1000), Tier(up_to=None, unit_amount=500)),
        tiers_mode=TiersMode.GRADUATED,
    )
    sub = subscription(
        SubscriptionItem("si_1", terms("prc_basic"), 2),
        SubscriptionItem("si_2", terms("prc_basic"), 1),  # the same price twice: one plan
        SubscriptionItem("si_3", terms("prc_api", 5, usage=UsageType.METERED), 1),
        SubscriptionItem("si_4", terms("prc_setup", 9900, interval=None), 1),
        SubscriptionItem("si_5", tiered, 7),
    )
    found = contributions(replace(sub, status=SubscriptionStatus.ACTIVE))
    assert {k.price_id: (c.amount_per_interval, c.subscriptions, c.quantity) for k, c in found.items()} == {
        "prc_basic": (9000, 1, 3),
        "prc_seats": (5 * 1000 + 2 * 500, 1, 7),
    }
    assert contributions(replace(sub, status=SubscriptionStatus.PAST_DUE)) == found
    for status in (
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.PAUSED,
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.INCOMPLETE,
    ):
        assert contributions(replace(sub, status=status)) == {}
    assert contributions(None) == {}


def test_deltas_name_only_what_moves() -> None:
    before = replace(
        subscription(SubscriptionItem("si_1", terms("prc_basic"), 2)), status=SubscriptionStatus.ACTIVE
    )
    # An invoice issued (same status, same items) moves nothing.
    assert contribution_deltas(before, replace(before, version=before.version + 1)) == {}
    # A quantity change moves the amount and the quantity, not the count.
    more = replace(before, items=(SubscriptionItem("si_1", terms("prc_basic"), 3),))
    [(key, delta)] = contribution_deltas(before, more).items()
    assert key == PlanKey("EUR", "prc_basic")
    assert (delta.amount_per_interval, delta.subscriptions, delta.quantity) == (3000, 0, 1)
    # Moving to another price takes it all off one plan and onto the other.
    moved = replace(before, items=(SubscriptionItem("si_1", terms("prc_pro", 9000, product_name="Pro"), 1),))
    deltas = {
        k.price_id: (d.amount_per_interval, d.subscriptions, d.product_name)
        for k, d in contribution_deltas(before, moved).items()
    }
    assert deltas == {"prc_basic": (-6000, -1, "Basic"), "prc_pro": (9000, 1, "Pro")}
    # Paused: it leaves; created active: it arrives.
    paused = replace(before, status=SubscriptionStatus.PAUSED)
    assert contribution_deltas(before, paused)[PlanKey("EUR", "prc_basic")].subscriptions == -1
    assert contribution_deltas(None, before)[PlanKey("EUR", "prc_basic")].amount_per_interval == 6000
