"""Receivables and payables analytics: the summary figures, aging, the cash-flow forecast, and
conversion to the tenant's base currency with its stored exchange rates.

What they read (docs/data-model.md, "Reports"): the per-day figures (what is still owed and what was
billed, by due date; per segment too), the per-month figures (invoiced by issue month, received by
value month and method), the counterparties' payment behaviour, and, for the per-counterparty aging
and the forecast of money in, the open invoices themselves (never the paid ones).

Definitions (docs/api.md, "Reports"):
- outstanding: still owed on open, partially paid, overdue and disputed invoices (and, for payables,
  the installments of financed bills); overdue: of that, due before today;
- average days past due: over the overdue invoices, simple and weighted by amount;
- collection rate over a period: of what was billed by invoices due in the period, the share no
  longer owed (collected, credited or written off);
- DSO over a period: outstanding receivables today / invoiced in the period x days in the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cashline.dal.daily_totals import DayTotal, days_between
from cashline.dal.fx_repository import rates_before
from cashline.dal.invoice_queries import plan, run
from cashline.dal.report_totals import issued_between, payments_between
from cashline.domain.fx import Rate, RateBook, convert
from cashline.domain.invoices import Direction, Invoice, InvoiceFilter, InvoiceStatus
from cashline.errors import ValidationError
from cashline.services.risk import risks

OLDEST = date(2000, 1, 1)
AHEAD = timedelta(days=740)
BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")
OPEN = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE, InvoiceStatus.DISPUTED)
MAX_WEEKS = 52


def bucket_of(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1_30"
    if days_past_due <= 60:
        return "31_60"
    if days_past_due <= 90:
        return "61_90"
    return "over_90"


def _owed(day: DayTotal, direction: Direction) -> int:
    """A day's amount still owed: invoices, and for payables the installments of financed bills."""
    return day.invoices_amount + (day.installments_amount if direction is Direction.PAYABLE else 0)


def _counted(day: DayTotal, direction: Direction) -> int:
    return day.invoices_count + (day.installments_count if direction is Direction.PAYABLE else 0)


# --- exchange rates ----------------------------------------------------------------------------------


class Converter:
    """To the base currency with the latest stored rate of the week before `on`."""

    def __init__(self, tenant_id: str, base: str, on: date):
        self.base, self.on = base, on
        self._book = RateBook(
            [Rate(day=d, base=b, quote=q, rate=r) for d, b, q, r in rates_before(tenant_id, on)]
        )
        self.missing: set[str] = set()

    def rate(self, currency: str) -> Decimal | None:
        found = self._book.rate(currency, self.base, self.on)
        if found is None:
            self.missing.add(currency)
            return None
        return found[0]

    def convert(self, amount: int, currency: str) -> int | None:
        if currency == self.base:
            return amount
        rate = self.rate(currency)
        return None if rate is None else convert(amount, currency, self.base, rate)


# --- the summary ---------------------------------------------------------------------------------------


@dataclass
class Figures:
    currency: str
    outstanding: int = 0
    overdue: int = 0
    due_next_30_days: int = 0
    open_count: int = 0
    overdue_count: int = 0
    days_weighted_by_count: int = 0  # sum over overdue invoices of days past due
    days_weighted_by_amount: int = 0  # sum of amount x days past due (minor units x days)
    billed_due_in_period: int = 0
    owed_of_period: int = 0
    billed_in_period: int = 0  # invoiced (issue date) in the period
    period_days: int = 0

    def add_day(self, day: DayTotal, direction: Direction, today: date, period: tuple[date, date]) -> None:
        owed, count = _owed(day, direction), _counted(day, direction)
        self.outstanding += owed
        self.open_count += count
        if day.day < today:
            late = (today - day.day).days
            self.overdue += owed
            self.overdue_count += count
            self.days_weighted_by_count += count * late
            self.days_weighted_by_amount += owed * late
        elif day.day <= today + timedelta(days=30):
            self.due_next_30_days += owed
        if period[0] <= day.day <= min(period[1], today):
            self.billed_due_in_period += day.invoices_billed
            self.owed_of_period += day.invoices_amount

    def output(self) -> dict[str, Any]:
        collected = self.billed_due_in_period - self.owed_of_period
        return {
            "currency": self.currency,
            "outstanding": self.outstanding,
            "overdue": self.overdue,
            "due_next_30_days": self.due_next_30_days,
            "open_count": self.open_count,
            "average_days_past_due": round(self.days_weighted_by_count / self.overdue_count, 1)
            if self.overdue_count
            else 0.0,
            "weighted_days_past_due": round(self.days_weighted_by_amount / self.overdue, 1)
            if self.overdue
            else 0.0,
            "dso_days": round(self.outstanding / self.billed_in_period * self.period_days, 1)
            if self.billed_in_period > 0
            else None,
            "collection_rate": round(collected / self.billed_due_in_period, 4)
            if self.billed_due_in_period > 0
            else None,
            "billed_in_period": self.billed_in_period,
            "collected_in_period": collected,
        }


