"""`make fuzz`: the long schemathesis run over every operation; figures in bench/results/fuzz.md.

The same run as tests/integration/test_schema_fuzz.py with many more cases per operation. It
reports instead of failing: operations, cases, the statuses seen, and every failure class with
the first case that showed it (as a curl command).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import UTC, datetime

from cashline.domain.access import Role
from cashline.services.access import TenantSettings, create_api_key, create_tenant
from localcloud.cloud import LocalCloud
from localcloud.fuzz import FuzzReport, fuzz, target_for
from localcloud.gateway import ApiGateway
from localcloud.handlers import load_app, wire_app_to_environment
from localcloud.paths import ROOT


def _admin_key(now: datetime) -> str:
    tenant = create_tenant(
        TenantSettings(name="Fuzz GmbH", country="DE", base_currency="EUR", timezone="Europe/Berlin"), now=now
    )
    return create_api_key(tenant.tenant_id, name="fuzz", role=Role.ADMIN, now=now).secret


def render(report: FuzzReport, *, examples: int, seconds: float, at: datetime) -> str:
    lines = [
        "# Cashline schema fuzzing (schemathesis, in-process gateway)",
        "",
        f"run at {at.isoformat(timespec='seconds')}; up to {examples} cases per operation and generation "
        f"mode (positive, negative); derandomized; {seconds:.0f} s on this machine",
        "",
        f"- operations: {len(report.runs)}",
        f"- cases: {report.cases}",
        f"- failing cases: {report.failing_cases()}",
        f"- failure classes: {len(report.failures())}",
        "",
        "| operation | cases | statuses | failure classes | note |",
        "|---|---:|---|---:|---|",
    ]
    for run in report.runs:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(run.statuses.items()))
        lines.append(
            f"| {run.operation} | {run.cases} | {statuses} | {len(run.failures)} | {run.note.strip()} |"
        )
    lines += ["", "## Failure classes", ""]
    for failure in report.failures():
        lines += [f"### {failure.line()}", "", "```", failure.example, "```", ""]
    if not report.failures():
        lines.append("none")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and mode")
    parser.add_argument("--only", default="", help="only operations whose label contains this text")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "fuzz.md"))
    args = parser.parse_args()
    # A long run may be stopped with SIGTERM: exit through `with`, so DynamoDB Local stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with LocalCloud() as cloud:
        os.environ.update(cloud.environment())
        app = load_app()
        wire_app_to_environment()
        at = datetime.now(UTC)
        target = target_for(ApiGateway(app), _admin_key(at))
        started = time.perf_counter()
        report = fuzz(target, examples=args.examples, only=lambda label: args.only in label)
        seconds = time.perf_counter() - started
    text = render(report, examples=args.examples, seconds=seconds, at=at)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(text)
    print(text.split("\n| operation", 1)[0])
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
