from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashline.domain.invoices import (
    DocumentKind,
    InvoiceStatus,
    LineInput,
    TransitionError,
    check_transition,
    contribution,
    days_past_due,
    overdue_at,
    price_lines,
    settled_status,
)

S = InvoiceStatus


def test_tax_is_computed_per_rate_on_the_sum_of_net_amounts() -> None:
    # Per line, 3 x 0.333 at 19% would round three times; per rate it rounds once.
    pricing = price_lines([LineInput("a", Decimal("1"), 333, Decimal("19"))] * 3)
    assert pricing.subtotal == 999
    assert pricing.tax == 190  # 189.81 -> 190
    assert pricing.total == 1189


def test_line_net_amounts_round_half_up() -> None:
    pricing = price_lines(
        [LineInput("a", Decimal("0.5"), 1, Decimal("0")), LineInput("b", Decimal("2.5"), 3, Decimal("0"))]
    )
    assert [line.net_amount for line in pricing.lines] == [1, 8]


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.001"), max_value=Decimal("10000"), places=3),
            st.integers(min_value=0, max_value=10_000_000),
            st.sampled_from([Decimal("0"), Decimal("7"), Decimal("19"), Decimal("7.7"), Decimal("20")]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_totals_always_add_up(lines: list[tuple[Decimal, int, Decimal]]) -> None:
    pricing = price_lines([LineInput("x", q, u, r) for q, u, r in lines])
    assert pricing.subtotal == sum(line.net_amount for line in pricing.lines)
    assert pricing.tax == sum(t.tax_amount for t in pricing.taxes)
    assert pricing.total == pricing.subtotal + pricing.tax
    assert sum(t.taxable_amount for t in pricing.taxes) == pricing.subtotal


@pytest.mark.parametrize(
    ("current", "target", "by_person", "allowed"),
    [
        (S.DRAFT, S.OPEN, True, True),
        (S.DRAFT, S.PAID, False, False),
        (S.OPEN, S.DISPUTED, True, True),
        (S.OPEN, S.PAID, True, False),
        (S.OPEN, S.PAID, False, True),
        (S.VOID, S.OPEN, True, False),
        (S.WRITTEN_OFF, S.OPEN, True, False),
        (S.PAID, S.VOID, True, False),
        (S.OPEN, S.OVERDUE, True, False),
        (S.OPEN, S.OVERDUE, False, True),
        (S.DISPUTED, S.WRITTEN_OFF, True, True),
    ],
)
def test_transitions(current: InvoiceStatus, target: InvoiceStatus, by_person: bool, allowed: bool) -> None:
    if allowed:
        check_transition(current, target, by_person=by_person)
    else:
        with pytest.raises(TransitionError):
            check_transition(current, target, by_person=by_person)


def test_settled_status_comes_from_amounts_and_dates() -> None:
    due = date(2027, 1, 31)
    assert settled_status(100, 0, due, date(2027, 1, 31)) is S.OPEN
    assert settled_status(100, 0, due, date(2027, 2, 1)) is S.OVERDUE
    assert settled_status(100, 40, due, date(2027, 1, 1)) is S.PARTIALLY_PAID
    assert settled_status(100, 100, due, date(2027, 3, 1)) is S.PAID


def test_overdue_starts_the_day_after_the_due_date_in_the_tenants_zone() -> None:
    assert overdue_at(date(2027, 1, 31), "Europe/Berlin").astimezone(UTC) == datetime(
        2027, 1, 31, 23, 0, tzinfo=UTC
    )
    assert overdue_at(date(2027, 7, 31), "Europe/Berlin").astimezone(UTC) == datetime(
        2027, 7, 31, 22, 0, tzinfo=UTC
    )
    assert overdue_at(date(2027, 1, 31), "America/New_York").astimezone(UTC) == datetime(
        2027, 2, 1, 5, 0, tzinfo=UTC
    )


def test_days_past_due() -> None:
    assert days_past_due(date(2027, 1, 1), date(2027, 1, 11), S.OVERDUE) == 10
    assert days_past_due(date(2027, 1, 1), date(2026, 12, 1), S.OPEN) == 0
    assert days_past_due(date(2027, 1, 1), date(2027, 1, 11), S.PAID) == 0


def test_contributions_count_what_is_owed() -> None:
    assert contribution(DocumentKind.INVOICE, S.DRAFT, 100, 0).is_zero()
    assert contribution(DocumentKind.INVOICE, S.VOID, 100, 0).is_zero()
    overdue = contribution(DocumentKind.INVOICE, S.OVERDUE, 100, 30)
    assert (overdue.billed, overdue.paid, overdue.outstanding, overdue.overdue, overdue.open_count) == (
        100,
        30,
        70,
        70,
        1,
    )
    written_off = contribution(DocumentKind.INVOICE, S.WRITTEN_OFF, 100, 30)
    assert (written_off.billed, written_off.outstanding, written_off.open_count) == (100, 0, 0)
    credit = contribution(DocumentKind.CREDIT_NOTE, S.OPEN, 50, 0)
    assert (credit.billed, credit.outstanding) == (-50, -50)
    delta = overdue.minus(contribution(DocumentKind.INVOICE, S.OPEN, 100, 30))
    assert (delta.billed, delta.outstanding, delta.overdue) == (0, 0, 70)
