"""/v1/reports: what falls due when, and the summary cards."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.financing import (
    DuePaymentOutput,
    PeriodOutput,
    SummaryCard,
    SummaryOutput,
    UpcomingOutput,
    UpcomingQuery,
)
from cashline.services import reports
from cashline.services.invoices import tenants
from chalicelib.http import Call, api_route

report_api = Blueprint(__name__)
TAG = "reports"


def _payment(p: reports.DuePayment) -> DuePaymentOutput:
    return DuePaymentOutput(
        kind=p.kind,
        id=p.id,
        parent_id=p.parent_id,
        label=p.label,
        due_date=p.due_date,
        currency=p.currency,
        amount=p.amount,
    )


@api_route(
    report_api,
    "/v1/reports/upcoming",
    method="GET",
    summary="Totals due per day, week or month and currency; with ?period= that period's payments",
    query=UpcomingQuery,
    response=UpcomingOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def upcoming(call: Call[Any, UpcomingQuery]) -> UpcomingOutput:
    q = call.query
    if q.period:
        first, last = reports.parse_period(q.period)
        periods = reports.upcoming(call.tenant_id, q.direction, first, last, "day")
        payments = [_payment(p) for p in reports.payments_in(call.tenant_id, q.direction, first, last)]
        return UpcomingOutput(
            direction=q.direction,
            group_by="day",
            payments=payments,
            periods=[PeriodOutput(**asdict(p)) for p in periods],
        )
    tenant = tenants.get(call.tenant_id)
    today = call.now.astimezone(ZoneInfo(tenant.timezone)).date()
    first = q.from_ or today
    last = q.to or first + timedelta(weeks=8)
    periods = reports.upcoming(call.tenant_id, q.direction, first, last, q.group_by)
    return UpcomingOutput(
        direction=q.direction, group_by=q.group_by, periods=[PeriodOutput(**asdict(p)) for p in periods]
    )


@api_route(
    report_api,
    "/v1/reports/summary",
    method="GET",
    summary="Outstanding and due in 30 days per direction and currency, and the next payments",
    response=SummaryOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def summary(call: Call[Any, Any]) -> SummaryOutput:
    cards, next_payments = reports.summary(call.tenant_id, call.now)
    return SummaryOutput(
        cards=[SummaryCard(**asdict(c)) for c in cards], next_payments=[_payment(p) for p in next_payments]
    )
