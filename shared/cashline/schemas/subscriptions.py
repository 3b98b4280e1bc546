"""Subscription requests and responses (create, read, list, pause, resume).

The shape rules live here (sizes, ranges, which fields go together); rules that need stored data
(the counterparty, the prices, the tenant's today) are checked by services/billing/subscriptions.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import Field, model_validator

from cashline.domain.billing.subscription_changes import ScheduledChange
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    Discount,
    PaymentMethod,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from cashline.schemas.common import (
    MAX_MINOR_UNITS,
    BusinessDate,
    FieldProblem,
    ListQuery,
    OutputModel,
    RequestModel,
)
from cashline.schemas.parties import Metadata
from cashline.schemas.subscription_changes import ScheduledChangeOutput, scheduled_change_output

if TYPE_CHECKING:  # the view is only read here; the schema need not load the service
    from cashline.services.billing.upcoming import UpcomingInvoiceView

MAX_ITEMS = 20
MAX_DISCOUNTS = 5
MAX_QUANTITY = 1_000_000

ProcessorId = Annotated[str, Field(min_length=1, max_length=255)]


class ItemRequest(RequestModel):
    price_id: Annotated[str, Field(min_length=1, max_length=40)]
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


class PaymentMethodRequest(RequestModel):
    """A saved payment method by the processor's ids: Stripe needs the customer and the payment
    method on it, GoCardless the mandate."""

    processor: Literal["stripe", "gocardless"]
    customer_id: ProcessorId | None = None
    payment_method_id: ProcessorId | None = None
    mandate_id: ProcessorId | None = None

    @model_validator(mode="after")
    def _ids_of_the_processor(self) -> Self:
        if self.processor == "stripe":
            for name in ("customer_id", "payment_method_id"):
                if getattr(self, name) is None:
                    raise FieldProblem(f"{name} is required for a stripe payment method", name)
            if self.mandate_id is not None:
                raise FieldProblem("mandate_id is for gocardless", "mandate_id")
        else:
            if self.mandate_id is None:
                raise FieldProblem("mandate_id is required for a gocardless payment method", "mandate_id")
            for name in ("customer_id", "payment_method_id"):
                if getattr(self, name) is not None:
                    raise FieldProblem(f"{name} is for stripe", name)
        return self

    def to_domain(self) -> PaymentMethod:
        return PaymentMethod(
            processor=self.processor,
            customer_id=self.customer_id,
            payment_method_id=self.payment_method_id,
            mandate_id=self.mandate_id,
        )


class DiscountRequest(RequestModel):
    """Exactly one of `percent_basis_points` (2500 = 25 %) and `amount` (minor units of the
    subscription's currency), for `periods` invoices (null: forever)."""

    percent_basis_points: int | None = Field(default=None, ge=1, le=10_000)
    amount: int | None = Field(default=None, ge=1, le=MAX_MINOR_UNITS)
    periods: int | None = Field(default=None, ge=1, le=120)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.percent_basis_points is None) == (self.amount is None):
            raise FieldProblem("give exactly one of percent_basis_points and amount", "percent_basis_points")
        return self


class NewSubscription(RequestModel):
    counterparty_id: Annotated[str, Field(min_length=1, max_length=40)]
    items: list[ItemRequest] = Field(min_length=1, max_length=MAX_ITEMS)
    start_date: BusinessDate | None = Field(default=None, description="Default: the tenant's today")
    trial_end: BusinessDate | None = None
    billing_cycle_anchor: BusinessDate | None = Field(
        default=None, description="Default: the start date (the trial end when trialing)"
    )
    collection_method: CollectionMethod = CollectionMethod.SEND_INVOICE
    payment_method: PaymentMethodRequest | None = None
    days_until_due: int | None = Field(default=None, ge=0, le=365)
    minimum_term_months: int | None = Field(default=None, ge=0, le=60)
    notice_days: int | None = Field(default=None, ge=0, le=365)
    discounts: list[DiscountRequest] = Field(default_factory=list, max_length=MAX_DISCOUNTS)
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        prices = [item.price_id for item in self.items]
        if len(set(prices)) != len(prices):
            raise FieldProblem("each price may appear once; raise its quantity instead", "items")
        if self.collection_method == CollectionMethod.CHARGE_AUTOMATICALLY:
            if self.payment_method is None:
                raise FieldProblem("charge_automatically needs a payment_method", "payment_method")
            if self.days_until_due is not None:
                raise FieldProblem("days_until_due is for send_invoice", "days_until_due")
        elif self.payment_method is not None:
            raise FieldProblem("payment_method is for charge_automatically", "payment_method")
        return self


class SubscriptionListQuery(ListQuery):
    status: SubscriptionStatus | None = None
    counterparty_id: str | None = Field(default=None, max_length=40)


class ResumeRequest(RequestModel):
    on: BusinessDate | None = Field(default=None, description="Default: the tenant's today")


