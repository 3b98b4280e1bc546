"""When collection steps go out: the debtor's business hours, weekdays, skipped past steps, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from cashline.dal.dunning_repository import steps_json, steps_of
from cashline.domain.dunning import (
    Campaign,
    CampaignRuleError,
    CampaignStatus,
    Channel,
    Collection,
    CollectionStatus,
    PauseReason,
    Step,
    advanced,
    check_steps,
    next_send_moment,
    paused,
    resumed,
    start,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STEPS = (
    Step(-3, Channel.EMAIL),
    Step(1, Channel.EMAIL),
    Step(5, Channel.SMS),
    Step(10, Channel.LETTER),
)


def campaign(steps: tuple[Step, ...] = STEPS) -> Campaign:
    return Campaign("ten_x", "cmp_x", "c", None, steps, CampaignStatus.ACTIVE, NOW, NOW)


def run(due: date, now: datetime = NOW) -> Collection:
    return start(
        tenant_id="ten_x",
        invoice_id="inv_x",
        counterparty_id="cp_x",
        campaign=campaign(),
        due_date=due,
        outstanding=1000,
        amount_paid=0,
        currency="EUR",
        timezone="Europe/Berlin",
        now=now,
    )


@pytest.mark.parametrize(
    ("earliest", "weekends", "expected"),
    [
        (datetime(2026, 11, 24, 6, 0, tzinfo=BERLIN), False, datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)),
        (datetime(2026, 11, 24, 13, 0, tzinfo=BERLIN), False, datetime(2026, 11, 24, 13, 0, tzinfo=BERLIN)),
        (datetime(2026, 11, 24, 19, 0, tzinfo=BERLIN), False, datetime(2026, 11, 25, 9, 0, tzinfo=BERLIN)),
        (datetime(2026, 11, 27, 18, 30, tzinfo=BERLIN), False, datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)),
        (datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN), False, datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)),
        (datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN), True, datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN)),
    ],
)
def test_no_reminder_at_night_or_on_weekends_unless_allowed(
    earliest: datetime, weekends: bool, expected: datetime
) -> None:
    assert next_send_moment(earliest, "Europe/Berlin", weekends=weekends) == expected


def test_the_window_is_the_debtors_own() -> None:
    # 15:00 UTC is 09:00 in Chicago (winter): the first moment a Chicago debtor may be written to.
    moment = next_send_moment(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), "America/Chicago", weekends=False)
    assert moment.astimezone(UTC) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_run_started_before_the_due_date_keeps_the_friendly_step() -> None:
    r = run(date(2026, 12, 7))
    assert (r.next_step, r.next_at) == (0, datetime(2026, 12, 4, 9, 0, tzinfo=BERLIN))


def test_a_late_entry_sends_the_step_its_lateness_calls_for_now_and_skips_older_ones() -> None:
    # Due 2026-11-15: by the 23rd steps 0 (-3) and 1 (+1) and 2 (+5) are past; step 2 goes out now.
    r = run(date(2026, 11, 15))
    assert r.next_step == 2
    assert r.next_at == NOW  # 13:00 in Berlin on a Monday: within hours


def test_after_the_last_step_the_run_waits_for_payment() -> None:
    r = run(date(2026, 11, 1))
    assert r.next_step == 3
    done = advanced(r, date(2026, 11, 1), NOW)
    assert (done.status, done.next_at, done.steps_done) == (CollectionStatus.ACTIVE, None, (3,))


def test_pause_and_resume() -> None:
    r = run(date(2026, 12, 7))
    until = datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN)
    p = paused(r, PauseReason.PROMISE, until, NOW)
    assert (p.status, p.next_at) == (CollectionStatus.PAUSED, until)
    back = resumed(p, date(2026, 12, 7), datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN))
    assert back.status is CollectionStatus.ACTIVE and back.next_at == datetime(
        2026, 12, 10, 9, 0, tzinfo=BERLIN
    )


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ((), "steps"),
        ((Step(5, Channel.EMAIL), Step(1, Channel.SMS)), "steps"),
        ((Step(1, Channel.SMS, attach_invoice=True),), "steps[0].attach_invoice"),
        ((Step(1, Channel.SMS, fallback_channel=Channel.SMS),), "steps[0].fallback_channel"),
    ],
)
def test_campaign_rules(steps: tuple[Step, ...], field: str) -> None:
    with pytest.raises(CampaignRuleError) as caught:
        check_steps(steps)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "step",
    [
        Step(0, Channel.EMAIL),  # 0 == False: once dropped, and the campaign unreadable after
        Step(0, Channel.EMAIL, attach_invoice=False, late_charges=False, require_approval=False),
        Step(-1, Channel.CALL_TASK, template="final_notice", assignee="", send_on_weekends=True),
        Step(14, Channel.SMS, fallback_channel=Channel.LETTER, late_charges=True, require_approval=True),
    ],
)
def test_a_step_reads_back_as_it_was_written_falsy_values_included(step: Step) -> None:
    stored = steps_json((step,))
    assert stored[0]["offset_days"] == step.offset_days
    assert steps_of(stored) == (step,)
