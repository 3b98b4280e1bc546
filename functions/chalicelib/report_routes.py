"""/v1/reports: what falls due when, the summary, aging, cash-flow forecast, risk; /v1/fx-rates."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalice.app import Blueprint

from cashline.dal.risk_repository import Risk
from cashline.domain.access import Role
from cashline.domain.risk import Assessment
from cashline.schemas.common import ListQuery
from cashline.schemas.financing import (
    DuePaymentOutput,
    PeriodOutput,
    SummaryCard,
    UpcomingOutput,
    UpcomingQuery,
)
from cashline.schemas.insight import (
    AgingOutput,
    AgingQuery,
    CashflowOutput,
    CashflowQuery,
    FiguresOutput,
    FxList,
    FxQuery,
    FxRateOutput,
    FxRatesOutput,
    FxRatesRequest,
    MethodOutput,
    RiskList,
    RiskOutput,
    StatementOutput,
    StatementRequest,
    SummaryOutput,
    SummaryQuery,
    WeekOutput,
)
from cashline.services import fx, insight, reports, risk, statements
from cashline.services.documents import store_for
from cashline.services.tenancy import tenants
from chalicelib.http import Call, api_route
from chalicelib.runtime import api_ready

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
    summary="Outstanding, overdue, due in 30 days, days past due, DSO, collection rate, payments by method; "
    "per currency and in the base currency",
    query=SummaryQuery,
    response=SummaryOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def summary(call: Call[Any, SummaryQuery]) -> SummaryOutput:
    q = call.query
    tenant = tenants.get(call.tenant_id)
    today = call.now.astimezone(ZoneInfo(tenant.timezone)).date()
    period = insight.parse_accounting_period(q.period, today)
    report = insight.summary(
        call.tenant_id,
        direction=q.direction,
        segment=q.segment,
        currency=q.currency,
        period=period,
        today=today,
        base_currency=tenant.base_currency,
    )
    cards = reports.cards(call.tenant_id, call.now)
    # The next payments of the direction asked for (the cards keep both, as before).
    next_payments = reports.next_payments(call.tenant_id, q.direction, today)
    return SummaryOutput(
        direction=q.direction,
        as_of=today,
        period={"from": period[0], "to": period[1]},
        base_currency=tenant.base_currency,
        cards=[SummaryCard(**asdict(c)) for c in cards],
        figures=[FiguresOutput(**f) for f in report.figures],
        base=FiguresOutput(**report.base) if report.base else None,
        missing_rates=report.missing_rates,
        payments_by_method=[MethodOutput(**m) for m in report.payments_by_method],
        next_payments=[_payment(p) for p in next_payments],
    )


@api_route(
    report_api,
    "/v1/reports/aging",
    method="GET",
    summary="Open amounts in buckets of days past due (current, 1-30, 31-60, 61-90, over 90), in total and "
    "per counterparty, as of any date",
    query=AgingQuery,
    response=AgingOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def aging(call: Call[Any, AgingQuery]) -> AgingOutput:
    q = call.query
    tenant = tenants.get(call.tenant_id)
    as_of = q.as_of or call.now.astimezone(ZoneInfo(tenant.timezone)).date()
    report = insight.aging(
        call.tenant_id,
        direction=q.direction,
        as_of=as_of,
        segment=q.segment,
        currency=q.currency,
        by_counterparty=q.by_counterparty,
        base_currency=tenant.base_currency,
    )
    return AgingOutput(direction=q.direction, **report)


@api_route(
    report_api,
    "/v1/reports/cashflow",
    method="GET",
    summary="Money expected in and out per week: installments and open invoices, receivables shifted by "
    "each customer's own observed delay",
    query=CashflowQuery,
    response=CashflowOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def cashflow(call: Call[Any, CashflowQuery]) -> CashflowOutput:
    tenant = tenants.get(call.tenant_id)
    today = call.now.astimezone(ZoneInfo(tenant.timezone)).date()
    forecast = insight.cashflow(
        call.tenant_id, weeks=call.query.weeks, currency=call.query.currency, today=today
    )
    return CashflowOutput(
        weeks=[
            WeekOutput(
                week=w.week,
                first_day=w.first_day,
                currency=w.currency,
                expected_in=w.expected_in,
                expected_out=w.expected_out,
                net=w.expected_in - w.expected_out,
            )
            for w in forecast.weeks
        ],
        basis=forecast.basis,
    )


def _risk(r: Risk, a: Assessment) -> RiskOutput:
    return RiskOutput(
        counterparty_id=r.counterparty_id,
        name=r.name,
        paid_invoices=r.paid_invoices,
        average_delay_days=round(r.delay_days_total / r.paid_invoices, 1) if r.paid_invoices else None,
        recent_average_delay_days=a.recent_average_delay_days,
        trend_days=a.trend_days,
        recent=r.recent,
        broken_promises=r.broken_promises,
        disputes=r.disputes,
        flagged=a.flagged,
        reasons=list(a.reasons),
        updated_at=r.updated_at,
    )


@api_route(
    report_api,
    "/v1/counterparties/{counterparty_id}/risk",
    method="GET",
    summary="Payment behaviour: average delay, trend over the last invoices, broken promises, disputes, flag",
    response=RiskOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def counterparty_risk(call: Call[Any, Any]) -> RiskOutput:
    return _risk(*risk.counterparty_risk(call.tenant_id, call.path["counterparty_id"]))


@api_route(
    report_api,
    "/v1/reports/risk",
    method="GET",
    summary="The counterparties flagged as paying worse, the latest first",
    query=ListQuery,
    response=RiskList,
    role=Role.READ_ONLY,
    tag=TAG,
)
def flagged(call: Call[Any, ListQuery]) -> RiskList:
    return RiskList(data=[_risk(r, a) for r, a in risk.flagged(call.tenant_id, call.query.limit)])


@api_route(
    report_api,
    "/v1/fx-rates",
    method="POST",
    summary="Store exchange rates: the ECB reference-rate XML, or JSON {date, rates: [{base, quote, rate}]}",
    # Documents the JSON form; the service reads it (with the XML form) from the raw body.
    request=FxRatesRequest,
    response=FxRatesOutput,
    role=Role.FINANCE,
    accepts=("application/xml", "text/xml", "application/json"),
    tag=TAG,
)
def post_rates(call: Call[Any, Any]) -> FxRatesOutput:
    stored = fx.store(call.tenant_id, call.raw_body, call.content_type, now=call.now)
    return FxRatesOutput(stored=len(stored), days=sorted({r.day for r in stored}))


@api_route(
    report_api,
    "/v1/fx-rates",
    method="GET",
    summary="The rates in force on a date (the latest of the week before)",
    query=FxQuery,
    response=FxList,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_rates(call: Call[Any, FxQuery]) -> FxList:
    tenant = tenants.get(call.tenant_id)
    on = call.query.on or call.now.astimezone(ZoneInfo(tenant.timezone)).date()
    rates = fx.rates_on(call.tenant_id, on, base=call.query.base)
    return FxList(data=[FxRateOutput(base=b, quote=q, rate=str(r), day=d) for d, b, q, r in rates])


@api_route(
    report_api,
    "/v1/counterparties/{counterparty_id}/statements",
    method="POST",
    summary="A statement of account for a period (PDF or CSV): opening balance, invoices, payments, credits, "
    "closing balance, aging; answers with a short-lived download link",
    request=StatementRequest,
    response=StatementOutput,
    # finance: the statement is written to S3 (a document that is kept), so it is a write, not a read.
    role=Role.FINANCE,
    status=201,
    tag=TAG,
)
def create_statement(call: Call[StatementRequest, Any]) -> StatementOutput:
    b = call.body
    made = statements.make_statement(
        call.tenant_id,
        call.path["counterparty_id"],
        first=b.from_,
        last=b.to,
        fmt=b.format,
        language=b.language,
        currency=b.currency,
        store=store_for(api_ready()),
        now=call.now,
    )
    return StatementOutput(
        id=made.statement_id,
        counterparty_id=made.counterparty_id,
        format=made.format,
        currency=made.currency,
        opening_balance=made.opening_balance,
        closing_balance=made.closing_balance,
        lines=made.lines,
        download_url=made.url,
        expires_in_seconds=statements.LINK_SECONDS,
    )
