"""What falls due each day, per tenant, direction and currency: the pre-aggregate behind the
upcoming report. Kept with ADD in the same transaction as the invoice or installment change, so the
report reads one item per day and currency, never the invoices themselves.

Keys: pk `T#<tenant>#DAY#<direction>`, sk `<YYYY-MM-DD>#<currency>`. A range of days is one Query.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.expressions.update import Action

from cashline.dal.table import CashlineItem


class DailyDueRecord(CashlineItem, discriminator="daily_due"):
    day = UnicodeAttribute()
    currency = UnicodeAttribute()
    direction = UnicodeAttribute()
    invoices_amount = NumberAttribute(default=0)
    invoices_count = NumberAttribute(default=0)
    installments_amount = NumberAttribute(default=0)
    installments_count = NumberAttribute(default=0)


@dataclass(frozen=True, slots=True)
class DayDelta:
    """A change to one day's figures; kind is "invoices" or "installments"."""

    tenant_id: str
    direction: str
    day: date
    currency: str
    kind: str
    amount: int
    count: int


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: date
    currency: str
    invoices_amount: int
    invoices_count: int
    installments_amount: int
    installments_count: int


def day_pk(tenant_id: str, direction: str) -> str:
    return f"T#{tenant_id}#DAY#{direction}"


def combine(deltas: list[DayDelta]) -> list[DayDelta]:
    """Deltas on the same item merged (a transaction may touch an item only once); zeros dropped."""
    merged: dict[tuple[str, str, date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for d in deltas:
        entry = merged[(d.tenant_id, d.direction, d.day, d.currency, d.kind)]
        entry[0] += d.amount
        entry[1] += d.count
    return [DayDelta(t, dr, day, c, k, a, n) for (t, dr, day, c, k), (a, n) in merged.items() if a or n]


def update_for(deltas: list[DayDelta], now: datetime) -> list[tuple[DailyDueRecord, list[Action]]]:
    """Upserting ADDs, one per day item (several kinds on one day share the item's update)."""
    by_item: dict[tuple[str, str, date, str], list[DayDelta]] = defaultdict(list)
    for d in combine(deltas):
        by_item[(d.tenant_id, d.direction, d.day, d.currency)].append(d)
    updates = []
    r = DailyDueRecord
    for (tenant_id, direction, day, currency), items in by_item.items():
        record = DailyDueRecord(pk=day_pk(tenant_id, direction), sk=f"{day.isoformat()}#{currency}")
        actions: list[Action] = [
            r.kind.set(r.kind | DailyDueRecord),
            r.day.set(day.isoformat()),
            r.currency.set(currency),
            r.direction.set(direction),
            r.created_at.set(r.created_at | now),
            r.updated_at.set(now),
        ]
        for d in items:
            actions.append(getattr(r, f"{d.kind}_amount").add(d.amount))
            actions.append(getattr(r, f"{d.kind}_count").add(d.count))
        updates.append((record, actions))
    return updates


def apply_in(write: Any, deltas: list[DayDelta], now: datetime) -> None:
    for record, actions in update_for(deltas, now):
        write.update(record, actions=actions)


def days_between(tenant_id: str, direction: str, first: date, last: date) -> list[DayTotal]:
    """Every day-and-currency figure from `first` to `last` inclusive: one Query (paged)."""
    results = DailyDueRecord.query(
        day_pk(tenant_id, direction),
        DailyDueRecord.sk.between(first.isoformat(), last.isoformat() + "#~"),
    )
    return [
        DayTotal(
            day=date.fromisoformat(item.day),
            currency=item.currency,
            invoices_amount=int(item.invoices_amount),
            invoices_count=int(item.invoices_count),
            installments_amount=int(item.installments_amount),
            installments_count=int(item.installments_count),
        )
        for item in results
        if isinstance(item, DailyDueRecord)
    ]
