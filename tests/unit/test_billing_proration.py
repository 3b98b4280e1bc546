"""Exact proration: the issue's worked example, hand-computed oracle cases and properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashline.domain.billing.periods import Interval, Period, period_containing
from cashline.domain.billing.proration import ProrationLine, change_lines, prorate, tax_of

JANUARY = Period(date(2027, 1, 1), date(2027, 2, 1))
VAT_19 = 1900
PROPERTY = settings(deadline=None, max_examples=200, derandomize=True)


def test_worked_example_from_the_issue() -> None:
    # Given a 30.00 EUR/month plan billed from 1 January
    # When it changes to 90.00 EUR/month effective 16 January (16 of 31 days remain)
    credit, charge = change_lines(3000, 9000, JANUARY, date(2027, 1, 16))
    # Then the unused part is credited and the rest of the period of the new plan charged
    assert credit.amount == -1548
    assert charge.amount == 4645
    net = credit.amount + charge.amount
    assert net == 3097
    assert tax_of(net, VAT_19) == 588
    assert net + tax_of(net, VAT_19) == 3685
    assert "16 of 31 days" in credit.description
    # And the February invoice is the new plan in full
    assert 9000 + tax_of(9000, VAT_19) == 10710


@pytest.mark.parametrize(
    ("amount", "remaining", "days", "expected"),
    [
        (3000, 16, 31, 1548),  # 1548.387
        (9000, 16, 31, 4645),  # 4645.161
        (3000, 0, 31, 0),
        (3000, 31, 31, 3000),
        (1000, 15, 28, 536),  # 535.714, February 2027
        (2900, 10, 29, 1000),  # exact, February 2028 (leap)
        (1000, 15, 30, 500),
        (1, 1, 2, 1),  # 0.5 rounds up
        (5, 1, 2, 3),  # 2.5 rounds up
        (-5, 1, 2, -3),  # and away from zero when negative
        (-3000, 16, 31, -1548),
        (99_999, 1, 365, 274),  # 273.97, a yearly price for one day
        (99_999, 1, 366, 273),  # 273.22, the same in a leap year
        (12_000, 45, 91, 5934),  # 5934.07, a quarter
    ],
)
def test_prorate_hand_computed(amount: int, remaining: int, days: int, expected: int) -> None:
    assert prorate(amount, remaining, days) == expected


@pytest.mark.parametrize(
    ("net", "rate", "expected"),
    [(3097, 1900, 588), (9000, 1900, 1710), (5, 1000, 1), (-3097, 1900, -588), (1000, 0, 0)],
)
def test_tax_of_rounds_half_up_once(net: int, rate: int, expected: int) -> None:
    assert tax_of(net, rate) == expected


def test_prorate_and_tax_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="period_days"):
        prorate(100, 1, 0)
    with pytest.raises(ValueError, match="remaining_days"):
        prorate(100, 32, 31)
    with pytest.raises(ValueError, match="rate"):
        tax_of(100, -1)
    with pytest.raises(ValueError, match="inside the period"):
        change_lines(100, 200, JANUARY, date(2027, 2, 1))
    with pytest.raises(ValueError, match="negative"):
        change_lines(-100, 200, JANUARY, date(2027, 1, 2))


def test_consecutive_changes_prorate_from_what_was_billed() -> None:
    # Given the worked example's upgrade on 16 January (90.00 plan charged 46.45 for 16 days)
    _, upgrade = change_lines(3000, 9000, JANUARY, date(2027, 1, 16))
    # When it goes back to 30.00 on 26 January (6 of 31 days remain)
    credit, charge = change_lines(9000, 3000, JANUARY, date(2027, 1, 26), old_charged=upgrade.amount)
    # Then 54000/31 = 1741.94 is credited and 18000/31 = 580.65 charged
    assert credit == ProrationLine(credit.description, -1742)
    assert charge.amount == 581


def test_credit_is_capped_by_what_earlier_changes_already_credited() -> None:
    # Given a 30.00 charge of which 20.00 was already credited in the period
    credit, charge = change_lines(3000, 1000, JANUARY, date(2027, 1, 1), already_credited=2000)
    # Then at most the remaining 10.00 is credited, however much of the period remains
    assert credit.amount == -1000
    assert charge.amount == 1000
    credit, _ = change_lines(3000, 1000, JANUARY, date(2027, 1, 1), already_credited=5000)
    assert credit.amount == 0


amounts = st.integers(0, 10**9)
signed_amounts = st.integers(-(10**9), 10**9)


@st.composite
def period_and_day(draw: st.DrawFn) -> tuple[Period, date]:
    anchor = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
    interval = draw(st.sampled_from(list(Interval)))
    period = period_containing(anchor, interval, draw(st.integers(1, 3)), anchor)
    return period, period.start + timedelta(days=draw(st.integers(0, period.days - 1)))


@PROPERTY
@given(amount=signed_amounts, days=st.integers(1, 400), data=st.data())
def test_two_parts_sum_to_the_amount_except_an_exact_half(
    amount: int, days: int, data: st.DataObject
) -> None:
    # prorate(a, d, N) + prorate(a, N - d, N) == a, unless a*d/N has fractional part exactly 1/2:
    # then both parts round away from zero and the sum is a + 1 (a - 1 when a is negative).
    d = data.draw(st.integers(0, days))
    total = prorate(amount, d, days) + prorate(amount, days - d, days)
    exact_half = (2 * amount * d) % days == 0 and (amount * d) % days != 0
    if exact_half:
        assert total == amount + (1 if amount > 0 else -1)
    else:
        assert total == amount


@PROPERTY
@given(amount=signed_amounts, days=st.integers(1, 400), data=st.data())
def test_prorate_is_within_half_a_unit_and_symmetric(amount: int, days: int, data: st.DataObject) -> None:
    d = data.draw(st.integers(0, days))
    part = prorate(amount, d, days)
    assert abs(2 * days * part - 2 * amount * d) <= days  # |part - exact| <= 1/2
    assert prorate(-amount, d, days) == -part


@PROPERTY
@given(
    old=amounts,
    new=amounts,
    where=period_and_day(),
    charged=st.none() | amounts,
    already=st.integers(0, 10**9),
)
def test_credit_never_exceeds_what_was_charged(
    old: int, new: int, where: tuple[Period, date], charged: int | None, already: int
) -> None:
    period, effective = where
    credit, charge = change_lines(old, new, period, effective, already, old_charged=charged)
    billed = old if charged is None else charged
    assert 0 <= -credit.amount <= max(billed - already, 0)
    assert charge.amount >= 0


@PROPERTY
@given(amount=amounts, where=period_and_day())
def test_same_amount_change_keeps_the_whole_period_at_the_amount(
    amount: int, where: tuple[Period, date]
) -> None:
    # Given an item charged in full for the period, changed to the same amount on any day
    period, effective = where
    credit, charge = change_lines(amount, amount, period, effective)
    # Then what the period costs in total is exactly the amount
    assert amount + credit.amount + charge.amount == amount


@PROPERTY
@given(
    first=amounts,
    later=st.lists(amounts, min_size=1, max_size=6),
    where=period_and_day(),
    data=st.data(),
)
def test_chains_of_changes_never_credit_more_than_was_charged(
    first: int, later: list[int], where: tuple[Period, date], data: st.DataObject
) -> None:
    # Given an item billed in full and changed several times within the period
    period, _ = where
    days = sorted(
        data.draw(st.lists(st.integers(0, period.days - 1), min_size=len(later), max_size=len(later)))
    )
    charged, amount, total_charged, total_credited = first, first, first, 0
    for offset, new in zip(days, later, strict=True):
        effective = period.start + timedelta(days=offset)
        credit, charge = change_lines(amount, new, period, effective, old_charged=charged)
        # Then each credit stays within what its item was charged
        assert -credit.amount <= charged
        total_credited -= credit.amount
        total_charged += charge.amount
        charged, amount = charge.amount, new
    assert total_credited <= total_charged
