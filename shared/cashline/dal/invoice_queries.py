"""`GET /v1/invoices`: which index serves which filter, and paging across several partitions.

The planner picks one index by the most selective filter given (counterparty, then status, then
segment, then amount range, then issue-date range, else due date) and turns that filter (and the
date or amount range the index sorts by) into key conditions. Other filters become filter
expressions on the same read. Several statuses or both directions are several partitions of the
same index, read side by side and merged in sort-key order; the cursor keeps each partition's place.
Cost per page: at most (partitions x page size) items returned, never a function of tenant size.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pynamodb.expressions.condition import Condition

from cashline.dal.invoice_records import InvoiceRecord
from cashline.dal.invoice_repository import amount_sort_key, to_invoice
from cashline.dal.pagination import Page
from cashline.domain.invoices import Direction, Invoice, InvoiceFilter
from cashline.errors import ValidationError

# Items a partition may examine for one page before it returns what it has (filters can discard).
MAX_SCANNED_PER_PARTITION = 1_000


@dataclass(frozen=True, slots=True)
class Plan:
    index: str  # gsi1..gsi6
    partitions: list[str]
    low: str | None  # key condition on the index sort key: between low and high
    high: str | None
    filters: list[Condition] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.index} x{len(self.partitions)} partitions, {len(self.filters)} filters"


def _date_range(low: date | None, high: date | None) -> tuple[str | None, str | None]:
    return (low.isoformat() if low else None, (high.isoformat() + "#~") if high else None)


def plan(tenant_id: str, f: InvoiceFilter) -> Plan:
    if (f.amount_min is not None or f.amount_max is not None) and not f.currency:
        raise ValidationError(
            "an amount range needs a currency: amounts of different currencies do not compare",
            field="currency",
        )
    t = tenant_id
    directions = [f.direction] if f.direction else list(Direction)
    due_low, due_high = _date_range(f.due_from, f.due_to)
    filters: list[Condition] = []
    if f.counterparty_id:
        index, partitions = "gsi3", [f"T#{t}#CP#{f.counterparty_id}#INV#{d.value}" for d in directions]
        low, high = due_low, due_high
    elif f.statuses:
        index = "gsi2"
        partitions = [f"T#{t}#INV#{d.value}#ST#{s.value}" for d in directions for s in f.statuses]
        low, high = due_low, due_high
    elif f.segment:
        index, partitions = "gsi6", [f"T#{t}#SEG#{f.segment}#INV#{d.value}" for d in directions]
        low, high = due_low, due_high
    elif f.currency and (f.amount_min is not None or f.amount_max is not None):
        index, partitions = "gsi5", [f"T#{t}#INV#{d.value}#CUR#{f.currency}#AMT" for d in directions]
        low = amount_sort_key(f.amount_min, "") if f.amount_min is not None else None
        high = amount_sort_key(f.amount_max, "~") if f.amount_max is not None else None
    elif f.issue_from or f.issue_to:
        index, partitions = "gsi4", [f"T#{t}#INV#{d.value}#ISS" for d in directions]
        low, high = _date_range(f.issue_from, f.issue_to)
    else:
        index, partitions = "gsi1", [f"T#{t}#INV#{d.value}" for d in directions]
        low, high = due_low, due_high
    filters += _residual_filters(index, f)
    return Plan(index=index, partitions=partitions, low=low, high=high, filters=filters)


def _residual_filters(index: str, f: InvoiceFilter) -> list[Condition]:
    """Whatever the chosen index's keys do not already decide."""
    r = InvoiceRecord
    conditions: list[Condition] = []
    if f.statuses and index != "gsi2":
        conditions.append(r.status.is_in(*[s.value for s in f.statuses]))
    if f.counterparty_id and index != "gsi3":
        conditions.append(r.counterparty_id == f.counterparty_id)
    if f.segment and index != "gsi6":
        conditions.append(r.segment == f.segment)
    if f.currency and index != "gsi5":
        conditions.append(r.currency == f.currency)
    if index == "gsi4" or index == "gsi5":  # these sort by issue date / amount: due range is a filter
        conditions += _between(
            r.due_date,
            f.due_from.isoformat() if f.due_from else None,
            f.due_to.isoformat() if f.due_to else None,
        )
    if index != "gsi4":
        conditions += _between(
            r.issue_date,
            f.issue_from.isoformat() if f.issue_from else None,
            f.issue_to.isoformat() if f.issue_to else None,
        )
    if index != "gsi5":
        conditions += _between(r.amount_due, f.amount_min, f.amount_max)
    return conditions


