"""`make bench`: cold imports, DynamoDB cost per route, sweep cost as data grows."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from bench.cold_imports import measure as measure_imports
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
    report = "\n".join(lines) + "\n"
    print(report)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(report)


if __name__ == "__main__":
    main()
