"""Subscription changes and cancellations, the pure part (domain/billing/subscription_changes.py):
proration lines by calendar day, the caps that keep credits within what was charged, upgrade vs
downgrade, the minimum term and notice rules. Expected figures are computed by hand next to them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashline.domain.billing.catalog import (
    PriceTerms,
    UsageType,
    amount_for_quantity,
)
from cashline.domain.billing.periods import Interval
from cashline.domain.billing.proration import prorate as prorate_by_day
from cashline.domain.billing.proration import tax_of
from cashline.domain.billing.subscription_changes import (
    ChangeRuleError,
    ItemChange,
    ProratedChange,
    cancellation_credit,
    changed_items,
    check_cancellation_date,
    is_downgrade,
    minimum_term_end,
    prorate_change,
    prorates_on,
)
from cashline.domain.billing.subscriptions import (
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from cashline.domain.billing.usage import UsageAction, request_hash, too_far_ahead
from cashline.errors import ValidationError
from cashline.schemas.common import parse_json
from cashline.schemas.subscription_changes import CancelRequest, ChangeRequest, UsageRequest
from tests.billing_utils import domain_subscription, price_terms

AT = datetime(2027, 1, 16, 9, tzinfo=UTC)


def terms(
    price_id: str,
    unit_amount: int,
    *,
    usage: UsageType = UsageType.LICENSED,
    currency: str = "EUR",
    interval: Interval | None = Interval.MONTH,
) -> PriceTerms:
    return price_terms(
        price_id,
        unit_amount,
        product_name=f"Plan {unit_amount // 100}",
        usage=usage,
        currency=currency,
        interval=interval,
    )


PLAN_30 = terms("prc_30", 3000)
PLAN_90 = terms("prc_90", 9000)


def subscription(
    *items: SubscriptionItem,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    charged: dict[str, int] | None = None,
    minimum_term_months: int | None = None,
    notice_days: int | None = None,
    next_invoice_on: date | None = date(2027, 2, 1),
) -> Subscription:
    """Invoiced for January 2027 (1 Jan - 1 Feb), each licensed item charged its full month."""
    items = items or (SubscriptionItem("si_a", PLAN_30, 1),)
    return domain_subscription(
        *items,
        status=status,
        minimum_term_months=minimum_term_months,
        notice_days=notice_days,
        next_invoice_on=next_invoice_on,
        period_charged=charged
        if charged is not None
        else {
            i.item_id: (i.terms.unit_amount or 0) * i.quantity
            for i in items
            if i.terms.usage_type is UsageType.LICENSED
        },
        latest_invoice_id="inv_1",
        created_at=AT,
        updated_at=AT,
    )


def ids() -> Callable[[], str]:
    numbers = count(1)
    return lambda: f"si_new{next(numbers)}"


# --- the worked example -----------------------------------------------------------------------


def test_worked_example_30_to_90_on_16_january() -> None:
    # Given a 30.00 EUR/month plan billed for January, moved to the 90.00 plan (same item, new price)
    sub = subscription()
    new_items = changed_items(sub, [ItemChange("si_a", PLAN_90, None)], ids())
    # When the change takes effect on 16 January (16 of 31 days remain)
    prorated = prorate_change(sub, new_items, date(2027, 1, 16), prorate=True)
    # Then: credit 3000 x 16/31 = 1548.39 -> 1548; charge 9000 x 16/31 = 4645.16 -> 4645
    assert [line.amount for line in prorated.lines] == [-1548, 4645]
    assert prorated.net == 3097
    assert tax_of(prorated.net, 1900) == 588  # 3097 x 0.19 = 588.43
    assert prorated.net + tax_of(prorated.net, 1900) == 3685
    credit, charge = prorated.lines
    assert (credit.price_id, charge.price_id) == ("prc_30", "prc_90")
    assert credit.service_start == date(2027, 1, 16) and credit.service_end == date(2027, 2, 1)
    assert "16 of 31 days" in charge.description
    # The period's sums move with it, so the next change prorates from them
    assert prorated.period_charged == {"si_a": 3000 + 4645}
    assert prorated.period_credited == {"si_a": 1548}


def test_swap_by_delete_and_add_gives_the_same_money() -> None:
    sub = subscription()
    new_items = changed_items(
        sub, [ItemChange("si_a", None, None, True), ItemChange(None, PLAN_90, 1)], ids()
    )
    prorated = prorate_change(sub, new_items, date(2027, 1, 16), prorate=True)
    assert [(line.item_id, line.amount) for line in prorated.lines] == [("si_a", -1548), ("si_new1", 4645)]
    assert [i.item_id for i in new_items] == ["si_new1"]


def test_quantity_change_prorates_the_difference_per_line() -> None:
    # 3 seats at 10.00 -> 5 seats on 22 Jan (10 of 31 days): credit 3000 x 10/31 = 967.74 -> 968,
    # charge 5000 x 10/31 = 1612.90 -> 1613
    seat = terms("prc_seat", 1000)
    sub = subscription(SubscriptionItem("si_s", seat, 3))
    new_items = changed_items(sub, [ItemChange("si_s", None, 5)], ids())
    prorated = prorate_change(sub, new_items, date(2027, 1, 22), prorate=True)
    assert [line.amount for line in prorated.lines] == [-968, 1613]
    assert new_items[0].quantity == 5


def test_change_on_the_first_day_credits_and_charges_the_whole_period() -> None:
    sub = subscription()
    new_items = changed_items(sub, [ItemChange("si_a", PLAN_90, None)], ids())
    prorated = prorate_change(sub, new_items, date(2027, 1, 1), prorate=True)
    assert [line.amount for line in prorated.lines] == [-3000, 9000]


def test_no_lines_without_proration_in_a_trial_or_before_the_period_is_invoiced() -> None:
    new = (SubscriptionItem("si_a", PLAN_90, 1),)
    on = date(2027, 1, 16)
    assert prorate_change(subscription(), new, on, prorate=False).lines == ()
    trial = subscription(status=SubscriptionStatus.TRIALING, charged={})
    assert not prorates_on(trial, on)
    not_invoiced = subscription(next_invoice_on=date(2027, 1, 1), charged={})
    assert not prorates_on(not_invoiced, on)
    # At the period boundary (a downgrade at period end) nothing is prorated either
    assert not prorates_on(subscription(), date(2027, 2, 1))


def test_metered_items_are_never_prorated() -> None:
    api_calls = terms("prc_calls", 2, usage=UsageType.METERED)
    sub = subscription(SubscriptionItem("si_a", PLAN_30, 1), SubscriptionItem("si_m", api_calls, 1))
    new_items = changed_items(sub, [ItemChange("si_m", None, None, True)], ids())
    assert prorate_change(sub, new_items, date(2027, 1, 16), prorate=True).lines == ()


def test_consecutive_changes_credit_from_what_was_billed() -> None:
    # 30 -> 90 on 16 Jan (create_prorations), then 90 -> 30 on 26 Jan (6 of 31 days remain):
    # credit 9000 x 6/31 = 1741.94 -> 1742 (within 7645 charged - 1548 credited),
    # charge 3000 x 6/31 = 580.6 -> 581
    sub = subscription()
    first = prorate_change(
        sub, changed_items(sub, [ItemChange("si_a", PLAN_90, None)], ids()), date(2027, 1, 16), prorate=True
    )
    mid = replace(
        sub, items=first.items, period_charged=first.period_charged, period_credited=first.period_credited
    )
    second = prorate_change(
        mid, changed_items(mid, [ItemChange("si_a", PLAN_30, None)], ids()), date(2027, 1, 26), prorate=True
    )
    assert [line.amount for line in second.lines] == [-1742, 581]
    assert second.period_credited == {"si_a": 1548 + 1742}


def test_credit_capped_by_what_was_charged() -> None:
    # Moved to 90 with proration none (nothing charged for it), then cancelled: the credit is capped
    # at the 30.00 actually billed, never 90 x remaining.
    sub = subscription(SubscriptionItem("si_a", PLAN_90, 1), charged={"si_a": 3000})
    credit = cancellation_credit(sub, date(2027, 1, 2), prorate=True)  # 30 of 31 days: 8709.68
    assert [line.amount for line in credit.lines] == [-3000]


def test_cancellation_credit_of_the_unused_days() -> None:
    # 30.00 plan cancelled on 16 Jan: 3000 x 16/31 = 1548.39 -> 1548 credited
    credit = cancellation_credit(subscription(), date(2027, 1, 16), prorate=True)
    assert [line.amount for line in credit.lines] == [-1548]
    assert credit.items == ()


def test_upgrade_and_downgrade_by_period_amount() -> None:
    thirty = (SubscriptionItem("si_a", PLAN_30, 1),)
    ninety = (SubscriptionItem("si_a", PLAN_90, 1),)
    assert is_downgrade(ninety, thirty)
    assert not is_downgrade(thirty, ninety)
    assert not is_downgrade(thirty, thirty)  # same money: takes effect now, like an upgrade


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (ItemChange("si_zz", None, 2), "items.0.id"),
        (ItemChange(None, terms("prc_usd", 3000, currency="USD"), 1), "items.0.price_id"),
        (ItemChange(None, terms("prc_once", 3000, interval=None), 1), "items.0.price_id"),
        (ItemChange("si_a", None, None, True), "items"),
    ],
)
def test_changes_that_do_not_fit_name_the_field(change: ItemChange, field: str) -> None:
    with pytest.raises(ChangeRuleError) as raised:
        changed_items(subscription(), [change], ids())
    assert raised.value.field == field


def test_minimum_term_and_notice() -> None:
    sub = subscription(minimum_term_months=12, notice_days=30)
    assert minimum_term_end(sub) == date(2028, 1, 1)
    with pytest.raises(ChangeRuleError, match="minimum term"):
        check_cancellation_date(sub, date(2027, 7, 1), today=date(2027, 3, 10), force=False)
    check_cancellation_date(sub, date(2027, 7, 1), today=date(2027, 3, 10), force=True)
    late = subscription(notice_days=30)
    with pytest.raises(ChangeRuleError, match="notice"):
        check_cancellation_date(late, date(2027, 4, 8), today=date(2027, 3, 10), force=False)
    check_cancellation_date(late, date(2027, 4, 9), today=date(2027, 3, 10), force=False)  # 30 days


def test_minimum_term_clamps_month_ends() -> None:
    sub = subscription(minimum_term_months=12)
    leap = replace(sub, start_date=date(2028, 2, 29))
    assert minimum_term_end(leap) == date(2029, 2, 28)


# --- property: a chain of changes never credits more than was charged -------------------------


def changed_checked(sub: Subscription, prorated: ProratedChange) -> Subscription:
    """`sub` as the change `prorated` leaves it, having checked that no item is credited more than
    it was charged."""
    for item_id, credited in prorated.period_credited.items():
        assert 0 <= credited <= prorated.period_charged.get(item_id, 0)
    return replace(
        sub,
        items=prorated.items,
        period_charged=prorated.period_charged,
        period_credited=prorated.period_credited,
    )


def assert_cancellation_credits_at_most_what_is_left(sub: Subscription, day: date) -> None:
    final = cancellation_credit(sub, day, prorate=True)
    assert final.period_credited.get("si_a", 0) <= final.period_charged.get("si_a", 0)


PRICES = [terms(f"prc_{amount}", amount) for amount in (0, 999, 3000, 4500, 9000, 123_457)]


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(PRICES), st.integers(1, 7), st.booleans()),
        min_size=1,
        max_size=6,
    ),
    start_price=st.sampled_from(PRICES),
    start_quantity=st.integers(1, 7),
)
def test_credits_never_exceed_charges(
    steps: list[tuple[int, PriceTerms, int, bool]], start_price: PriceTerms, start_quantity: int
) -> None:
    sub = subscription(SubscriptionItem("si_a", start_price, start_quantity))
    day = 0
    for offset, price, quantity, prorate in steps:
        day = min(day + offset, 30)  # changes move forward through January
        new_items = changed_items(sub, [ItemChange("si_a", price, quantity)], ids())
        prorated = prorate_change(sub, new_items, date(2027, 1, 1) + timedelta(days=day), prorate=prorate)
        sub = changed_checked(sub, prorated)
    # And the cancellation at the end credits at most what is left
    assert_cancellation_credits_at_most_what_is_left(sub, date(2027, 1, 31))


# --- usage rules ------------------------------------------------------------------------------


def test_usage_fingerprint_compares_instants_in_utc() -> None:
    berlin = datetime.fromisoformat("2027-01-16T10:00:00+01:00")
    utc = datetime.fromisoformat("2027-01-16T09:00:00+00:00")
    assert request_hash(5, berlin, UsageAction.INCREMENT) == request_hash(5, utc, UsageAction.INCREMENT)
    assert request_hash(5, utc, UsageAction.SET) != request_hash(5, utc, UsageAction.INCREMENT)
    assert request_hash(6, utc, UsageAction.INCREMENT) != request_hash(5, utc, UsageAction.INCREMENT)


def test_usage_may_be_a_little_ahead_of_our_clock() -> None:
    assert not too_far_ahead(AT + timedelta(minutes=5), AT)
    assert too_far_ahead(AT + timedelta(minutes=5, seconds=1), AT)


# --- request shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"id": "si_1"}]}, "items.0.quantity"),
        ({"items": [{"quantity": 2}]}, "items.0.price_id"),
        ({"items": [{"deleted": True}]}, "items.0.id"),
        ({"items": [{"id": "si_1", "deleted": True, "quantity": 2}]}, "items.0.deleted"),
        ({"items": [{"id": "si_1", "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{"id": "si_1", "quantity": 2}, {"id": "si_1", "quantity": 3}]}, "items.1.id"),
        ({"items": [{"id": "si_1", "quantity": 2}], "proration": "sometimes"}, "proration"),
        ({"items": [{"id": "si_1", "quantity": 2}], "effective_date": "16.01.2027"}, "effective_date"),
        ({"items": [{"id": "si_1", "quantity": 2}], "when": "now"}, "when"),
    ],
)
def test_change_requests_name_the_field_at_fault(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_json(ChangeRequest, json.dumps(body).encode())
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"at": "tomorrow"}, "at"),
        ({"at": "now", "prorate": "yes"}, "prorate"),
    ],
)
def test_cancel_requests_name_the_field_at_fault(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_json(CancelRequest, json.dumps(body).encode())
    assert raised.value.field == field


def test_cancel_request_forms() -> None:
    assert parse_json(CancelRequest, b"{}").at == "period_end"
    assert parse_json(CancelRequest, b'{"at": "2027-03-01"}').at == date(2027, 3, 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": -1, "timestamp": "2027-01-20T10:00:00+00:00"}, "quantity"),
        ({"quantity": 1}, "timestamp"),
        ({"quantity": 1, "timestamp": "2027-01-20T10:00:00+00:00", "action": "add"}, "action"),
        (
            {"quantity": 1, "timestamp": "2027-01-20T10:00:00+00:00", "idempotency_key": "a b"},
            "idempotency_key",
        ),
    ],
)
def test_usage_requests_name_the_field_at_fault(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_json(UsageRequest, json.dumps(body).encode())
    assert raised.value.field == field


# --- short periods: prorated against the whole cycle period -------------------------------------


def short_first_period(start: date, quantity: int = 1) -> Subscription:
    """Started ``start`` in March 2027, anchored on 1 April: the first period [start, 1 Apr) was
    invoiced by day against the 31 days of March, as invoice_plan charges it."""
    days = (date(2027, 4, 1) - start).days
    sub = subscription(SubscriptionItem("si_a", PLAN_30, quantity), next_invoice_on=date(2027, 4, 1))
    return replace(
        sub,
        start_date=start,
        billing_cycle_anchor=date(2027, 4, 1),
        current_period_start=start,
        current_period_end=date(2027, 4, 1),
        period_charged={"si_a": prorate_by_day(3000 * quantity, days, 31)},
    )


def test_a_short_first_period_prorates_by_the_days_of_the_whole_cycle() -> None:
    sub = short_first_period(date(2027, 3, 15))
    assert sub.period_charged == {"si_a": 1645}  # 3000 x 17 / 31 = 1645.16
    new_items = changed_items(sub, [ItemChange("si_a", None, 2)], ids())
    prorated = prorate_change(sub, new_items, date(2027, 3, 15), prorate=True)
    # 6000 x 17 / 31 = 3290.32 -> 32.90, minus the 16.45 charged: 16.45 (N = 17 gave 43.55).
    assert [line.amount for line in prorated.lines] == [-1645, 3290]
    assert prorated.net == 1645
    assert prorated.lines[1].description.endswith("(17 of 31 days)")
    assert (prorated.lines[1].service_start, prorated.lines[1].service_end) == (
        date(2027, 3, 15),
        date(2027, 4, 1),
    )
    # Later in the period: R = 10 days of N = 31: credit 3000 x 10 / 31 = 967.74, charge 1935.48.
    later = prorate_change(sub, new_items, date(2027, 3, 22), prorate=True)
    assert [line.amount for line in later.lines] == [-968, 1935]


def test_a_period_begun_by_a_resume_prorates_by_the_days_of_the_whole_cycle() -> None:
    # Anchored on the 1st, resumed 16 May: [16 May, 1 Jun) charged 3000 x 16 / 31 = 1548.39 -> 1548.
    sub = replace(
        subscription(next_invoice_on=date(2027, 6, 1)),
        current_period_start=date(2027, 5, 16),
        current_period_end=date(2027, 6, 1),
        period_charged={"si_a": 1548},
    )
    prorated = prorate_change(sub, [SubscriptionItem("si_a", PLAN_90, 1)], date(2027, 5, 21), prorate=True)
    # R = 11 of N = 31: credit 3000 x 11 / 31 = 1064.52 -> 1065, charge 9000 x 11 / 31 = 3193.55.
    assert [line.amount for line in prorated.lines] == [-1065, 3194]


@settings(max_examples=300, deadline=None)
@given(
    start_day=st.integers(2, 31),
    steps=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(PRICES), st.integers(1, 7)), min_size=1, max_size=6
    ),
    start_quantity=st.integers(1, 7),
)
def test_credits_never_exceed_charges_in_a_short_first_period(
    start_day: int, steps: list[tuple[int, PriceTerms, int]], start_quantity: int
) -> None:
    start = date(2027, 3, start_day)
    sub = short_first_period(start, start_quantity)
    day = start
    for offset, price, quantity in steps:
        day = min(day + timedelta(days=offset), date(2027, 3, 31))
        new_items = changed_items(sub, [ItemChange("si_a", price, quantity)], ids())
        prorated = prorate_change(sub, new_items, day, prorate=True)
        remaining = (date(2027, 4, 1) - day).days
        for line in prorated.lines:
            if line.amount > 0:  # a charge: the new amount for the days left, of the cycle's 31
                assert line.amount == prorate_by_day(amount_for_quantity(price, quantity), remaining, 31)
        sub = changed_checked(sub, prorated)
    assert_cancellation_credits_at_most_what_is_left(sub, date(2027, 3, 31))
