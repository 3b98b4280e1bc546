"""The rules of charging subscription invoices, without storage: when the schedule retries, which
failure is the last, the processor's idempotency key, and what a campaign's retry_payment step may
carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cashline.domain.billing.charges import ChargeAttempt, ChargeStatus, is_last_round, next_retry_at
from cashline.domain.billing.subscriptions import PaymentMethod, SubscriptionStatus, check_transition
from cashline.domain.dunning import MESSAGE_CHANNELS, CampaignRuleError, Channel, Step, check_steps

FIRST_FAILURE = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def test_retries_count_from_the_first_failure_not_from_the_one_before() -> None:
    days = (1, 3, 5, 7)
    schedule = [next_retry_at(days, FIRST_FAILURE, round_) for round_ in range(5)]
    assert schedule == [
        datetime(2027, 3, 2, 10, 0, tzinfo=UTC),
        datetime(2027, 3, 4, 10, 0, tzinfo=UTC),
        datetime(2027, 3, 6, 10, 0, tzinfo=UTC),
        datetime(2027, 3, 8, 10, 0, tzinfo=UTC),
        None,  # round 4 (the fifth try) was the last
    ]


def test_no_retry_days_make_the_first_failure_the_last() -> None:
    assert next_retry_at((), FIRST_FAILURE, 0) is None
    assert is_last_round((), 0)


def test_only_the_schedules_last_round_is_the_last_failure() -> None:
    assert [is_last_round((1, 3), r) for r in (0, 1, 2)] == [False, False, True]
    assert not is_last_round((1, 3), None)  # a campaign's extra attempt never ends the schedule


def test_each_attempt_has_its_own_idempotency_key() -> None:
    attempt = ChargeAttempt(
        tenant_id="ten_1",
        invoice_id="inv_1",
        subscription_id="sub_1",
        charge_id="chg_1",
        attempt=3,
        origin="schedule",
        retry_round=2,
        status=ChargeStatus.SCHEDULED,
        payment_method=PaymentMethod(processor="stripe", customer_id="cus_1", payment_method_id="pm_1"),
        currency="EUR",
        amount=None,
        due_at=FIRST_FAILURE,
    )
    assert attempt.idempotency_key == "inv_1-3"


def test_a_first_charge_failing_may_make_an_active_subscription_incomplete() -> None:
    check_transition(SubscriptionStatus.ACTIVE, SubscriptionStatus.INCOMPLETE)
    check_transition(SubscriptionStatus.INCOMPLETE, SubscriptionStatus.ACTIVE)
    check_transition(SubscriptionStatus.PAST_DUE, SubscriptionStatus.PAST_DUE)  # another failed retry


def test_a_campaign_mixes_reminders_and_payment_retries() -> None:
    check_steps(
        (
            Step(offset_days=1, channel=Channel.EMAIL),
            Step(offset_days=3, channel=Channel.RETRY_PAYMENT),
            Step(offset_days=7, channel=Channel.EMAIL, fallback_channel=Channel.SMS),
        )
    )
    assert Channel.RETRY_PAYMENT not in MESSAGE_CHANNELS


@pytest.mark.parametrize(
    ("step", "field"),
    [
        (Step(offset_days=3, channel=Channel.RETRY_PAYMENT, template="first_reminder"), "steps[0].template"),
        (
            Step(offset_days=3, channel=Channel.RETRY_PAYMENT, fallback_channel=Channel.EMAIL),
            "steps[0].fallback_channel",
        ),
        (
            Step(offset_days=3, channel=Channel.RETRY_PAYMENT, require_approval=True),
            "steps[0].require_approval",
        ),
        (Step(offset_days=3, channel=Channel.RETRY_PAYMENT, late_charges=True), "steps[0].late_charges"),
        (Step(offset_days=3, channel=Channel.RETRY_PAYMENT, assignee="a@b.example"), "steps[0].assignee"),
        (
            Step(offset_days=3, channel=Channel.EMAIL, fallback_channel=Channel.RETRY_PAYMENT),
            "steps[0].fallback_channel",
        ),
    ],
)
def test_a_retry_step_carries_nothing_only_a_message_has(step: Step, field: str) -> None:
    with pytest.raises(CampaignRuleError) as refused:
        check_steps((step,))
    assert refused.value.field == field
