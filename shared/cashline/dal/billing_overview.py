"""The subscriptions overview's pre-aggregates and reads (docs/data-model.md, "Subscriptions overview").

Per tenant, one item collection `T#<t>#SUBSTATS`, kept with ADD in the same transaction as every
subscription write (`SubscriptionRepository.stage_create`/`stage_update` call `stage_mrr_delta`):

* `STATUS#<status>#<shard>`: `subscriptions`, how many of the tenant's subscriptions are in that
  status;
* `MRR#<currency>#<price>#<shard>`: `amount_per_interval` (the sum over active and past-due
  subscriptions of what the price charges them per interval), `subscriptions`, `quantity`, and the
  price's interval, interval count and product name (domain/billing/mrr.py: what counts, the rule).

Each counter is split over SHARDS items, a subscription always counting in the same one (a hash of
its id): two transactions changing two subscriptions of one tenant at the same moment then rarely
touch the same item (DynamoDB cancels transactions that overlap on an item: a TransactionConflict,
a ConflictError here). The reader adds the shards up. So the overview is one Query of that partition
(at most SHARDS x (6 statuses + the plans) small items), whatever the number of subscriptions. The upcoming
invoices are a Query of gsi4 `T#<t>#SUBNEXT` / `<next_invoice_on>#<sub>`, which the subscription
record carries while an invoice is to come (dal/billing_subscription_codec.py `upcoming_keys`).

A write that moves nothing (an invoice issued in the same status, at the same quantities: the common
case of the issuing sweep) adds no item to the transaction. One transaction may carry the delta of
one subscription only (DynamoDB refuses two operations on one item in a transaction; every
subscription write in Cashline changes one subscription).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.expressions.update import Action

from cashline.dal.billing_subscription_codec import SubscriptionRecord, from_record, upcoming_partition
from cashline.dal.party_records import PROFILE_SK, CounterpartyRecord, counterparty_pk
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.billing.mrr import PlanContribution, PlanKey, contribution_deltas
from cashline.domain.billing.periods import Interval
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus

STATUS_SK_PREFIX = "STATUS#"
MRR_SK_PREFIX = "MRR#"
SHARDS = 8
# BatchGetItem reads at most 100 keys a call.
_BATCH = 100


def overview_pk(tenant_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#SUBSTATS"


class SubscriptionStatusCountRecord(CashlineItem, discriminator="subscription_status_count"):
    """ADD-only: how many subscriptions are in `status` (no version: a commutative counter)."""

    status = UnicodeAttribute()
    subscriptions = NumberAttribute(default=0)


class PlanMrrRecord(CashlineItem, discriminator="subscription_plan_mrr"):
    """ADD-only running sums of one price's active and past-due subscriptions."""

    currency = UnicodeAttribute()
    price_id = UnicodeAttribute()
    product_name = UnicodeAttribute()
    interval = UnicodeAttribute()
    interval_count = NumberAttribute()
    amount_per_interval = NumberAttribute(default=0)
    subscriptions = NumberAttribute(default=0)
    quantity = NumberAttribute(default=0)


@dataclass(frozen=True, slots=True)
class PlanTotals:
    """One plan's running sums as stored (the monthly figure is computed by the reader)."""

    currency: str
    price_id: str
    product_name: str
    interval: Interval
    interval_count: int
    amount_per_interval: int
    subscriptions: int
    quantity: int


@dataclass(frozen=True, slots=True)
class OverviewTotals:
    counts: dict[SubscriptionStatus, int]
    plans: list[PlanTotals]


def _status_deltas(before: Subscription | None, after: Subscription | None) -> Counter[SubscriptionStatus]:
    moves: Counter[SubscriptionStatus] = Counter()
    if before is not None:
        moves[before.status] -= 1
    if after is not None:
        moves[after.status] += 1
    return Counter({status: n for status, n in moves.items() if n})


def shard_of(subscription_id: str) -> int:
    """The counter shard a subscription counts in: stable, so its before and after meet."""
    return zlib.crc32(subscription_id.encode()) % SHARDS


def _stage_status(
    write: Any, tenant_id: str, status: SubscriptionStatus, delta: int, shard: int, now: datetime
) -> None:
    r = SubscriptionStatusCountRecord
    record = r(pk=overview_pk(tenant_id), sk=f"{STATUS_SK_PREFIX}{status.value}#{shard}")
    actions: list[Action] = [
        r.kind.set(r.kind | SubscriptionStatusCountRecord),
        r.status.set(status.value),
        r.created_at.set(r.created_at | now),
        r.updated_at.set(now),
        r.subscriptions.add(delta),
    ]
    write.update(record, actions=actions)


