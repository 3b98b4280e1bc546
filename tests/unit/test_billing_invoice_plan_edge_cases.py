"""Review fixes of issue 14 in the pure plan: discounts netted into what each item was charged,
negative plans split into a credit note, scheduled changes in the preview, per-item amount limits,
and credit notes taxed as the credited invoice was. Figures computed by hand next to each."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashline.domain.billing.catalog import TaxBehavior, TaxCategory, UsageType
from cashline.domain.billing.discount_shares import allocate
from cashline.domain.billing.invoice_amounts import credited_decisions
from cashline.domain.billing.invoice_plan import (
    ItemAmountLimitError,
    period_starting,
    plan_period_invoice,
    split_credit,
    with_scheduled,
)
from cashline.domain.billing.subscription_changes import (
    ChangeKind,
    ItemChange,
    ScheduledChange,
)
from cashline.domain.billing.subscriptions import Discount, PendingLine, SubscriptionItem
from cashline.domain.billing.tax import TaxTreatment
from cashline.domain.money import MAX_MINOR_UNITS
from tests.unit.test_billing_invoice_plan import subscription, terms

AT = datetime(2027, 1, 1, tzinfo=UTC)
JAN = date(2027, 1, 1)


def test_allocate_by_largest_remainder_is_exact() -> None:
    assert allocate(1000, [3000, 1000, 0]) == [750, 250, 0]
    # 100 / 3 = 33.33 each: the one unit left goes to the first of the equal remainders.
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(0, [5, 5]) == [0, 0]
    assert allocate(7, [0, 0]) == [0, 0]


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=8),
)
def test_allocate_sums_exactly_and_never_exceeds_a_share_by_a_unit(amount: int, weights: list[int]) -> None:
    shares = allocate(amount, weights)
    total = sum(weights)
    if total == 0:
        assert shares == [0] * len(weights)
        return
    assert sum(shares) == amount
    for share, weight in zip(shares, weights, strict=True):
        assert amount * weight // total <= share <= amount * weight // total + 1


def test_a_full_discount_charges_every_item_nothing() -> None:
    """The reviewer's case: 100 % off -> a 0.00 invoice; what each item was charged is 0, so a
    prorated cancellation credits nothing (before: period_charged 3000 -> a 35.70 credit note)."""
    sub = subscription(discounts=(Discount("d1", 10000, None, None),))
    plan = plan_period_invoice(sub, period_starting(sub, JAN), {})
    assert plan.amount == 0
    assert plan.period_charged == {"si_1": 0}


def test_a_discount_is_shared_over_the_items_in_proportion() -> None:
    # A 30.00 + B 10.00, 25 % off = 10.00 -> A 7.50, B 2.50.
    sub = subscription(
        SubscriptionItem("si_a", terms("prc_a", 3000), 1),
        SubscriptionItem("si_b", terms("prc_b", 1000), 1),
        discounts=(Discount("d1", 2500, None, None),),
    )
    plan = plan_period_invoice(sub, period_starting(sub, JAN), {})
    assert plan.period_charged == {"si_a": 2250, "si_b": 750}
    assert sum(plan.period_charged.values()) == plan.amount == 3000


def test_an_amount_discount_on_mixed_categories_sums_to_the_invoice() -> None:
    # A 30.00 standard + B 10.00 reduced, 10.00 off: split per group 7.50 / 2.50 (module docstring).
    sub = subscription(
        SubscriptionItem("si_a", terms("prc_a", 3000), 1),
        SubscriptionItem("si_b", terms("prc_b", 1000, category=TaxCategory.REDUCED), 1),
        discounts=(Discount("d1", None, 1000, None),),
    )
    plan = plan_period_invoice(sub, period_starting(sub, JAN), {})
    assert plan.period_charged == {"si_a": 2250, "si_b": 750}


def pending(amount: int) -> PendingLine:
    return PendingLine(
        description="proration",
        amount=amount,
        item_id="si_1",
        price_id="prc_basic",
        tax_category=TaxCategory.STANDARD,
        tax_behavior=TaxBehavior.EXCLUSIVE,
        service_start=date(2026, 12, 16),
        service_end=JAN,
    )


def test_a_plan_netting_negative_splits_into_invoice_and_credit_lines() -> None:
    """The reviewer's case: 90.00 -> 30.00 with create_prorations leaves -60.00 waiting; the next
    month's 30.00 plan nets -30.00. Invoice: the 30.00; credit: the -60.00 (never a negative invoice)."""
    sub = subscription(pending=(pending(-6000), pending(500)))
    plan = plan_period_invoice(sub, period_starting(sub, JAN), {})
    assert plan.amount == -2500
    invoice, credits = split_credit(plan.lines)
    assert [(line.kind, line.amount) for line in invoice] == [("licensed", 3000), ("proration", 500)]
    assert [(line.kind, line.amount) for line in credits] == [("proration", -6000)]
    # Netting 0 or more: all the invoice's.
    assert split_credit(plan_period_invoice(subscription(), period_starting(sub, JAN), {}).lines)[1] == ()


