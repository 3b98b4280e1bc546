"""The demo tenant's subscription billing: a catalog, four subscriptions and their invoices, made
through the services the API uses (issue 14), so the dashboard's subscriptions panel shows every
part of it.

The catalog: "Cloud Starter" (29.00 EUR a month, 290.00 a year), "Cloud Pro" (99.00 a month) and a
metered add-on "API calls" (0.02 EUR a call, billed in arrears).

The subscriptions (the demo's customers; `now` is the seed's instant, "today" the tenant's day):
- Studio Lumière: Starter monthly on a 14-day trial from today (no invoice yet; its first one at
  the trial's end shows among the next 30 days' invoices);
- Bäckerei Sonnenschein: Starter monthly with API calls since 20 days ago (its first invoice issued
  at once), 1,250 calls reported, then upgraded to Pro today with `always_invoice` (a proration
  invoice: the unused Starter days credited, the Pro days charged);
- Alpine Logistics: Starter yearly since 100 days ago (one invoice);
- Harbour & Sons: Pro monthly, charged automatically to a Stripe card, since 40 days ago: two
  invoices issued at creation; the first one's charge succeeded (its payment recorded as the webhook
  would), the second one's was declined, so the subscription is `past_due` and a retry is scheduled
  for the tenant's first retry day.

The charge outcomes are recorded with charging's own `settle` (a claimed attempt and the processor's
answer), as the `invoice_charges` sweep does with the stand-in's answer. Not idempotent: run once for
a fresh tenant (as `seed_demo` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cashline.adapters.processors import DebitRefusedError, DebitResult
from cashline.dal.billing_charges import ChargeRepository
from cashline.domain.billing.catalog import TaxCategory, UsageType
from cashline.domain.billing.periods import Interval, period_containing
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    Subscription,
    earliest_start,
    tenant_today,
)
from cashline.domain.payments import PaymentSource
from cashline.ids import new_id
from cashline.schemas.billing_catalog import CreatePriceRequest, CreateProductRequest
from cashline.schemas.subscription_changes import ChangeItem, ChangeRequest, UsageRequest
from cashline.schemas.subscriptions import ItemRequest, NewSubscription, PaymentMethodRequest
from cashline.services.billing import catalog, changes, usage
from cashline.services.billing import subscriptions as subscription_service
from cashline.services.billing.charge_outcomes import settle
from cashline.services.billing.upcoming import subscription_invoices
from cashline.services.invoices import get_invoice
from cashline.services.payments import context, manual
from cashline.services.tenancy import tenants

ACTOR = "system:demo-seed"
DEMO_CARD = {"processor": "stripe", "customer_id": "cus_demo_harbour", "payment_method_id": "pm_demo_visa"}
API_CALLS = 1_250


@dataclass(frozen=True, slots=True)
class DemoBilling:
    prices: dict[str, str]  # "starter_monthly", "starter_yearly", "pro_monthly", "api_calls" -> price id
    subscriptions: dict[str, str]  # "trialing", "upgraded", "yearly", "past_due" -> subscription id
    invoices: dict[str, list[str]]  # the same keys -> the subscription's invoice ids, oldest first


def _catalog(tenant_id: str, now: datetime) -> dict[str, str]:
    def product(name: str, description: str) -> str:
        request = CreateProductRequest(name=name, description=description, tax_category=TaxCategory.STANDARD)
        return catalog.create_product(tenant_id, request, now=now).product_id

    def price(product_id: str, amount: int, interval: Interval, **terms: object) -> str:
        request = CreatePriceRequest.model_validate(
            {
                "product_id": product_id,
                "currency": "EUR",
                "unit_amount": amount,
                "interval": interval,
                **terms,
            }
        )
        return catalog.create_price(tenant_id, request, now=now).price_id

    starter = product("Cloud Starter", "Receivables automation for small teams")
    pro = product("Cloud Pro", "Everything in Starter, with collections and bank reconciliation")
    calls = product("API calls", "Calls to the Cashline API beyond the plan")
    return {
        "starter_monthly": price(starter, 29_00, Interval.MONTH, lookup_key="starter_monthly"),
        "starter_yearly": price(starter, 290_00, Interval.YEAR, lookup_key="starter_yearly"),
        "pro_monthly": price(pro, 99_00, Interval.MONTH, lookup_key="pro_monthly"),
        "api_calls": price(calls, 2, Interval.MONTH, usage_type=UsageType.METERED, nickname="per call"),
    }


def _subscribe(
    tenant_id: str, customer: str, items: list[ItemRequest], now: datetime, **fields: object
) -> Subscription:
    request = NewSubscription.model_validate({"counterparty_id": customer, "items": items, **fields})
    return subscription_service.create_subscription(tenant_id, request, actor=ACTOR, now=now)


def _upgraded(tenant_id: str, customer: str, prices: dict[str, str], today: date, now: datetime) -> str:
    """Starter with API calls since 20 days ago, 1,250 calls reported, upgraded to Pro today."""
    sub = _subscribe(
        tenant_id,
        customer,
        [ItemRequest(price_id=prices["starter_monthly"]), ItemRequest(price_id=prices["api_calls"])],
        now,
        start_date=today - timedelta(days=20),
    )
    plan = next(item for item in sub.items if item.terms.price_id == prices["starter_monthly"])
    metered = next(item for item in sub.items if item.terms.usage_type is UsageType.METERED)
    usage.record_usage(
        tenant_id,
        metered.item_id,
        UsageRequest(quantity=API_CALLS, timestamp=now - timedelta(hours=2), idempotency_key="demo-usage-1"),
        now=now,
    )
    upgrade = ChangeRequest(
        items=[ChangeItem(id=plan.item_id, price_id=prices["pro_monthly"])], proration="always_invoice"
    )
    changes.change_subscription(tenant_id, sub.subscription_id, upgrade, actor=ACTOR, now=now)
    return sub.subscription_id


def _record_card_payment(tenant_id: str, invoice_id: str, now: datetime) -> None:
    """The succeeded charge's money, as Stripe's webhook would bring it (a card payment of the invoice)."""
    invoice = get_invoice(tenant_id, invoice_id, now=now).invoice
    event = manual.manual_event(
        source=PaymentSource.MANUAL,
        amount=invoice.amount_outstanding,
        currency=invoice.currency,
        value_date=now.date(),
        method="card",
        payer_name=None,
        payer_iban=None,
        remittance_reference=None,
        invoice_id=invoice_id,
        bank_reference=None,
        event_id=new_id("event"),
        now=now,
    )
    ctx = context.context_for(tenant_id, now=now, actor=ACTOR)
    manual.record_payment(ctx, event, invoice_amount=None, counterparty_id=invoice.counterparty_id)


def _charge(tenant_id: str, invoice_id: str, *, succeeds: bool, now: datetime) -> None:
    """Run the invoice's scheduled first attempt to the processor answer given."""
    attempts = ChargeRepository()
    [attempt] = attempts.attempts_of(tenant_id, invoice_id)
    amount = get_invoice(tenant_id, invoice_id, now=now).invoice.amount_outstanding
    claimed = attempts.claim(attempt, amount=amount, now=now)
    assert claimed is not None, "the demo's charge attempt was taken by a sweep"
    reference = f"pi_demo_{invoice_id[-8:]}"
    if succeeds:
        settle(claimed, DebitResult(processor="stripe", reference=reference, status="succeeded"), now)
        _record_card_payment(tenant_id, invoice_id, now)
    else:
        settle(claimed, DebitRefusedError("card_declined: Your card was declined.", reference=reference), now)


