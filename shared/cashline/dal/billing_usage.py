"""Metered usage in DynamoDB (docs/data-model.md, "Subscriptions").

Keys:
- a period's total: `T#<t>#SI#<si>` / `USAGE#<period start>` (next to the item's `SI` lookup):
  `quantity` (ADD for an increment, SET for a set) and `last_at`, the instant of the report that set it;
- one claim per idempotency key: `T#<t>#UNIQ#USAGE#<si>#<key>` / `UNIQ`, naming the usage id, the
  request's fingerprint and what was recorded, so a repeat answers the first result.

A report is the claim's conditional put and the total's change in one transaction: both or neither,
so a retried request never counts twice. The same transaction checks that the subscription has not
moved past the report's period (`current_period_start <= period start`), is not canceled and still
holds the item, so a report read against a subscription just before its next invoice was issued, its
cancellation or the item's deletion (each bills the usage so far) cannot slip into a billed total. The issuing
engine closes the other side: `stage_totals_unchanged` conditions its invoice on the totals it billed.
Totals are read with one BatchGetItem per 100 items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from cashline.dal.billing_subscription_codec import SUBSCRIPTION_SK, SubscriptionRecord, subscription_pk
from cashline.dal.errors import storage_errors
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.dal.transactions import transaction
from cashline.domain.billing.subscriptions import SubscriptionStatus
from cashline.domain.billing.usage import UsageAction, UsageRecord

UNIQUE_SK = "UNIQ"
USAGE_SK_PREFIX = "USAGE#"
_BATCH = 100  # BatchGetItem's limit


def usage_total_pk(tenant_id: str, item_id: str) -> str:
    """The subscription item's partition (its `SI` lookup is C's; the `USAGE#` totals are here)."""
    return f"{tenant_pk(tenant_id)}#SI#{item_id}"


def usage_claim_pk(tenant_id: str, item_id: str, idempotency_key: str) -> str:
    return f"{tenant_pk(tenant_id)}#UNIQ#USAGE#{item_id}#{idempotency_key}"


def _total_sk(period_start: date) -> str:
    return f"{USAGE_SK_PREFIX}{period_start.isoformat()}"


class UsageTotalRecord(CashlineItem, discriminator="usage_total"):
    """Commutative (ADD) or last-writer-by-instant (conditional SET): no version needed."""

    tenant_id = UnicodeAttribute(null=True)
    item_id = UnicodeAttribute(null=True)
    period_start = UnicodeAttribute(null=True)
    quantity = NumberAttribute(null=True)
    last_at = UTCDateTimeAttribute(null=True)


class UsageClaimRecord(CashlineItem, discriminator="usage_claim"):
    """Immutable: the first report under an idempotency key."""

    tenant_id = UnicodeAttribute()
    usage_id = UnicodeAttribute()
    subscription_id = UnicodeAttribute()
    item_id = UnicodeAttribute()
    quantity = NumberAttribute()
    action = UnicodeAttribute()
    timestamp = UTCDateTimeAttribute()
    period_start = UnicodeAttribute()
    idempotency_key = UnicodeAttribute()
    request_hash = UnicodeAttribute()


def _claim_record(usage: UsageRecord) -> UsageClaimRecord:
    return UsageClaimRecord(
        pk=usage_claim_pk(usage.tenant_id, usage.item_id, usage.idempotency_key),
        sk=UNIQUE_SK,
        tenant_id=usage.tenant_id,
        usage_id=usage.usage_id,
        subscription_id=usage.subscription_id,
        item_id=usage.item_id,
        quantity=usage.quantity,
        action=usage.action.value,
        timestamp=usage.timestamp,
        period_start=usage.period_start.isoformat(),
        idempotency_key=usage.idempotency_key,
        request_hash=usage.request_hash,
        created_at=usage.created_at,
        updated_at=usage.created_at,
    )


def _from_claim(record: UsageClaimRecord) -> UsageRecord:
    return UsageRecord(
        tenant_id=record.tenant_id,
        usage_id=record.usage_id,
        subscription_id=record.subscription_id,
        item_id=record.item_id,
        quantity=int(record.quantity),
        action=UsageAction(record.action),
        timestamp=record.timestamp,
        period_start=date.fromisoformat(record.period_start),
        idempotency_key=record.idempotency_key,
        request_hash=record.request_hash,
        created_at=record.created_at,
    )


def _total_actions(usage: UsageRecord) -> list[Action]:
    r = UsageTotalRecord
    actions: list[Action] = [
        # The first report creates the item; its kind, keys and creation stay as first written.
        r.kind.set(r.kind | UsageTotalRecord),
        r.tenant_id.set(usage.tenant_id),
        r.item_id.set(usage.item_id),
        r.period_start.set(usage.period_start.isoformat()),
        r.created_at.set(r.created_at | usage.created_at),
        r.updated_at.set(usage.created_at),
    ]
    if usage.action is UsageAction.INCREMENT:
        actions.append(r.quantity.add(usage.quantity))
    else:
        actions += [r.quantity.set(usage.quantity), r.last_at.set(usage.timestamp)]
    return actions


class UsageRepository:
    def record(self, usage: UsageRecord, *, change_total: bool, max_total: int) -> None:
        """Claim the report's idempotency key and, with `change_total`, change the period's total,
        in one transaction. A `set` changes the total only if no later report set it (condition on
        `last_at`; the caller checks its quantity against `max_total`); an increment only if the
        total stays within `max_total` (condition `quantity <= max_total - increment`, so concurrent
        increments cannot pass it together). ConflictError when the key is already claimed, the set
        is older than the one stored, the total would pass `max_total`, or a concurrent transaction
        touched the same items (the caller tells them apart)."""
        claim = _claim_record(usage)
        r = UsageTotalRecord
        total = UsageTotalRecord(
            pk=usage_total_pk(usage.tenant_id, usage.item_id), sk=_total_sk(usage.period_start)
        )
        with storage_errors("usage key claimed or total changed meanwhile"), transaction() as write:
            write.save(claim, condition=UsageClaimRecord.pk.does_not_exist())
            if not change_total:
                return
            write.condition_check(
                SubscriptionRecord,
                subscription_pk(usage.tenant_id, usage.subscription_id),
                SUBSCRIPTION_SK,
                condition=(SubscriptionRecord.current_period_start <= usage.period_start.isoformat())
                # Neither canceled nor the item deleted since the report was read: their final
                # lines billed the usage then (the item's id is a quoted value in the items' JSON).
                & (SubscriptionRecord.status != SubscriptionStatus.CANCELED.value)
                & SubscriptionRecord.items.contains(usage.item_id),
            )
            if usage.action is UsageAction.SET:
                condition = r.last_at.does_not_exist() | (r.last_at < usage.timestamp)
            else:
                condition = r.quantity.does_not_exist() | (r.quantity <= max_total - usage.quantity)
            write.update(total, actions=_total_actions(usage), condition=condition)

    def stage_totals_unchanged(
        self, write: TransactWrite, tenant_id: str, totals: dict[str, int], period_start: date
    ) -> None:
        """For the issuing engine: condition its transaction on the period totals it billed (item id
        -> quantity, as `totals` returned them), so a report committed between its read and its write
        makes the invoice a conflict (read again) instead of a report billed never."""
        r = UsageTotalRecord
        for item_id, quantity in totals.items():
            unchanged = r.quantity == quantity
            if quantity == 0:
                unchanged = r.quantity.does_not_exist() | unchanged
            write.condition_check(
                UsageTotalRecord,
                usage_total_pk(tenant_id, item_id),
                _total_sk(period_start),
                condition=unchanged,
            )

    def claim(self, tenant_id: str, item_id: str, idempotency_key: str) -> UsageRecord | None:
        """The report first made under this key, or None (one strongly consistent GetItem)."""
        try:
            record = UsageClaimRecord.get(
                usage_claim_pk(tenant_id, item_id, idempotency_key), UNIQUE_SK, consistent_read=True
            )
        except DoesNotExist:
            return None
        return _from_claim(record)

    def totals(self, tenant_id: str, item_ids: Sequence[str], period_start: date) -> dict[str, int]:
        """item id -> the period's total (0 when nothing was reported): BatchGetItem, consistent."""
        found = dict.fromkeys(item_ids, 0)
        keys = [(usage_total_pk(tenant_id, item_id), _total_sk(period_start)) for item_id in found]
        for start in range(0, len(keys), _BATCH):
            for record in UsageTotalRecord.batch_get(keys[start : start + _BATCH], consistent_read=True):
                if isinstance(record, UsageTotalRecord) and record.item_id in found:
                    found[record.item_id] = int(record.quantity or 0)
        return found

    def last_at(self, tenant_id: str, item_id: str, period_start: date) -> datetime | None:
        """When the period's value was last set (None when never set)."""
        try:
            record = UsageTotalRecord.get(
                usage_total_pk(tenant_id, item_id), _total_sk(period_start), consistent_read=True
            )
        except DoesNotExist:
            return None
        return record.last_at
