"""Scheduled subscription changes in DynamoDB (docs/data-model.md, "Subscriptions").

Keys: a scheduled change lives in its subscription's item collection, `T#<t>#SUB#<sub>` /
`SSC#<effective date>#<ssc>`, so "the pending change of a subscription" is one Query on the
partition with `begins_with(sk, "SSC#")`. Until it is applied it is on the `due` index at the
tenant's start of its effective day (job SUBSCRIPTION_CHANGE_JOB, swept by
services/billing/scheduled_changes.py). A subscription holds at most one pending: a new one is
written in the same transaction as the delete of the one before (the API may delete).

The sweep (the `subscription_billing` function, which deletes nothing: only the API may) does not
delete the change it is done with: it completes it, one versioned update that sets `status`
(`applied`, or `dropped` when it no longer fitted) and `applied_at` and takes it off the `due` index,
in the transaction that applies it. So `pending` filters: its Query reads the subscription's
completed changes too (a few per subscription and year) and returns only a pending one. A record
without `status` (written before the field existed) is pending.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.transactions import TransactWrite

from cashline.dal.due import due_keys
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.billing.subscription_changes import ChangeKind, RequestedItem, ScheduledChange
from cashline.domain.billing.subscriptions import ProrationBehavior

SUBSCRIPTION_CHANGE_JOB = "subscription_change"
SCHEDULED_CHANGE_SK_PREFIX = "SSC#"
PENDING = "pending"
Completion = Literal["applied", "dropped"]


def scheduled_change_pk(tenant_id: str, subscription_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#SUB#{subscription_id}"


def _sk(change: ScheduledChange) -> str:
    return f"{SCHEDULED_CHANGE_SK_PREFIX}{change.effective_date.isoformat()}#{change.change_id}"


class ScheduledChangeRecord(CashlineItem, discriminator="subscription_scheduled_change"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    subscription_id = UnicodeAttribute()
    change_id = UnicodeAttribute()
    change_kind = UnicodeAttribute()
    effective_date = UnicodeAttribute()
    items = JSONAttribute(null=True)
    proration = UnicodeAttribute(null=True)
    prorate = BooleanAttribute()
    status = UnicodeAttribute(null=True)  # pending, applied, dropped; absent: pending
    applied_at = UTCDateTimeAttribute(null=True)


def _items_of(value: Any) -> tuple[RequestedItem, ...]:
    return tuple(
        RequestedItem(
            item_id=entry.get("id"),
            price_id=entry.get("price_id"),
            quantity=None if entry.get("quantity") is None else int(entry["quantity"]),
            deleted=bool(entry.get("deleted", False)),
        )
        for entry in value or ()
    )


def from_record(record: ScheduledChangeRecord) -> ScheduledChange:
    return ScheduledChange(
        tenant_id=record.tenant_id,
        subscription_id=record.subscription_id,
        change_id=record.change_id,
        kind=ChangeKind(record.change_kind),
        effective_date=date.fromisoformat(record.effective_date),
        items=_items_of(record.items),
        proration=None if record.proration is None else ProrationBehavior(record.proration),
        prorate=bool(record.prorate),
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 0),
    )


def _record(change: ScheduledChange, *, due_at: datetime) -> ScheduledChangeRecord:
    due_pk, due_sk = due_keys(SUBSCRIPTION_CHANGE_JOB, due_at, change.tenant_id, change.change_id)
    return ScheduledChangeRecord(
        pk=scheduled_change_pk(change.tenant_id, change.subscription_id),
        sk=_sk(change),
        tenant_id=change.tenant_id,
        subscription_id=change.subscription_id,
        change_id=change.change_id,
        change_kind=change.kind.value,
        effective_date=change.effective_date.isoformat(),
        items=[
            {"id": i.item_id, "price_id": i.price_id, "quantity": i.quantity, "deleted": i.deleted}
            for i in change.items
        ],
        proration=None if change.proration is None else change.proration.value,
        prorate=change.prorate,
        status=PENDING,
        created_at=change.created_at,
        updated_at=change.updated_at,
        due_pk=due_pk,
        due_sk=due_sk,
    )


def _keyed(change: ScheduledChange) -> ScheduledChangeRecord:
    """A record carrying only the keys and the version read: what a conditional delete needs."""
    record = ScheduledChangeRecord(
        pk=scheduled_change_pk(change.tenant_id, change.subscription_id), sk=_sk(change)
    )
    record.version = change.version
    return record


class ScheduledChangeRepository:
    def stage_put(self, write: TransactWrite, change: ScheduledChange, *, due_at: datetime) -> None:
        """Add a new scheduled change (only if absent), due at `due_at` (UTC)."""
        write.save(_record(change, due_at=due_at), condition=ScheduledChangeRecord.pk.does_not_exist())

    def stage_delete(self, write: TransactWrite, change: ScheduledChange) -> None:
        """Remove a scheduled change if it is still the version read (a sweep that applied or a
        request that replaced it meanwhile makes the whole transaction fail)."""
        write.delete(_keyed(change), condition=ScheduledChangeRecord.version == change.version)

    def stage_complete(
        self, write: TransactWrite, change: ScheduledChange, *, outcome: Completion, now: datetime
    ) -> None:
        """The sweep is done with `change`: mark it `outcome` and take it off the `due` index, if it
        is still the version read (a request that replaced it meanwhile fails the transaction)."""
        r = ScheduledChangeRecord
        write.update(
            _keyed(change),
            actions=[
                r.status.set(outcome),
                r.applied_at.set(now),
                r.updated_at.set(now),
                r.due_pk.remove(),
                r.due_sk.remove(),
            ],
            condition=r.version == change.version,
        )

    def pending(self, tenant_id: str, subscription_id: str) -> ScheduledChange | None:
        """The subscription's pending scheduled change: one Query (strongly consistent), completed
        ones filtered out."""
        r = ScheduledChangeRecord
        results = r.query(
            scheduled_change_pk(tenant_id, subscription_id),
            r.sk.startswith(SCHEDULED_CHANGE_SK_PREFIX),
            filter_condition=r.status.does_not_exist() | (r.status == PENDING),
            consistent_read=True,
        )
        found = [from_record(r) for r in results if isinstance(r, ScheduledChangeRecord)]
        return found[0] if found else None
