"""Financing, settings and report shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from cashline.domain.invoices import Direction
from cashline.domain.plans import DebitMethod, FinancingSettings, Installment, Plan
from cashline.schemas.common import (
    BusinessDate,
    CalendarPeriod,
    CurrencyCode,
    MinorUnits,
    OutputModel,
    RequestModel,
)

if TYPE_CHECKING:  # an annotation only: domain.financing brings the holiday calendars with it
    from cashline.domain.financing import Schedule


class FinancingRequest(RequestModel):
    payout_date: BusinessDate = Field(
        description="When Cashline pays the supplier (moved to the next business day)"
    )
    installments: int = Field(ge=1, le=12, description="Monthly installments (the tenant's maximum applies)")
    first_debit_date: BusinessDate | None = Field(
        default=None, description="Default: one month after the payout"
    )


class QuoteRequest(FinancingRequest):
    amount: MinorUnits = Field(gt=0, description="The principal to finance")
    currency: CurrencyCode


class InstallmentOutput(OutputModel):
    id: str | None = None
    sequence: int
    kind: str = "scheduled"
    amount: int
    due_date: date
    status: str = "scheduled"
    attempt: int = 1
    failure_reason: str | None = None
    paid_at: datetime | None = None

    @classmethod
    def of(cls, installment: Installment) -> InstallmentOutput:
        return cls(
            id=installment.installment_id,
            sequence=installment.sequence,
            kind=installment.kind,
            amount=installment.amount,
            due_date=installment.due_date,
            status=installment.status.value,
            attempt=installment.attempt,
            failure_reason=installment.failure_reason,
            paid_at=installment.paid_at,
        )


class QuoteOutput(OutputModel):
    object: str = "financing_quote"
    currency: str
    principal: int
    fee: int
    total: int
    payout_date: date
    installments: list[InstallmentOutput]

    @classmethod
    def of(cls, schedule: Schedule) -> QuoteOutput:
        return cls(
            currency=schedule.currency,
            principal=schedule.principal,
            fee=schedule.fee,
            total=schedule.total,
            payout_date=schedule.payout_date,
            installments=[
                InstallmentOutput(sequence=i.sequence, amount=i.amount, due_date=i.due_date)
                for i in schedule.installments
            ],
        )


class PlanOutput(OutputModel):
    id: str
    object: str = "financing_plan"
    invoice_id: str
    supplier_name: str
    currency: str
    principal: int
    fee: int
    total: int
    paid_amount: int
    remaining: int
    payout_date: date
    payout_status: str
    status: str
    installments: list[InstallmentOutput] | None = None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, plan: Plan, installments: list[Installment] | None = None) -> PlanOutput:
        return cls(
            id=plan.plan_id,
            invoice_id=plan.invoice_id,
            supplier_name=plan.supplier_name,
            currency=plan.currency,
            principal=plan.principal,
            fee=plan.fee,
            total=plan.total,
            paid_amount=plan.paid_amount,
            remaining=max(0, plan.total - plan.paid_amount),
            payout_date=plan.payout_date,
            payout_status=plan.payout_status.value,
            status=plan.status.value,
            installments=[InstallmentOutput.of(i) for i in installments]
            if installments is not None
            else None,
            created_at=plan.created_at,
            version=plan.version,
        )


class DebitMethodModel(RequestModel):
    processor: Literal["stripe", "gocardless"]
    customer_id: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Stripe customer"
    )
    payment_method_id: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Stripe saved payment method, used off-session"
    )
    mandate_id: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="GoCardless mandate"
    )


class FinancingSettingsModel(RequestModel):
    monthly_rate_bp: int = Field(
        default=150, ge=0, le=1000, description="Fee per month of term, basis points"
    )
    fixed_fee: MinorUnits = Field(default=0, ge=0)
    max_installments: int = Field(default=12, ge=1, le=12)
    retry_after_days: Annotated[list[Annotated[int, Field(ge=1, le=30)]], Field(max_length=5)] = Field(
        default_factory=lambda: [3, 5, 7], description="Days after each failed attempt until the next"
    )
    reminder_days_before: int = Field(default=3, ge=0, le=14)
    reminder_email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    bank_country: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    debit: DebitMethodModel | None = None
    version: int = Field(default=0, ge=0, description="The version you read (0 for the first save)")

    def to_settings(self) -> FinancingSettings:
        debit = DebitMethod(processor=None) if self.debit is None else DebitMethod(**self.debit.model_dump())
        return FinancingSettings(
            monthly_rate_bp=self.monthly_rate_bp,
            fixed_fee=self.fixed_fee,
            max_installments=self.max_installments,
            retry_after_days=tuple(self.retry_after_days),
            reminder_days_before=self.reminder_days_before,
            reminder_email=self.reminder_email,
            bank_country=self.bank_country.upper() if self.bank_country else None,
            debit=debit,
            version=self.version,
        )

    @classmethod
    def of(cls, s: FinancingSettings) -> FinancingSettingsModel:
        debit = (
            None
            if s.debit.processor is None
            else DebitMethodModel(
                processor="gocardless" if s.debit.processor == "gocardless" else "stripe",
                customer_id=s.debit.customer_id,
                payment_method_id=s.debit.payment_method_id,
                mandate_id=s.debit.mandate_id,
            )
        )
        return cls(
            monthly_rate_bp=s.monthly_rate_bp,
            fixed_fee=s.fixed_fee,
            max_installments=s.max_installments,
            retry_after_days=list(s.retry_after_days),
            reminder_days_before=s.reminder_days_before,
            reminder_email=s.reminder_email,
            bank_country=s.bank_country,
            debit=debit,
            version=s.version,
        )


class UpcomingQuery(RequestModel):
    direction: Direction = Direction.PAYABLE
    from_: BusinessDate | None = Field(default=None, alias="from")
    to: BusinessDate | None = None
    group_by: Literal["day", "week", "month"] = "week"
    period: CalendarPeriod | None = Field(
        default=None, description="2026-W49, 2026-12 or 2026-12-07: list it"
    )


class PeriodOutput(OutputModel):
    period: str
    first_day: date
    currency: str
    amount: int
    count: int
    invoices_amount: int
    installments_amount: int


class DuePaymentOutput(OutputModel):
    kind: str
    id: str
    parent_id: str
    label: str
    due_date: date
    currency: str
    amount: int


class UpcomingOutput(OutputModel):
    object: str = "upcoming"
    direction: Direction
    group_by: str | None
    periods: list[PeriodOutput]
    payments: list[DuePaymentOutput] | None = Field(default=None, description="With ?period=: its payments")


class SummaryCard(OutputModel):
    direction: str
    currency: str
    outstanding: int
    due_next_30_days: int
    overdue_or_past_due: int


class SummaryOutput(OutputModel):
    object: str = "summary"
    cards: list[SummaryCard]
    next_payments: list[DuePaymentOutput]


class OutboxOutput(OutputModel):
    """What the local cloud's channels wrote: e-mails (with attachment names) and SMS."""

    data: list[dict[str, Any]]
