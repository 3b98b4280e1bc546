"""Subscriptions in plain Python: the lifecycle, the first periods, resuming, the request rules and
the stored form (every expected date is worked out by hand next to it)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from cashline.dal.billing_subscription_codec import SubscriptionRecord, from_record, to_record
from cashline.domain.billing.catalog import (
    TaxBehavior,
    TaxCategory,
    Tier,
    TiersMode,
    UsageType,
)
from cashline.domain.billing.periods import Interval, Period
from cashline.domain.billing.subscription_changes import ChangeKind, ScheduledChange
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    Discount,
    PaymentMethod,
    PendingLine,
    Subscription,
    SubscriptionItem,
    SubscriptionRuleError,
    SubscriptionStatus,
    TransitionError,
    check_transition,
    plan_start,
    resumed,
    tenant_day_start,
    tenant_today,
)
from cashline.domain.billing.usage import UsagePeriodError, usage_period_start
from cashline.schemas.common import field_of
from cashline.schemas.subscriptions import NewSubscription, SubscriptionOutput
from tests.billing_utils import domain_subscription, price_terms

AT = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
S = SubscriptionStatus

TERMS = price_terms("prc_1", 3000, product_name="Pro plan")
TIERED = replace(
    TERMS,
    price_id="prc_2",
    unit_amount=None,
    tiers=(Tier(10, 500, 1000), Tier(None, 300)),
    tiers_mode=TiersMode.GRADUATED,
    usage_type=UsageType.METERED,
    tax_behavior=TaxBehavior.INCLUSIVE,
    tax_category=TaxCategory.DIGITAL_SERVICE,
)


def _subscription(**changes: Any) -> Subscription:
    sub = domain_subscription(
        SubscriptionItem("si_1", TERMS, 2),
        SubscriptionItem("si_2", TIERED, 1),
        collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
        payment_method=PaymentMethod("stripe", customer_id="cus_1", payment_method_id="pm_1"),
        days_until_due=None,
        minimum_term_months=12,
        notice_days=30,
        discounts=(Discount("d1", 2500, None, 3, 1), Discount("d2", None, 500, None)),
        metadata={"crm": "42"},
        next_invoice_on=date(2027, 2, 1),
        period_charged={"si_1": 6000},
        period_credited={"si_1": 1548},
        pending_lines=(
            PendingLine(
                "Unused Pro plan",
                -1548,
                "si_1",
                "prc_1",
                TaxCategory.STANDARD,
                TaxBehavior.EXCLUSIVE,
                date(2027, 1, 16),
                date(2027, 2, 1),
            ),
            PendingLine(
                "Pro plan x 3",
                2323,
                "si_1",
                "prc_1",
                TaxCategory.STANDARD,
                TaxBehavior.EXCLUSIVE,
                date(2027, 1, 16),
                date(2027, 2, 1),
            ),
        ),
        latest_invoice_id="inv_1",
        created_at=AT,
        updated_at=AT,
        version=3,
    )
    return replace(sub, **changes)


# ---------------------------------------------------------------------------------------------
# Lifecycle


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.TRIALING, S.ACTIVE),
        (S.ACTIVE, S.PAST_DUE),
        (S.PAST_DUE, S.ACTIVE),
        (S.PAST_DUE, S.PAST_DUE),
        (S.INCOMPLETE, S.ACTIVE),
        (S.ACTIVE, S.INCOMPLETE),
        (S.ACTIVE, S.PAUSED),
        (S.PAUSED, S.ACTIVE),
        (S.ACTIVE, S.CANCELED),
    ],
)
def test_allowed_transitions(current: SubscriptionStatus, target: SubscriptionStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.CANCELED, S.ACTIVE),
        (S.CANCELED, S.PAUSED),
        (S.PAUSED, S.PAUSED),
        (S.INCOMPLETE, S.PAUSED),
        (S.ACTIVE, S.TRIALING),
        (S.PAST_DUE, S.INCOMPLETE),
    ],
)
def test_refused_transitions_name_both_statuses(
    current: SubscriptionStatus, target: SubscriptionStatus
) -> None:
    with pytest.raises(TransitionError, match=f"from {current.value} to {target.value}"):
        check_transition(current, target)


def test_a_business_day_starts_at_midnight_in_the_tenants_zone() -> None:
    # Berlin is UTC+1 in winter, UTC+2 in summer.
    assert tenant_day_start(date(2027, 2, 1), "Europe/Berlin") == datetime(2027, 1, 31, 23, 0, tzinfo=UTC)
    assert tenant_day_start(date(2027, 7, 1), "Europe/Berlin") == datetime(2027, 6, 30, 22, 0, tzinfo=UTC)
    # 23:30 UTC on 31 January is already 1 February in Berlin.
    assert tenant_today(datetime(2027, 1, 31, 23, 30, tzinfo=UTC), "Europe/Berlin") == date(2027, 2, 1)


# ---------------------------------------------------------------------------------------------
# The first periods


def test_the_anchor_defaults_to_the_start_so_the_first_period_is_whole() -> None:
    plan = plan_start(date(2027, 1, 10), None, None, Interval.MONTH, 1)
    assert plan.anchor == date(2027, 1, 10)
    assert plan.current == plan.first_paid_period == Period(date(2027, 1, 10), date(2027, 2, 10))
    assert plan.next_invoice_on == date(2027, 1, 10)


def test_a_later_anchor_makes_a_short_first_period() -> None:
    # Start 10 January, anchor 1 February: [10 Jan, 1 Feb), 22 days of the 31-day cycle period.
    plan = plan_start(date(2027, 1, 10), None, date(2027, 2, 1), Interval.MONTH, 1)
    assert plan.first_paid_period == Period(date(2027, 1, 10), date(2027, 2, 1))
    assert plan.first_paid_period.days == 22
    assert plan.next_invoice_on == date(2027, 1, 10)


def test_an_anchor_on_the_31st_bills_on_shorter_months_last_day() -> None:
    plan = plan_start(date(2027, 1, 31), None, None, Interval.MONTH, 1)
    # 2027 is not a leap year: the second period starts on 28 February.
    assert plan.first_paid_period == Period(date(2027, 1, 31), date(2027, 2, 28))


def test_a_trial_is_the_current_period_and_billing_starts_at_its_end() -> None:
    plan = plan_start(date(2027, 1, 1), date(2027, 1, 15), None, Interval.MONTH, 1)
    assert plan.current == Period(date(2027, 1, 1), date(2027, 1, 15))
    assert plan.anchor == date(2027, 1, 15)
    assert plan.first_paid_period == Period(date(2027, 1, 15), date(2027, 2, 15))
    assert plan.next_invoice_on == date(2027, 1, 15)


@pytest.mark.parametrize(
    ("start", "trial_end", "anchor", "field"),
    [
        (date(2027, 1, 10), date(2027, 1, 10), None, "trial_end"),
        (date(2027, 1, 10), date(2027, 1, 9), None, "trial_end"),
        (date(2027, 1, 10), None, date(2027, 1, 9), "billing_cycle_anchor"),
        # Within one interval: 10 Feb is one month after 10 Jan, so it is one too far.
        (date(2027, 1, 10), None, date(2027, 2, 10), "billing_cycle_anchor"),
        # Trialing: the anchor counts from the trial's end.
        (date(2027, 1, 1), date(2027, 1, 20), date(2027, 1, 10), "billing_cycle_anchor"),
    ],
)
def test_bad_start_terms_name_their_field(
    start: date, trial_end: date | None, anchor: date | None, field: str
) -> None:
    with pytest.raises(SubscriptionRuleError) as raised:
        plan_start(start, trial_end, anchor, Interval.MONTH, 1)
    assert raised.value.field == field


# ---------------------------------------------------------------------------------------------
# Resuming


def test_resuming_inside_the_paid_period_keeps_the_next_invoice_date() -> None:
    paused = _subscription(status=S.PAUSED, paused_on=date(2027, 1, 10))
    back = resumed(paused, date(2027, 1, 20), AT)
    assert back.status is S.ACTIVE and back.paused_on is None
    assert back.next_invoice_on == date(2027, 2, 1)


def test_resuming_after_the_paid_period_skips_the_paused_periods() -> None:
    paused = _subscription(status=S.PAUSED, paused_on=date(2027, 1, 10))
    back = resumed(paused, date(2027, 3, 16), AT)
    # February and the start of March are skipped; the next invoice is [16 Mar, 1 Apr), now.
    assert back.next_invoice_on == date(2027, 3, 16)
    assert back.billing_cycle_anchor == date(2027, 1, 1)


def test_resuming_inside_the_trial_stays_trialing() -> None:
    paused = _subscription(
        status=S.PAUSED,
        trial_end=date(2027, 1, 15),
        next_invoice_on=date(2027, 1, 15),
        paused_on=date(2027, 1, 5),
    )
    assert resumed(paused, date(2027, 1, 10), AT).status is S.TRIALING
    assert resumed(paused, date(2027, 1, 15), AT).status is S.ACTIVE


def test_only_a_paused_subscription_resumes() -> None:
    with pytest.raises(TransitionError):
        resumed(_subscription(), date(2027, 1, 10), AT)


# ---------------------------------------------------------------------------------------------
# Requests and answers


BASE: dict[str, Any] = {"counterparty_id": "cp_1", "items": [{"price_id": "prc_1"}]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"price_id": "prc_1"}, {"price_id": "prc_1", "quantity": 2}]}, "items"),
        ({"items": [{"price_id": "prc_1", "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{"price_id": "prc_1", "quantity": 1_000_001}]}, "items.0.quantity"),
        ({"items": [{"price_id": f"prc_{n}"} for n in range(21)]}, "items"),
        ({"start_date": "2027-13-01"}, "start_date"),
        ({"start_date": "2200-01-01"}, "start_date"),
        ({"collection_method": "charge_automatically"}, "payment_method"),
        (
            {"collection_method": "charge_automatically", "payment_method": {"processor": "stripe"}},
            "payment_method.customer_id",
        ),
        (
            {
                "collection_method": "charge_automatically",
                "payment_method": {"processor": "stripe", "customer_id": "cus_1"},
            },
            "payment_method.payment_method_id",
        ),
        (
            {"collection_method": "charge_automatically", "payment_method": {"processor": "gocardless"}},
            "payment_method.mandate_id",
        ),
        (
            {
                "collection_method": "charge_automatically",
                "payment_method": {"processor": "gocardless", "mandate_id": "MD1"},
                "days_until_due": 14,
            },
            "days_until_due",
        ),
        ({"payment_method": {"processor": "gocardless", "mandate_id": "MD1"}}, "payment_method"),
        ({"days_until_due": -1}, "days_until_due"),
        ({"minimum_term_months": 61}, "minimum_term_months"),
        ({"notice_days": 366}, "notice_days"),
        ({"discounts": [{"periods": 3}]}, "discounts.0.percent_basis_points"),
        ({"discounts": [{"percent_basis_points": 10, "amount": 5}]}, "discounts.0.percent_basis_points"),
        ({"discounts": [{"percent_basis_points": 10_001}]}, "discounts.0.percent_basis_points"),
        ({"discounts": [{"amount": 0}]}, "discounts.0.amount"),
        ({"discounts": [{"amount": 100, "periods": 121}]}, "discounts.0.periods"),
        ({"discounts": [{"amount": 100}] * 6}, "discounts"),
        ({"metadata": {f"k{n}": "v" for n in range(21)}}, "metadata"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_requests_name_their_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PydanticValidationError) as raised:
        NewSubscription.model_validate_json(_json({**BASE, **changes}), strict=True)
    assert field_of(raised.value.errors()[0]) == field


def test_a_good_request_reads_with_defaults() -> None:
    request = NewSubscription.model_validate_json(_json(BASE), strict=True)
    assert request.collection_method is CollectionMethod.SEND_INVOICE
    assert request.items[0].quantity == 1 and request.discounts == []


def test_the_answer_sums_the_pending_proration_lines() -> None:
    output = SubscriptionOutput.of(_subscription())
    assert output.pending_proration_amount == -1548 + 2323
    assert output.next_invoice_date == date(2027, 2, 1)
    assert [item.usage_type for item in output.items] == ["licensed", "metered"]
    paused = SubscriptionOutput.of(_subscription(status=S.PAUSED, paused_on=date(2027, 1, 10)))
    assert (paused.next_invoice_date, paused.paused_on) == (None, date(2027, 1, 10))


# ---------------------------------------------------------------------------------------------
# The stored form


def test_a_subscription_reads_back_as_it_was_stored() -> None:
    sub = _subscription()
    record = to_record(sub)
    record.version = sub.version
    # Through DynamoDB's wire form, as a read would see it.
    stored = SubscriptionRecord.from_raw_data(record.serialize())
    assert from_record(stored) == sub


def test_the_index_keys_carry_the_tenant() -> None:
    record = to_record(_subscription(status=S.PAST_DUE))
    assert (record.pk, record.sk) == ("T#ten_1#SUB#sub_1", "SUB")
    assert (record.gsi1pk, record.gsi1sk) == ("T#ten_1#SUB#past_due", "sub_1")
    assert (record.gsi2pk, record.gsi3pk) == ("T#ten_1#CP#cp_1#SUB", "T#ten_1#SUB")


def test_an_empty_subscription_reads_back_too() -> None:
    sub = _subscription(
        discounts=(),
        metadata={},
        pending_lines=(),
        period_charged={},
        period_credited={},
        payment_method=None,
    )
    record = to_record(sub)
    record.version = sub.version
    assert from_record(SubscriptionRecord.from_raw_data(record.serialize())) == sub


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body)


# ---------------------------------------------------------------------------------------------
# Which period a usage report counts in (domain/billing/usage.py)


def test_usage_is_kept_under_the_subscriptions_own_current_period() -> None:
    # A short first period [10 Jan, 1 Feb), anchored on the 1st: its usage under 10 Jan, the key the
    # 1 Feb invoice reads (previous_period = the current period), not under the cycle's 1 Jan
    short = _subscription(
        start_date=date(2027, 1, 10),
        current_period_start=date(2027, 1, 10),
        current_period_end=date(2027, 2, 1),
    )
    assert usage_period_start(short, date(2027, 1, 10)) == date(2027, 1, 10)
    assert usage_period_start(short, date(2027, 1, 31)) == date(2027, 1, 10)
    # Resumed on 16 May after the paid period: [16 May, 1 Jun) keeps its usage under 16 May
    resumed_sub = _subscription(
        current_period_start=date(2027, 5, 16),
        current_period_end=date(2027, 6, 1),
        next_invoice_on=date(2027, 6, 1),
    )
    assert usage_period_start(resumed_sub, date(2027, 5, 20)) == date(2027, 5, 16)


def test_usage_after_the_period_before_the_sweep_counts_in_the_next_one() -> None:
    sub = _subscription()  # [1 Jan, 1 Feb), next invoice 1 Feb
    assert usage_period_start(sub, date(2027, 2, 1)) == date(2027, 2, 1)
    assert usage_period_start(sub, date(2027, 2, 28)) == date(2027, 2, 1)
    assert usage_period_start(sub, date(2027, 3, 5)) == date(2027, 3, 1)  # ticks missed: whole cycles


@pytest.mark.parametrize(
    ("changes", "day"),
    [
        ({}, date(2026, 12, 31)),  # before the current period: invoiced already
        ({"cancel_at": date(2027, 1, 20)}, date(2027, 1, 20)),  # from the cancellation day on
        ({"status": S.PAUSED, "paused_on": date(2027, 1, 20)}, date(2027, 2, 3)),  # paused, after it
        ({"next_invoice_on": None}, date(2027, 2, 1)),  # nothing more is issued
    ],
)
def test_usage_no_period_will_bill_is_refused(changes: dict[str, Any], day: date) -> None:
    with pytest.raises(UsagePeriodError):
        usage_period_start(_subscription(**changes), day)


def test_paused_usage_inside_the_paid_period_still_counts() -> None:
    paused = _subscription(status=S.PAUSED, paused_on=date(2027, 1, 20))
    assert usage_period_start(paused, date(2027, 1, 25)) == date(2027, 1, 1)


def test_the_single_read_carries_the_pending_scheduled_change() -> None:
    change = ScheduledChange(
        tenant_id="ten_1",
        subscription_id="sub_1",
        change_id="ssc_1",
        kind=ChangeKind.CANCEL,
        effective_date=date(2027, 3, 15),
        items=(),
        proration=None,
        prorate=True,
        created_at=AT,
        updated_at=AT,
        version=1,
    )
    output = SubscriptionOutput.of(_subscription(), change)
    assert output.scheduled_change is not None
    assert (output.scheduled_change.id, output.scheduled_change.kind) == ("ssc_1", "cancel")
    assert output.scheduled_change.effective_date == date(2027, 3, 15)
    assert SubscriptionOutput.of(_subscription()).scheduled_change is None
