"""`make bench`: cold imports, DynamoDB cost per route, sweep cost as data grows."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from bench.cold_imports import measure as measure_imports
from bench.financing_costs import measure_debit_sweep, measure_upcoming
from bench.invoice_costs import corpus_available, measure_lists
from bench.invoice_costs import measure_imports as measure_einvoice_imports
from bench.route_costs import measure_routes, measure_sweep
from localcloud.cloud import LocalCloud
from localcloud.gateway import ApiGateway
from localcloud.handlers import load_app, wire_app_to_environment
from localcloud.paths import ROOT


def main() -> None:
    lines = ["# Cashline bench", "", f"run at {datetime.now(UTC).isoformat(timespec='seconds')}", ""]
    baseline, imports = measure_imports()
    lines += [
        "## Cold import of each handler module (fresh interpreter, median of 7)",
        "",
        f"`import boto3` alone: {baseline:.0f} ms",
        "",
        "| module | Lambda functions | import ms | x boto3 |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| `{f.module}` | {f.functions} | {f.median_ms:.0f} | {f.ratio_to_boto3:.2f} |" for f in imports
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


if __name__ == "__main__":
    main()