def test_an_amount_beyond_the_limit_names_the_item() -> None:
    metered = SubscriptionItem("si_m", terms("prc_m", 1000, usage=UsageType.METERED), 1)
    sub = replace(subscription(metered, start=date(2026, 12, 1)), current_period_end=JAN)
    with pytest.raises(ItemAmountLimitError) as caught:
        plan_period_invoice(sub, period_starting(sub, JAN), {"si_m": MAX_MINOR_UNITS})
    assert caught.value.item_id == "si_m"
    assert "si_m" in str(caught.value)


def scheduled(kind: ChangeKind, on: date) -> ScheduledChange:
    return ScheduledChange(
        tenant_id="ten_1",
        subscription_id="sub_1",
        change_id="ssc_1",
        kind=kind,
        effective_date=on,
        items=(),
        proration=None,
        prorate=False,
        created_at=AT,
        updated_at=AT,
        version=1,
    )


def test_the_preview_applies_a_downgrade_dated_on_the_next_invoice_day() -> None:
    sub = replace(subscription(), next_invoice_on=date(2027, 2, 1))
    cheaper = [ItemChange("si_1", terms("prc_small", 1000), None)]
    applied = with_scheduled(sub, scheduled(ChangeKind.CHANGE, date(2027, 2, 1)), cheaper)
    plan = plan_period_invoice(applied, period_starting(applied, date(2027, 2, 1)), {})
    assert [(line.kind, line.amount) for line in plan.lines] == [("licensed", 1000)]
    # One dated later than the next invoice is not applied.
    assert with_scheduled(sub, scheduled(ChangeKind.CHANGE, date(2027, 2, 2)), cheaper) is sub


def test_the_preview_applies_a_cancellation_dated_on_or_before_the_next_invoice_day() -> None:
    sub = replace(subscription(), next_invoice_on=date(2027, 2, 1))
    applied = with_scheduled(sub, scheduled(ChangeKind.CANCEL, date(2027, 2, 1)))
    assert applied.cancel_at == date(2027, 2, 1)
    assert with_scheduled(sub, None) is sub


DETAILS = {
    "tax_notes": [],
    "lines": [
        {
            "item_id": "si_1",
            "price_id": "prc_basic",
            "tax_rate_basis_points": 1900,
            "tax_category_code": "S",
            "tax_treatment": "domestic",
            "tax_country": "DE",
            "exemption_reason_code": None,
            "tax_note": None,
        }
    ],
}


def test_a_credit_line_takes_the_credited_invoices_decision() -> None:
    [found, unknown] = credited_decisions([("si_1", "prc_other"), ("si_2", None)], DETAILS)
    assert found is not None
    assert (found.rate_basis_points, found.category_code, found.treatment) == (
        1900,
        "S",
        TaxTreatment.DOMESTIC,
    )
    assert unknown is None  # not on the credited invoice: decided now
    assert credited_decisions([("si_1", "prc_basic")], None) == [None]
