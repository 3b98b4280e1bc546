"""Issue 4 figures: the debit sweep as not-yet-due installments grow, and the upcoming report."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.models import BatchWrite

from bench.dynamodb_meter import metered
from cashline.dal.daily_totals import DayDelta, update_for
from cashline.dal.financing_records import InstallmentRecord
from cashline.dal.financing_repository import installment_record, plan_record
from cashline.domain.plans import Installment, InstallmentStatus, PayoutStatus, Plan, PlanStatus
from cashline.ids import new_id
from localcloud.gateway import ApiGateway
from localcloud.handlers import fire_schedule
from tests.utils import make_tenant


def _seed_installments(tenant_id: str, count: int, due_at: datetime | None, day: date, now: datetime) -> None:
    """`count` one-installment plans (plan header and installment) written straight to the table."""
    with BatchWrite(InstallmentRecord) as batch:
        for index in range(count):
            plan = Plan(
                tenant_id=tenant_id,
                plan_id=new_id("plan"),
                invoice_id=new_id("invoice"),
                supplier_name="Bench supplier",
                currency="EUR",
                principal=10_000 + index,
                fee=0,
                total=10_000 + index,
                paid_amount=0,
                payout_date=day - timedelta(days=30),
                payout_status=PayoutStatus.PAID,
                status=PlanStatus.ACTIVE,
                installments_count=1,
                pricing={"monthly_rate_bp": 0, "fixed_fee": 0},
                created_at=now,
                updated_at=now,
            )
            header = plan_record(plan, None)
            header.version = 1
            batch.save(header)
            installment = Installment(
                installment_id=new_id("installment"),
                plan_id=plan.plan_id,
                sequence=1,
                kind="scheduled",
                due_date=day,
                amount=10_000 + index,
                currency="EUR",
                status=InstallmentStatus.SCHEDULED,
            )
            record = installment_record(tenant_id, installment, due_at, now)
            record.version = 1
            batch.save(record)


@dataclass(frozen=True)
class SweepFigure:
    not_due: int
    due: int
    calls: int
    queries: int
    read_units: float
    write_units: float
    seconds: float
    debits: int


def measure_debit_sweep(
    app: Any, settings_call: Any, not_due_sizes: list[int], due: int
) -> list[SweepFigure]:
    figures = []
    for offset, not_due in enumerate(not_due_sizes):
        tenant = make_tenant(f"Sweep bench {not_due}")
        settings_call(tenant)
        tick = datetime(2045, 1, 2, 5, 0, tzinfo=UTC) + timedelta(days=40 * offset)
        fire_schedule(app, "installment_debits", tick - timedelta(hours=1))  # the cursor: last hour swept
        now = datetime.now(UTC)
        _seed_installments(tenant.tenant_id, due, tick, tick.date(), now)
        _seed_installments(
            tenant.tenant_id, not_due, tick + timedelta(days=30), (tick + timedelta(days=30)).date(), now
        )
        started = time.perf_counter()
        with metered() as meter:
            result = fire_schedule(app, "installment_debits", tick)
        figures.append(
            SweepFigure(
                not_due,
                due,
                meter.total_calls,
                meter.calls["Query"],
                meter.read_units,
                meter.write_units,
                time.perf_counter() - started,
                result["debits"],
            )
        )
    return figures


@dataclass(frozen=True)
class ReportFigure:
    installments: int
    query: str
    calls: int
    read_units: float
    milliseconds: float
    rows: int


def measure_upcoming(gateway: ApiGateway, installments: int) -> list[ReportFigure]:
    tenant = make_tenant("Report bench")
    rng = random.Random(11)
    start = date(2041, 1, 1)
    now = datetime.now(UTC)
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    with BatchWrite(InstallmentRecord) as batch:
        for _ in range(installments):
            day = start + timedelta(days=rng.randrange(365))
            amount = rng.randrange(5_000, 500_000)
            installment = Installment(
                installment_id=new_id("installment"),
                plan_id=new_id("plan"),
                sequence=1,
                kind="scheduled",
                due_date=day,
                amount=amount,
                currency="EUR",
                status=InstallmentStatus.SCHEDULED,
            )
            record = installment_record(tenant.tenant_id, installment, None, now)
            record.version = 1
            batch.save(record)
            days[day][0] += amount
            days[day][1] += 1
    # The per-day aggregate, as the plan transactions would have left it.
    for day_record, actions in update_for(
        [DayDelta(tenant.tenant_id, "payable", d, "EUR", "installments", a, n) for d, (a, n) in days.items()],
        now,
    ):
        day_record.update(actions=actions)
    headers = {"authorization": f"Bearer {tenant.read_only}"}
    queries = [
        "/v1/reports/upcoming?direction=payable&from=2041-01-01&to=2041-12-30&group_by=week",
        "/v1/reports/upcoming?direction=payable&from=2041-01-01&to=2041-12-31&group_by=month",
        "/v1/reports/upcoming?direction=payable&period=2041-W23",
    ]
    gateway.call("GET", queries[0], headers=headers)  # warm
    figures = []
    for path in queries:
        started = time.perf_counter()
        with metered() as meter:
            response = gateway.call("GET", path, headers=headers)
        body = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.body[:300]!r}")
        rows = len(body.get("payments") or body["periods"])
        figures.append(
            ReportFigure(
                installments,
                path.split("?")[1],
                meter.total_calls,
                meter.read_units,
                (time.perf_counter() - started) * 1000,
                rows,
            )
        )
    return figures
