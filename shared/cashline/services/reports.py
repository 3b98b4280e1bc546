"""What falls due when: the upcoming report and the summary cards.

Both read the per-day pre-aggregate (dal/daily_totals.py): one Query over the days asked for, so the
cost follows the length of the range, not the number of invoices or installments. Only the list of
one period's individual payments reads the items themselves, through the due-date indexes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from cashline.dal.daily_totals import DayTotal, days_between
from cashline.dal.financing_repository import FinancingRepository
from cashline.dal.invoice_queries import plan, run
from cashline.domain.invoices import Direction, Invoice, InvoiceFilter, InvoiceStatus
from cashline.domain.plans import InstallmentStatus
from cashline.errors import ValidationError
from cashline.services.tenancy import tenants

GroupBy = Literal["day", "week", "month"]
MAX_RANGE_DAYS = 740  # two years and a bit: longer ranges are a data export, not a report
# When nothing has an earlier due date: the oldest a still-open invoice can reasonably be.
OUTSTANDING_SINCE = date(2000, 1, 1)

plans = FinancingRepository()


@dataclass(frozen=True, slots=True)
class PeriodTotal:
    period: str
    first_day: date
    currency: str
    amount: int
    count: int
    invoices_amount: int
    installments_amount: int


@dataclass(frozen=True, slots=True)
class DuePayment:
    kind: Literal["invoice", "installment"]
    id: str
    parent_id: str  # the counterparty (invoice) or plan (installment)
    label: str
    due_date: date
    currency: str
    amount: int


def period_of(day: date, group_by: GroupBy) -> tuple[str, date]:
    if group_by == "day":
        return day.isoformat(), day
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}", day - timedelta(days=day.weekday())
    return f"{day.year}-{day.month:02d}", day.replace(day=1)


def parse_period(text: str) -> tuple[date, date]:
    """`2026-W49`, `2026-12` or `2026-12-07` -> first and last day."""
    try:
        if "-W" in text:
            start = date.fromisocalendar(int(text[:4]), int(text.split("-W")[1]), 1)
            return start, start + timedelta(days=6)
        if len(text) == 7:
            first = date.fromisoformat(text + "-01")
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            return first, following - timedelta(days=1)
        day = date.fromisoformat(text)
        return day, day
    except ValueError as exc:
        raise ValidationError("period must be like 2026-W49, 2026-12 or 2026-12-07", field="period") from exc


def upcoming(
    tenant_id: str, direction: Direction, first: date, last: date, group_by: GroupBy
) -> list[PeriodTotal]:
    if last < first:
        raise ValidationError("to is before from", field="to")
    if (last - first).days > MAX_RANGE_DAYS:
        raise ValidationError(f"at most {MAX_RANGE_DAYS} days per report", field="to")
    buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    starts: dict[str, date] = {}
    for day in days_between(tenant_id, direction.value, first, last):
        name, start = period_of(day.day, group_by)
        starts[name] = start
        bucket = buckets[(name, day.currency)]
        bucket[0] += day.invoices_amount
        bucket[1] += day.installments_amount
        bucket[2] += day.invoices_count + day.installments_count
    return [
        PeriodTotal(
            period=name,
            first_day=starts[name],
            currency=currency,
            amount=b[0] + b[1],
            count=b[2],
            invoices_amount=b[0],
            installments_amount=b[1],
        )
        for (name, currency), b in sorted(buckets.items(), key=lambda kv: (starts[kv[0][0]], kv[0][1]))
        if b[2] or b[0] or b[1]
    ]


OWED = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE, InvoiceStatus.DISPUTED)


def next_payments(tenant_id: str, direction: Direction, today: date, *, limit: int = 20) -> list[DuePayment]:
    """The first `limit` payments of the next 30 days: one page of the due-date indexes (at most
    `limit` items from each status partition), not every payment of the month."""
    last = today + timedelta(days=30)
    invoice_filter = InvoiceFilter(direction=direction, due_from=today, due_to=last, statuses=OWED)
    found = _due_invoices(run(plan(tenant_id, invoice_filter), limit=limit, starting_after=None).items)
    if direction is Direction.PAYABLE:
        found += _due_installments(tenant_id, today, last)
    return sorted(found, key=lambda p: (p.due_date, p.kind, p.id))[:limit]


def payments_in(tenant_id: str, direction: Direction, first: date, last: date) -> list[DuePayment]:
    """Every invoice still owed and every installment still to be debited in the period, by date."""
    found: list[DuePayment] = []
    invoice_filter = InvoiceFilter(direction=direction, due_from=first, due_to=last, statuses=OWED)
    cursor: str | None = None
    while True:
        page = run(plan(tenant_id, invoice_filter), limit=100, starting_after=cursor)
        found += _due_invoices(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    if direction is Direction.PAYABLE:
        found += _due_installments(tenant_id, first, last)
    return sorted(found, key=lambda p: (p.due_date, p.kind, p.id))


def _due_invoices(items: list[Invoice]) -> list[DuePayment]:
    return [
        DuePayment(
            "invoice",
            i.invoice_id,
            i.counterparty_id,
            f"{i.number} {i.counterparty_name}",
            i.due_date,
            i.currency,
            i.amount_outstanding,
        )
        for i in items
        if not i.financing_plan_id
    ]


def _due_installments(tenant_id: str, first: date, last: date) -> list[DuePayment]:
    return [
        DuePayment(
            "installment",
            i.installment_id,
            i.plan_id,
            f"installment {i.sequence}",
            i.due_date,
            i.currency,
            i.amount,
        )
        for i in plans.installments_due(tenant_id, first, last)
        # A failed installment is still owed (the plan is in arrears): listed as the totals count it.
        if i.status not in {InstallmentStatus.PAID, InstallmentStatus.CANCELLED}
    ]


@dataclass(frozen=True, slots=True)
class Summary:
    currency: str
    direction: str
    outstanding: int
    due_next_30_days: int
    overdue_or_past_due: int


def summary(tenant_id: str, now: datetime) -> tuple[list[Summary], list[DuePayment]]:
    """Totals per direction and currency, and the next payments (at most 20) for the dashboard."""
    tenant = tenants.get(tenant_id)
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    cards: list[Summary] = []
    next_payments: list[DuePayment] = []
    for direction in Direction:
        every_day = days_between(
            tenant_id, direction.value, OUTSTANDING_SINCE, today + timedelta(days=MAX_RANGE_DAYS)
        )
        cards += _cards(direction, every_day, today)
        next_payments += payments_in(tenant_id, direction, today, today + timedelta(days=30))
    return cards, sorted(next_payments, key=lambda p: (p.due_date, p.id))[:20]


def cards(tenant_id: str, now: datetime) -> list[Summary]:
    """The summary cards alone (both directions, per currency): two Queries of the day items."""
    tenant = tenants.get(tenant_id)
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    found: list[Summary] = []
    for direction in Direction:
        every_day = days_between(
            tenant_id, direction.value, OUTSTANDING_SINCE, today + timedelta(days=MAX_RANGE_DAYS)
        )
        found += _cards(direction, every_day, today)
    return found


def _cards(direction: Direction, days: list[DayTotal], today: date) -> list[Summary]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for day in days:
        amount = day.invoices_amount + day.installments_amount
        entry = sums[day.currency]
        entry[0] += amount
        if today <= day.day <= today + timedelta(days=30):
            entry[1] += amount
        if day.day < today:
            entry[2] += amount
    return [
        Summary(
            currency=c,
            direction=direction.value,
            outstanding=v[0],
            due_next_30_days=v[1],
            overdue_or_past_due=v[2],
        )
        for c, v in sorted(sums.items())
    ]