@dataclass
class SummaryReport:
    figures: list[dict[str, Any]]
    base: dict[str, Any] | None
    missing_rates: list[str]
    payments_by_method: list[dict[str, Any]]
    period: tuple[date, date]


def parse_accounting_period(text: str | None, today: date) -> tuple[date, date]:
    """`2026-11` (a month), `2026-Q4`, `2026` (a year), or, by default, the month two months back to
    today: whole months, because what was invoiced is kept per issue month."""
    try:
        if not text:
            back = today.replace(day=1) - timedelta(days=1)
            return (back.replace(day=1) - timedelta(days=1)).replace(day=1), today
        if "-Q" in text:
            year, quarter = int(text[:4]), int(text[-1])
            if not 1 <= quarter <= 4:
                raise ValueError(text)
            first = date(year, 3 * quarter - 2, 1)
            return first, _month_end(date(year, 3 * quarter, 1))
        if len(text) == 4:
            return date(int(text), 1, 1), date(int(text), 12, 31)
        first = date.fromisoformat(text + "-01")
        return first, _month_end(first)
    except ValueError as exc:
        raise ValidationError("period must be like 2026-11, 2026-Q4 or 2026", field="period") from exc


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What a report covers: one direction of a tenant's invoices, of one segment and one currency
    when given, converted to the tenant's base currency."""

    tenant_id: str
    direction: Direction
    segment: str | None
    currency: str | None
    base_currency: str


def summary(scope: ReportScope, *, period: tuple[date, date], today: date) -> SummaryReport:
    tenant_id, direction, segment, currency = scope.tenant_id, scope.direction, scope.segment, scope.currency
    base_currency = scope.base_currency
    by_currency: dict[str, Figures] = {}
    for day in days_between(tenant_id, direction.value, OLDEST, today + AHEAD, segment=segment):
        if currency and day.currency != currency:
            continue
        by_currency.setdefault(day.currency, Figures(day.currency)).add_day(day, direction, today, period)
    months = (period[0].strftime("%Y-%m"), period[1].strftime("%Y-%m"))
    for ccy, billed in issued_between(tenant_id, direction.value, *months, segment).items():
        if currency and ccy != currency:
            continue
        figures = by_currency.setdefault(ccy, Figures(ccy))
        figures.billed_in_period = billed
    for figures in by_currency.values():
        figures.period_days = (period[1] - period[0]).days + 1
    converter = Converter(tenant_id, base_currency, today)
    base = _in_base(list(by_currency.values()), converter, base_currency, (period[1] - period[0]).days + 1)
    methods = [
        {"method": m, "currency": c, "amount": a, "count": n}
        for c, m, a, n in payments_between(tenant_id, direction.value, *months)
        if not currency or c == currency
    ]
    return SummaryReport(
        figures=[f.output() for _, f in sorted(by_currency.items())],
        base=base,
        missing_rates=sorted(converter.missing),
        payments_by_method=methods,
        period=period,
    )


def _in_base(
    figures: list[Figures], converter: Converter, base: str, period_days: int
) -> dict[str, Any] | None:
    """Every currency's figures converted and added up; None when a rate is missing for one of them."""
    total = Figures(base, period_days=period_days)
    amount_fields = (
        "outstanding",
        "overdue",
        "due_next_30_days",
        "days_weighted_by_amount",
        "billed_due_in_period",
        "owed_of_period",
        "billed_in_period",
    )
    for f in figures:
        for name in amount_fields:
            converted = converter.convert(getattr(f, name), f.currency)
            if converted is None:
                break
            setattr(total, name, getattr(total, name) + converted)
        for name in ("open_count", "overdue_count", "days_weighted_by_count"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
    if converter.missing:
        return None
    return total.output()


# --- aging -------------------------------------------------------------------------------------------------


def aging(scope: ReportScope, *, as_of: date, by_counterparty: bool) -> dict[str, Any]:
    """What is owed in buckets of days past due as of `as_of` (what is owed now, by its due date)."""
    tenant_id, direction, segment, currency = scope.tenant_id, scope.direction, scope.segment, scope.currency
    base_currency = scope.base_currency
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*BUCKETS, "total"), 0))
    for day in days_between(tenant_id, direction.value, OLDEST, as_of + AHEAD, segment=segment):
        if currency and day.currency != currency:
            continue
        owed = _owed(day, direction)
        if owed:
            row = totals[day.currency]
            row[bucket_of((as_of - day.day).days)] += owed
            row["total"] += owed
    converter = Converter(tenant_id, base_currency, as_of)
    base: dict[str, Any] | None = {"currency": base_currency, **dict.fromkeys((*BUCKETS, "total"), 0)}
    for ccy, row in totals.items():
        for name in (*BUCKETS, "total"):
            converted = converter.convert(row[name], ccy)
            if converted is not None and base is not None:
                base[name] += converted
    if converter.missing:
        base = None
    result: dict[str, Any] = {
        "as_of": as_of,
        "buckets": list(BUCKETS),
        "totals": [{"currency": c, **row} for c, row in sorted(totals.items())],
        "base": base,
        "missing_rates": sorted(converter.missing),
        "counterparties": _by_counterparty(tenant_id, direction, as_of, segment, currency)
        if by_counterparty
        else [],
    }
    return result


