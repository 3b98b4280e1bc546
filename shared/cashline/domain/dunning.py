"""Collection campaigns (dunning): a reusable plan of reminder steps, and one invoice's run through
it. Plain Python: no storage, no clock reads.

A collection pins the campaign version the invoice entered with: editing a campaign changes what
later debtors get, never the steps already planned or done for this one.

When a step goes out: its day is the invoice's due date plus `offset_days`; it is sent within the
debtor's business hours (SEND_WINDOW, in the debtor's time zone), on a weekday unless the step allows
weekends; a step that falls due outside that waits for the next allowed moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    CALL_TASK = "call_task"
    # Not a message: charge the invoice's saved payment method again (subscription invoices charged
    # automatically; services/billing/charging.py `retry_now`). Mixed with reminders in one campaign.
    RETRY_PAYMENT = "retry_payment"


# Channels a message goes out on (a reminder, a letter, a call task): all but RETRY_PAYMENT.
MESSAGE_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.LETTER, Channel.CALL_TASK})


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class CollectionStatus(StrEnum):
    ACTIVE = "active"  # the next step waits for its moment
    PAUSED = "paused"  # a partial payment, a promise, a dispute or a person: no steps go out
    STOPPED = "stopped"  # stopped by a person
    COMPLETED = "completed"  # paid, or every step done


class PauseReason(StrEnum):
    PARTIAL_PAYMENT = "partial_payment"
    PROMISE = "promise"
    DISPUTE = "dispute"
    MANUAL = "manual"


SEND_WINDOW = (time(9, 0), time(18, 0))  # debtor's local time
# A partial payment pauses the reminders this long; then they go on for what is still owed.
PARTIAL_PAYMENT_PAUSE = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Step:
    offset_days: int  # relative to the due date; negative: a friendly reminder before it
    channel: Channel
    template: str | None = None  # a built-in name or one of the tenant's; None: the channel's default
    attach_invoice: bool = False  # e-mail only: the invoice PDF
    late_charges: bool = False  # show statutory interest and the 40 EUR compensation
    require_approval: bool = False  # prepared, then held until a person approves it
    send_on_weekends: bool = False
    fallback_channel: Channel | None = None  # when this channel fails (bounce, no address, refused)
    assignee: str | None = None  # call tasks: who calls (an e-mail address); default: the tenant's


@dataclass(frozen=True, slots=True)
class Campaign:
    tenant_id: str
    campaign_id: str
    name: str
    description: str | None
    steps: tuple[Step, ...]
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime
    version: int = 1  # the campaign's own revision: 1, 2, ... (every edit of the steps adds one)
    record_version: int = 0  # optimistic locking of the stored item


@dataclass(frozen=True, slots=True)
class CollectionSettings:
    """A tenant's collection settings: which campaign a debtor's invoices enter, who calls, what a
    reminder shows of the creditor, the interest reference rate."""

    default_campaign_id: str | None = None
    campaigns_by_segment: dict[str, str] = field(default_factory=dict)
    default_assignee: str | None = None
    reference_rate_bp: int | None = None
    creditor: dict[str, Any] = field(default_factory=dict)  # name, address, iban, email, phone
    email_statements: bool = False  # the monthly statements go to counterparties with an address
    version: int = 0


@dataclass(frozen=True, slots=True)
class OwnTemplate:
    """One of a tenant's own reminder templates (Jinja2 source, rendered sandboxed when sent)."""

    tenant_id: str
    name: str
    channel: str
    language: str
    subject: str | None
    body: str
    created_at: datetime
    updated_at: datetime
    version: int = 0  # 0: not stored yet


