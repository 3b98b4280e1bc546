"""Which counterparties had activity in a month: `T#<tenant>#ACT#<yyyy-mm>#<cp>` / `ACT`, put with each
invoice and payment (the same key again is the same item), on the `due` index for the first morning
of the next month, when the monthly statement run reads exactly these and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from pynamodb.attributes import UnicodeAttribute

from cashline.dal.due import due_keys
from cashline.dal.errors import storage_errors
from cashline.dal.table import CashlineItem
from cashline.errors import ConflictError

STATEMENT_JOB = "monthly_statement"
ACTIVITY_SK = "ACT"


class ActivityRecord(CashlineItem, discriminator="monthly_activity"):
    tenant_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    month = UnicodeAttribute()


@dataclass(frozen=True, slots=True)
class MonthlyActivity:
    """A counterparty had invoices or payments in `month` (yyyy-mm): it gets that month's statement."""

    tenant_id: str
    counterparty_id: str
    month: str


def _activity_pk(tenant_id: str, counterparty_id: str, month: str) -> str:
    return f"T#{tenant_id}#ACT#{month}#{counterparty_id}"


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def activity_marker(tenant_id: str, counterparty_id: str, day: date, now: datetime) -> ActivityRecord:
    month = day.strftime("%Y-%m")
    record = ActivityRecord(
        pk=_activity_pk(tenant_id, counterparty_id, month),
        sk=ACTIVITY_SK,
        tenant_id=tenant_id,
        counterparty_id=counterparty_id,
        month=month,
        created_at=now,
        updated_at=now,
    )
    run_at = datetime.combine(_next_month(day), time(6, 0), tzinfo=UTC)
    record.due_pk, record.due_sk = due_keys(STATEMENT_JOB, run_at, tenant_id, f"{counterparty_id}#{month}")
    return record


def due_activity(item: CashlineItem) -> MonthlyActivity | None:
    """A due item from the sweep (services.sweeps) as the activity it marks, or None."""
    if not isinstance(item, ActivityRecord):
        return None
    return MonthlyActivity(item.tenant_id, item.counterparty_id, item.month)


def take(activity: MonthlyActivity, now: datetime) -> bool:
    """Off the index once: a second run (or two at once) finds it gone and writes nothing."""
    record = ActivityRecord(
        pk=_activity_pk(activity.tenant_id, activity.counterparty_id, activity.month), sk=ACTIVITY_SK
    )
    try:
        with storage_errors("statement already written"):
            record.update(
                actions=[
                    ActivityRecord.due_pk.remove(),
                    ActivityRecord.due_sk.remove(),
                    ActivityRecord.updated_at.set(now),
                ],
                condition=ActivityRecord.due_pk.exists(),
            )
    except ConflictError:
        return False
    return True
