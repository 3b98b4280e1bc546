"""Bill financing: Cashline pays a supplier's bill in full on the payout date and the business repays
principal + fee in N monthly installments debited from its account. Plain Python: no storage, no
HTTP, no clock reads; a quote is just `build_schedule` (it has no side effects).

Rounding rule: the fee is principal x monthly_rate_bp x months / 10 000, rounded half-up to the
minor unit of the currency, plus the plan's fixed fee; it is computed with integers only, never a
float. total = principal + fee. The total is split into N installments with the largest-remainder
method (`Money.split`): the amounts differ by at most one minor unit, the larger ones come first and
they sum exactly to the total.

Dates: installments fall on the same day of the month, measured from one anchor so they never drift
(31 Jan -> 28/29 Feb -> 31 Mar); a day the month lacks becomes that month's last day. Any payout or
debit that falls on a non-business day moves forward to the next business day (see `BankCalendar`).
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import holidays

from cashline.domain.money import MAX_MINOR_UNITS, CurrencyError, Money, normalize_currency

MAX_INSTALLMENTS = 12
_BASIS_POINTS = 10_000
# Longer than any run of consecutive bank closing days (Easter is 4, Golden Week or a Lunar New Year
# with its weekends up to about 9); reaching it means the calendar data is broken, and looping on
# would hide that. Being well under 28 days it also keeps shifted debits in their monthly slots.
_MAX_SHIFT_DAYS = 14


class FinancingError(ValueError):
    """A financing request that cannot be honoured; `field` names the input at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _require_int(value: object, field: str) -> int:
    # bool is an int subclass; `True` installments is a bug, not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise FinancingError(f"{field} must be an integer, got {type(value).__name__}", field)
    return value


def _require_date(value: object, field: str) -> date:
    # A datetime is a date subclass, but a time of day has no meaning in a repayment plan.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise FinancingError(f"{field} must be a date, got {type(value).__name__}", field)
    return value


@dataclass(frozen=True, slots=True)
class Pricing:
    """How a plan is priced.

    monthly_rate_bp: fee per month of term, in basis points of the principal (150 = 1.50 %/month).
    fixed_fee: minor units, charged once per plan.
    max_installments: the most installments a plan may have (1..12).
    """

    monthly_rate_bp: int
    fixed_fee: int
    max_installments: int

    def __post_init__(self) -> None:
        for field in ("monthly_rate_bp", "fixed_fee"):
            if _require_int(getattr(self, field), field) < 0:
                raise FinancingError(f"{field} must not be negative", field)
        count = _require_int(self.max_installments, "max_installments")
        if not 1 <= count <= MAX_INSTALLMENTS:
            raise FinancingError(
                f"max_installments must be between 1 and {MAX_INSTALLMENTS}, got {count}", "max_installments"
            )


# Where a country's payment system follows one region's bank holidays rather than only the
# country-wide ones: Bacs (GBP direct debits) closes on England's Easter Monday and August holiday.
_BANKING_SUBDIVISION = {"GB": "ENG", "UK": "ENG"}


class BankCalendar:
    """Business days for debits and payouts in one country and currency.

    A business day is Monday to Friday, not a national public holiday of the country (subdivisions
    are ignored, so only holidays observed country-wide count), and, for EUR, not a TARGET2 closing
    day (the `holidays` library's ECB calendar is the TARGET2 calendar).

    Years are loaded on first use, so a plan may span a year boundary or start years ahead without
    the caller knowing which years it touches. The per-year cache is only ever added to with a
    complete value, so a race between two threads at worst loads a year twice.
    """

    def __init__(self, country: str, currency: str, years: Iterable[int] = ()) -> None:
        self.country = country
        self.currency = currency
        self._closed_by_year: dict[int, dict[date, str]] = {}
        for year in years:
            self._closed_in(year)

    def __repr__(self) -> str:
        return f"BankCalendar(country={self.country!r}, currency={self.currency!r})"

    def _closed_in(self, year: int) -> dict[date, str]:
        closed = self._closed_by_year.get(year)
        if closed is None:
            closed = dict(
                holidays.country_holidays(
                    self.country, subdiv=_BANKING_SUBDIVISION.get(self.country), years=year
                ).items()
            )
            if self.currency == "EUR":
                for day, name in holidays.financial_holidays("ECB", years=year).items():
                    # Keep both names where a public holiday is also a TARGET2 day under another name.
                    public = closed.get(day)
                    closed[day] = name if public in (None, name) else f"{public}; {name}"
            self._closed_by_year[year] = closed
        return closed

    def is_business_day(self, d: date) -> bool:
        """True if money can move on `d`: a weekday that is neither a public nor a settlement holiday."""
        return d.weekday() < 5 and d not in self._closed_in(d.year)

    def next_business_day(self, d: date) -> date:
        """`d` itself if it is a business day, else the first business day after it."""
        day = d
        for _ in range(_MAX_SHIFT_DAYS):
            if self.is_business_day(day):
                return day
            day += timedelta(days=1)
        raise FinancingError(f"no business day within {_MAX_SHIFT_DAYS} days after {d}", "date")

    def holidays_between(self, start: date, end: date) -> dict[date, str]:
        """Closing days (public and, for EUR, TARGET2) from `start` to `end` inclusive, in date order.

        Holidays that fall on a weekend are included; they close nothing a weekend does not already.
        """
        found: dict[date, str] = {}
        for year in range(start.year, end.year + 1):
            found.update((day, name) for day, name in self._closed_in(year).items() if start <= day <= end)
        return dict(sorted(found.items()))


