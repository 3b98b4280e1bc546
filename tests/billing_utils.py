"""Helpers of the subscription billing tests: a price's terms and a subscription as the domain holds
them, with the defaults most tests share (a monthly EUR price, exclusive of standard-rate VAT; a
subscription of tenant ten_1 begun on 1 January 2027, invoiced by e-mail), each test naming only
what it is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import (
    PriceTerms,
    TaxBehavior,
    TaxCategory,
    Tier,
    TiersMode,
    UsageAggregation,
    UsageType,
)
from cashline.domain.billing.periods import Interval, Period
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    new_subscription,
)
from cashline.schemas.billing_catalog import CreatePriceRequest, CreateProductRequest
from cashline.schemas.subscriptions import NewSubscription
from cashline.services.billing import catalog
from cashline.services.billing.subscriptions import create_subscription
from cashline.services.counterparties import create_counterparty

SUBSCRIBED_AT = datetime(2027, 1, 1, tzinfo=UTC)


def price_terms(
    price_id: str = "prc_basic",
    unit_amount: int | None = 3000,
    *,
    product_name: str = "Basic",
    product_id: str = "prd_1",
    usage: UsageType = UsageType.LICENSED,
    currency: str = "EUR",
    interval: Interval | None = Interval.MONTH,
    category: TaxCategory = TaxCategory.STANDARD,
    behavior: TaxBehavior = TaxBehavior.EXCLUSIVE,
    tiers: tuple[Tier, ...] = (),
    tiers_mode: TiersMode | None = None,
) -> PriceTerms:
    """The terms a subscription item keeps of a price (summed usage when metered)."""
    return PriceTerms(
        price_id=price_id,
        product_id=product_id,
        product_name=product_name,
        tax_category=category,
        currency=currency,
        unit_amount=unit_amount,
        tiers=tiers,
        tiers_mode=tiers_mode,
        interval=interval,
        interval_count=1,
        tax_behavior=behavior,
        usage_type=usage,
        aggregation=UsageAggregation.SUM,
    )


def domain_subscription(*items: SubscriptionItem, **changes: Any) -> Subscription:
    """Subscription sub_1 of customer cp_1 (tenant ten_1) as created (domain new_subscription), version
    1: `items` (one Basic seat when none), monthly from 1 January 2027, in its first period and not
    invoiced yet, sent as an invoice due in 14 days; `changes` replace any field."""
    start = date(2027, 1, 1)
    sub = new_subscription(
        tenant_id="ten_1",
        subscription_id="sub_1",
        counterparty_id="cp_1",
        currency="EUR",
        status=SubscriptionStatus.ACTIVE,
        items=items or (SubscriptionItem("si_1", price_terms(), 1),),
        interval=Interval.MONTH,
        interval_count=1,
        start_date=start,
        trial_end=None,
        billing_cycle_anchor=start,
        collection_method=CollectionMethod.SEND_INVOICE,
        payment_method=None,
        days_until_due=14,
        minimum_term_months=None,
        notice_days=None,
        discounts=(),
        metadata={},
        current=Period(start, date(2027, 2, 1)),
        next_invoice_on=start,
        now=SUBSCRIBED_AT,
    )
    changes = {"version": 1, **changes}
    return replace(sub, **changes)


def store_subscription(sub: Subscription) -> Subscription:
    """`sub` written as the subscriptions repository creates one (off the due index), read back."""
    repository = SubscriptionRepository()
    UnitOfWork("test subscription").add(
        lambda write: repository.stage_create(write, sub, due_at=None)
    ).commit()
    return repository.get(sub.tenant_id, sub.subscription_id)


# --- through the services, against DynamoDB Local ------------------------------------------------


def catalog_price(tenant_id: str, unit_amount: int, *, name: str, now: datetime, **terms: Any) -> str:
    """A new standard-rate product `name` with one monthly EUR price (`terms` add to or replace its
    fields), created through the catalog service; returns the price id."""
    product = catalog.create_product(
        tenant_id, CreateProductRequest(name=name, tax_category=TaxCategory.STANDARD), now=now
    )
    request = CreatePriceRequest.model_validate(
        {
            "product_id": product.product_id,
            "currency": "EUR",
            "unit_amount": unit_amount,
            "interval": "month",
            **terms,
        }
    )
    return catalog.create_price(tenant_id, request, now=now).price_id


def billing_customer(tenant_id: str, *, now: datetime) -> str:
    """A German customer with an e-mail address (invoices are sent to it); returns its id."""
    view = create_counterparty(
        tenant_id, {"name": "Kunde GmbH", "country": "DE", "email": "ap@kunde.example"}, now=now
    )
    return view.counterparty.counterparty_id


def subscribe_through_service(
    tenant_id: str, counterparty_id: str, *items: tuple[str, int], now: datetime, **fields: Any
) -> Subscription:
    """A subscription to `items` ((price id, quantity) pairs) from 1 January 2027, invoices due in 14
    days (`fields` add to or replace the request's), created as the API creates one."""
    request = NewSubscription.model_validate(
        {
            "counterparty_id": counterparty_id,
            "items": [{"price_id": p, "quantity": q} for p, q in items],
            "start_date": "2027-01-01",
            "days_until_due": 14,
            **fields,
        }
    )
    return create_subscription(tenant_id, request, actor="test", now=now)
