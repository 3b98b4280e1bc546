"""Billing periods: calendar periods counted from a subscription's billing-cycle anchor.

Plain Python: no storage, no clock reads (the caller passes the date it asks about).

A subscription with interval ``month`` and ``interval_count`` 1 anchored on 15 January has the
periods [15 Jan, 15 Feb), [15 Feb, 15 Mar), ... The k-th boundary is always computed from the
anchor itself, ``anchor + k x interval_count x interval``, never from the previous period, so a
clamped month end does not drift: an anchor on 31 January gives the boundaries 31 Jan, 28 Feb
(29 Feb in a leap year), 31 Mar, 30 Apr, 31 May, ... An anchor on the 29th-31st therefore bills on
the last day of every month that is shorter. ``quarter`` is three months and ``year`` twelve, with
the same clamping (an anchor on 29 February bills on 28 February in common years).

Periods are half-open: ``start`` is the first billed day and ``end_exclusive`` the first day of the
next period, so consecutive periods tile the calendar with no gap and no overlap and
``Period.days`` is simply the difference. Dates before the anchor belong to the periods the same
cycle would have had before it (k < 0); a caller that bills a first partial period from a start
date up to the anchor prorates that part itself.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Interval(StrEnum):
    """How long one unit of a price's billing interval is."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# Months per unit for the calendar intervals; day and week are fixed numbers of days instead.
_MONTHS = {Interval.MONTH: 1, Interval.QUARTER: 3, Interval.YEAR: 12}
_DAYS = {Interval.DAY: 1, Interval.WEEK: 7}


@dataclass(frozen=True)
class Period:
    """One billing period, ``start`` included and ``end_exclusive`` excluded."""

    start: date
    end_exclusive: date

    def __post_init__(self) -> None:
        if self.end_exclusive <= self.start:
            raise ValueError("a period must end after it starts")

    @property
    def days(self) -> int:
        """Number of calendar days billed in the period."""
        return (self.end_exclusive - self.start).days

    @property
    def last_day(self) -> date:
        """The last day the period covers (the day before ``end_exclusive``)."""
        return self.end_exclusive - timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end_exclusive


def _add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by whole months, its day clamped to the target month's last day."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def _check(interval: Interval, interval_count: int) -> None:
    if interval not in _MONTHS and interval not in _DAYS:
        raise ValueError(f"unknown interval {interval!r}")
    if interval_count < 1:
        raise ValueError("interval_count must be at least 1")


def _boundary(anchor: date, interval: Interval, interval_count: int, k: int) -> date:
    """The k-th period boundary, computed from the anchor (so month-end clamping never drifts)."""
    if interval in _MONTHS:
        return _add_months(anchor, k * interval_count * _MONTHS[interval])
    return anchor + timedelta(days=k * interval_count * _DAYS[interval])


def _estimate(anchor: date, interval: Interval, interval_count: int, on: date) -> int:
    """A period index close to the one containing ``on`` (corrected by the caller)."""
    if interval in _MONTHS:
        months = (on.year - anchor.year) * 12 + (on.month - anchor.month)
        return months // (interval_count * _MONTHS[interval])
    return (on - anchor).days // (interval_count * _DAYS[interval])


def period_containing(anchor: date, interval: Interval, interval_count: int, on: date) -> Period:
    """The billing period of the cycle anchored on ``anchor`` that contains the day ``on``."""
    _check(interval, interval_count)
    k = _estimate(anchor, interval, interval_count, on)
    # The estimate is off by at most one step around clamped month ends; step to the exact one.
    while _boundary(anchor, interval, interval_count, k) > on:
        k -= 1
    while _boundary(anchor, interval, interval_count, k + 1) <= on:
        k += 1
    return Period(
        _boundary(anchor, interval, interval_count, k),
        _boundary(anchor, interval, interval_count, k + 1),
    )


def next_period(period: Period, anchor: date, interval: Interval, interval_count: int) -> Period:
    """The period following ``period`` in the cycle anchored on ``anchor``.

    Recomputed from the anchor rather than by adding an interval to ``period``: after a clamped
    28 February, an anchor on the 31st goes back to 31 March, not to 28 March.
    """
    return period_containing(anchor, interval, interval_count, period.end_exclusive)
