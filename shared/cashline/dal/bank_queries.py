"""`GET /v1/bank-transactions`: which index serves which filter, and a bounded page.

Planner (the most selective key first): a statement -> gsi3 `T#<t>#BST#<bst>#BTX` (the file's line
order); an account and a status -> gsi2 `T#<t>#BA#<ba>#BTX#<status>`; a status -> gsi1
`T#<t>#BTX#<status>`; an account -> gsi5 `T#<t>#BA#<ba>#BTX`; else gsi4 `T#<t>#BTX`. Every index but
gsi3 sorts by `<booking date>#<btx>`, so a date range is a key condition there and the page is newest
first; whatever the chosen key does not decide (amounts, direction, and for gsi3 the dates, status and
account) is a filter expression on the same read.

Cost per page: one partition, read one request at a time until the page is full or
MAX_EXAMINED_PER_PAGE items were examined; then the page ends early with a cursor past what was
examined, so a filter that discards almost everything never reads a tenant's whole history at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pynamodb.expressions.condition import Condition

from cashline.dal.bank_codec import to_transaction
from cashline.dal.bank_records import BankTransactionRecord
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import BankTransaction, TransactionStatus

# Items one page may examine (DynamoDB's ScannedCount) before it returns what it has.
MAX_EXAMINED_PER_PAGE = 1_000
# Items examined per request when filters may discard some: fewer round trips than `limit` alone.
FILTERED_REQUEST_SIZE = 200


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    """What `GET /v1/bank-transactions` may ask for (cashline.dal.bank_repository re-exports it):
    every field optional; `first`/`last` are booking dates, both inclusive; amounts in minor units."""

    status: TransactionStatus | None = None
    bank_account_id: str | None = None
    statement_id: str | None = None
    first: date | None = None
    last: date | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    direction: Direction | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    index: str  # gsi1..gsi5
    partition: str
    low: str | None  # key condition on the index sort key: between low and high
    high: str | None
    newest_first: bool
    filters: list[Condition] = field(default_factory=list)


def plan(tenant_id: str, f: TransactionFilter) -> Plan:
    t = tenant_id
    low = f.first.isoformat() if f.first else None
    high = f"{f.last.isoformat()}#~" if f.last else None
    status = f.status.value if f.status else None
    if f.statement_id:
        index, partition = "gsi3", f"T#{t}#BST#{f.statement_id}#BTX"
        low = high = None  # gsi3 sorts by line number: dates are filters below
    elif f.bank_account_id and status:
        index, partition = "gsi2", f"T#{t}#BA#{f.bank_account_id}#BTX#{status}"
    elif status:
        index, partition = "gsi1", f"T#{t}#BTX#{status}"
    elif f.bank_account_id:
        index, partition = "gsi5", f"T#{t}#BA#{f.bank_account_id}#BTX"
    else:
        index, partition = "gsi4", f"T#{t}#BTX"
    return Plan(
        index=index,
        partition=partition,
        low=low,
        high=high,
        newest_first=index != "gsi3",
        filters=_residual_filters(index, f),
    )


def _residual_filters(index: str, f: TransactionFilter) -> list[Condition]:
    """Whatever the chosen index's key does not already decide."""
    r = BankTransactionRecord
    conditions: list[Condition] = []
    if index == "gsi3":
        if f.status:
            conditions.append(r.status == f.status.value)
        if f.bank_account_id:
            conditions.append(r.bank_account_id == f.bank_account_id)
        if f.first:
            conditions.append(r.booking_date >= f.first.isoformat())
        if f.last:
            conditions.append(r.booking_date <= f.last.isoformat())
    if f.amount_min is not None:
        conditions.append(r.amount >= f.amount_min)
    if f.amount_max is not None:
        conditions.append(r.amount <= f.amount_max)
    if f.direction is not None:
        conditions.append(r.direction == f.direction.value)
    return conditions


def _key_condition(index: str, low: str | None, high: str | None) -> Condition | None:
    attribute = getattr(BankTransactionRecord, f"{index}sk")
    if low is not None and high is not None:
        return attribute.between(low, high)  # type: ignore[no-any-return]
    if low is not None:
        return attribute >= low  # type: ignore[no-any-return]
    if high is not None:
        return attribute <= high  # type: ignore[no-any-return]
    return None


def _combined(conditions: list[Condition]) -> Condition | None:
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _item_key(index: str, raw: dict[str, Any]) -> dict[str, Any]:
    return {name: raw[name] for name in (f"{index}pk", f"{index}sk", "pk", "sk")}


def run(plan_: Plan, *, limit: int, starting_after: str | None) -> Page[BankTransaction]:
    """One page of at most `limit` lines; `next_cursor` None when the partition is done."""
    start = decode_cursor(starting_after, partition_attr=f"{plan_.index}pk", partition_value=plan_.partition)
    index = getattr(BankTransactionRecord, plan_.index)
    key_condition = _key_condition(plan_.index, plan_.low, plan_.high)
    filter_condition = _combined(plan_.filters)
    items: list[BankTransaction] = []
    examined = 0
    while True:
        request_size = limit - len(items) if filter_condition is None else FILTERED_REQUEST_SIZE
        results = index.query(
            plan_.partition,
            key_condition,
            filter_condition=filter_condition,
            page_size=min(request_size, MAX_EXAMINED_PER_PAGE - examined),
            last_evaluated_key=start,
            scan_index_forward=not plan_.newest_first,
        )
        page = next(results.page_iter)  # exactly one request: the budget is checked between requests
        examined += int(page["ScannedCount"])
        start = page.get("LastEvaluatedKey")
        raws = page.get("Items", [])
        for position, raw in enumerate(raws, start=1):
            items.append(to_transaction(BankTransactionRecord.from_raw_data(raw)))
            if len(items) == limit:
                done = position == len(raws) and start is None
                return Page(
                    items=items, next_cursor=None if done else encode_cursor(_item_key(plan_.index, raw))
                )
        if start is None or examined >= MAX_EXAMINED_PER_PAGE:
            return Page(items=items, next_cursor=encode_cursor(start))
