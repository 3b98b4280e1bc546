"""The subscriptions overview's answer (GET /v1/subscriptions/overview)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pydantic import Field

from cashline.schemas.common import OutputModel, RequestModel

if TYPE_CHECKING:  # the views are only read here; the schema need not load the service
    from cashline.services.billing.overview import PlanMrr, SubscriptionOverview, UpcomingEstimate


class OverviewQuery(RequestModel):
    """No parameter: any one given is a 400 naming it (the overview is always the tenant's today)."""


class PlanMrrOutput(OutputModel):
    price_id: str
    product_name: str
    currency: str
    interval: str
    interval_count: int
    subscriptions: int = Field(description="Active and past-due subscriptions holding the price")
    quantity: int
    mrr: int = Field(description="Monthly-normalised, minor units, rounded half-up once per plan")

    @classmethod
    def of(cls, plan: PlanMrr) -> PlanMrrOutput:
        return cls(
            price_id=plan.price_id,
            product_name=plan.product_name,
            currency=plan.currency,
            interval=plan.interval,
            interval_count=plan.interval_count,
            subscriptions=plan.subscriptions,
            quantity=plan.quantity,
            mrr=plan.mrr,
        )


class CurrencyMrrOutput(OutputModel):
    currency: str
    mrr: int = Field(description="The sum of the currency's plans' MRR, minor units")


class UpcomingEstimateOutput(OutputModel):
    subscription_id: str
    counterparty_id: str
    counterparty_name: str | None
    status: str
    invoice_date: date
    currency: str
    amount_estimate: int = Field(description="Before tax, without metered usage and credit balance")

    @classmethod
    def of(cls, row: UpcomingEstimate) -> UpcomingEstimateOutput:
        return cls(
            subscription_id=row.subscription_id,
            counterparty_id=row.counterparty_id,
            counterparty_name=row.counterparty_name,
            status=row.status.value,
            invoice_date=row.invoice_date,
            currency=row.currency,
            amount_estimate=row.amount_estimate,
        )


class SubscriptionOverviewOutput(OutputModel):
    object: str = "subscription_overview"
    as_of: date = Field(description="The tenant's today")
    counts: dict[str, int] = Field(description="Subscriptions per status (every status, 0 included)")
    mrr: list[PlanMrrOutput]
    mrr_total: list[CurrencyMrrOutput]
    upcoming_until: date
    upcoming: list[UpcomingEstimateOutput]

    @classmethod
    def of(cls, overview: SubscriptionOverview) -> SubscriptionOverviewOutput:
        return cls(
            as_of=overview.as_of,
            counts={status.value: n for status, n in overview.counts.items()},
            mrr=[PlanMrrOutput.of(plan) for plan in overview.mrr],
            mrr_total=[CurrencyMrrOutput(currency=c, mrr=m) for c, m in overview.mrr_total.items()],
            upcoming_until=overview.upcoming_until,
            upcoming=[UpcomingEstimateOutput.of(row) for row in overview.upcoming],
        )
