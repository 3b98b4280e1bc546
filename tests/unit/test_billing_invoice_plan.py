"""plan_period_invoice: the pure composition of a subscription's period invoice (the engine's oracle).

Every expected figure below is computed by hand in the comment next to it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashline.domain.billing.catalog import (
    TaxBehavior,
    TaxCategory,
    Tier,
    TiersMode,
    UsageType,
)
from cashline.domain.billing.invoice_plan import (
    discount_amount,
    period_starting,
    plan_period_invoice,
    previous_period,
)
from cashline.domain.billing.periods import Interval, Period, period_containing
from cashline.domain.billing.subscriptions import (
    Discount,
    PendingLine,
    Subscription,
    SubscriptionItem,
)
from cashline.domain.money import MAX_MINOR_UNITS
from tests.billing_utils import domain_subscription
from tests.billing_utils import price_terms as terms

AT = datetime(2027, 1, 1, tzinfo=UTC)


def subscription(
    *items: SubscriptionItem,
    start: date = date(2027, 1, 1),
    anchor: date | None = None,
    trial_end: date | None = None,
    discounts: tuple[Discount, ...] = (),
    pending: tuple[PendingLine, ...] = (),
) -> Subscription:
    return domain_subscription(
        *items,
        start_date=start,
        trial_end=trial_end,
        billing_cycle_anchor=anchor or start,
        discounts=discounts,
        # As a new subscription has it: the trial, else its first period (not invoiced yet).
        current_period_start=start,
        current_period_end=trial_end
        or period_containing(anchor or start, Interval.MONTH, 1, start).end_exclusive,
        next_invoice_on=start,
        pending_lines=pending,
    )


JANUARY = Period(date(2027, 1, 1), date(2027, 2, 1))
FEBRUARY = Period(date(2027, 2, 1), date(2027, 3, 1))


def amounts(plan_lines: object) -> list[tuple[str, int]]:
    return [(line.kind, line.amount) for line in plan_lines]  # type: ignore[attr-defined]


def test_licensed_items_are_charged_in_advance_for_the_whole_period() -> None:
    sub = subscription(SubscriptionItem("si_1", terms(), 3))
    plan = plan_period_invoice(sub, JANUARY, {})
    assert amounts(plan.lines) == [("licensed", 9000)]  # 3 x 30.00
    line = plan.lines[0]
    assert (line.quantity, line.unit_amount, line.service_start, line.service_end) == (
        3,
        3000,
        date(2027, 1, 1),
        date(2027, 2, 1),
    )
    assert plan.period_charged == {"si_1": 9000}


def test_a_short_first_period_before_the_anchor_is_prorated_by_day() -> None:
    # Start 10 Jan, anchor 1 Feb: [10 Jan, 1 Feb) is 22 of January's 31 days.
    # 3000 x 22 / 31 = 2129.03 -> 2129.
    sub = subscription(start=date(2027, 1, 10), anchor=date(2027, 2, 1))
    period = period_starting(sub, sub.start_date)
    assert period == Period(date(2027, 1, 10), date(2027, 2, 1))
    plan = plan_period_invoice(sub, period, {})
    assert amounts(plan.lines) == [("licensed", 2129)]
    assert (plan.lines[0].quantity, plan.lines[0].unit_amount) == (1, 2129)
    assert "22 of 31 days" in plan.lines[0].description
    assert plan.period_charged == {"si_1": 2129}


def test_metered_usage_is_billed_in_arrears_for_the_period_before() -> None:
    meter = terms("prc_api", 5, product_name="API calls", usage=UsageType.METERED)
    sub = subscription(SubscriptionItem("si_1", terms(), 1), SubscriptionItem("si_m", meter, 1))
    assert previous_period(sub, JANUARY) is None
    assert amounts(plan_period_invoice(sub, JANUARY, {"si_m": 999}).lines) == [("licensed", 3000)]
    assert previous_period(sub, FEBRUARY) == JANUARY
    plan = plan_period_invoice(sub, FEBRUARY, {"si_m": 2470})
    # 2470 calls x 0.05 = 123.50, service dates of January.
    assert amounts(plan.lines) == [("licensed", 3000), ("metered", 12350)]
    assert (plan.lines[1].service_start, plan.lines[1].service_end) == (JANUARY.start, JANUARY.end_exclusive)
    assert plan.period_charged == {"si_1": 3000}


def test_graduated_tiers_price_metered_usage() -> None:
    tiers = (Tier(10, 500, 1000), Tier(50, 400), Tier(None, 300))
    meter = terms("prc_t", None, usage=UsageType.METERED, tiers=tiers, tiers_mode=TiersMode.GRADUATED)
    sub = subscription(SubscriptionItem("si_m", meter, 1))
    # 10 x 500 + 1000 + 40 x 400 + 10 x 300 = 25000, shown as 1 x 250.00 (no unit price multiplies).
    plan = plan_period_invoice(sub, FEBRUARY, {"si_m": 60})
    assert amounts(plan.lines) == [("metered", 25000)]
    assert (plan.lines[0].quantity, plan.lines[0].unit_amount) == (1, 25000)


def test_pending_proration_lines_come_along_and_are_not_discounted() -> None:
    pending = (
        PendingLine(
            "Unused time",
            -1548,
            "si_1",
            "prc_basic",
            TaxCategory.STANDARD,
            TaxBehavior.EXCLUSIVE,
            date(2027, 1, 16),
            date(2027, 2, 1),
        ),
        PendingLine(
            "Remaining time",
            4645,
            "si_1",
            "prc_pro",
            TaxCategory.STANDARD,
            TaxBehavior.EXCLUSIVE,
            date(2027, 1, 16),
            date(2027, 2, 1),
        ),
    )
    sub = subscription(
        SubscriptionItem("si_1", terms("prc_pro", 9000, product_name="Pro"), 1),
        pending=pending,
        discounts=(Discount("d1", 1000, None, None),),
    )
    plan = plan_period_invoice(sub, FEBRUARY, {})
    # 90.00 in advance; the January proration (-15.48 + 46.45); 10 % of 90.00 only = -9.00.
    assert amounts(plan.lines) == [
        ("licensed", 9000),
        ("proration", -1548),
        ("proration", 4645),
        ("discount", -900),
    ]
    assert plan.amount == 11197
    assert plan.period_charged == {"si_1": 8100}  # net of its discount share


def test_discounts_apply_in_order_half_up_once_and_never_below_zero() -> None:
    meter = terms("prc_api", 5, product_name="API calls", usage=UsageType.METERED)
    sub = subscription(
        SubscriptionItem("si_1", terms(), 1),
        SubscriptionItem("si_m", meter, 1),
        discounts=(
            Discount("d1", 2500, None, None),
            Discount("d2", None, 500, 3),
            Discount("d3", None, 10**6, None),
        ),
    )
    plan = plan_period_invoice(sub, FEBRUARY, {"si_m": 247})
    # base 3000 + 1235 = 4235; 25 % = 1058.75 -> 1059; 500; then 2676 is all that is left.
    assert amounts(plan.lines) == [
        ("licensed", 3000),
        ("metered", 1235),
        ("discount", -1059),
        ("discount", -500),
        ("discount", -2676),
    ]
    assert plan.amount == 0
    assert plan.discounts_applied == ("d1", "d2", "d3")
    assert plan.lines[2].description == "Discount d1 (25 % off)"


def test_exhausted_discounts_are_left_out_and_a_zero_base_uses_none() -> None:
    sub = subscription(
        discounts=(Discount("d1", 5000, None, 2, applied_periods=2), Discount("d2", 10000, None, None))
    )
    plan = plan_period_invoice(sub, JANUARY, {})
    assert amounts(plan.lines) == [("licensed", 3000), ("discount", -3000)]  # d2: 100 % off
    assert plan.discounts_applied == ("d2",)
    free = subscription(
        SubscriptionItem("si_1", terms(unit_amount=0), 1), discounts=(Discount("d1", 5000, None, 1),)
    )
    assert plan_period_invoice(free, JANUARY, {}).discounts_applied == ()


def test_a_discount_is_split_over_tax_groups_and_sums_exactly() -> None:
    ebook = terms(
        "prc_book", 1000, product_name="E-book", category=TaxCategory.REDUCED, behavior=TaxBehavior.INCLUSIVE
    )
    sub = subscription(
        SubscriptionItem("si_1", terms(), 1),
        SubscriptionItem("si_2", ebook, 1),
        discounts=(Discount("d1", None, 1001, None),),
    )
    plan = plan_period_invoice(sub, JANUARY, {})
    # 10.01 over bases 30.00 and 10.00: 1001 x 3000 / 4000 = 750.75 -> 751; the last takes 250.
    discount = [
        (line.tax_category, line.tax_behavior, line.amount) for line in plan.lines if line.kind == "discount"
    ]
    assert discount == [
        (TaxCategory.STANDARD, TaxBehavior.EXCLUSIVE, -751),
        (TaxCategory.REDUCED, TaxBehavior.INCLUSIVE, -250),
    ]


def test_nothing_is_planned_in_a_trial_and_the_first_paid_period_follows_it() -> None:
    meter = terms("prc_api", 5, usage=UsageType.METERED)
    sub = subscription(
        SubscriptionItem("si_1", terms(), 1), SubscriptionItem("si_m", meter, 1), trial_end=date(2027, 1, 15)
    )
    assert plan_period_invoice(sub, Period(date(2027, 1, 1), date(2027, 1, 15)), {"si_m": 9}).lines == ()
    first = period_starting(sub, date(2027, 1, 15))
    # [15 Jan, 1 Feb) = 17 of 31 days: 3000 x 17 / 31 = 1645.16 -> 1645; no usage billed for the trial.
    assert previous_period(sub, first) is None
    assert amounts(plan_period_invoice(sub, first, {"si_m": 9}).lines) == [("licensed", 1645)]
    # Once [15 Jan, 1 Feb) is invoiced, February bills its usage only.
    invoiced = replace(sub, current_period_start=first.start, current_period_end=first.end_exclusive)
    assert previous_period(invoiced, FEBRUARY) == Period(date(2027, 1, 15), date(2027, 2, 1))


def test_one_off_prices_are_charged_on_the_first_paid_invoice_only() -> None:
    setup = terms("prc_setup", 9900, product_name="Setup", interval=None)
    sub = subscription(SubscriptionItem("si_1", terms(), 1), SubscriptionItem("si_s", setup, 1))
    assert amounts(plan_period_invoice(sub, JANUARY, {}).lines) == [("licensed", 3000), ("licensed", 9900)]
    assert amounts(plan_period_invoice(sub, FEBRUARY, {}).lines) == [("licensed", 3000)]


def test_an_ending_subscription_is_not_charged_in_advance() -> None:
    meter = terms("prc_api", 5, usage=UsageType.METERED)
    sub = subscription(SubscriptionItem("si_1", terms(), 1), SubscriptionItem("si_m", meter, 1))
    plan = plan_period_invoice(sub, FEBRUARY, {"si_m": 10}, charge_in_advance=False)
    assert amounts(plan.lines) == [("metered", 50)]
    assert plan.period_charged == {}


def test_month_end_anchor_periods() -> None:
    sub = subscription(start=date(2027, 1, 31))
    assert period_starting(sub, date(2027, 1, 31)) == Period(date(2027, 1, 31), date(2027, 2, 28))
    assert period_starting(sub, date(2027, 2, 28)) == Period(date(2027, 2, 28), date(2027, 3, 31))


@pytest.mark.parametrize(
    ("basis_points", "remaining", "expected"),
    [(2500, 4235, 1059), (5000, 1, 1), (3333, 100, 33), (10000, 777, 777), (1, 4999, 0), (1, 5000, 1)],
)
def test_percent_discounts_round_half_up(basis_points: int, remaining: int, expected: int) -> None:
    assert discount_amount(Discount("d", basis_points, None, None), remaining) == expected


amounts_st = st.integers(min_value=0, max_value=10**9)


@given(
    unit=amounts_st,
    quantity=st.integers(min_value=1, max_value=1000),
    usage=st.integers(min_value=0, max_value=10**5),
    percent=st.integers(min_value=0, max_value=10_000),
    off=st.integers(min_value=0, max_value=10**12),
    start_day=st.integers(min_value=1, max_value=28),
)
def test_discounts_never_make_the_base_negative_and_lines_stay_in_range(
    unit: int, quantity: int, usage: int, percent: int, off: int, start_day: int
) -> None:
    meter = terms("prc_api", unit // 1000, usage=UsageType.METERED)
    sub = subscription(
        SubscriptionItem("si_1", terms(unit_amount=unit), quantity),
        SubscriptionItem("si_m", meter, 1),
        start=date(2027, 1, start_day),
        anchor=date(2027, 2, 1),
        discounts=(Discount("p", percent, None, None), Discount("a", None, off, None)),
    )
    for period in (period_starting(sub, sub.start_date), FEBRUARY):
        plan = plan_period_invoice(sub, period, {"si_m": usage})
        assert all(abs(line.amount) <= MAX_MINOR_UNITS for line in plan.lines)
        base = sum(line.amount for line in plan.lines if line.kind in ("licensed", "metered"))
        discounts = sum(line.amount for line in plan.lines if line.kind == "discount")
        assert 0 <= base + discounts <= base
        assert plan.amount >= 0


@given(start_day=st.integers(min_value=1, max_value=31), unit=amounts_st)
def test_the_short_first_period_never_charges_more_than_a_full_one(start_day: int, unit: int) -> None:
    sub = subscription(
        SubscriptionItem("si_1", terms(unit_amount=unit), 1),
        start=date(2027, 1, start_day),
        anchor=date(2027, 2, 1),
    )
    first = plan_period_invoice(sub, period_starting(sub, sub.start_date), {})
    assert 0 <= first.period_charged["si_1"] <= unit
    assert first.period.end_exclusive == date(2027, 2, 1)


def test_usage_of_the_period_before_a_pause_is_billed_by_the_first_invoice_after_it() -> None:
    meter = terms("prc_api", 5, usage=UsageType.METERED)
    sub = subscription(SubscriptionItem("si_1", terms(), 1), SubscriptionItem("si_m", meter, 1))
    # Last invoiced: May; paused, resumed 16 August: [16 Aug, 1 Sep) bills May's usage.
    may = Period(date(2027, 5, 1), date(2027, 6, 1))
    resumed = replace(sub, current_period_start=may.start, current_period_end=may.end_exclusive)
    period = period_starting(resumed, date(2027, 8, 16))
    assert previous_period(resumed, period) == may
    # 3000 x 16 / 31 = 1548.39 -> 1548; 40 calls x 0.05 = 2.00 for May.
    assert amounts(plan_period_invoice(resumed, period, {"si_m": 40}).lines) == [
        ("licensed", 1548),
        ("metered", 200),
    ]