def _between(attribute: Any, low: Any, high: Any) -> list[Condition]:
    conditions = []
    if low is not None:
        conditions.append(attribute >= low)
    if high is not None:
        conditions.append(attribute <= high)
    return conditions


def _sort_key_condition(index: Any, low: str | None, high: str | None) -> Condition | None:
    attribute = getattr(InvoiceRecord, f"{index}sk")
    if low is not None and high is not None:
        return attribute.between(low, high)  # type: ignore[no-any-return]
    if low is not None:
        return attribute >= low  # type: ignore[no-any-return]
    if high is not None:
        return attribute <= high  # type: ignore[no-any-return]
    return None


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, plan_: Plan) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(
            "starting_after is not a cursor this API issued", field="starting_after"
        ) from exc
    if (
        not isinstance(state, dict)
        or state.get("index") != plan_.index
        or set(state.get("at", {})) != set(plan_.partitions)
    ):
        raise ValidationError("starting_after belongs to a list with other filters", field="starting_after")
    for partition, position in state["at"].items():
        if position not in (None, "done") and (
            not isinstance(position, dict) or position.get(f"{plan_.index}pk") != {"S": partition}
        ):
            raise ValidationError("starting_after is not a cursor this API issued", field="starting_after")
    return state


def _item_key(index: str, record: InvoiceRecord) -> dict[str, Any]:
    return {
        f"{index}pk": {"S": getattr(record, f"{index}pk")},
        f"{index}sk": {"S": getattr(record, f"{index}sk")},
        "pk": {"S": record.pk},
        "sk": {"S": record.sk},
    }


def run(plan_: Plan, *, limit: int, starting_after: str | None) -> Page[Invoice]:
    """One page, merged across the plan's partitions in index sort order."""
    at: dict[str, Any] = (
        _decode(starting_after, plan_)["at"] if starting_after else {p: None for p in plan_.partitions}
    )
    index = getattr(InvoiceRecord, plan_.index)
    combined_filter = None
    for condition in plan_.filters:
        combined_filter = condition if combined_filter is None else combined_filter & condition
    range_condition = _sort_key_condition(plan_.index, plan_.low, plan_.high)
    fetched: list[tuple[str, str, InvoiceRecord]] = []
    exhausted: set[str] = set()
    for partition in plan_.partitions:
        if at[partition] == "done":
            continue
        results = index.query(
            partition,
            range_condition,
            filter_condition=combined_filter,
            limit=limit,
            page_size=limit,
            last_evaluated_key=at[partition],
        )
        taken = 0
        for record in results:
            fetched.append((getattr(record, f"{plan_.index}sk"), partition, record))
            taken += 1
            if results.page_iter.total_scanned_count >= MAX_SCANNED_PER_PARTITION:
                break
        if results.last_evaluated_key is None and taken < limit:
            exhausted.add(partition)
        elif taken == 0:
            at[partition] = results.last_evaluated_key  # filters discarded a whole stretch: skip past it
    page = heapq.nsmallest(limit, fetched, key=lambda entry: (entry[0], entry[2].pk))
    used = {id(entry[2]) for entry in page}
    for partition in plan_.partitions:
        mine = [entry for entry in page if entry[1] == partition]
        left_behind = any(entry[1] == partition and id(entry[2]) not in used for entry in fetched)
        if mine:
            at[partition] = _item_key(plan_.index, mine[-1][2])
        if partition in exhausted and not left_behind:
            at[partition] = "done"
    more = any(value != "done" for value in at.values())
    next_cursor = _encode({"index": plan_.index, "at": at}) if more else None
    return Page(items=[to_invoice(entry[2]) for entry in page], next_cursor=next_cursor)
