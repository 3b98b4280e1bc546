"""Subscriptions in DynamoDB (docs/data-model.md, "Subscriptions").

Keys: a subscription is `T#<t>#SUB#<sub>` / `SUB`; gsi1 `T#<t>#SUB#<status>` / `<sub>` (list by
status), gsi2 `T#<t>#CP#<cp>#SUB` / `<sub>` (a counterparty's), gsi3 `T#<t>#SUB` / `<sub>` (all of a
tenant's); while an invoice is to be issued it is on the `due` index at the tenant's start of
`next_invoice_on` (job SUBSCRIPTION_INVOICE_JOB, swept by services/billing/issuing.py). Each item has a
lookup `T#<t>#SI#<si>` / `SI` naming its subscription (usage reports name only the item).
The record layout and its mapping to the domain live in dal/billing_subscription_codec.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from typing import Any, Final

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from cashline.dal import billing_subscription_codec as codec
from cashline.dal.billing_overview import stage_mrr_delta
from cashline.dal.billing_subscription_codec import (
    ITEM_LOOKUP_SK,
    MUTABLE_ATTRIBUTES,
    SUBSCRIPTION_SK,
    SubscriptionItemLookupRecord,
    SubscriptionRecord,
    item_lookup_pk,
    subscription_pk,
    to_record,
)
from cashline.dal.due import due_keys, query_due
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus
from cashline.errors import NotFoundError

SUBSCRIPTION_INVOICE_JOB = "subscription_invoice"


class Unset(Enum):
    """The type of UNCHANGED: "leave it as it is", where None means "remove it"."""

    UNCHANGED = "unchanged"


UNCHANGED: Final = Unset.UNCHANGED


def from_record(item: Any) -> Subscription:
    """The domain subscription of a stored record (e.g. an item a `due` sweep read)."""
    if not isinstance(item, SubscriptionRecord):
        raise TypeError(f"not a subscription record: {type(item).__name__}")
    return codec.from_record(item)


def due_subscriptions(*, now: datetime) -> Iterator[Subscription]:
    """Subscriptions whose next invoice is due at `now`: the sparse `due` index, one Query per shard."""
    for item in query_due(SUBSCRIPTION_INVOICE_JOB, now=now):
        if isinstance(item, SubscriptionRecord):
            yield codec.from_record(item)


def _item_lookup(sub: Subscription, item_id: str) -> SubscriptionItemLookupRecord:
    return SubscriptionItemLookupRecord(
        pk=item_lookup_pk(sub.tenant_id, item_id),
        sk=ITEM_LOOKUP_SK,
        subscription_id=sub.subscription_id,
        created_at=sub.updated_at,
        updated_at=sub.updated_at,
    )


def _due_actions(sub: Subscription, due_at: datetime | Unset | None) -> list[Action]:
    r = SubscriptionRecord
    if due_at is UNCHANGED:
        return []
    if due_at is None:
        return [r.due_pk.remove(), r.due_sk.remove()]
    due_pk, due_sk = due_keys(SUBSCRIPTION_INVOICE_JOB, due_at, sub.tenant_id, sub.subscription_id)
    return [r.due_pk.set(due_pk), r.due_sk.set(due_sk)]


class SubscriptionRepository:
    def stage_create(self, write: Any, sub: Subscription, *, due_at: datetime | None) -> None:
        """Add a new subscription (only if absent) and its item lookups to a transaction, on the
        `due` index at `due_at` (the tenant's start of `next_invoice_on`; None: not due)."""
        record = to_record(sub)
        if due_at is not None:
            record.due_pk, record.due_sk = due_keys(
                SUBSCRIPTION_INVOICE_JOB, due_at, sub.tenant_id, sub.subscription_id
            )
        write.save(record, condition=SubscriptionRecord.pk.does_not_exist())
        for item in sub.items:
            write.save(
                _item_lookup(sub, item.item_id), condition=SubscriptionItemLookupRecord.pk.does_not_exist()
            )
        # The overview's status counts and MRR move in the same transaction (dal/billing_overview.py).
        stage_mrr_delta(write, None, sub)

    def stage_update(
        self,
        write: Any,
        before: Subscription,
        after: Subscription,
        *,
        due_at: datetime | Unset | None = UNCHANGED,
    ) -> None:
        """Save `after` if the subscription is still at `before.version` (the write counts it up).

        Rewrites the status index key with the status; items new in `after` get their lookups (an
        item removed keeps its lookup: a late usage report finds the subscription, not the item).
        `due_at`: UNCHANGED keeps the due entry as it is, None removes it, an instant sets it.
        """
        record = to_record(after)
        record.version = before.version
        actions: list[Action] = []
        for name in MUTABLE_ATTRIBUTES:
            attribute = getattr(SubscriptionRecord, name)
            value = getattr(record, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        actions += _due_actions(after, due_at)
        write.update(record, actions=actions)
        known = {item.item_id for item in before.items}
        for item in after.items:
            if item.item_id not in known:
                lookup = _item_lookup(after, item.item_id)
                write.save(lookup, condition=SubscriptionItemLookupRecord.pk.does_not_exist())
        stage_mrr_delta(write, before, after)

    def get(self, tenant_id: str, subscription_id: str) -> Subscription:
        """One GetItem (strongly consistent); NotFoundError naming `subscription_id`."""
        try:
            record = SubscriptionRecord.get(
                subscription_pk(tenant_id, subscription_id), SUBSCRIPTION_SK, consistent_read=True
            )
        except DoesNotExist as exc:
            raise NotFoundError("subscription not found", field="subscription_id") from exc
        return codec.from_record(record)

    def subscription_of_item(self, tenant_id: str, item_id: str) -> Subscription:
        """The subscription holding an item (two GetItems); NotFoundError naming `item_id`."""
        try:
            lookup = SubscriptionItemLookupRecord.get(item_lookup_pk(tenant_id, item_id), ITEM_LOOKUP_SK)
        except DoesNotExist as exc:
            raise NotFoundError("subscription item not found", field="item_id") from exc
        return self.get(tenant_id, lookup.subscription_id)

    def list(
        self,
        tenant_id: str,
        *,
        status: SubscriptionStatus | None,
        counterparty_id: str | None,
        limit: int,
        starting_after: str | None,
    ) -> Page[Subscription]:
        """A page of subscriptions, oldest first (ids are time-ordered): one Query on gsi2 (a
        counterparty's; a status then filters it, so a page may hold fewer than `limit`), gsi1 (one
        status) or gsi3 (all)."""
        r = SubscriptionRecord
        index: Any
        condition = None
        if counterparty_id is not None:
            index, attr = r.gsi2, "gsi2pk"
            partition = codec.counterparty_partition(tenant_id, counterparty_id)
            condition = None if status is None else r.status == status.value
        elif status is not None:
            index, attr, partition = r.gsi1, "gsi1pk", codec.status_partition(tenant_id, status)
        else:
            index, attr, partition = r.gsi3, "gsi3pk", codec.tenant_partition(tenant_id)
        start = decode_cursor(starting_after, partition_attr=attr, partition_value=partition)
        results = index.query(
            partition, filter_condition=condition, limit=limit, page_size=limit, last_evaluated_key=start
        )
        items = [codec.from_record(i) for i in results if isinstance(i, SubscriptionRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))
