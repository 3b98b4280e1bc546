"""Summary, aging, upcoming and cash-flow reports: DynamoDB calls, items read, RCU and time for a tenant
with 500 invoices and one with 50,000 (and 20,000 installments).

Both tenants are written straight to the table, as the application would have left them: invoice
headers (`header_record`), counterparty profiles and payment behaviour, financing plans and their
installments (PynamoDB BatchWrite, 25 items a call, 4 threads), and the pre-aggregates the reports
read, computed with the application's own functions over every invoice and installment first and
then written with one UpdateItem per item: the per-day items (`report_deltas`, `installment_day`,
`daily_totals.update_for`) and the per-issue-month items (`issued_change`, `report_totals`).

Every figure the reports give is checked against what was seeded before anything is published.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.client import BaseClient
from pynamodb.expressions.update import Action
from pynamodb.models import BatchWrite

from bench.dynamodb_meter import metered
from cashline.dal.daily_totals import DayDelta, combine, update_for
from cashline.dal.financing_records import InstallmentRecord
from cashline.dal.financing_repository import installment_day, installment_record, plan_record
from cashline.dal.invoice_records import InvoiceRecord
from cashline.dal.invoice_repository import header_record, issued_change, report_deltas
from cashline.dal.party_records import counterparty_pk
from cashline.dal.party_repository import profile_record
from cashline.dal.report_totals import apply_issued, merge
from cashline.dal.risk_repository import RISK_SK, CounterpartyRiskRecord
from cashline.dal.table import CashlineItem
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceStatus, settled_status
from cashline.domain.plans import Installment, InstallmentStatus, PayoutStatus, Plan, PlanStatus
from cashline.ids import new_id
from localcloud.gateway import ApiGateway
from tests.utils import TestTenant, make_tenant

TIMEZONE = "Europe/Berlin"  # make_tenant's
CURRENCIES = (("EUR", 6), ("CHF", 3), ("GBP", 2))  # currency, weight
SEGMENTS = ("enterprise", "smb")
SEED_THREADS = 4
RUNS = 5  # timed calls per route, after one warm-up


@dataclass(frozen=True)
class Shape:
    invoices: int
    installments: int
    counterparties: int


def _shapes() -> list[Shape]:
    sizes = [int(s) for s in os.environ.get("BENCH_REPORT_INVOICES", "500,50000").split(",")]
    return [Shape(n, n * 2 // 5, max(40, n // 25)) for n in sizes]


# --- seeding -----------------------------------------------------------------------------------------


@dataclass
class Seeded:
    shape: Shape
    tenant: TestTenant
    today: date
    seconds: float = 0.0
    batch_seconds: float = 0.0  # BatchWrite of headers, profiles, behaviour, plans, installments
    update_seconds: float = 0.0  # one UpdateItem per day or month item
    items: int = 0
    day_items: int = 0
    month_items: int = 0
    receivable: int = 0
    open_receivable: int = 0
    paid: int = 0
    # What the reports must find: receivable outstanding per currency (all, and per segment) ...
    outstanding: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    open_count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_segment: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    # ... and the per-day figures as the deltas add up (tenant-wide items only).
    days: dict[tuple[str, date, str], dict[str, int]] = field(default_factory=dict)

    def payable_owed(self, first: date, last: date) -> dict[str, int]:
        owed: dict[str, int] = defaultdict(int)
        for (direction, day, currency), figures in self.days.items():
            if direction == "payable" and first <= day <= last:
                owed[currency] += figures.get("invoices_amount", 0) + figures.get("installments_amount", 0)
        return {c: a for c, a in owed.items() if a}


def _in_parallel(items: list[Any], write: Callable[[list[Any]], None]) -> None:
    step = -(-len(items) // SEED_THREADS) or 1
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        for done in [pool.submit(write, items[i : i + step]) for i in range(0, len(items), step)]:
            done.result()


def _batch_save(records: list[CashlineItem]) -> None:
    def write(chunk: list[CashlineItem]) -> None:
        with BatchWrite(InstallmentRecord) as batch:  # any model of the table: items of every kind
            for record in chunk:
                batch.save(record)

    _in_parallel(records, write)


def _updates(updates: list[tuple[CashlineItem, list[Action]]]) -> None:
    def write(chunk: list[tuple[CashlineItem, list[Action]]]) -> None:
        for record, actions in chunk:
            record.update(actions=actions)

    _in_parallel(updates, write)


class _Collect:
    """The `write` `report_totals.apply_issued` expects (a transaction's), collecting the updates."""

    def __init__(self) -> None:
        self.updates: list[tuple[CashlineItem, list[Action]]] = []

    def update(self, record: CashlineItem, *, actions: list[Action]) -> None:
        self.updates.append((record, actions))


def _counterparties(tenant_id: str, count: int, rng: random.Random, now: datetime) -> list[Counterparty]:
    made = []
    for index in range(count):
        made.append(
            Counterparty(
                tenant_id=tenant_id,
                counterparty_id=new_id("counterparty"),
                name=f"Handelshaus {index:05d} AG",
                email=f"ap-{index:05d}@example.com",
                phone=None,
                address=None,
                country=rng.choice(("DE", "CH", "GB")),
                preferred_language="de",
                segment=SEGMENTS[index % len(SEGMENTS)],
                tax_id=None,
                iban=None,
                external_reference=None,
                metadata={},
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    return made


def _invoice(
    seeded: Seeded, index: int, counterparty: Counterparty, currency: str, rng: random.Random, now: datetime
) -> Invoice:
    """Due within the last 12 months or the next 6, issued 14, 30 or 60 days before (never after
    today); paid 95% of those past due and half of the rest (80% in all); of the unpaid, a quarter
    partially paid; the status as the application sets it."""
    today = seeded.today
    due = today + timedelta(days=rng.randrange(-365, 183))
    amount = rng.randrange(5_000, 1_000_000)
    tax = round(amount * 19 / 119)
    paid_share = 0.95 if due < today else 0.5
    if rng.random() < paid_share:
        paid, status = amount, InvoiceStatus.PAID
    else:
        paid = amount // 3 if rng.random() < 0.25 else 0
        status = settled_status(amount, paid, due, today)
    issued = due - timedelta(days=rng.choice((14, 30, 60)))
    if issued > today:  # due further ahead than the usual terms: issued in the last month, longer terms
        issued = today - timedelta(days=rng.randrange(0, 31))
    receivable = index % 5 != 4  # every fifth is a supplier's bill
    return Invoice(
        tenant_id=seeded.tenant.tenant_id,
        invoice_id=new_id("invoice"),
        direction=Direction.RECEIVABLE if receivable else Direction.PAYABLE,
        document_kind=DocumentKind.INVOICE,
        number=f"{'RE' if receivable else 'ER'}-{index:06d}",
        counterparty_id=counterparty.counterparty_id,
        counterparty_name=counterparty.name,
        segment=counterparty.segment,
        issue_date=issued,
        due_date=due,
        currency=currency,
        subtotal=amount - tax,
        tax=tax,
        amount_due=amount,
        amount_paid=paid,
        status=status,
        status_before_dispute=None,
        description="Wartung und Ersatzteile",
        source="api",
        metadata={},
        created_at=now,
        updated_at=now,
        version=1,
    )


def _plans(
    tenant_id: str, count: int, today: date, rng: random.Random, now: datetime
) -> tuple[list[CashlineItem], list[DayDelta]]:
    """`count` installments in plans of 4 monthly ones, the first due 3 months ago to 4 months ahead;
    those already due are paid (they owe nothing more), the rest scheduled, on the day items."""
    records: list[CashlineItem] = []
    deltas: list[DayDelta] = []
    for first_index in range(0, count, 4):
        n = min(4, count - first_index)
        plan_id, first_due = new_id("plan"), today + timedelta(days=rng.randrange(-90, 120))
        amount, currency = rng.randrange(50_000, 2_000_000), "EUR"
        installments = [
            Installment(
                installment_id=new_id("installment"),
                plan_id=plan_id,
                sequence=s + 1,
                kind="scheduled",
                due_date=first_due + timedelta(days=30 * s),
                amount=amount,
                currency=currency,
                status=InstallmentStatus.PAID
                if first_due + timedelta(days=30 * s) < today
                else InstallmentStatus.SCHEDULED,
                paid_at=now if first_due + timedelta(days=30 * s) < today else None,
            )
            for s in range(n)
        ]
        paid = sum(i.amount for i in installments if i.status is InstallmentStatus.PAID)
        plan = Plan(
            tenant_id=tenant_id,
            plan_id=plan_id,
            invoice_id=new_id("invoice"),
            supplier_name="Lieferant GmbH",
            currency=currency,
            principal=amount * n,
            fee=0,
            total=amount * n,
            paid_amount=paid,
            payout_date=first_due - timedelta(days=30),
            payout_status=PayoutStatus.PAID,
            status=PlanStatus.ACTIVE,
            installments_count=n,
            pricing={"monthly_rate_bp": 0, "fixed_fee": 0},
            created_at=now,
            updated_at=now,
        )
        header = plan_record(plan, None)
        header.version = 1
        records.append(header)
        for installment in installments:
            record = installment_record(tenant_id, installment, None, now)
            record.version = 1
            records.append(record)
            if installment.status is InstallmentStatus.SCHEDULED:
                deltas.append(installment_day(tenant_id, installment, 1))
    return records, deltas


def _seed(gateway: ApiGateway, shape: Shape) -> Seeded:
    tenant = make_tenant(f"Report bench {shape.invoices}")
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(TIMEZONE)).date()
    seeded = Seeded(shape, tenant, today)
    rates = {
        "date": (today - timedelta(days=1)).isoformat(),
        "rates": [
            {"base": "EUR", "quote": "CHF", "rate": "0.9377"},
            {"base": "EUR", "quote": "GBP", "rate": "0.8431"},
        ],
    }
    stored = gateway.call(
        "POST",
        "/v1/fx-rates",
        headers={"authorization": f"Bearer {tenant.admin}", "content-type": "application/json"},
        body=json.dumps(rates).encode(),
    )
    if stored.status_code != 201 and stored.status_code != 200:
        raise RuntimeError(f"POST /v1/fx-rates: {stored.status_code} {stored.body[:300]!r}")

    started = time.perf_counter()
    rng = random.Random(shape.invoices)
    parties = _counterparties(tenant.tenant_id, shape.counterparties, rng, now)
    customers, suppliers = parties[: len(parties) * 4 // 5], parties[len(parties) * 4 // 5 :]
    currency_of = {
        p.counterparty_id: rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]
        for p in parties
    }
    records: list[CashlineItem] = []
    for party in parties:
        profile = profile_record(party)
        profile.version = 1
        records.append(profile)
    deltas: list[DayDelta] = []
    issued: dict[Any, tuple[int, int]] = {}
    paid_by_customer: Counter[str] = Counter()
    for index in range(shape.invoices):
        party = rng.choice(suppliers if index % 5 == 4 else customers)
        invoice = _invoice(seeded, index, party, currency_of[party.counterparty_id], rng, now)
        record = header_record(invoice, overdue_instant=None)
        record.version = 1
        records.append(record)
        deltas += report_deltas(None, invoice)
        merge(issued, issued_change(None, invoice))
        seeded.paid += invoice.status is InvoiceStatus.PAID
        if invoice.direction is Direction.RECEIVABLE:
            seeded.receivable += 1
            if invoice.status is InvoiceStatus.PAID:
                paid_by_customer[party.counterparty_id] += 1
            elif invoice.amount_outstanding:
                seeded.open_receivable += 1
                seeded.outstanding[invoice.currency] += invoice.amount_outstanding
                seeded.open_count[invoice.currency] += 1
                seeded.by_segment[party.segment or ""][invoice.currency] += invoice.amount_outstanding
    for party in customers:  # payment behaviour, as recorded payments leave it: 0 to 25 days late
        paid = paid_by_customer[party.counterparty_id]
        records.append(
            CounterpartyRiskRecord(
                pk=counterparty_pk(tenant.tenant_id, party.counterparty_id),
                sk=RISK_SK,
                version=1,
                tenant_id=tenant.tenant_id,
                counterparty_id=party.counterparty_id,
                name=party.name,
                paid_invoices=paid,
                delay_days_total=paid * rng.randrange(0, 26),
                broken_promises=0,
                disputes=0,
                created_at=now,
                updated_at=now,
            )
        )
    plan_items, installment_deltas = _plans(tenant.tenant_id, shape.installments, today, rng, now)
    records += plan_items
    deltas += installment_deltas

    written = time.perf_counter()
    _batch_save(records)
    seeded.batch_seconds = time.perf_counter() - written
    day_updates = update_for(deltas, now)
    collected = _Collect()
    apply_issued(collected, issued, now)
    written = time.perf_counter()
    _updates([*day_updates, *collected.updates])
    seeded.update_seconds = time.perf_counter() - written
    seeded.seconds = time.perf_counter() - started
    seeded.day_items, seeded.month_items = len(day_updates), len(collected.updates)
    seeded.items = len(records) + len(day_updates) + len(collected.updates)
    seeded.days = {
        (direction, day, currency): figures
        for (_, direction, day, currency, segment), figures in combine(deltas).items()
        if segment is None
    }
    return seeded


# --- measuring ---------------------------------------------------------------------------------------

PARTS = ("days", "invoices", "installments", "other")


def _part(operation: str, params: dict[str, Any]) -> str:
    """What a read is for: day items, invoice headers (status index), installments (due-date index)."""
    if operation != "Query":
        return "other"
    keys = [
        v.get("S", "") for v in params.get("ExpressionAttributeValues", {}).values() if isinstance(v, dict)
    ]
    if params.get("IndexName") == "gsi2" and any("#INV#" in k for k in keys):
        return "invoices"
    if any(k.endswith("#INSDUE") for k in keys):
        return "installments"
    if any("#DAY#" in k for k in keys):
        return "days"
    return "other"


@contextmanager
def _items_read() -> Iterator[Counter[str]]:
    """Inside `metered()`: the items each read evaluated (Query ScannedCount, the items a Get or
    BatchGet returned) by what they are for, and the Queries per index."""
    inner = getattr(BaseClient, "_make_api_call")  # noqa: B009
    counts: Counter[str] = Counter()

    def call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        response = inner(self, operation_name, api_params)
        if self.meta.service_model.service_name != "dynamodb":
            return response
        if operation_name in {"Query", "Scan"}:
            read = int(response.get("ScannedCount", 0))
            counts[f"index:{api_params.get('IndexName', 'table')}"] += 1
        elif operation_name == "GetItem":
            read = 1 if "Item" in response else 0
        elif operation_name == "BatchGetItem":
            read = sum(len(v) for v in response.get("Responses", {}).values())
        else:
            read = 0
        counts["read"] += read
        counts[_part(operation_name, api_params)] += read
        return response

    setattr(BaseClient, "_make_api_call", call)  # noqa: B010
    try:
        yield counts
    finally:
        setattr(BaseClient, "_make_api_call", inner)  # noqa: B010


@dataclass(frozen=True)
class Figure:
    route: str
    path: str
    invoices: int
    calls: int
    by_operation: Counter[str]
    operations: str
    queries: Counter[str]  # per index
    items: Counter[str]  # read, and by PARTS
    read_units: float
    milliseconds: float
    body: Any


ROUTES = [
    ("summary", "/v1/reports/summary?direction=receivable"),
    ("summary, one segment", f"/v1/reports/summary?direction=receivable&segment={SEGMENTS[0]}"),
    ("aging, totals only", "/v1/reports/aging?direction=receivable&by_counterparty=false"),
    ("aging with counterparties", "/v1/reports/aging?direction=receivable"),
    ("upcoming payables by week", "/v1/reports/upcoming?direction=payable&group_by=week"),
    ("cash flow", "/v1/reports/cashflow?weeks=12"),
]


def _measure(gateway: ApiGateway, seeded: Seeded, route: str, path: str) -> Figure:
    headers = {"authorization": f"Bearer {seeded.tenant.read_only}"}
    response = gateway.call("GET", path, headers=headers)  # warm-up
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.body[:300]!r}")
    times: list[float] = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with metered() as meter, _items_read() as counts:
            response = gateway.call("GET", path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.body[:300]!r}")
    queries = Counter({k.split(":")[1]: n for k, n in counts.items() if k.startswith("index:")})
    on = ", ".join(f"{index} x{n}" for index, n in sorted(queries.items()))
    return Figure(
        route,
        path,
        seeded.shape.invoices,
        meter.total_calls,
        Counter(meter.calls),
        f"{meter.describe()} (Query on {on})" if on else meter.describe(),
        queries,
        Counter({k: n for k, n in counts.items() if not k.startswith("index:")}),
        meter.read_units,
        statistics.median(times),
        response.json(),
    )


@dataclass(frozen=True)
class ReadOnce:
    """The tenant's open receivables read once, each status partition of the index to its end."""

    invoices: int
    calls: int
    read_units: float


def _read_once(seeded: Seeded) -> ReadOnce:
    found = 0
    with metered() as meter:
        for status in ("open", "partially_paid", "overdue", "disputed"):
            partition = f"T#{seeded.tenant.tenant_id}#INV#receivable#ST#{status}"
            found += sum(1 for _ in InvoiceRecord.gsi2.query(partition))
    if found != seeded.open_receivable:
        raise RuntimeError(f"{found} open receivables on the status index, {seeded.open_receivable} seeded")
    return ReadOnce(found, meter.total_calls, meter.read_units)


def _check(seeded: Seeded, figures: list[Figure]) -> None:
    """The reports' figures against what was seeded: a wrong figure is never published."""
    body = {f.route: f.body for f in figures}
    size = seeded.shape.invoices
    expected = {c: a for c, a in seeded.outstanding.items() if a}

    def same(what: str, found: dict[str, int], wanted: dict[str, int]) -> None:
        found = {c: a for c, a in found.items() if a}
        if found != wanted:
            raise RuntimeError(f"{size} invoices, {what}: the report says {found}, the seed {wanted}")

    summary = body["summary"]
    same("summary outstanding", {f["currency"]: f["outstanding"] for f in summary["figures"]}, expected)
    same(
        "summary open count",
        {f["currency"]: f["open_count"] for f in summary["figures"]},
        {c: n for c, n in seeded.open_count.items() if n},
    )
    if summary["base"] is None:
        raise RuntimeError(f"{size} invoices: no base-currency figures, missing {summary['missing_rates']}")
    same(
        f"summary outstanding of segment {SEGMENTS[0]}",
        {f["currency"]: f["outstanding"] for f in body["summary, one segment"]["figures"]},
        {c: a for c, a in seeded.by_segment[SEGMENTS[0]].items() if a},
    )
    same("aging total", {t["currency"]: t["total"] for t in body["aging, totals only"]["totals"]}, expected)
    per_party: dict[str, int] = defaultdict(int)
    for row in body["aging with counterparties"]["counterparties"]:
        per_party[row["currency"]] += row["total"]
    same("aging per counterparty, added up", per_party, expected)
    upcoming: dict[str, int] = defaultdict(int)
    for period in body["upcoming payables by week"]["periods"]:
        upcoming[period["currency"]] += period["amount"]
    same("upcoming payables", upcoming, seeded.payable_owed(seeded.today, seeded.today + timedelta(weeks=8)))
    out: dict[str, int] = defaultdict(int)
    for week in body["cash flow"]["weeks"]:
        out[week["currency"]] += week["expected_out"]
    monday = seeded.today - timedelta(days=seeded.today.weekday())
    same("cash flow out", out, seeded.payable_owed(date(2000, 1, 1), monday + timedelta(days=7 * 12 - 1)))


def measure_reports(gateway: ApiGateway) -> tuple[list[Seeded], list[Figure], list[ReadOnce]]:
    tenants = [_seed(gateway, shape) for shape in _shapes()]
    figures: list[Figure] = []
    once: list[ReadOnce] = []
    for seeded in tenants:
        mine = [_measure(gateway, seeded, route, path) for route, path in ROUTES]
        _check(seeded, mine)
        figures += mine
        once.append(_read_once(seeded))
    return tenants, figures, once


def report_section(gateway: ApiGateway) -> list[str]:
    tenants, figures, once = measure_reports(gateway)
    sizes = " and at ".join(f"{s.shape.invoices:,}" for s in tenants)
    lines = [
        "",
        f"## Reports at {sizes} invoices",
        "",
        "A tenant per size: invoices due over the last 12 months and the next 6, in EUR, CHF and GBP "
        f"(6:3:2, one currency per counterparty), {len(SEGMENTS)} segments, 4 in 5 receivable; 80% paid "
        "(95% of those past due, half of the rest), the others open, partially paid (a quarter) or "
        "overdue; installments in plans of 4 monthly ones, those already due paid; exchange rates to the "
        "base currency (EUR). Written straight to the table with the application's records and "
        "pre-aggregates: headers, profiles, payment behaviour, plans and installments by BatchWrite (25 "
        f"items a call, {SEED_THREADS} threads), then one UpdateItem per day or month item with every "
        "invoice's and installment's deltas added up. Each route with a read-only key, authorizer "
        f"included: one warm-up call, then {RUNS}; DynamoDB figures of the last, ms the median. Items "
        "read: what the Queries evaluated (ScannedCount) and what GetItem and BatchGetItem returned. "
        "Outstanding (summary, segment, aging, aging per counterparty), open count, upcoming and "
        "cash-flow payables checked against the seed before publishing.",
        "",
        "| invoices | paid | open receivables | installments | counterparties | items written | "
        "of which day / month items | BatchWrite items/s | UpdateItems/s | seeding s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s.shape.invoices:,} | {s.paid:,} | {s.open_receivable:,} | {s.shape.installments:,} | "
        f"{s.shape.counterparties:,} | {s.items:,} | {s.day_items:,} / {s.month_items:,} | "
        f"{(s.items - s.day_items - s.month_items) / s.batch_seconds:,.0f} | "
        f"{(s.day_items + s.month_items) / s.update_seconds:,.0f} | {s.seconds:.1f} |"
        for s in tenants
    ]
    lines += [
        "",
        "| route | invoices | DynamoDB calls | by operation | items read | of which day items / open "
        "invoices / installments / other | RCU | ms |",
        "|---|---:|---:|---|---:|---|---:|---:|",
    ]
    for route, path in ROUTES:
        lines += [
            f"| `{path.removeprefix('/v1/reports/')}` | {f.invoices:,} | {f.calls} | {f.operations} | "
            f"{f.items['read']:,} | {' / '.join(f'{f.items[p]:,}' for p in PARTS)} | {f.read_units:g} | "
            f"{f.milliseconds:.0f} |"
            for f in figures
            if f.route == route
        ]
    lines += ["", _notes(tenants, figures, once)]
    return lines


def _notes(tenants: list[Seeded], figures: list[Figure], once: list[ReadOnce]) -> str:
    small, big = tenants[0], tenants[-1]
    ref = once[-1]

    def at(route: str, seeded: Seeded) -> Figure:
        return next(f for f in figures if f.route == route and f.invoices == seeded.shape.invoices)

    def span(route: str) -> str:
        a, b = at(route, small), at(route, big)
        return (
            f"{a.calls} and {b.calls} calls, {a.items['read']:,} and {b.items['read']:,} items, "
            f"{a.read_units:g} and {b.read_units:g} RCU"
        )

    aging, cash, summ = (at(r, big) for r in ("aging with counterparties", "cash flow", "summary"))
    amplification = aging.items["invoices"] / big.open_receivable if big.open_receivable else 0.0
    return (
        f"Flat in calls from {small.shape.invoices:,} to {big.shape.invoices:,} invoices: "
        f"`upcoming` ({span('upcoming payables by week')}) and `aging` without counterparties "
        f"({span('aging, totals only')}). They read only the per-day pre-aggregate "
        "(`daily_totals.days_between`, one Query): one item per day and currency that ever had something "
        "due, however many invoices that day, so the items grow only until every day of the span has one "
        "in each currency (here 57 days x 3 currencies for the 8 weeks of `upcoming`, 548 x 3 for aging), "
        "then stop. The span is the catch: aging (and the summary) read every day from 2000-01-01 to 740 "
        "days ahead, the days whose invoices are all paid too (their items stay, at 0 owed), so their "
        "cost grows with every year of history. Growing with the open invoices: `aging` with "
        f"counterparties ({span('aging with counterparties')}): `insight._by_counterparty` pages through "
        "every open receivable on the status index (`invoice_queries.run`, 100 a page): "
        f"{big.open_receivable:,} open invoices took {aging.queries['gsi2']} Queries reading "
        f"{aging.items['invoices']:,} headers ({amplification:.1f} times each), where reading each status "
        f"partition once to its end takes {ref.calls} Queries and {ref.read_units:g} RCU: `run` asks each "
        "of the 4 status partitions for 100 items per page, keeps the 100 earliest due and reads the "
        f"others again for the next page. `cashflow` ({span('cash flow')}): the same paging over the open "
        "receivables due by the end of the 12 weeks, then their customers' payment behaviour, one "
        f"BatchGetItem per 100 customers (x{cash.by_operation['BatchGetItem']} here). `summary`, with or "
        f"without a segment ({span('summary')}): its own figures come from the day and month "
        "pre-aggregates and would be flat, but the route also builds the dashboard's cards and next 20 "
        "payments for both directions (`reports.summary`): it reads every open invoice and every "
        f"installment due in the next 30 days to keep 20 ({summ.items['invoices']:,} invoice headers "
        f"and {summ.items['installments']:,} installments at {big.shape.invoices:,}), and the receivable "
        "day items a second time; a segment changes none of that."
    )
