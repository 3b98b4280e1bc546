"""What a collection run leaves behind: the message each step sends (or holds for a person's
approval), the debtor's promises to pay, the letters waiting to be printed, the call tasks, and the
lines of a counterparty's timeline. Plain values: the dal stores them and builds their keys,
services change them with `dataclasses.replace`, routes map them to the wire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from cashline.domain.dunning import Channel

# The hour a call task's assignee is reminded on the task's day, in the tenant's zone.
TASK_REMINDER_HOUR = time(8, 0)


def message_key(step_index: int, channel: Channel) -> str:
    """A message's key within its invoice: one per (step, channel), which is what makes a step go out
    on a channel at most once. The API shows it as the message's `key`."""
    return f"MSG#{step_index:02d}#{channel.value}"


@dataclass(frozen=True, slots=True)
class Message:
    """One step's reminder on one channel. status: sending | sent | failed | bounced | complained |
    awaiting_approval | approved | rejected | unknown."""

    tenant_id: str
    invoice_id: str
    counterparty_id: str
    campaign_id: str
    step_index: int
    channel: Channel
    status: str
    created_at: datetime
    template: str | None = None
    language: str | None = None
    subject: str | None = None
    body: str | None = None
    late_charges: dict[str, Any] | None = None
    recipient: str | None = None
    provider_id: str | None = None  # the e-mail or SMS provider's id: its delivery reports name it
    problem: str | None = None
    letter_id: str | None = None
    task_id: str | None = None
    updated_at: datetime | None = None
    version: int = 0  # 0: not stored yet

    @property
    def key(self) -> str:
        return message_key(self.step_index, self.channel)


@dataclass(frozen=True, slots=True)
class Promise:
    """The debtor's promise to pay `amount` by `promised_date`. status: open | kept | broken."""

    tenant_id: str
    invoice_id: str
    counterparty_id: str
    promise_id: str
    promised_date: date
    amount: int  # minor units of `currency`
    currency: str
    paid_at_promise: int  # the invoice's amount_paid when promised: what came after counts
    status: str
    actor: str
    note: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 0


@dataclass(frozen=True, slots=True)
class Letter:
    """A reminder letter as a PDF, in the print queue. status: ready | printed | mailed | cancelled."""

    tenant_id: str
    letter_id: str
    invoice_id: str
    counterparty_id: str
    recipient_name: str
    address: tuple[str, ...]
    s3_key: str
    status: str
    language: str
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    version: int = 0


# What a letter in each status may become.
LETTER_MOVES = {
    "ready": frozenset({"printed", "mailed", "cancelled"}),
    "printed": frozenset({"mailed", "cancelled"}),
}


@dataclass(frozen=True, slots=True)
class CallTask:
    """A call a person makes on `due_date`, with a script. status: open | done | cancelled."""

    tenant_id: str
    task_id: str
    invoice_id: str
    counterparty_id: str
    counterparty_name: str
    phone: str | None
    assignee: str | None
    due_date: date
    script: str
    status: str
    created_at: datetime
    updated_at: datetime
    outcome: str | None = None
    notes: str | None = None
    reminded: bool = False
    remind_at: datetime | None = None  # when the assignee gets the task's e-mail; None: never (again)
    version: int = 0


def task_reminder_at(day: date, timezone: str, now: datetime) -> datetime:
    """The assignee's reminder: at TASK_REMINDER_HOUR on the day (the tenant's zone); at once when
    that is past."""
    return max(now, datetime.combine(day, TASK_REMINDER_HOUR, tzinfo=ZoneInfo(timezone)))


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a counterparty's collection timeline. Never changed."""

    at: datetime
    invoice_id: str | None
    kind: str
    summary: str
    detail: dict[str, Any] | None = None
