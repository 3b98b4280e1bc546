"""`make bench`: cold imports, DynamoDB cost per route, sweep cost as data grows, payments, collections."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from bench.bank_costs import report_section as bank_section
from bench.bank_import import section as bank_import_section
from bench.billing_issuing import report_section as billing_issuing_section
from bench.cold_imports import FLOOR
from bench.cold_imports import measure as measure_imports
from bench.collection_costs import measure_collections, per_reminder, sweep_notes
from bench.financing_costs import measure_debit_sweep, measure_upcoming
from bench.invoice_costs import corpus_available, measure_lists
from bench.invoice_costs import measure_imports as measure_einvoice_imports
from bench.payment_costs import cost_notes, measure_payments, throughput_note
from bench.report_costs import report_section
from bench.route_costs import measure_routes, measure_sweep
from localcloud.cloud import LocalCloud
from localcloud.gateway import ApiGateway
from localcloud.handlers import load_app, wire_app_to_environment
from localcloud.paths import ROOT


def main() -> None:
    lines = ["# Cashline bench", "", f"run at {datetime.now(UTC).isoformat(timespec='seconds')}", ""]
    baseline, imports = measure_imports()
    lines += [
        "## Cold import of each handler module (fresh interpreter, CPU ms, median of 7)",
        "",
        f"floor (`import {FLOOR}`): {baseline:.0f} ms",
        "",
        "| module | Lambda functions | import ms | x floor | target | first event x floor |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| `{f.module}` | {f.functions} | {f.median_ms:.0f} | {f.ratio_to_floor:.2f} | {f.target:.1f} | "
        + ("-" if f.first_event_ratio is None else f"{f.first_event_ratio:.2f}")
        + " |"
        for f in imports
    ]

    with LocalCloud() as cloud:
        os.environ.update(cloud.environment())
        app = load_app()
        wire_app_to_environment()
        routes = measure_routes(ApiGateway(app))
        lines += [
            "",
            "## DynamoDB per request (DynamoDB Local; authorizer included)",
            "",
            "| route | status | calls | operations | RCU | WCU |",
            "|---|---:|---:|---|---:|---:|",
        ]
        lines += [
            f"| {r.route} | {r.status} | {r.calls} | {r.operations} | {r.read_units:g} | {r.write_units:g} |"
            for r in routes
        ]
        sweeps = measure_sweep(app, [100, 1000, 5000], due=20, start=datetime(2032, 1, 1, tzinfo=UTC))
        lines += [
            "",
            "## Housekeeping tick: 20 keys due among N that expire later",
            "",
            "| keys in table | due | DynamoDB calls | items read | RCU | WCU |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {s.keys_in_table} | {s.due_in_tick} | {s.calls} | {s.items_read} | {s.read_units:g} | "
            f"{s.write_units:g} |"
            for s in sweeps
        ]
        lines += _invoice_sections(ApiGateway(app))
        lines += _financing_sections(app, ApiGateway(app))
        lines += _payment_sections(app, ApiGateway(app), cloud)
        lines += _collection_sections(app, ApiGateway(app))
        lines += report_section(ApiGateway(app))
        lines += bank_section(
            [int(s) for s in os.environ.get("BENCH_BANK_INVOICES", "1000,10000,100000").split(",")]
        )
        lines += bank_import_section()
        lines += billing_issuing_section(
            [int(s) for s in os.environ.get("BENCH_BILLING_SUBSCRIPTIONS", "1000,100000").split(",")],
            int(os.environ.get("BENCH_BILLING_DUE", "1000")),
        )
    report = "\n".join(lines) + "\n"
    print(report)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(report)


def _invoice_sections(gateway: ApiGateway) -> list[str]:
    lines: list[str] = []
    if corpus_available():
        imported = measure_einvoice_imports(gateway, int(os.environ.get("BENCH_IMPORTS", "1000")))
        lines += [
            "",
            f"## Importing {imported.invoices} e-invoices (UBL and CII samples, numbers made unique)",
            "",
            "| invoices | seconds | ms per invoice | DynamoDB calls per invoice | RCU per invoice | "
            "WCU per invoice |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {imported.invoices} | {imported.seconds:.1f} | "
            f"{imported.seconds * 1000 / imported.invoices:.1f} "
            f"| {imported.calls_per_invoice:.2f} | {imported.read_units_per_invoice:.2f} | "
            f"{imported.write_units_per_invoice:.2f} |",
        ]
    sizes = [int(s) for s in os.environ.get("BENCH_TENANT_SIZES", "1000,100000").split(",")]
    figures = measure_lists(gateway, sizes)
    lines += [
        "",
        "## One page of 100 invoices, by filter, as the tenant grows",
        "",
        "| invoices in tenant | filter | returned | DynamoDB calls | RCU | ms |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f.tenant_invoices} | `{f.query}` | {f.returned} | {f.calls} | {f.read_units:g} | "
        f"{f.milliseconds:.0f} |"
        for f in figures
    ]
    return lines


def _financing_sections(app: Any, gateway: ApiGateway) -> list[str]:
    def set_debit_method(tenant: Any) -> None:
        body = json.dumps(
            {
                "version": 0,
                "debit": {"processor": "stripe", "customer_id": "cus_b", "payment_method_id": "pm_b"},
            }
        ).encode()
        gateway.call(
            "PUT", "/v1/financing/settings", headers={"authorization": f"Bearer {tenant.admin}"}, body=body
        )

    sizes = [int(s) for s in os.environ.get("BENCH_NOT_DUE", "1000,100000").split(",")]
    due = int(os.environ.get("BENCH_DUE", "1000"))
    sweeps = measure_debit_sweep(app, set_debit_method, sizes, due)
    lines = [
        "",
        f"## Debit sweep: {due} installments due among N not yet due",
        "",
        "| not yet due | due | debits started | DynamoDB calls | of which Query | RCU | WCU | seconds |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f.not_due} | {f.due} | {f.debits} | {f.calls} | {f.queries} | {f.read_units:g} | "
        f"{f.write_units:g} | {f.seconds:.1f} |"
        for f in sweeps
    ]
    reports = measure_upcoming(gateway, int(os.environ.get("BENCH_INSTALLMENTS", "20000")))
    lines += [
        "",
        f"## Upcoming report, tenant with {reports[0].installments} installments over a year",
        "",
        "| query | rows | DynamoDB calls | RCU | ms |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| `{f.query}` | {f.rows} | {f.calls} | {f.read_units:g} | {f.milliseconds:.0f} |" for f in reports
    ]
    return lines


def _payment_sections(app: Any, gateway: ApiGateway, cloud: LocalCloud) -> list[str]:
    figures = measure_payments(app, gateway, cloud, events=int(os.environ.get("BENCH_PAYMENT_EVENTS", "500")))
    intake = figures.intake
    lines = [
        "",
        "## Webhook intake: POST /v1/webhooks/stripe/{connection_id} (verify, S3 put, SQS send)",
        "",
        "| requests | median ms | p95 ms | DynamoDB calls per request | operations | RCU | WCU |",
        "|---:|---:|---:|---:|---|---:|---:|",
        f"| {intake.requests} | {intake.median_ms:.1f} | {intake.p95_ms:.1f} | "
        f"{intake.calls_per_request:g} | {intake.operations} | {intake.read_units_per_request:g} | "
        f"{intake.write_units_per_request:g} |",
        "",
        f"## Webhook queue: {figures.throughput[0].events} Stripe payment_intent.succeeded, "
        "one open invoice each",
        "",
        "Drained through the queue handler in batches of 10 (receive, handle, delete, as Lambda's event "
        "source does), a tenant per row, 25 customers, invoices due over 30 days.",
        "",
        "| drainers | events | deliveries | seconds | events/s | DynamoDB calls per event | "
        "transactions refused (conflict) | RCU per event | WCU per event (Local) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f.drainers} | {f.events} | {f.deliveries} | {f.seconds:.1f} | {f.events_per_second:.0f} | "
        f"{f.calls / f.events:.2f} | {f.transactions_failed} | {f.read_units / f.events:.2f} | "
        f"{f.write_units / f.events:.1f} |"
        for f in figures.throughput
    ]
    lines += [
        "",
        throughput_note(figures.throughput),
        "",
        "## WCU per applied payment: DynamoDB Local's figure, and the least the same writes cost on AWS",
        "",
        "AWS, computed from the items each call wrote: 1 WCU per started KB of the larger image (before or "
        "after), 2 in a transaction; plus, for each of the 7 indexes whose keys the item carries before or "
        "after, one write of the whole item (ALL projection) at 1 WCU per started KB, two when the key "
        "changes (delete + put). Calls include the authorizer on the API rows.",
        "",
        "| payment | calls | operations | RCU | WCU (Local) | items written | AWS WCU, items | "
        "index writes | AWS WCU, indexes | AWS WCU |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {c.name} | {c.calls} | {c.operations} | {c.read_units:g} | {c.local_write_units:g} | {c.items} | "
        f"{c.item_units} | {c.index_writes} | {c.index_units} | **{c.aws_units}** |"
        for c in figures.costs
    ]
    lines += [
        "",
        "| payment | AWS WCU by item: kind, items x largest size: item WCU + index WCU |",
        "|---|---|",
    ]
    lines += [
        f"| {c.name} | "
        + "; ".join(f"{kind} {n}x{size} B: {units}+{index}" for kind, n, size, units, _, index in c.by_kind())
        + " |"
        for c in figures.costs
    ]
    for note in cost_notes(figures.costs, figures.probe):
        lines += ["", note]
    first, again = figures.duplicates
    lines += [
        "",
        f"## The same Stripe event delivered {first.deliveries + again.deliveries} times, each copy handled "
        "on its own",
        "",
        "| delivery | DynamoDB calls | operations | RCU | WCU |",
        "|---|---:|---|---:|---:|",
        f"| first (applied) | {first.calls} | {first.operations} | {first.read_units:g} | "
        f"{first.write_units:g} |",
        f"| each of the other {again.deliveries} (duplicate; the dearest shown) | {again.calls} | "
        f"{again.operations} | {again.read_units:g} | {again.write_units:g} |",
    ]
    return lines


def _collection_sections(app: Any, gateway: ApiGateway) -> list[str]:
    sizes = [int(s) for s in os.environ.get("BENCH_COLLECTIONS", "1000,10000,100000").split(",")]
    due = int(os.environ.get("BENCH_COLLECTIONS_DUE", "1000"))
    figures = measure_collections(
        app,
        gateway,
        sizes,
        due,
        prepares=int(os.environ.get("BENCH_PREPARES", "1000")),
        pdfs=int(os.environ.get("BENCH_LETTER_PDFS", "200")),
    )
    lines = [
        "",
        f"## Collection reminders: one `collection_steps` tick, {due} e-mails due among N active collections",
        "",
        "One tenant, one campaign (an e-mail with late charges, then a letter 13 days later). Before each "
        f"row the same tenant grows to N active runs: {due} due at the tick, with their invoices (overdue "
        "since the day before) and debtors, the rest due 30 days later; written straight to the table "
        "(BatchWrite, 25 items a call, 4 threads). The e-mails go to moto's SES and to an outbox folder "
        "(sent = outbox files).",
        "",
        "| active collections | due | sent (outbox files) | items read from `due` | DynamoDB calls | "
        "by operation | Query calls (on `due`) | RCU | RCU of the `due` Queries | WCU (Local) | seconds | "
        "messages/s | seeded items | seeding s |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f.collections:,} | {f.due} | {f.sent} ({f.outbox_files}) | {f.items_read} | {f.calls} | "
        f"{f.operations} | {f.queries} ({f.due_queries}) | {f.read_units:g} | {f.due_read_units:g} | "
        f"{f.write_units:g} | {f.seconds:.1f} | {f.messages_per_second:.0f} | {f.seeded:,} | "
        f"{f.seed_seconds:.1f} |"
        for f in figures.sweeps
    ]
    for note in sweep_notes(figures.sweeps):
        lines += ["", note]
    count = figures.prepares[0].count
    pdf = figures.pdf
    lines += [
        "",
        f"## Reminders prepared per second: `collections.prepare`, {count} times a channel, in process",
        "",
        "Template lookup, late charges, the Jinja2 sandbox render with Babel formatting, and the reads "
        "`prepare` makes (tenant, debtor, collection settings, the tenant's own template in two languages). "
        "Render only: the same messages with those reads done once beforehand.",
        "",
        "| channel | template (language) | prepared | seconds | per second | ms each | DynamoDB calls each | "
        "render only, per second |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {p.channel} | {p.template} ({p.language}) | {p.count} | {p.seconds:.2f} | {p.per_second:.0f} | "
        f"{p.seconds * 1000 / p.count:.2f} | {p.calls_each:g} | {p.render_per_second:,.0f} |"
        for p in figures.prepares
    ]
    lines += [
        "",
        f"Letter PDF (`letter_pdf`, the prepared second reminder): {pdf.count} in {pdf.seconds:.2f} s, "
        f"{pdf.per_second:.0f} per second, {pdf.size_bytes:,} B each.",
        "",
        "The sweep end to end (lease, prepare, send through moto's SES, record): "
        + ", ".join(f"{f.messages_per_second:.0f} messages/s at {f.collections:,}" for f in figures.sweeps)
        + ".",
    ]
    last = figures.sweeps[-1]
    costs = per_reminder(last)
    lines += [
        "",
        f"## DynamoDB per sent reminder: the {last.collections:,} row divided by its {last.sent} e-mails",
        "",
        "WCU as DynamoDB Local reports them (see the payments section on how Local counts transactions).",
        "",
        "| call | what it is | calls per reminder | RCU per reminder | WCU per reminder (Local) | "
        "ms per call |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {c.kind} | {c.what} | {c.calls:.3g} | {c.read_units:.3g} | {c.write_units:.3g} | "
        f"{c.ms_per_call:.1f} |"
        for c in costs
    ]
    lines += [
        f"| **all** | | **{sum(c.calls for c in costs):.2f}** | **{sum(c.read_units for c in costs):.2f}** | "
        f"**{sum(c.write_units for c in costs):.2f}** | |",
    ]
    return lines


if __name__ == "__main__":
    main()