class ItemOutput(OutputModel):
    id: str
    price_id: str
    product_name: str
    quantity: int
    unit_amount: int | None
    interval: str | None
    usage_type: str

    @classmethod
    def of(cls, item: SubscriptionItem) -> ItemOutput:
        terms = item.terms
        return cls(
            id=item.item_id,
            price_id=terms.price_id,
            product_name=terms.product_name,
            quantity=item.quantity,
            unit_amount=terms.unit_amount,
            interval=terms.interval.value if terms.interval else None,
            usage_type=terms.usage_type.value,
        )


class PaymentMethodOutput(OutputModel):
    processor: str
    customer_id: str | None
    payment_method_id: str | None
    mandate_id: str | None


class DiscountOutput(OutputModel):
    id: str
    percent_basis_points: int | None
    amount: int | None
    periods: int | None
    applied_periods: int

    @classmethod
    def of(cls, discount: Discount) -> DiscountOutput:
        return cls(
            id=discount.discount_id,
            percent_basis_points=discount.percent_basis_points,
            amount=discount.amount,
            periods=discount.periods,
            applied_periods=discount.applied_periods,
        )


class SubscriptionOutput(OutputModel):
    id: str
    object: str = "subscription"
    counterparty_id: str
    status: str
    currency: str
    items: list[ItemOutput]
    interval: str
    interval_count: int
    start_date: date
    trial_end: date | None
    billing_cycle_anchor: date
    current_period_start: date
    current_period_end: date = Field(description="Exclusive: the first day of the next period")
    next_invoice_date: date | None = Field(description="When the next invoice is issued; null: none")
    latest_invoice_id: str | None
    collection_method: str
    payment_method: PaymentMethodOutput | None
    days_until_due: int | None
    minimum_term_months: int | None
    notice_days: int | None
    discounts: list[DiscountOutput]
    cancel_at: date | None
    canceled_on: date | None
    paused_on: date | None
    metadata: dict[str, str]
    pending_proration_amount: int = Field(description="Proration lines waiting for the next invoice")
    scheduled_change: ScheduledChangeOutput | None = Field(
        default=None,
        description="The pending scheduled change or cancellation (kind change|cancel). Filled by "
        "GET /v1/subscriptions/{id} only: always null in lists",
    )
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, sub: Subscription, scheduled_change: ScheduledChange | None = None) -> SubscriptionOutput:
        """`scheduled_change`: the pending one, read by the single-subscription GET only."""
        method = sub.payment_method
        return cls(
            id=sub.subscription_id,
            counterparty_id=sub.counterparty_id,
            status=sub.status.value,
            currency=sub.currency,
            items=[ItemOutput.of(item) for item in sub.items],
            interval=sub.interval.value,
            interval_count=sub.interval_count,
            start_date=sub.start_date,
            trial_end=sub.trial_end,
            billing_cycle_anchor=sub.billing_cycle_anchor,
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            # Paused: nothing is scheduled (resuming decides the next invoice date).
            next_invoice_date=None if sub.status is SubscriptionStatus.PAUSED else sub.next_invoice_on,
            latest_invoice_id=sub.latest_invoice_id,
            collection_method=sub.collection_method.value,
            payment_method=None
            if method is None
            else PaymentMethodOutput(
                processor=method.processor,
                customer_id=method.customer_id,
                payment_method_id=method.payment_method_id,
                mandate_id=method.mandate_id,
            ),
            days_until_due=sub.days_until_due,
            minimum_term_months=sub.minimum_term_months,
            notice_days=sub.notice_days,
            discounts=[DiscountOutput.of(d) for d in sub.discounts],
            cancel_at=sub.cancel_at,
            canceled_on=sub.canceled_on,
            paused_on=sub.paused_on,
            metadata=sub.metadata,
            pending_proration_amount=sub.pending_proration_amount,
            scheduled_change=None if scheduled_change is None else scheduled_change_output(scheduled_change),
            created_at=sub.created_at,
            updated_at=sub.updated_at,
            version=sub.version,
        )


class UpcomingLineOutput(OutputModel):
    description: str
    quantity: int
    unit_amount: int
    amount: int
    tax_rate: str
    kind: str


class UpcomingInvoiceOutput(OutputModel):
    """What the next invoice will hold with what is known now (nothing is written)."""

    object: str = "upcoming_invoice"
    subscription_id: str
    period_start: date
    period_end: date = Field(description="Exclusive")
    issue_date: date
    currency: str
    lines: list[UpcomingLineOutput]
    subtotal: int
    tax: int
    total: int
    credit_applied: int
    amount_due: int
    status: str = Field(
        default="upcoming", description='"upcoming", or "paused": no invoice until it resumes'
    )

    @classmethod
    def of(cls, view: UpcomingInvoiceView) -> UpcomingInvoiceOutput:
        return cls(
            status=view.status,
            subscription_id=view.subscription_id,
            period_start=view.period_start,
            period_end=view.period_end,
            issue_date=view.issue_date,
            currency=view.currency,
            lines=[
                UpcomingLineOutput(
                    description=line.description,
                    quantity=line.quantity,
                    unit_amount=line.unit_amount,
                    amount=line.amount,
                    tax_rate=line.tax_rate,
                    kind=line.kind,
                )
                for line in view.lines
            ],
            subtotal=view.subtotal,
            tax=view.tax,
            total=view.total,
            credit_applied=view.credit_applied,
            amount_due=view.amount_due,
        )
