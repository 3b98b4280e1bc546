"""Monthly pre-aggregates the reports read, kept with ADD in the same transactions as the changes:
what was invoiced per issue month (DSO's credit sales) and what was received per value month and
payment method.

Keys: `T#<tenant>#ISS#<direction>` / `<yyyy-mm>#<currency>#<segment or *>`;
`T#<tenant>#PAYM#<direction>` / `<yyyy-mm>#<currency>#<method>`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.expressions.update import Action

from cashline.dal.table import CashlineItem

ALL_SEGMENTS = "*"


class IssuedMonthRecord(CashlineItem, discriminator="issued_month"):
    month = UnicodeAttribute()
    currency = UnicodeAttribute()
    segment = UnicodeAttribute()
    billed = NumberAttribute(default=0)
    invoices = NumberAttribute(default=0)


class PaymentMonthRecord(CashlineItem, discriminator="payment_month"):
    month = UnicodeAttribute()
    currency = UnicodeAttribute()
    method = UnicodeAttribute()
    amount = NumberAttribute(default=0)
    tally = NumberAttribute(default=0)


def issued_pk(tenant_id: str, direction: str) -> str:
    return f"T#{tenant_id}#ISS#{direction}"


def payments_pk(tenant_id: str, direction: str) -> str:
    return f"T#{tenant_id}#PAYM#{direction}"


IssuedKey = tuple[str, str, str, str, str]  # tenant, direction, month, currency, segment


def issued_deltas(
    tenant_id: str,
    direction: str,
    issue_date: date,
    currency: str,
    segment: str | None,
    billed: int,
    count: int,
) -> dict[IssuedKey, tuple[int, int]]:
    month = issue_date.strftime("%Y-%m")
    deltas = {(tenant_id, direction, month, currency, ALL_SEGMENTS): (billed, count)}
    if segment:
        deltas[(tenant_id, direction, month, currency, segment)] = (billed, count)
    return deltas


def merge(into: dict[Any, tuple[int, int]], more: dict[Any, tuple[int, int]]) -> None:
    for key, (a, b) in more.items():
        x, y = into.get(key, (0, 0))
        into[key] = (x + a, y + b)


def apply_issued(write: Any, deltas: dict[IssuedKey, tuple[int, int]], now: datetime) -> None:
    r = IssuedMonthRecord
    for (tenant_id, direction, month, currency, segment), (billed, count) in deltas.items():
        if not billed and not count:
            continue
        record = IssuedMonthRecord(pk=issued_pk(tenant_id, direction), sk=f"{month}#{currency}#{segment}")
        actions: list[Action] = [
            r.kind.set(r.kind | IssuedMonthRecord),
            r.month.set(month),
            r.currency.set(currency),
            r.segment.set(segment),
            r.created_at.set(r.created_at | now),
            r.updated_at.set(now),
            r.billed.add(billed),
            r.invoices.add(count),
        ]
        write.update(record, actions=actions)


PaymentKey = tuple[str, str, str, str, str]  # tenant, direction, month, currency, method


def apply_payments(write: Any, deltas: dict[PaymentKey, tuple[int, int]], now: datetime) -> None:
    r = PaymentMonthRecord
    for (tenant_id, direction, month, currency, method), (amount, count) in deltas.items():
        if not amount and not count:
            continue
        record = PaymentMonthRecord(pk=payments_pk(tenant_id, direction), sk=f"{month}#{currency}#{method}")
        actions: list[Action] = [
            r.kind.set(r.kind | PaymentMonthRecord),
            r.month.set(month),
            r.currency.set(currency),
            r.method.set(method),
            r.created_at.set(r.created_at | now),
            r.updated_at.set(now),
            r.amount.add(amount),
            r.tally.add(count),
        ]
        write.update(record, actions=actions)


def issued_between(
    tenant_id: str, direction: str, first: str, last: str, segment: str | None
) -> dict[str, int]:
    """Billed per currency for months `first`..`last` (yyyy-mm), of one segment or all: one Query."""
    wanted = segment or ALL_SEGMENTS
    totals: dict[str, int] = defaultdict(int)
    for item in IssuedMonthRecord.query(
        issued_pk(tenant_id, direction), IssuedMonthRecord.sk.between(first, last + "#~")
    ):
        if isinstance(item, IssuedMonthRecord) and item.segment == wanted:
            totals[item.currency] += int(item.billed)
    return dict(totals)


def payments_between(
    tenant_id: str, direction: str, first: str, last: str
) -> list[tuple[str, str, int, int]]:
    """(currency, method, amount, count) for months `first`..`last`: one Query."""
    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in PaymentMonthRecord.query(
        payments_pk(tenant_id, direction), PaymentMonthRecord.sk.between(first, last + "#~")
    ):
        if isinstance(item, PaymentMonthRecord):
            entry = found[(item.currency, item.method)]
            entry[0] += int(item.amount)
            entry[1] += int(item.tally)
    return [(c, m, a, n) for (c, m), (a, n) in sorted(found.items()) if a or n]
