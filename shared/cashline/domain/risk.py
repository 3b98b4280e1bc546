"""A counterparty's payment behaviour, and when it is getting worse. Plain Python.

The rule (docs/api.md, "Risk"): flagged when the last three paid invoices were paid on average at
least WORSENING_DAYS later than the ones before them, when the latest was paid at least LATE_DAYS late
and later than the one before, after BROKEN_PROMISES broken promises to pay, or DISPUTES disputes.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean

RECENT = 12  # paid invoices kept per counterparty for the trend
WORSENING_DAYS = 7
LATE_DAYS = 30
BROKEN_PROMISES = 2
DISPUTES = 3


@dataclass(frozen=True, slots=True)
class Assessment:
    average_delay_days: float | None
    recent_average_delay_days: float | None  # the last three
    trend_days: float | None  # the last three against the ones before; positive: later than before
    flagged: bool
    reasons: tuple[str, ...]


def assess(delays: list[int], broken_promises: int, disputes: int) -> Assessment:
    """`delays`: days between due date and payment of the paid invoices, oldest first (negative: early)."""
    reasons: list[str] = []
    average = round(fmean(delays), 1) if delays else None
    recent = round(fmean(delays[-3:]), 1) if delays else None
    trend = None
    if len(delays) >= 4:
        trend = round(fmean(delays[-3:]) - fmean(delays[:-3]), 1)
        if trend >= WORSENING_DAYS and fmean(delays[-3:]) > 0:
            reasons.append(f"paying later: the last three invoices {trend:g} days later than before")
    if len(delays) >= 2 and delays[-1] >= LATE_DAYS and delays[-1] > delays[-2]:
        reasons.append(f"the latest invoice was paid {delays[-1]} days late")
    if broken_promises >= BROKEN_PROMISES:
        reasons.append(f"{broken_promises} broken promises to pay")
    if disputes >= DISPUTES:
        reasons.append(f"{disputes} disputes")
    return Assessment(average, recent, trend, bool(reasons), tuple(reasons))
