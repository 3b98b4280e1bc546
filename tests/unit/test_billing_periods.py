"""Billing periods from a cycle anchor: hand-computed oracle cases and tiling properties."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashline.domain.billing.periods import Interval, Period, next_period, period_containing

M = Interval.MONTH


def _p(start: str, end: str) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end))


@pytest.mark.parametrize(
    ("anchor", "interval", "count", "on", "expected", "days"),
    [
        # Plain month from the 1st; February common and leap.
        ("2027-01-01", M, 1, "2027-01-16", ("2027-01-01", "2027-02-01"), 31),
        ("2027-01-01", M, 1, "2027-02-28", ("2027-02-01", "2027-03-01"), 28),
        ("2028-01-01", M, 1, "2028-02-29", ("2028-02-01", "2028-03-01"), 29),
        # Anchor on the 31st: last day of shorter months, back to the 31st after.
        ("2027-01-31", M, 1, "2027-02-10", ("2027-01-31", "2027-02-28"), 28),
        ("2027-01-31", M, 1, "2027-02-28", ("2027-02-28", "2027-03-31"), 31),
        ("2027-01-31", M, 1, "2027-04-15", ("2027-03-31", "2027-04-30"), 30),
        ("2028-01-31", M, 1, "2028-02-29", ("2028-02-29", "2028-03-31"), 31),
        ("2028-01-31", M, 1, "2028-02-28", ("2028-01-31", "2028-02-29"), 29),
        # Anchors on the 30th and 29th.
        ("2027-01-30", M, 1, "2027-03-01", ("2027-02-28", "2027-03-30"), 30),
        ("2027-01-29", M, 1, "2027-03-28", ("2027-02-28", "2027-03-29"), 29),
        ("2028-01-29", M, 1, "2028-02-29", ("2028-02-29", "2028-03-29"), 29),
        ("2028-01-29", M, 1, "2028-02-28", ("2028-01-29", "2028-02-29"), 31),
        # Every two months from 31 December.
        ("2027-12-31", M, 2, "2028-02-15", ("2027-12-31", "2028-02-29"), 60),
        ("2027-12-31", M, 2, "2028-03-31", ("2028-02-29", "2028-04-30"), 61),
        # Quarters: 30 Nov -> 29 Feb (leap) -> 30 May; 31 Jan -> 30 Apr -> 31 Jul.
        ("2027-11-30", Interval.QUARTER, 1, "2028-01-01", ("2027-11-30", "2028-02-29"), 91),
        ("2027-11-30", Interval.QUARTER, 1, "2028-03-01", ("2028-02-29", "2028-05-30"), 91),
        ("2027-01-31", Interval.QUARTER, 1, "2027-05-01", ("2027-04-30", "2027-07-31"), 92),
        # Years: an anchor on 29 February bills on 28 February in common years.
        ("2028-02-29", Interval.YEAR, 1, "2028-12-31", ("2028-02-29", "2029-02-28"), 365),
        ("2028-02-29", Interval.YEAR, 1, "2031-03-01", ("2031-02-28", "2032-02-29"), 366),
        ("2027-03-15", Interval.YEAR, 1, "2030-01-01", ("2029-03-15", "2030-03-15"), 365),
        ("2027-03-15", Interval.YEAR, 2, "2030-01-01", ("2029-03-15", "2031-03-15"), 730),
        # Weeks and days.
        ("2027-01-04", Interval.WEEK, 2, "2027-01-20", ("2027-01-18", "2027-02-01"), 14),
        ("2027-01-04", Interval.WEEK, 1, "2027-01-04", ("2027-01-04", "2027-01-11"), 7),
        ("2027-01-01", Interval.DAY, 3, "2027-01-05", ("2027-01-04", "2027-01-07"), 3),
        ("2028-02-28", Interval.DAY, 1, "2028-02-29", ("2028-02-29", "2028-03-01"), 1),
        # Before the anchor: the periods the same cycle had before it.
        ("2027-03-31", M, 1, "2027-03-01", ("2027-02-28", "2027-03-31"), 31),
    ],
)
def test_period_containing_matches_hand_computed_oracle(
    anchor: str, interval: Interval, count: int, on: str, expected: tuple[str, str], days: int
) -> None:
    # Given a billing-cycle anchor, When asking for the period holding a day
    period = period_containing(date.fromisoformat(anchor), interval, count, date.fromisoformat(on))
    # Then it is the hand-computed one
    assert period == _p(*expected)
    assert period.days == days


def test_anchor_on_the_31st_does_not_drift_after_february() -> None:
    anchor = date(2027, 1, 31)
    period = period_containing(anchor, M, 1, anchor)
    starts = []
    for _ in range(13):
        starts.append(period.start.isoformat())
        period = next_period(period, anchor, M, 1)
    assert starts == [
        "2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30",
        "2027-07-31", "2027-08-31", "2027-09-30", "2027-10-31", "2027-11-30", "2027-12-31",
        "2028-01-31",
    ]  # fmt: skip


def test_period_shape_and_validation() -> None:
    period = _p("2027-01-01", "2027-02-01")
    assert period.last_day == date(2027, 1, 31)
    assert date(2027, 1, 31) in period
    assert date(2027, 2, 1) not in period
    with pytest.raises(ValueError, match="end after"):
        _p("2027-01-01", "2027-01-01")
    with pytest.raises(ValueError, match="interval_count"):
        period_containing(date(2027, 1, 1), M, 0, date(2027, 1, 1))
    assert Interval("quarter") is Interval.QUARTER


anchors = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
intervals = st.sampled_from(list(Interval))


@settings(deadline=None, max_examples=200, derandomize=True)
@given(anchor=anchors, interval=intervals, count=st.integers(1, 3), offsets=st.lists(st.integers(0, 1826)))
def test_periods_tile_five_years_from_any_anchor(
    anchor: date, interval: Interval, count: int, offsets: list[int]
) -> None:
    # Given the periods walked from the anchor for five years
    horizon = anchor + timedelta(days=5 * 366)
    period = period_containing(anchor, interval, count, anchor)
    assert period.start == anchor
    walked = [period]
    while period.end_exclusive <= horizon:
        period = next_period(period, anchor, interval, count)
        walked.append(period)
    # Then each starts where the previous ended: no gap, no overlap
    for before, after in pairwise(walked):
        assert after.start == before.end_exclusive
        assert after.days > 0
    # And every boundary keeps the anchor's day, clamped to the month's end
    if interval not in (Interval.DAY, Interval.WEEK):
        for p in walked:
            month_end = (p.start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            assert p.start.day == min(anchor.day, month_end.day)
    # And any day is found in exactly the walked period that covers it
    by_start = {p.start: p for p in walked}
    for offset in offsets:
        day = anchor + timedelta(days=offset)
        found = period_containing(anchor, interval, count, day)
        assert day in found
        assert by_start[found.start] == found
