"""Which open items a payment pays, and what a refund or chargeback takes back.

Plain Python: no storage, no clock reads. Amounts are integer minor units of one currency; the caller
filters the open items by the payment's currency before planning.

Every plan keeps the invariant ``sum(allocations) + unallocated == amount`` with each allocation in
``(0, outstanding]`` and each item at most once. Plans are deterministic and, except for targeted
payments (where the payer's order is the point), independent of the order the items are passed in:
items are sorted by a total key that ends with the unique item id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from cashline.domain.money import Money, normalize_currency


class AllocationRule(StrEnum):
    OLDEST_FIRST = "oldest_first"
    LARGEST_FIRST = "largest_first"
    PROPORTIONAL = "proportional"
    MANUAL = "manual"  # a person decides later; the whole payment stays unallocated


def _check_minor_units(value: object, name: str, *, positive: bool) -> int:
    # bool is an int subclass and a float is never money here: both are caller bugs, not amounts.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be integer minor units, got {type(value).__name__}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class OpenItem:
    """Something a payment can pay: an invoice's outstanding amount."""

    item_id: str
    due_date: date
    issue_date: date
    outstanding: int  # minor units, > 0
    currency: str

    def __post_init__(self) -> None:
        _check_minor_units(self.outstanding, "outstanding", positive=True)


@dataclass(frozen=True, slots=True)
class Allocation:
    item_id: str
    amount: int  # minor units, > 0

    def __post_init__(self) -> None:
        _check_minor_units(self.amount, "allocation amount", positive=True)


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    allocations: list[Allocation]
    unallocated: int  # the payer's credit (overpayment) or, under MANUAL, the whole payment

    @property
    def allocated(self) -> int:
        return sum(a.amount for a in self.allocations)


def _oldest_key(item: OpenItem) -> tuple[date, date, str]:
    return (item.due_date, item.issue_date, item.item_id)


def _largest_key(item: OpenItem) -> tuple[int, date, str]:
    return (-item.outstanding, item.due_date, item.item_id)


def _check_items(items: Sequence[OpenItem]) -> str | None:
    """Refuse what would break the invariants; return the items' common currency (None if no items)."""
    seen: set[str] = set()
    currency: str | None = None
    for item in items:
        if item.item_id in seen:
            # Paying one item twice in a plan could overpay it; the caller has a bug upstream.
            raise ValueError(f"open item {item.item_id!r} is listed more than once")
        seen.add(item.item_id)
        code = normalize_currency(item.currency)
        if currency is None:
            currency = code
        elif code != currency:
            raise ValueError(f"open items mix currencies: {currency} and {code}")
    return currency


def _pay_in_order(amount: int, ordered: Sequence[OpenItem]) -> AllocationPlan:
    """Pay each item fully, in order, until the money runs out; the last one may be paid partially."""
    allocations: list[Allocation] = []
    remaining = amount
    for item in ordered:
        if remaining == 0:
            break
        part = min(remaining, item.outstanding)
        allocations.append(Allocation(item.item_id, part))
        remaining -= part
    return AllocationPlan(allocations=allocations, unallocated=remaining)


def _proportional(amount: int, ordered: Sequence[OpenItem], currency: str) -> AllocationPlan:
    total = sum(item.outstanding for item in ordered)
    if amount >= total:
        return _pay_in_order(amount, ordered)
    # With amount < total every exact share amount*w/total is < w, so its floor is <= w - 1 and the
    # largest-remainder bump of at most one unit never takes a part past its outstanding amount.
    # Ties in the remainder go to the earlier item; `ordered` is oldest first, so the oldest wins.
    parts = Money(amount, currency).allocate([item.outstanding for item in ordered])
    allocations = [
        Allocation(item.item_id, part.amount)
        for item, part in zip(ordered, parts, strict=True)
        if part.amount
    ]
    return AllocationPlan(allocations=allocations, unallocated=0)


_SORT_KEYS: dict[AllocationRule, Callable[[OpenItem], tuple[object, ...]]] = {
    AllocationRule.OLDEST_FIRST: _oldest_key,
    AllocationRule.LARGEST_FIRST: _largest_key,
    AllocationRule.PROPORTIONAL: _oldest_key,
}


def plan_allocation(amount: int, items: Sequence[OpenItem], rule: AllocationRule) -> AllocationPlan:
    """Spread ``amount`` over ``items`` (all of one currency) by ``rule``.

    OLDEST_FIRST orders by due date, issue date, item id; LARGEST_FIRST by outstanding descending, due
    date, item id; both pay fully in that order. PROPORTIONAL pays everything when the amount covers
    it, else splits the amount by outstanding with the largest-remainder method. MANUAL allocates
    nothing. Whatever is not allocated is returned as ``unallocated``.
    """
    _check_minor_units(amount, "amount", positive=False)
    rule = AllocationRule(rule)
    currency = _check_items(items)
    if rule is AllocationRule.MANUAL or currency is None or amount == 0:
        return AllocationPlan(allocations=[], unallocated=amount)
    ordered = sorted(items, key=_SORT_KEYS[rule])
    if rule is AllocationRule.PROPORTIONAL:
        return _proportional(amount, ordered, currency)
    return _pay_in_order(amount, ordered)


def plan_targeted(amount: int, targets: Sequence[OpenItem]) -> AllocationPlan:
    """The payment names its invoices: pay them in the payer's order, keep the rest as credit."""
    _check_minor_units(amount, "amount", positive=False)
    _check_items(targets)
    return _pay_in_order(amount, targets)


def plan_reversal(amount: int, allocations: Sequence[Allocation]) -> list[Allocation]:
    """What a refund or chargeback of ``amount`` takes back from a payment's ``allocations``.

    The last allocation is taken back first: the most recently paid item reopens before older ones, so
    a partial refund leaves the payer's oldest debts settled. Never more than an allocation held; the
    total taken back is ``min(amount, sum(allocations))``. The result lists takings in taking order.
    """
    _check_minor_units(amount, "amount", positive=False)
    taken: list[Allocation] = []
    remaining = amount
    for allocation in reversed(allocations):
        if remaining == 0:
            break
        part = min(remaining, allocation.amount)
        taken.append(Allocation(allocation.item_id, part))
        remaining -= part
    return taken