def _past_due(tenant_id: str, customer: str, prices: dict[str, str], today: date, now: datetime) -> str:
    """Pro charged automatically, billed on the day of 40 days ago: created as a migration is, from
    one month ago (the earliest start a subscription may have) to that cycle's anchor, so a short
    first period and a whole one are invoiced: the first charge paid, the second declined."""
    cycle_day = today - timedelta(days=40)
    sub = _subscribe(
        tenant_id,
        customer,
        [ItemRequest(price_id=prices["pro_monthly"])],
        now,
        start_date=earliest_start(today, Interval.MONTH, 1),
        billing_cycle_anchor=period_containing(cycle_day, Interval.MONTH, 1, cycle_day).end_exclusive,
        collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
        payment_method=PaymentMethodRequest.model_validate(DEMO_CARD),
    )
    first, second = _invoice_ids(tenant_id, sub.subscription_id)
    _charge(tenant_id, first, succeeds=True, now=now)
    _charge(tenant_id, second, succeeds=False, now=now)
    return sub.subscription_id


def _invoice_ids(tenant_id: str, subscription_id: str) -> list[str]:
    page = subscription_invoices(tenant_id, subscription_id, limit=100, starting_after=None)
    return [invoice.invoice_id for invoice in reversed(page.items)]  # the index lists newest first


def seed_billing(tenant_id: str, customers: dict[str, str], now: datetime) -> DemoBilling:
    """The catalog and subscriptions above for the demo's customers (name -> counterparty id)."""
    today = tenant_today(now, tenants.get(tenant_id).timezone)
    prices = _catalog(tenant_id, now)
    trial = _subscribe(
        tenant_id,
        customers["Studio Lumière SARL"],
        [ItemRequest(price_id=prices["starter_monthly"])],
        now,
        start_date=today,
        trial_end=today + timedelta(days=14),
    )
    yearly = _subscribe(
        tenant_id,
        customers["Alpine Logistics AG"],
        [ItemRequest(price_id=prices["starter_yearly"])],
        now,
        start_date=today - timedelta(days=100),
    )
    subs = {
        "trialing": trial.subscription_id,
        "upgraded": _upgraded(tenant_id, customers["Bäckerei Sonnenschein KG"], prices, today, now),
        "yearly": yearly.subscription_id,
        "past_due": _past_due(tenant_id, customers["Harbour & Sons Ltd"], prices, today, now),
    }
    invoices = {key: _invoice_ids(tenant_id, sub_id) for key, sub_id in subs.items()}
    return DemoBilling(prices=prices, subscriptions=subs, invoices=invoices)
