"""/v1/reports: what falls due when, the summary, aging, cash-flow forecast, risk; /v1/fx-rates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint
from pydantic import BaseModel

from cashline.domain.access import Role, Tenant, today_for
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
from chalicelib.http import Call, api_route
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:
    from cashline.dal.risk_repository import Risk
    from cashline.services import documents, fx, insight, reports, risk, statements, tenancy
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    documents = deferred("cashline.services.documents")
    fx = deferred("cashline.services.fx")
    insight = deferred("cashline.services.insight")
    reports = deferred("cashline.services.reports")
    risk = deferred("cashline.services.risk")
    statements = deferred("cashline.services.statements")
    tenancy = deferred("cashline.services.tenancy")

report_api = Blueprint(__name__)
TAG = "reports"


def _report_get(
    path: str, *, summary: str, response: type[BaseModel], query: type[BaseModel] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A report: a GET that any key of the tenant may read."""
    return api_route(
        report_api,
        path,
        method="GET",
        summary=summary,
        query=query,
        response=response,
        role=Role.READ_ONLY,
        tag=TAG,
    )


def _tenant_today(call: Call[Any, Any]) -> tuple[Tenant, date]:
    """The caller's tenant and the business day it is there (reports are as of the tenant's day)."""
    tenant = tenancy.tenants.get(call.tenant_id)
    return tenant, today_for(tenant, call.now)


def _scope(call: Call[Any, SummaryQuery] | Call[Any, AgingQuery]) -> tuple[insight.ReportScope, date]:
    """What a report covers (the query's direction, segment and currency), and the tenant's day."""
    tenant, today = _tenant_today(call)
    q = call.query
    scope = insight.ReportScope(call.tenant_id, q.direction, q.segment, q.currency, tenant.base_currency)
    return scope, today


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


@_report_get(
    "/v1/reports/upcoming",
    summary="Totals due per day, week or month and currency; with ?period= that period's payments",
    query=UpcomingQuery,
    response=UpcomingOutput,
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
    _, today = _tenant_today(call)
    first = q.from_ or today
    last = q.to or first + timedelta(weeks=8)
    periods = reports.upcoming(call.tenant_id, q.direction, first, last, q.group_by)
    return UpcomingOutput(
        direction=q.direction, group_by=q.group_by, periods=[PeriodOutput(**asdict(p)) for p in periods]
    )


@_report_get(
    "/v1/reports/summary",
    summary="Outstanding, overdue, due in 30 days, days past due, DSO, collection rate, payments by method; "
    "per currency and in the base currency",
    query=SummaryQuery,
    response=SummaryOutput,
)
def summary(call: Call[Any, SummaryQuery]) -> SummaryOutput:
    q = call.query
    scope, today = _scope(call)
    period = insight.parse_accounting_period(q.period, today)
    report = insight.summary(scope, period=period, today=today)
    cards = reports.cards(call.tenant_id, call.now)
    # The next payments of the direction asked for (the cards keep both, as before).
    next_payments = reports.next_payments(call.tenant_id, q.direction, today)
    return SummaryOutput(
        direction=q.direction,
        as_of=today,
        period={"from": period[0], "to": period[1]},
        base_currency=scope.base_currency,
        cards=[SummaryCard(**asdict(c)) for c in cards],
        figures=[FiguresOutput(**f) for f in report.figures],
        base=FiguresOutput(**report.base) if report.base else None,
        missing_rates=report.missing_rates,
        payments_by_method=[MethodOutput(**m) for m in report.payments_by_method],
        next_payments=[_payment(p) for p in next_payments],
    )


@_report_get(
    "/v1/reports/aging",
    summary="Open amounts in buckets of days past due (current, 1-30, 31-60, 61-90, over 90), in total and "
    "per counterparty, as of any date",
    query=AgingQuery,
    response=AgingOutput,
)
def aging(call: Call[Any, AgingQuery]) -> AgingOutput:
    q = call.query
    scope, today = _scope(call)
    report = insight.aging(scope, as_of=q.as_of or today, by_counterparty=q.by_counterparty)
    return AgingOutput(direction=q.direction, **report)


@_report_get(
    "/v1/reports/cashflow",
    summary="Money expected in and out per week: installments and open invoices, receivables shifted by "
    "each customer's own observed delay",
    query=CashflowQuery,
    response=CashflowOutput,
)
def cashflow(call: Call[Any, CashflowQuery]) -> CashflowOutput:
    _, today = _tenant_today(call)
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


@_report_get(
    "/v1/counterparties/{counterparty_id}/risk",
    summary="Payment behaviour: average delay, trend over the last invoices, broken promises, disputes, flag",
    response=RiskOutput,
)
def counterparty_risk(call: Call[Any, Any]) -> RiskOutput:
    return _risk(*risk.counterparty_risk(call.tenant_id, call.path["counterparty_id"]))


@_report_get(
    "/v1/reports/risk",
    summary="The counterparties flagged as paying worse, the latest first",
    query=ListQuery,
    response=RiskList,
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


@_report_get(
    "/v1/fx-rates",
    summary="The rates in force on a date (the latest of the week before)",
    query=FxQuery,
    response=FxList,
)
def get_rates(call: Call[Any, FxQuery]) -> FxList:
    _, today = _tenant_today(call)
    on = call.query.on or today
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
        store=documents.store_for(api_ready()),
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