def _stage_plan(
    write: Any, tenant_id: str, key: PlanKey, delta: PlanContribution, shard: int, now: datetime
) -> None:
    r = PlanMrrRecord
    record = r(pk=overview_pk(tenant_id), sk=f"{MRR_SK_PREFIX}{key.currency}#{key.price_id}#{shard}")
    actions: list[Action] = [
        r.kind.set(r.kind | PlanMrrRecord),
        r.currency.set(key.currency),
        r.price_id.set(key.price_id),
        # A price's terms never change once used, so these are the same on every write.
        r.product_name.set(delta.product_name),
        r.interval.set(delta.interval.value),
        r.interval_count.set(delta.interval_count),
        r.created_at.set(r.created_at | now),
        r.updated_at.set(now),
        r.amount_per_interval.add(delta.amount_per_interval),
        r.subscriptions.add(delta.subscriptions),
        r.quantity.add(delta.quantity),
    ]
    write.update(record, actions=actions)


def stage_mrr_delta(write: Any, before: Subscription | None, after: Subscription) -> None:
    """Add to a transaction what moving one subscription from `before` (None: it is new) to `after`
    changes in its tenant's status counts and per-plan MRR sums; nothing when nothing moves."""
    tenant_id, now, shard = after.tenant_id, after.updated_at, shard_of(after.subscription_id)
    for status, delta in _status_deltas(before, after).items():
        _stage_status(write, tenant_id, status, delta, shard, now)
    for key, contribution in contribution_deltas(before, after).items():
        _stage_plan(write, tenant_id, key, contribution, shard, now)


def overview_totals(tenant_id: str) -> OverviewTotals:
    """The tenant's status counts and plan sums, the shards added up: one Query of `T#<t>#SUBSTATS`."""
    counts: Counter[SubscriptionStatus] = Counter()
    plans: dict[tuple[str, str], PlanTotals] = {}
    # Queried through the base record: a subclass query would filter out the other kind.
    for item in CashlineItem.query(overview_pk(tenant_id)):
        if isinstance(item, SubscriptionStatusCountRecord):
            counts[SubscriptionStatus(item.status)] += int(item.subscriptions)
        elif isinstance(item, PlanMrrRecord):
            key = (item.currency, item.price_id)
            seen = plans.get(key)
            plans[key] = PlanTotals(
                currency=item.currency,
                price_id=item.price_id,
                product_name=item.product_name,
                interval=Interval(item.interval),
                interval_count=int(item.interval_count),
                amount_per_interval=int(item.amount_per_interval) + (seen.amount_per_interval if seen else 0),
                subscriptions=int(item.subscriptions) + (seen.subscriptions if seen else 0),
                quantity=int(item.quantity) + (seen.quantity if seen else 0),
            )
    return OverviewTotals(counts=dict(counts), plans=list(plans.values()))


def upcoming_subscriptions(tenant_id: str, *, last: date, limit: int) -> list[Subscription]:
    """Subscriptions whose next invoice falls on or before `last` (also one whose day has come but
    that the sweep has not issued yet), soonest first, at most `limit`: one Query of gsi4."""
    r = SubscriptionRecord
    results = r.gsi4.query(
        upcoming_partition(tenant_id),
        r.gsi4sk <= f"{last.isoformat()}#~",
        limit=limit,
        page_size=limit,
    )
    return [from_record(item) for item in results if isinstance(item, SubscriptionRecord)]


def counterparty_names(tenant_id: str, counterparty_ids: Iterable[str]) -> dict[str, str]:
    """Counterparty id -> name for the ids given (BatchGetItem, 100 keys a call); unknown ids left out."""
    ids = sorted(set(counterparty_ids))
    names: dict[str, str] = {}
    for start in range(0, len(ids), _BATCH):
        keys = [(counterparty_pk(tenant_id, cp), PROFILE_SK) for cp in ids[start : start + _BATCH]]
        for record in CounterpartyRecord.batch_get(keys):
            if isinstance(record, CounterpartyRecord):
                names[record.counterparty_id] = record.name
    return names
