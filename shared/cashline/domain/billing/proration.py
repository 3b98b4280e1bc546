"""Exact proration by calendar day, in integer minor units.

Plain Python: no storage, no clock reads, no floats.

The rule. When an item changes with effect from day ``effective`` of an N-day period, R days remain
(``effective`` included, up to the period's end). The unused part of the old item is credited and
the rest of the period of the new item is charged, each line computed as::

    amount x R / N, rounded half-up once, to the minor unit

Each line is rounded once and on its own, never per day and never from an already rounded figure,
so a line is always within half a minor unit of the exact value and anyone can check it with a
calculator. Negative amounts round half away from zero, symmetrically: ``prorate(-a, R, N) ==
-prorate(a, R, N)``, so a credit computed as a negative charge equals the negated charge.

A credit never exceeds what was charged for the old item in the period minus what earlier changes in
the same period already credited against it (consecutive changes prorate from what was actually
billed). Tax is computed afterwards on the net of the lines per rate (``tax_of``), again rounded
half-up once.

Worked example (also a test): a 30.00 EUR/month plan billed from 1 January, changed to a
90.00 EUR/month plan effective 16 January; January has N = 31 days and R = 16 remain::

    credit  -3000 x 16 / 31 = -1548.39  -> -15.48 EUR
    charge   9000 x 16 / 31 =  4645.16  ->  46.45 EUR
    net                                     30.97 EUR
    VAT 19 %  3097 x 1900 / 10000 = 588.43 ->  5.88 EUR
    total                                   36.85 EUR

The February invoice is the new plan in full: 90.00 + VAT 17.10 = 107.10 EUR.

Half-up identity. For 0 <= d <= N, ``prorate(a, d, N) + prorate(a, N - d, N)`` equals ``a`` exactly,
except when ``a x d / N`` has a fractional part of exactly one half (``2ad`` divisible by ``N`` but
``ad`` not, which needs N even): then both halves round away from zero and the sum is ``a + 1``
(``a - 1`` for a negative ``a``). So splitting a period in two never loses money and invents at most
one minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cashline.domain.billing.periods import Period

BASIS_POINTS = 10_000


def _divide_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def prorate(amount: int, remaining_days: int, period_days: int) -> int:
    """``amount x remaining_days / period_days`` in minor units, rounded half-up once.

    Halves round away from zero, so negative amounts mirror positive ones exactly.
    """
    if period_days <= 0:
        raise ValueError("period_days must be positive")
    if not 0 <= remaining_days <= period_days:
        raise ValueError("remaining_days must lie between 0 and period_days")
    return _divide_half_up(amount * remaining_days, period_days)


def tax_of(net: int, rate_basis_points: int) -> int:
    """Tax on ``net`` minor units at ``rate_basis_points`` (1900 = 19 %), rounded half-up once."""
    if rate_basis_points < 0:
        raise ValueError("rate_basis_points must not be negative")
    return _divide_half_up(net * rate_basis_points, BASIS_POINTS)


@dataclass(frozen=True)
class ProrationLine:
    """One proration line on an invoice: negative ``amount`` credits, positive charges."""

    description: str
    amount: int


def change_lines(
    old_amount: int,
    new_amount: int,
    period: Period,
    effective: date,
    already_credited: int = 0,
    *,
    old_charged: int | None = None,
) -> tuple[ProrationLine, ProrationLine]:
    """The credit and charge lines for changing an item's period amount from ``effective`` on.

    ``old_amount`` and ``new_amount`` are the full-period amounts of the old and new item.
    ``old_charged`` is what was actually billed for the old item in this period (by default its full
    period amount, billed in advance) and ``already_credited`` what earlier changes in the period
    already credited against that charge; the credit never exceeds their difference. Returns
    ``(credit, charge)``: the credit's amount is zero or negative, the charge's zero or positive.
    A change on the period's first day credits and charges the whole period.
    """
    if effective not in period:
        raise ValueError("the change must take effect inside the period")
    if old_amount < 0 or new_amount < 0 or already_credited < 0:
        raise ValueError("amounts must not be negative")
    charged = old_amount if old_charged is None else old_charged
    if charged < 0:
        raise ValueError("old_charged must not be negative")
    remaining = (period.end_exclusive - effective).days
    creditable = max(charged - already_credited, 0)
    credit = min(prorate(old_amount, remaining, period.days), creditable)
    span = f"{effective.isoformat()} to {period.last_day.isoformat()} ({remaining} of {period.days} days)"
    return (
        ProrationLine(f"Unused time {span}", -credit),
        ProrationLine(f"Remaining time {span}", prorate(new_amount, remaining, period.days)),
    )