def bank_calendar(country: str, currency: str, years: range | None = None) -> BankCalendar:
    """The business-day calendar of `country` for payments in `currency`.

    `years` only preloads; any other year is loaded when a date in it is first asked about.
    Raises FinancingError (field "country" or "currency") for codes that are not known.
    """
    code = country.strip().upper()
    try:
        # Built once here only to learn whether the library knows the country.
        holidays.country_holidays(code, years=[])
    except NotImplementedError as exc:
        raise FinancingError(f"no holiday calendar for country {country!r}", "country") from exc
    try:
        money_code = normalize_currency(currency)
    except CurrencyError as exc:
        raise FinancingError(str(exc), "currency") from exc
    return BankCalendar(code, money_code, years if years is not None else ())


def _add_months(anchor: date, months: int) -> date:
    """`anchor`'s day of month, `months` months later; clamped to the last day of a shorter month."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(anchor.day, _gregorian.monthrange(year, month)[1]))


def monthly_dates(anchor: date, count: int) -> list[date]:
    """`count` dates on `anchor`'s day of the month, starting in `anchor`'s month.

    Every date is measured from the anchor, never from the previous date, so a short month does
    not pull the following ones back: 31 Jan -> 28 Feb -> 31 Mar -> 30 Apr -> 31 May.
    """
    _require_date(anchor, "anchor")
    if _require_int(count, "count") < 0:
        raise FinancingError("count must not be negative", "count")
    return [_add_months(anchor, offset) for offset in range(count)]


def fee_for(principal: int, months: int, pricing: Pricing) -> int:
    """principal x monthly_rate_bp x months / 10 000, rounded half-up to the minor unit, plus fixed_fee.

    Integer arithmetic throughout: exact for any principal, where a float or a Decimal with a
    limited precision would not be.
    """
    if _require_int(principal, "principal") < 0:
        raise FinancingError("principal must not be negative", "principal")
    if _require_int(months, "months") < 1:
        raise FinancingError("months must be at least 1", "months")
    quotient, remainder = divmod(principal * pricing.monthly_rate_bp * months, _BASIS_POINTS)
    # Half-up: a remainder of at least half a basis-point unit rounds the minor unit up.
    rounded = quotient + (1 if 2 * remainder >= _BASIS_POINTS else 0)
    return rounded + pricing.fixed_fee


@dataclass(frozen=True, slots=True)
class ScheduledInstallment:
    sequence: int  # 1..N
    due_date: date  # the business day the debit is made
    nominal_date: date  # the calendar date before the business-day shift
    amount: int  # minor units


@dataclass(frozen=True, slots=True)
class Schedule:
    currency: str
    principal: int
    fee: int
    total: int  # principal + fee == sum of the installment amounts
    payout_date: date  # after the business-day shift
    installments: list[ScheduledInstallment]
    term_months: int


@dataclass(frozen=True, slots=True)
class EarlyRepayment:
    amount_due: int  # what settles the plan now; never negative
    recalculated_fee: int
    months_used: int
    already_paid: int


def _validate_plan(principal: int, installments: int, pricing: Pricing) -> None:
    if _require_int(principal, "principal") <= 0:
        raise FinancingError("principal must be positive", "principal")
    count = _require_int(installments, "installments")
    if not 1 <= count <= pricing.max_installments:
        raise FinancingError(
            f"installments must be between 1 and {pricing.max_installments}, got {count}", "installments"
        )


def build_schedule(
    *,
    principal: int,
    currency: str,
    payout_date: date,
    installments: int,
    pricing: Pricing,
    calendar: BankCalendar,
    first_debit_date: date | None = None,
) -> Schedule:
    """The repayment plan for financing `principal` paid out on `payout_date` (also serves as a quote).

    The payout moves to the next business day. Installment i (1-based) is nominally due i months
    after the payout date as requested (not as shifted), or, with `first_debit_date`, i - 1 months
    after that date; each debit then moves to the next business day. Both anchors are kept fixed so
    a short month never pulls later debits back. term_months is N: one month per installment.

    Raises FinancingError naming the field at fault.
    """
    _require_date(payout_date, "payout_date")
    _validate_plan(principal, installments, pricing)
    try:
        code = normalize_currency(currency)
    except CurrencyError as exc:
        raise FinancingError(str(exc), "currency") from exc
    if code != calendar.currency:
        # A EUR plan on a GBP calendar would debit on TARGET2 closing days.
        raise FinancingError(f"the calendar is for {calendar.currency}, the plan is in {code}", "currency")

    payout = calendar.next_business_day(payout_date)
    if first_debit_date is None:
        # Anchored at the payout date, so a payout on the 31st gives 28 Feb, then 31 Mar again.
        nominal = monthly_dates(payout_date, installments + 1)[1:]
    else:
        _require_date(first_debit_date, "first_debit_date")
        # Compared with the shifted payout: a debit must never land on or before the payout.
        if first_debit_date <= payout:
            raise FinancingError(
                f"first_debit_date must be after the payout date {payout.isoformat()}", "first_debit_date"
            )
        nominal = monthly_dates(first_debit_date, installments)
    # A shift is a few days at most and nominal dates are at least 28 days apart, so a shifted debit
    # never reaches the next installment's slot; the dates strictly increase.
    due = [calendar.next_business_day(day) for day in nominal]
    assert all(earlier < later for earlier, later in zip([payout, *due], due, strict=False)), due

    fee = fee_for(principal, installments, pricing)
    total = principal + fee
    if total > MAX_MINOR_UNITS:  # the principal is within the limit; with its fee it may not be
        raise FinancingError(f"principal plus fee would be beyond {MAX_MINOR_UNITS} minor units", "amount")
    amounts = [part.amount for part in Money(total, code).split(installments)]
    return Schedule(
        currency=code,
        principal=principal,
        fee=fee,
        total=total,
        payout_date=payout,
        installments=[
            ScheduledInstallment(sequence=index, due_date=due_day, nominal_date=nominal_day, amount=amount)
            for index, (due_day, nominal_day, amount) in enumerate(zip(due, nominal, amounts, strict=True), 1)
        ],
        term_months=installments,
    )


def _months_started(start: date, on: date) -> int:
    """Months from `start` to `on`, a started month counting in full; 0 when `on` is `start`.

    Month k ends on `start` + k months (clamped to a shorter month's last day), so repaying exactly
    one month after the payout uses one month, and one day later uses two.
    """
    months = (on.year - start.year) * 12 + on.month - start.month
    if _add_months(start, months) > on:
        months -= 1  # `on` is before this month's anniversary: that month is not complete
    return months + 1 if _add_months(start, months) < on else months


def early_repayment(
    schedule: Schedule, *, paid_sequences: set[int], on: date, pricing: Pricing
) -> EarlyRepayment:
    """What settles `schedule` on `on`, with the fee recalculated for the months actually used.

    months_used counts whole months from the (shifted) payout date to `on`, a started month in full,
    at least 1 and at most N. amount_due = principal + fee_for(months_used) - the paid installments.
    It is clamped at 0: installments already paid may exceed the recalculated total, and whether
    and how that excess is refunded is not decided here.
    """
    _require_date(on, "on")
    if on < schedule.payout_date:
        raise FinancingError(f"cannot repay before the payout date {schedule.payout_date}", "on")
    by_sequence = {item.sequence: item.amount for item in schedule.installments}
    unknown = sorted(set(paid_sequences) - by_sequence.keys())
    if unknown:
        raise FinancingError(f"no installments with sequence {unknown}", "paid_sequences")

    months_used = min(max(_months_started(schedule.payout_date, on), 1), len(schedule.installments))
    recalculated_fee = fee_for(schedule.principal, months_used, pricing)
    already_paid = sum(by_sequence[sequence] for sequence in paid_sequences)
    return EarlyRepayment(
        amount_due=max(0, schedule.principal + recalculated_fee - already_paid),
        recalculated_fee=recalculated_fee,
        months_used=months_used,
        already_paid=already_paid,
    )
