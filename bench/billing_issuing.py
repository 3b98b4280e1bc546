"""Issue 14 figures: what the issuing sweep costs per invoice, as the subscriptions held grow.

Two tenants, each with 1,000 monthly subscriptions whose first invoice falls due at the bench's tick
(created through `services.billing.subscriptions.create_subscription`, start date the tick's day, so
nothing is issued at creation). The second tenant also holds 99,000 subscriptions that are not due
(next invoice two weeks later): records written straight to the table (BatchWrite, 4 threads, the
codec's own `to_record` with the due keys `stage_create` would set), not through the API, to keep
seeding fast. Then one `run_subscription_invoices` tick per tenant, metered (every botocore call,
ReturnConsumedCapacity=TOTAL): each invoice is planned, taxed, written as a draft with its claim and
the subscription moved on in one transaction, then finalised at once (auto_finalise_hours 0: the
number from the tenant's sequence, the delivery work item).

The sweep reads the sharded `due` index up to the tick, so its cost should follow the invoices issued,
not the subscriptions held. Run alone: `python -m bench.billing_issuing`
(BENCH_BILLING_SUBSCRIPTIONS=1000,100000, BENCH_BILLING_DUE=1000); `make bench` includes it. Writes
bench/results/billing_issuing.json.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta

from pynamodb.models import BatchWrite

from bench.dynamodb_meter import metered
from cashline.dal.billing_subscription_codec import SubscriptionRecord, to_record
from cashline.dal.billing_subscriptions import SUBSCRIPTION_INVOICE_JOB, SubscriptionRepository
from cashline.dal.due import due_keys
from cashline.dal.party_repository import CounterpartyRepository
from cashline.domain.billing.catalog import TaxCategory
from cashline.domain.billing.periods import Interval
from cashline.domain.billing.subscriptions import Subscription, tenant_day_start
from cashline.ids import new_id
from cashline.schemas.billing_catalog import CreatePriceRequest, CreateProductRequest
from cashline.schemas.subscriptions import ItemRequest, NewSubscription
from cashline.services.billing import catalog, issuing
from cashline.services.billing import subscriptions as subscription_service
from localcloud.cloud import LocalCloud
from localcloud.handlers import load_app, wire_app_to_environment
from localcloud.paths import ROOT
from tests.bank_setup import a_counterparty
from tests.utils import make_tenant

# Created a fortnight before the first tick; each tenant's tick a day after the one before.
NOW = datetime(2031, 1, 15, 9, 0, tzinfo=UTC)
FIRST_DAY = date(2031, 2, 1)
TIMEZONE = "Europe/Berlin"  # make_tenant's
CUSTOMERS = 50
WRITERS = 4
NOT_DUE_AFTER = timedelta(days=14)


@dataclass(frozen=True)
class IssuingFigure:
    subscriptions: int
    due: int
    invoices_issued: int
    calls: int
    operations: str
    due_queries: int
    read_units: float
    write_units: float
    seconds: float
    seed_seconds: float

    @property
    def calls_per_invoice(self) -> float:
        return self.calls / max(1, self.invoices_issued)

    @property
    def read_units_per_invoice(self) -> float:
        return self.read_units / max(1, self.invoices_issued)

    @property
    def write_units_per_invoice(self) -> float:
        return self.write_units / max(1, self.invoices_issued)


def _customers(tenant_id: str) -> list[str]:
    repository = CounterpartyRepository()
    return [
        repository.create(
            replace(a_counterparty(tenant_id, None, now=NOW, country="DE"), name=f"Customer {n}")
        ).counterparty_id
        for n in range(CUSTOMERS)
    ]


def _monthly_price(tenant_id: str) -> str:
    product = catalog.create_product(
        tenant_id, CreateProductRequest(name="Pro", tax_category=TaxCategory.STANDARD), now=NOW
    )
    request = CreatePriceRequest(
        product_id=product.product_id, currency="EUR", unit_amount=3000, interval=Interval.MONTH
    )
    return catalog.create_price(tenant_id, request, now=NOW).price_id


def _create_due(
    tenant_id: str, customers: list[str], price_id: str, day: date, count: int
) -> list[Subscription]:
    """`count` subscriptions through the service, first invoice due on `day` (after NOW: none issued)."""
    return [
        subscription_service.create_subscription(
            tenant_id,
            NewSubscription(
                counterparty_id=customers[n % len(customers)],
                items=[ItemRequest(price_id=price_id, quantity=1 + n % 3)],
                start_date=day,
            ),
            actor="bench",
            now=NOW,
        )
        for n in range(count)
    ]


def _not_due_records(
    template: Subscription, customers: list[str], first: int, count: int, day: date
) -> list[SubscriptionRecord]:
    due_at = tenant_day_start(day, TIMEZONE)
    records = []
    for n in range(first, first + count):
        sub = replace(
            template,
            subscription_id=new_id("subscription"),
            counterparty_id=customers[n % len(customers)],
            items=tuple(replace(item, item_id=new_id("subscription_item")) for item in template.items),
            start_date=day,
            billing_cycle_anchor=day,
            current_period_start=day,
            current_period_end=day + timedelta(days=28),
            next_invoice_on=day,
            version=1,
        )
        record = to_record(sub)
        record.version = 1
        record.due_pk, record.due_sk = due_keys(
            SUBSCRIPTION_INVOICE_JOB, due_at, sub.tenant_id, sub.subscription_id
        )
        records.append(record)
    return records


def _write(records: list[SubscriptionRecord]) -> None:
    with BatchWrite(SubscriptionRecord) as batch:
        for record in records:
            batch.save(record)


def seed_not_due(template: Subscription, customers: list[str], count: int, day: date) -> float:
    """`count` subscriptions due on `day` (after the tick), written straight to the table; seconds."""
    started = time.perf_counter()
    chunk = max(1, count // WRITERS + 1)
    with ThreadPoolExecutor(WRITERS) as pool:
        parts = [(first, min(chunk, count - first)) for first in range(0, count, chunk)]
        list(
            pool.map(lambda part: _write(_not_due_records(template, customers, part[0], part[1], day)), parts)
        )
    return time.perf_counter() - started


def _issued(subs: list[Subscription]) -> int:
    repository = SubscriptionRepository()
    return sum(
        repository.get(sub.tenant_id, sub.subscription_id).latest_invoice_id is not None for sub in subs
    )


def measure_one(total: int, due: int, day: date) -> IssuingFigure:
    tenant = make_tenant(f"Issuing bench {total}", now=NOW)
    customers = _customers(tenant.tenant_id)
    price_id = _monthly_price(tenant.tenant_id)
    due_subs = _create_due(tenant.tenant_id, customers, price_id, day, due)
    seed_seconds = (
        seed_not_due(due_subs[0], customers, total - due, day + NOT_DUE_AFTER) if total > due else 0.0
    )
    tick = tenant_day_start(day, TIMEZONE) + timedelta(hours=1)
    started = time.perf_counter()
    with metered() as meter:
        issuing.run_subscription_invoices(tick_at=tick, worker="bench")
    seconds = time.perf_counter() - started
    return IssuingFigure(
        subscriptions=total,
        due=due,
        invoices_issued=_issued(due_subs),
        calls=meter.total_calls,
        operations=meter.describe(),
        due_queries=meter.calls["Query"],
        read_units=meter.read_units,
        write_units=meter.write_units,
        seconds=seconds,
        seed_seconds=seed_seconds,
    )


def measure(sizes: list[int], due: int) -> list[IssuingFigure]:
    return [measure_one(total, due, FIRST_DAY + timedelta(days=n)) for n, total in enumerate(sorted(sizes))]


def report_section(sizes: list[int], due: int) -> list[str]:
    figures = measure(sizes, due)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "billing_issuing.json").write_text(
        json.dumps(
            [
                {
                    **asdict(f),
                    "calls_per_invoice": round(f.calls_per_invoice, 3),
                    "read_units_per_invoice": round(f.read_units_per_invoice, 3),
                    "write_units_per_invoice": round(f.write_units_per_invoice, 3),
                }
                for f in figures
            ],
            indent=2,
        )
        + "\n"
    )
    lines = [
        "",
        f"## Subscription issuing sweep: {due} invoices due among N subscriptions (issue 14)",
        "",
        "One `run_subscription_invoices` tick per tenant; each invoice drafted, the subscription moved on "
        "and the invoice finalised (auto_finalise_hours 0). The not-due subscriptions were written "
        "straight to the table ("
        + ", ".join(
            f"{f.subscriptions - f.due:,} in {f.seed_seconds:.0f} s"
            for f in figures
            if f.subscriptions > f.due
        )
        + "). DynamoDB Local, ReturnConsumedCapacity=TOTAL.",
        "",
        "| subscriptions | due | invoices issued | DynamoDB calls | calls per invoice | Query calls | "
        "RCU per invoice | WCU per invoice (Local) | seconds | operations |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {f.subscriptions:,} | {f.due:,} | {f.invoices_issued:,} | {f.calls:,} | "
        f"{f.calls_per_invoice:.2f} | {f.due_queries} | {f.read_units_per_invoice:.2f} | "
        f"{f.write_units_per_invoice:.2f} | {f.seconds:.1f} | {f.operations} |"
        for f in figures
    ]
    lines += ["", _flatness(figures)]
    return lines


def _flatness(figures: list[IssuingFigure]) -> str:
    per_invoice = {round(f.calls_per_invoice, 2) for f in figures}
    if len(per_invoice) == 1:
        return (
            "Calls per invoice are the same whatever the subscriptions held: the sweep reads only the "
            "`due` partitions up to the tick, never the subscriptions that are not due."
        )
    return (
        "Calls per invoice by size: "
        + ", ".join(f"{f.subscriptions:,}: {f.calls_per_invoice:.2f}" for f in figures)
        + "."
    )


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_BILLING_SUBSCRIPTIONS", "1000,100000").split(",")]
    due = int(os.environ.get("BENCH_BILLING_DUE", "1000"))
    with LocalCloud() as cloud:
        os.environ.update(cloud.environment())
        load_app()
        wire_app_to_environment()
        section = report_section(sizes, due)
    report = (
        "\n".join(
            [
                "# Subscription issuing bench",
                "",
                f"run at {datetime.now(UTC).isoformat(timespec='seconds')}",
                *section,
            ]
        )
        + "\n"
    )
    print(report)


if __name__ == "__main__":
    main()
