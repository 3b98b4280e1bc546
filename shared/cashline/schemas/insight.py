"""Requests and responses of the analytics reports, exchange rates, risk and statements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from cashline.domain.invoices import Direction
from cashline.schemas.common import (
    AccountingPeriod,
    BusinessDate,
    CurrencyCode,
    OutputModel,
    RequestModel,
)
from cashline.schemas.financing import DuePaymentOutput, SummaryCard

Segment = Annotated[str, Field(max_length=50)]


class SummaryQuery(RequestModel):
    direction: Direction = Direction.RECEIVABLE
    segment: Segment | None = None
    currency: CurrencyCode | None = None
    period: AccountingPeriod | None = Field(
        default=None, description="Accounting period for DSO and collection rate: 2026-11, 2026-Q4 or 2026"
    )


class FiguresOutput(OutputModel):
    currency: str
    outstanding: int
    overdue: int
    due_next_30_days: int
    open_count: int
    average_days_past_due: float
    weighted_days_past_due: float
    dso_days: float | None
    collection_rate: float | None
    billed_in_period: int
    collected_in_period: int


class MethodOutput(OutputModel):
    method: str
    currency: str
    amount: int
    count: int


class SummaryOutput(OutputModel):
    object: str = "summary"
    direction: Direction
    as_of: date
    period: dict[str, date]
    base_currency: str
    cards: list[SummaryCard] = Field(description="Both directions, per currency (the dashboard's cards)")
    figures: list[FiguresOutput]
    base: FiguresOutput | None = Field(description="In the base currency; null when a rate is missing")
    missing_rates: list[str]
    payments_by_method: list[MethodOutput]
    next_payments: list[DuePaymentOutput]


class AgingQuery(RequestModel):
    direction: Direction = Direction.RECEIVABLE
    as_of: BusinessDate | None = None
    segment: Segment | None = None
    currency: CurrencyCode | None = None
    by_counterparty: bool = True


class AgingOutput(OutputModel):
    object: str = "aging"
    direction: Direction
    as_of: date
    buckets: list[str]
    totals: list[dict[str, Any]]
    base: dict[str, Any] | None
    missing_rates: list[str]
    counterparties: list[dict[str, Any]]


class CashflowQuery(RequestModel):
    weeks: int = Field(default=12, ge=1, le=52)
    currency: CurrencyCode | None = None


class WeekOutput(OutputModel):
    week: str
    first_day: date
    currency: str
    expected_in: int
    expected_out: int
    net: int


class CashflowOutput(OutputModel):
    object: str = "cashflow"
    weeks: list[WeekOutput]
    basis: list[dict[str, Any]] = Field(description="The customers whose observed delay shifts the forecast")


class RiskOutput(OutputModel):
    counterparty_id: str
    name: str
    paid_invoices: int
    average_delay_days: float | None
    recent_average_delay_days: float | None
    trend_days: float | None = Field(description="The last three against the ones before; positive: later")
    recent: list[dict[str, Any]] = Field(description="The last paid invoices, oldest first, with their delay")
    broken_promises: int
    disputes: int
    flagged: bool
    reasons: list[str]
    updated_at: datetime | None


class RiskList(OutputModel):
    data: list[RiskOutput]


class FxRatesOutput(OutputModel):
    stored: int
    days: list[date]


class FxQuery(RequestModel):
    on: BusinessDate | None = Field(default=None, description="Default: today")
    base: CurrencyCode | None = None


class FxRateItem(RequestModel):
    base: Annotated[str, Field(max_length=3, examples=["EUR"])]
    quote: Annotated[str, Field(max_length=3, examples=["CHF"])]
    rate: Annotated[str, Field(max_length=40)] | float | int = Field(
        description="1 base = rate quote; a decimal string or a JSON number", examples=["0.9312"]
    )
    date: BusinessDate | None = Field(default=None, description="This rate's day, when not the body's")


class FxRatesRequest(RequestModel):
    """The JSON form of `POST /v1/fx-rates` (the other is the ECB's XML)."""

    date: BusinessDate | None = Field(default=None, description="The day of every rate without its own")
    rates: list[FxRateItem]


class FxRateOutput(OutputModel):
    base: str
    quote: str
    rate: str
    day: date


class FxList(OutputModel):
    data: list[FxRateOutput]


class StatementRequest(RequestModel):
    from_: BusinessDate = Field(alias="from")
    to: BusinessDate
    format: Literal["pdf", "csv"] = "pdf"
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None = None
    currency: CurrencyCode | None = None


class StatementOutput(OutputModel):
    id: str
    counterparty_id: str
    format: str
    currency: str
    opening_balance: int
    closing_balance: int
    lines: int
    download_url: str
    expires_in_seconds: int
