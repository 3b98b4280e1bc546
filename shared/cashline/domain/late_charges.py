"""Late-payment charges between businesses under the EU Late Payment Directive 2011/7/EU.

Plain Python: no storage, no clock reads (the caller passes ``as_of``).

Statutory interest (Art. 2(6) and Art. 3) is the reference rate plus at least eight percentage points,
simple interest per year. The reference rate is the ECB's main refinancing operations (MRO) rate in
force on 1 January for the first half-year and on 1 July for the second; it is then fixed for that
half-year even when the ECB moves in between. Interest runs from the day after the due date up to and
including ``as_of``, so the number of days is ``(as_of - due_date).days``.

Day count: actual/365. Every day is 1/365 of a year, leap years included (a 366-day year gives a
touch more than the annual rate); it is the convention of most national laws implementing the
directive and the one a debtor can check with a calculator. The amount is computed exactly with
Decimal and rounded half-up to the minor unit once, at the end: rounding per day or per half-year
would lose or invent up to half a cent per step, and a claim must be reproducible.

Fixed compensation (Art. 6): EUR 40 per invoice, whatever the amount. For another currency the
directive leaves the amount to national law, so the caller supplies it (or none is claimed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from cashline.domain.money import normalize_currency

# ECB MRO rate in basis points, on 1 January (half 1) and on 1 July (half 2) of each year.
# Sources: the ECB's monetary policy decisions: 2.50% from 21 Dec 2022, 4.00% from 21 Jun 2023,
# 4.50% from 20 Sep 2023, 4.25% from 12 Jun 2024, 3.15% from 18 Dec 2024, 2.15% from 11 Jun 2025,
# unchanged at the meetings from July 2025 to February 2026 (so 2.15% on 1 Jan 2026).
# 2026-H2: NOT confirmed against an ECB press release (none could be found in our reference copies);
# it is kept at 215 on the assumption of no change before 1 July 2026. One third-party economic
# calendar reports a decision of 11 June 2026 at 2.40% (previous 2.15%), which would make 2026-H2
# 240: check the ECB's press release for June 2026 and correct this entry before relying on it.
# Add each half-year here when it starts; a missing one is an error, never a guess.
ECB_REFERENCE_RATES_BP: dict[tuple[int, int], int] = {
    (2023, 1): 250,
    (2023, 2): 400,
    (2024, 1): 450,
    (2024, 2): 425,
    (2025, 1): 315,
    (2025, 2): 215,
    (2026, 1): 215,
    (2026, 2): 215,
}

# The directive's minimum margin over the reference rate. Member states may set more (Germany's
# § 288 (2) BGB is 9 points over its own base rate), hence the ``margin_bp`` parameter.
STATUTORY_MARGIN_BP = 800
EUR_FIXED_COMPENSATION_MINOR = 4000  # EUR 40.00
DAYS_PER_YEAR = 365  # actual/365, see the module docstring
_BP_PER_UNIT = 10_000


@dataclass(frozen=True)
class LateCharges:
    days_late: int
    interest: int  # minor units of the invoice currency
    compensation: int  # minor units of the invoice currency
    # (first day, last day, annual rate in basis points including the margin), both days inclusive;
    # consecutive days at the same rate form one period, so a reminder can quote them as they are.
    rate_periods: list[tuple[date, date, int]]

    @property
    def total(self) -> int:
        return self.interest + self.compensation


def late_charges(
    outstanding: int,
    currency: str,
    due_date: date,
    as_of: date,
    *,
    reference_rate_bp: int | None = None,
    compensation: bool = True,
    fixed_compensation_minor: int | None = None,
    margin_bp: int = STATUTORY_MARGIN_BP,
) -> LateCharges:
    """Statutory interest and fixed compensation on ``outstanding`` (minor units) as of ``as_of``.

    ``reference_rate_bp`` replaces the ECB table for every day (a tenant's own or a national base
    rate). ``fixed_compensation_minor``, when given, is claimed instead of the EUR 40 (and is the only
    way to claim compensation in another currency). Nothing is owed when the invoice is not late or
    nothing is outstanding.
    """
    for name, value in (("outstanding", outstanding), ("margin_bp", margin_bp)):
        _require_int(name, value)
    if outstanding < 0:
        raise ValueError("outstanding must not be negative")
    if fixed_compensation_minor is not None:
        _require_int("fixed_compensation_minor", fixed_compensation_minor)
        if fixed_compensation_minor < 0:
            raise ValueError("fixed_compensation_minor must not be negative")
    if reference_rate_bp is not None:
        _require_int("reference_rate_bp", reference_rate_bp)
    currency = normalize_currency(currency)

    days_late = max((as_of - due_date).days, 0)
    if days_late == 0 or outstanding == 0:
        return LateCharges(days_late=days_late, interest=0, compensation=0, rate_periods=[])

    periods = _rate_periods(due_date + timedelta(days=1), as_of, reference_rate_bp, margin_bp)
    # Sum of amount x rate x days over the periods, divided once: exact, then one rounding.
    weighted = sum(((end - start).days + 1) * rate for start, end, rate in periods)
    exact = Decimal(outstanding) * Decimal(weighted) / Decimal(_BP_PER_UNIT * DAYS_PER_YEAR)
    interest = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
    return LateCharges(
        days_late=days_late,
        interest=interest,
        compensation=_compensation(currency, compensation, fixed_compensation_minor),
        rate_periods=periods,
    )


def reference_rate_bp(day: date) -> int:
    """The ECB reference rate (basis points) that applies on ``day``; ValueError when unknown."""
    half = 1 if day.month <= 6 else 2
    try:
        return ECB_REFERENCE_RATES_BP[(day.year, half)]
    except KeyError:
        raise ValueError(
            f"no ECB reference rate is known for {day.year}-H{half}; "
            "add it to ECB_REFERENCE_RATES_BP or pass reference_rate_bp"
        ) from None


def _rate_periods(
    first: date, last: date, override_bp: int | None, margin_bp: int
) -> list[tuple[date, date, int]]:
    """Split [first, last] at half-year boundaries, merging neighbours that share a rate."""
    periods: list[tuple[date, date, int]] = []
    start = first
    while start <= last:
        end = min(last, _half_year_end(start))
        rate = (reference_rate_bp(start) if override_bp is None else override_bp) + margin_bp
        if rate < 0:
            raise ValueError(f"the annual rate from {start.isoformat()} would be negative ({rate} bp)")
        if periods and periods[-1][2] == rate:
            periods[-1] = (periods[-1][0], end, rate)
        else:
            periods.append((start, end, rate))
        start = end + timedelta(days=1)
    return periods


def _half_year_end(day: date) -> date:
    return date(day.year, 6, 30) if day.month <= 6 else date(day.year, 12, 31)


def _compensation(currency: str, wanted: bool, fixed_minor: int | None) -> int:
    if not wanted:
        return 0
    if fixed_minor is not None:
        return fixed_minor
    return EUR_FIXED_COMPENSATION_MINOR if currency == "EUR" else 0


def _require_int(name: str, value: object) -> None:
    # bool is an int subclass, and a float would silently bring binary rounding into money.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
