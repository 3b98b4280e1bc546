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
    segment = UnicodeAttribute(null=True)  # set on a segment's own items (`T#<tenant>#DAY#<dir>#SEG#<s>`)
    invoices_amount = NumberAttribute(default=0)  # what is still owed of the invoices due that day
    invoices_count = NumberAttribute(default=0)
    invoices_billed = NumberAttribute(default=0)  # what those invoices billed: the collection rate's base
    installments_amount = NumberAttribute(default=0)
    installments_count = NumberAttribute(default=0)


@dataclass(frozen=True, slots=True)
class DayDelta:
    """A change to one day's figures; kind is "invoices" or "installments".

    With a `segment`, the change also goes to that segment's own day item (the reports filter by
    segment); `segment_only` moves an invoice between segments without touching the tenant's item."""

    tenant_id: str
    direction: str
    day: date
    currency: str
    kind: str
    amount: int
    count: int
    billed: int = 0
    segment: str | None = None
    segment_only: bool = False


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: date
    currency: str
    invoices_amount: int
    invoices_count: int
    installments_amount: int
    installments_count: int
    invoices_billed: int = 0


def day_pk(tenant_id: str, direction: str, segment: str | None = None) -> str:
    base = f"T#{tenant_id}#DAY#{direction}"
    return f"{base}#SEG#{segment}" if segment else base


ItemKey = tuple[str, str, date, str, str | None]  # tenant, direction, day, currency, segment


def _targets(d: DayDelta) -> list[str | None]:
    targets: list[str | None] = [] if d.segment_only else [None]
    if d.segment:
        targets.append(d.segment)
    return targets


def combine(deltas: list[DayDelta]) -> dict[ItemKey, dict[str, int]]:
    """Deltas on the same item merged (a transaction may touch an item only once); zeros dropped."""
    merged: dict[ItemKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in deltas:
        for segment in _targets(d):
            entry = merged[(d.tenant_id, d.direction, d.day, d.currency, segment)]
            entry[f"{d.kind}_amount"] += d.amount
            entry[f"{d.kind}_count"] += d.count
            if d.kind == "invoices":
                entry["invoices_billed"] += d.billed
    return {key: dict(v) for key, v in merged.items() if any(v.values())}


def update_for(deltas: list[DayDelta], now: datetime) -> list[tuple[DailyDueRecord, list[Action]]]:
    """Upserting ADDs, one per day item (several kinds on one day share the item's update)."""
    updates = []
    r = DailyDueRecord
    for (tenant_id, direction, day, currency, segment), figures in combine(deltas).items():
        record = DailyDueRecord(pk=day_pk(tenant_id, direction, segment), sk=f"{day.isoformat()}#{currency}")
        actions: list[Action] = [
            r.kind.set(r.kind | DailyDueRecord),
            r.day.set(day.isoformat()),
            r.currency.set(currency),
            r.direction.set(direction),
            r.created_at.set(r.created_at | now),
            r.updated_at.set(now),
        ]
        if segment:
            actions.append(r.segment.set(segment))
        actions += [getattr(r, name).add(value) for name, value in figures.items() if value]
        updates.append((record, actions))
    return updates


def apply_in(write: Any, deltas: list[DayDelta], now: datetime) -> None:
    for record, actions in update_for(deltas, now):
        write.update(record, actions=actions)


def days_between(
    tenant_id: str, direction: str, first: date, last: date, *, segment: str | None = None
) -> list[DayTotal]:
    """Every day-and-currency figure from `first` to `last` inclusive (of one segment, when given):
    one Query (paged)."""
    results = DailyDueRecord.query(
        day_pk(tenant_id, direction, segment),
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
            invoices_billed=int(item.invoices_billed or 0),
        )
        for item in results
        if isinstance(item, DailyDueRecord)
    ]
