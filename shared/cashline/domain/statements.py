"""A counterparty's statement of account for a period, and the aging of what is still open.

Plain Python: no storage, no clock reads (the period's last day is the "as of" day). Amounts are
integer minor units of the statement's one currency.

Sign convention, from our side of the ledger: a debit increases what the counterparty owes us
(invoice, a refund we paid back to them, a chargeback that took a payment back), a credit decreases
it (payment, credit note). An adjustment may go either way. A positive balance is owed to us; a
negative one is money we hold for them.

The statement's lines and its open items are separate inputs on purpose: the lines are what
happened in the period, the open items what remains unpaid at its end. The two must agree (aging
total == closing balance) when the caller passes every open item including unapplied credits;
``expect_balanced=True`` turns a disagreement into an error instead of a misleading document.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, get_args

from cashline.domain.money import normalize_currency

LineKind = Literal["invoice", "credit_note", "payment", "refund", "chargeback", "adjustment"]
# Same-day order: what was charged comes before what paid it, so the running balance does not dip
# below zero between an invoice and its same-day payment.
KIND_ORDER: dict[str, int] = {kind: index for index, kind in enumerate(get_args(LineKind))}

AGING_BUCKETS: tuple[str, ...] = ("current", "1_30", "31_60", "61_90", "over_90")


def _check_minor_units(value: object, name: str, *, non_negative: bool) -> int:
    # bool is an int subclass and a float is never money here: both are caller bugs, not amounts.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be integer minor units, got {type(value).__name__}")
    if non_negative and value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One booking in the period. ``debit`` and ``credit`` are non-negative minor units."""

    day: date
    kind: LineKind
    reference: str
    description: str
    debit: int
    credit: int

    def __post_init__(self) -> None:
        if self.kind not in KIND_ORDER:
            raise ValueError(f"unknown line kind {self.kind!r}")
        _check_minor_units(self.debit, "debit", non_negative=True)
        _check_minor_units(self.credit, "credit", non_negative=True)


@dataclass(frozen=True, slots=True)
class OpenItem:
    """What is still open at the period's end. ``outstanding`` < 0 is an unapplied credit."""

    reference: str
    due_date: date
    outstanding: int

    def __post_init__(self) -> None:
        _check_minor_units(self.outstanding, "outstanding", non_negative=False)


@dataclass(frozen=True, slots=True)
class Counterparty:
    name: str
    address_lines: tuple[str, ...] = ()
    reference: str = ""  # our customer number for them

    def __post_init__(self) -> None:
        # A list passed by the caller must not make the frozen statement mutable (or unhashable).
        object.__setattr__(self, "address_lines", tuple(self.address_lines))


@dataclass(frozen=True, slots=True)
class Creditor:
    name: str
    address_lines: tuple[str, ...] = ()
    iban: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "address_lines", tuple(self.address_lines))


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """A line with the balance after it."""

    line: StatementLine
    balance: int


@dataclass(frozen=True, slots=True)
class Statement:
    counterparty: Counterparty
    creditor: Creditor
    currency: str
    first_day: date
    last_day: date
    opening_balance: int
    entries: tuple[StatementEntry, ...]
    total_debit: int
    total_credit: int
    closing_balance: int
    open_items: tuple[OpenItem, ...]
    # Keys exactly AGING_BUCKETS, in that order, as of ``last_day``.
    aging: dict[str, int] = field(hash=False)

    @property
    def aging_total(self) -> int:
        return sum(self.aging.values())

    @property
    def balanced(self) -> bool:
        """True when the open items account for the whole closing balance."""
        return self.aging_total == self.closing_balance


def days_past_due(due_date: date, as_of: date) -> int:
    """0 or less: not overdue yet (due today counts as current); 1: due yesterday."""
    return (as_of - due_date).days


def aging_bucket(days_overdue: int) -> str:
    """The bucket key for a number of days past due."""
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1_30"
    if days_overdue <= 60:
        return "31_60"
    if days_overdue <= 90:
        return "61_90"
    return "over_90"


def aging_buckets(items: Iterable[OpenItem], as_of: date) -> dict[str, int]:
    """Outstanding amounts by days past due on ``as_of``: every key of `AGING_BUCKETS`, zeros included.

    Buckets: current (not yet due, or due on ``as_of``), 1-30, 31-60, 61-90, over 90 days. An
    unapplied credit (negative outstanding) is aged by its own date like any item, so the buckets
    still sum to what the counterparty owes in total.
    """
    buckets = dict.fromkeys(AGING_BUCKETS, 0)
    for item in items:
        buckets[aging_bucket(days_past_due(item.due_date, as_of))] += item.outstanding
    return buckets


def sort_lines(lines: Iterable[StatementLine]) -> list[StatementLine]:
    """By day, then kind (`KIND_ORDER`); the caller's order is kept within the same day and kind."""
    return sorted(lines, key=lambda line: (line.day, KIND_ORDER[line.kind]))


def build_statement(
    *,
    counterparty: Counterparty,
    creditor: Creditor,
    currency: str,
    first_day: date,
    last_day: date,
    opening_balance: int,
    lines: Iterable[StatementLine],
    open_items: Iterable[OpenItem] = (),
    expect_balanced: bool = False,
) -> Statement:
    """The statement for ``first_day``..``last_day`` (both included), aged as of ``last_day``.

    Raises ValueError for a line outside the period, and with ``expect_balanced`` when the open
    items do not add up to the closing balance.
    """
    currency = normalize_currency(currency)
    _check_minor_units(opening_balance, "opening_balance", non_negative=False)
    if first_day > last_day:
        raise ValueError(f"period starts {first_day} after it ends {last_day}")
    ordered = sort_lines(lines)
    entries: list[StatementEntry] = []
    balance = opening_balance
    for line in ordered:
        # A line outside the period would be counted here and again in the neighbouring statement.
        if not first_day <= line.day <= last_day:
            raise ValueError(f"line {line.reference!r} on {line.day} is outside {first_day}..{last_day}")
        balance += line.debit - line.credit
        entries.append(StatementEntry(line, balance))
    total_debit = sum(line.debit for line in ordered)
    total_credit = sum(line.credit for line in ordered)
    items = tuple(open_items)
    statement = Statement(
        counterparty=counterparty,
        creditor=creditor,
        currency=currency,
        first_day=first_day,
        last_day=last_day,
        opening_balance=opening_balance,
        entries=tuple(entries),
        total_debit=total_debit,
        total_credit=total_credit,
        closing_balance=opening_balance + total_debit - total_credit,
        open_items=items,
        aging=aging_buckets(items, last_day),
    )
    if expect_balanced and not statement.balanced:
        raise ValueError(
            f"open items total {statement.aging_total} but the closing balance is "
            f"{statement.closing_balance} ({currency} minor units)"
        )
    return statement