class CampaignRuleError(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def check_steps(steps: tuple[Step, ...]) -> None:
    if not steps:
        raise CampaignRuleError("a campaign needs at least one step", "steps")
    offsets = [s.offset_days for s in steps]
    if offsets != sorted(offsets):
        raise CampaignRuleError("steps must be in the order they go out (offset_days ascending)", "steps")
    for index, step in enumerate(steps):
        if step.attach_invoice and step.channel is not Channel.EMAIL:
            raise CampaignRuleError(
                "only an e-mail can carry the invoice PDF", f"steps[{index}].attach_invoice"
            )
        if step.fallback_channel is step.channel:
            raise CampaignRuleError(
                "the fallback must be another channel", f"steps[{index}].fallback_channel"
            )
        _check_retry_step(step, index)


def _check_retry_step(step: Step, index: int) -> None:
    """A retry_payment step sends no message: nothing to template, approve, charge extra or fall back
    to; and no message step falls back to a charge."""
    if step.fallback_channel is Channel.RETRY_PAYMENT:
        raise CampaignRuleError(
            "a payment retry cannot be a fallback channel", f"steps[{index}].fallback_channel"
        )
    if step.channel is not Channel.RETRY_PAYMENT:
        return
    for name in ("template", "fallback_channel", "assignee"):
        if getattr(step, name) is not None:
            raise CampaignRuleError(f"a retry_payment step has no {name}", f"steps[{index}].{name}")
    for name in ("late_charges", "require_approval"):
        if getattr(step, name):
            raise CampaignRuleError(f"a retry_payment step has no {name}", f"steps[{index}].{name}")


@dataclass(frozen=True, slots=True)
class Collection:
    """One invoice's run through a campaign."""

    tenant_id: str
    invoice_id: str
    counterparty_id: str
    campaign_id: str
    campaign_version: int
    steps: tuple[Step, ...]
    status: CollectionStatus
    next_step: int  # index into steps; len(steps) when all are done
    next_at: datetime | None  # when the next step (or the end of a pause) is due
    entered_at: datetime
    outstanding_at_entry: int
    paid_at_entry: int  # the invoice's amount_paid when it entered (what counts as recovered)
    currency: str
    timezone: str  # the debtor's
    pause_reason: PauseReason | None = None
    paused_until: datetime | None = None
    steps_done: tuple[int, ...] = ()
    # The invoice's amount_paid when the run last looked: a rise is a payment (recovered money).
    last_paid: int = 0
    step_sent_at: dict[str, str] = field(default_factory=dict)  # step index -> ISO instant sent
    updated_at: datetime | None = None
    version: int = 0

    @property
    def current_step(self) -> Step | None:
        return self.steps[self.next_step] if self.next_step < len(self.steps) else None


def step_day(due_date: date, step: Step) -> date:
    return due_date + timedelta(days=step.offset_days)


def next_send_moment(earliest: datetime, timezone: str, *, weekends: bool) -> datetime:
    """The first moment at or after `earliest` inside the debtor's business hours (and on a weekday
    unless `weekends`): no reminder at night or, by default, on a Saturday or Sunday."""
    zone = ZoneInfo(timezone)
    local = earliest.astimezone(zone)
    opens, closes = SEND_WINDOW
    for _ in range(10):
        day_open = datetime.combine(local.date(), opens, tzinfo=zone)
        day_close = datetime.combine(local.date(), closes, tzinfo=zone)
        allowed_day = weekends or local.weekday() < 5
        if allowed_day and local < day_close:
            return max(local, day_open)
        local = datetime.combine(local.date() + timedelta(days=1), opens, tzinfo=zone)
    return local  # unreachable: a week always has an allowed day


def step_moment(collection: Collection, due_date: date, index: int, not_before: datetime) -> datetime | None:
    """When step `index` goes out: its day's opening hour in the debtor's zone, never before
    `not_before` (a step already late goes out at the next allowed moment)."""
    if index >= len(collection.steps):
        return None
    step = collection.steps[index]
    opens = datetime.combine(step_day(due_date, step), SEND_WINDOW[0], tzinfo=ZoneInfo(collection.timezone))
    return next_send_moment(max(opens, not_before), collection.timezone, weekends=step.send_on_weekends)


def start(
    *,
    tenant_id: str,
    invoice_id: str,
    counterparty_id: str,
    campaign: Campaign,
    due_date: date,
    outstanding: int,
    amount_paid: int,
    currency: str,
    timezone: str,
    now: datetime,
    from_step: int = 0,
) -> Collection:
    """A new run from the first step not yet past (started by hand before the due date, the friendly
    pre-due steps are kept; entered when overdue, steps whose day has passed are skipped but the last
    of them goes out now, so an invoice always gets the reminder its lateness calls for)."""
    collection = Collection(
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        counterparty_id=counterparty_id,
        campaign_id=campaign.campaign_id,
        campaign_version=campaign.version,
        steps=campaign.steps,
        status=CollectionStatus.ACTIVE,
        next_step=from_step,
        next_at=None,
        entered_at=now,
        outstanding_at_entry=outstanding,
        paid_at_entry=amount_paid,
        last_paid=amount_paid,
        currency=currency,
        timezone=timezone,
        updated_at=now,
    )
    first = _first_due_step(collection, due_date, now, from_step)
    return replace(collection, next_step=first, next_at=step_moment(collection, due_date, first, now))


def _first_due_step(collection: Collection, due_date: date, now: datetime, from_step: int) -> int:
    zone = ZoneInfo(collection.timezone)
    today = now.astimezone(zone).date()
    past = [
        i for i in range(from_step, len(collection.steps)) if step_day(due_date, collection.steps[i]) <= today
    ]
    return past[-1] if past else from_step


def advanced(collection: Collection, due_date: date, now: datetime) -> Collection:
    """After the current step went out (or was given up): the next one. After the last one the run
    stays active with nothing left to send: it completes when the invoice is paid (what it recovers
    still counts for the campaign), or a person stops it."""
    done = (*collection.steps_done, collection.next_step)
    following = collection.next_step + 1
    if following >= len(collection.steps):
        return replace(collection, steps_done=done, next_step=following, next_at=None, updated_at=now)
    return replace(
        collection,
        steps_done=done,
        next_step=following,
        next_at=step_moment(collection, due_date, following, now),
        updated_at=now,
    )


def paused(collection: Collection, reason: PauseReason, until: datetime | None, now: datetime) -> Collection:
    return replace(
        collection,
        status=CollectionStatus.PAUSED,
        pause_reason=reason,
        paused_until=until,
        next_at=until,
        updated_at=now,
    )


def resumed(collection: Collection, due_date: date, now: datetime) -> Collection:
    running = replace(collection, status=CollectionStatus.ACTIVE, pause_reason=None, paused_until=None)
    return replace(running, next_at=step_moment(running, due_date, running.next_step, now), updated_at=now)


def stopped(collection: Collection, status: CollectionStatus, now: datetime) -> Collection:
    return replace(
        collection, status=status, next_at=None, pause_reason=None, paused_until=None, updated_at=now
    )