def open_invoices(
    tenant_id: str,
    direction: Direction,
    *,
    segment: str | None,
    currency: str | None,
    due_to: date | None = None,
) -> Iterable[Invoice]:
    """The open invoices (never the paid ones), through the status indexes: each status partition read
    once to its end (merging them into one sorted list would read some items again on every page)."""
    for status in OPEN:
        invoice_filter = InvoiceFilter(
            direction=direction, statuses=(status,), segment=segment, currency=currency, due_to=due_to
        )
        cursor: str | None = None
        while True:
            page = run(plan(tenant_id, invoice_filter), limit=100, starting_after=cursor)
            yield from page.items
            if page.next_cursor is None:
                break
            cursor = page.next_cursor


def _by_counterparty(
    tenant_id: str, direction: Direction, as_of: date, segment: str | None, currency: str | None
) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for invoice in open_invoices(tenant_id, direction, segment=segment, currency=currency):
        owed, _ = invoice.due_on_its_day()
        if not owed:
            continue
        key = (invoice.counterparty_id, invoice.currency)
        row = rows.setdefault(
            key,
            {
                "counterparty_id": invoice.counterparty_id,
                "name": invoice.counterparty_name,
                "currency": invoice.currency,
                **dict.fromkeys((*BUCKETS, "total"), 0),
            },
        )
        row[bucket_of((as_of - invoice.due_date).days)] += owed
        row["total"] += owed
    return sorted(rows.values(), key=lambda r: (-int(r["total"]), str(r["name"])))


# --- the cash-flow forecast ---------------------------------------------------------------------------------


@dataclass
class Week:
    week: str
    first_day: date
    currency: str
    expected_in: int = 0
    expected_out: int = 0


@dataclass
class Forecast:
    weeks: list[Week]
    basis: list[dict[str, Any]] = field(default_factory=list)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def cashflow(tenant_id: str, *, weeks: int, currency: str | None, today: date) -> Forecast:
    """Money expected in and out per week: open receivables at their due date shifted by their
    customer's own average delay (overdue ones and those expected in the past: this week), payables
    and installments at their due date."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValidationError(f"weeks is 1 to {MAX_WEEKS}", field="weeks")
    first = _monday(today)
    last = first + timedelta(days=7 * weeks - 1)
    table: dict[tuple[date, str], Week] = {}

    def week_of(day: date, ccy: str) -> Week | None:
        expected = max(day, today)
        if expected > last:
            return None
        monday = _monday(expected)
        year, number, _ = monday.isocalendar()
        return table.setdefault((monday, ccy), Week(f"{year}-W{number:02d}", monday, ccy))

    receivables = [
        i
        for i in open_invoices(tenant_id, Direction.RECEIVABLE, segment=None, currency=currency, due_to=last)
        if i.status is not InvoiceStatus.DISPUTED
    ]
    behaviour = risks.many(tenant_id, [i.counterparty_id for i in receivables])
    for invoice in receivables:
        risk = behaviour.get(invoice.counterparty_id)
        delay = round(risk.delay_days_total / risk.paid_invoices) if risk and risk.paid_invoices else 0
        week = week_of(invoice.due_date + timedelta(days=max(0, delay)), invoice.currency)
        if week is not None:
            week.expected_in += invoice.due_on_its_day()[0]  # a credit note is deducted: negative
    for day in days_between(tenant_id, Direction.PAYABLE.value, OLDEST, last):
        if currency and day.currency != currency:
            continue
        week = week_of(day.day, day.currency)
        if week is not None:
            week.expected_out += _owed(day, Direction.PAYABLE)
    basis = [
        {
            "counterparty_id": r.counterparty_id,
            "name": r.name,
            "average_delay_days": round(r.delay_days_total / r.paid_invoices, 1) if r.paid_invoices else None,
            "paid_invoices": r.paid_invoices,
        }
        for r in sorted(behaviour.values(), key=lambda r: r.name)
    ]
    return Forecast(weeks=[table[k] for k in sorted(table)], basis=basis)
