"""Subscription records and their mapping to and from the domain `Subscription`.

A subscription is one item: its items (with the price terms they keep), discounts, pending proration
lines and per-item period figures are small JSON values on it, read and written together. The item
lookups (`T#<t>#SI#<si>` / `SI`) are separate, never-changed items naming the subscription.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)

from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.billing.catalog import (
    PriceTerms,
    TaxBehavior,
    TaxCategory,
    Tier,
    TiersMode,
    UsageAggregation,
    UsageType,
)
from cashline.domain.billing.periods import Interval
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    Discount,
    PaymentMethod,
    PendingLine,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)

SUBSCRIPTION_SK = "SUB"
ITEM_LOOKUP_SK = "SI"


def subscription_pk(tenant_id: str, subscription_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#SUB#{subscription_id}"


def item_lookup_pk(tenant_id: str, item_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#SI#{item_id}"


def status_partition(tenant_id: str, status: SubscriptionStatus) -> str:
    """gsi1: a tenant's subscriptions in one status."""
    return f"{tenant_pk(tenant_id)}#SUB#{status.value}"


def counterparty_partition(tenant_id: str, counterparty_id: str) -> str:
    """gsi2: a counterparty's subscriptions."""
    return f"{tenant_pk(tenant_id)}#CP#{counterparty_id}#SUB"


def tenant_partition(tenant_id: str) -> str:
    """gsi3: all of a tenant's subscriptions."""
    return f"{tenant_pk(tenant_id)}#SUB"


def upcoming_partition(tenant_id: str) -> str:
    """gsi4: a tenant's subscriptions with an invoice to come, by its date (the dashboard's overview,
    dal/billing_overview.py)."""
    return f"{tenant_pk(tenant_id)}#SUBNEXT"


def upcoming_keys(sub: Subscription) -> tuple[str | None, str | None]:
    """gsi4 keys `<next_invoice_on>#<sub>` while the issuing sweep has an invoice to make (not when
    paused or canceled)."""
    on = sub.next_invoice_on
    if on is None or sub.status in (SubscriptionStatus.PAUSED, SubscriptionStatus.CANCELED):
        return None, None
    return upcoming_partition(sub.tenant_id), f"{on.isoformat()}#{sub.subscription_id}"


class SubscriptionRecord(CashlineItem, discriminator="subscription"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    subscription_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    items = JSONAttribute()
    interval = UnicodeAttribute()
    interval_count = NumberAttribute()
    start_date = UnicodeAttribute()
    trial_end = UnicodeAttribute(null=True)
    billing_cycle_anchor = UnicodeAttribute()
    collection_method = UnicodeAttribute()
    payment_method = JSONAttribute(null=True)
    days_until_due = NumberAttribute(null=True)
    minimum_term_months = NumberAttribute(null=True)
    notice_days = NumberAttribute(null=True)
    discounts = JSONAttribute(null=True)
    metadata = JSONAttribute(null=True)
    current_period_start = UnicodeAttribute()
    current_period_end = UnicodeAttribute()
    next_invoice_on = UnicodeAttribute(null=True)
    period_charged = JSONAttribute(null=True)
    period_credited = JSONAttribute(null=True)
    pending_lines = JSONAttribute(null=True)
    cancel_at = UnicodeAttribute(null=True)
    cancel_with_credit = BooleanAttribute(default=False)
    canceled_on = UnicodeAttribute(null=True)
    paused_on = UnicodeAttribute(null=True)
    resumes_on = UnicodeAttribute(null=True)
    latest_invoice_id = UnicodeAttribute(null=True)


class SubscriptionItemLookupRecord(CashlineItem, discriminator="subscription_item_lookup"):
    """Finds the subscription of an item (a usage report names only the item). Never changed."""

    subscription_id = UnicodeAttribute()


# Attributes `stage_update` rewrites: everything but the keys, kind, created_at and version.
MUTABLE_ATTRIBUTES = (
    "status",
    "items",
    "interval",
    "interval_count",
    "start_date",
    "trial_end",
    "billing_cycle_anchor",
    "collection_method",
    "payment_method",
    "days_until_due",
    "minimum_term_months",
    "notice_days",
    "discounts",
    "metadata",
    "current_period_start",
    "current_period_end",
    "next_invoice_on",
    "period_charged",
    "period_credited",
    "pending_lines",
    "cancel_at",
    "cancel_with_credit",
    "canceled_on",
    "paused_on",
    "resumes_on",
    "latest_invoice_id",
    "updated_at",
    "gsi1pk",
    "gsi1sk",
    "gsi4pk",
    "gsi4sk",
)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _terms_json(terms: PriceTerms) -> dict[str, Any]:
    return {
        "price_id": terms.price_id,
        "product_id": terms.product_id,
        "product_name": terms.product_name,
        "tax_category": terms.tax_category.value,
        "currency": terms.currency,
        "unit_amount": terms.unit_amount,
        "tiers": [[t.up_to, t.unit_amount, t.flat_amount] for t in terms.tiers],
        "tiers_mode": terms.tiers_mode.value if terms.tiers_mode else None,
        "interval": terms.interval.value if terms.interval else None,
        "interval_count": terms.interval_count,
        "tax_behavior": terms.tax_behavior.value,
        "usage_type": terms.usage_type.value,
        "aggregation": terms.aggregation.value,
    }


def _terms(raw: dict[str, Any]) -> PriceTerms:
    return PriceTerms(
        price_id=raw["price_id"],
        product_id=raw["product_id"],
        product_name=raw["product_name"],
        tax_category=TaxCategory(raw["tax_category"]),
        currency=raw["currency"],
        unit_amount=None if raw["unit_amount"] is None else int(raw["unit_amount"]),
        tiers=tuple(Tier(up_to, int(unit), int(flat)) for up_to, unit, flat in raw["tiers"]),
        tiers_mode=TiersMode(raw["tiers_mode"]) if raw["tiers_mode"] else None,
        interval=Interval(raw["interval"]) if raw["interval"] else None,
        interval_count=int(raw["interval_count"]),
        tax_behavior=TaxBehavior(raw["tax_behavior"]),
        usage_type=UsageType(raw["usage_type"]),
        aggregation=UsageAggregation(raw["aggregation"]),
    )


def _line_json(line: PendingLine) -> dict[str, Any]:
    return {
        "description": line.description,
        "amount": line.amount,
        "item_id": line.item_id,
        "price_id": line.price_id,
        "tax_category": line.tax_category.value,
        "tax_behavior": line.tax_behavior.value,
        "service_start": line.service_start.isoformat(),
        "service_end": line.service_end.isoformat(),
    }


def _line(raw: dict[str, Any]) -> PendingLine:
    return PendingLine(
        description=raw["description"],
        amount=int(raw["amount"]),
        item_id=raw["item_id"],
        price_id=raw["price_id"],
        tax_category=TaxCategory(raw["tax_category"]),
        tax_behavior=TaxBehavior(raw["tax_behavior"]),
        service_start=date.fromisoformat(raw["service_start"]),
        service_end=date.fromisoformat(raw["service_end"]),
    )


def _discount_json(d: Discount) -> dict[str, Any]:
    return {
        "discount_id": d.discount_id,
        "percent_basis_points": d.percent_basis_points,
        "amount": d.amount,
        "periods": d.periods,
        "applied_periods": d.applied_periods,
    }


def _payment_method(raw: dict[str, Any] | None) -> PaymentMethod | None:
    if raw is None:
        return None
    return PaymentMethod(
        processor=raw["processor"],
        customer_id=raw.get("customer_id"),
        payment_method_id=raw.get("payment_method_id"),
        mandate_id=raw.get("mandate_id"),
    )


def _payment_method_json(method: PaymentMethod | None) -> dict[str, Any] | None:
    if method is None:
        return None
    return {
        "processor": method.processor,
        "customer_id": method.customer_id,
        "payment_method_id": method.payment_method_id,
        "mandate_id": method.mandate_id,
    }


def _amounts(raw: dict[str, Any] | None) -> dict[str, int]:
    return {key: int(value) for key, value in (raw or {}).items()}


def to_record(sub: Subscription) -> SubscriptionRecord:
    """The record of `sub` with its keys and index keys (version and due attributes left to the
    caller: they depend on the write)."""
    t, s = sub.tenant_id, sub.subscription_id
    gsi4pk, gsi4sk = upcoming_keys(sub)
    return SubscriptionRecord(
        pk=subscription_pk(t, s),
        sk=SUBSCRIPTION_SK,
        gsi1pk=status_partition(t, sub.status),
        gsi1sk=s,
        gsi2pk=counterparty_partition(t, sub.counterparty_id),
        gsi2sk=s,
        gsi3pk=tenant_partition(t),
        gsi3sk=s,
        gsi4pk=gsi4pk,
        gsi4sk=gsi4sk,
        tenant_id=t,
        subscription_id=s,
        counterparty_id=sub.counterparty_id,
        currency=sub.currency,
        status=sub.status.value,
        items=[
            {"item_id": i.item_id, "quantity": i.quantity, "terms": _terms_json(i.terms)} for i in sub.items
        ],
        interval=sub.interval.value,
        interval_count=sub.interval_count,
        start_date=sub.start_date.isoformat(),
        trial_end=_day(sub.trial_end),
        billing_cycle_anchor=sub.billing_cycle_anchor.isoformat(),
        collection_method=sub.collection_method.value,
        payment_method=_payment_method_json(sub.payment_method),
        days_until_due=sub.days_until_due,
        minimum_term_months=sub.minimum_term_months,
        notice_days=sub.notice_days,
        discounts=[_discount_json(d) for d in sub.discounts] or None,
        metadata=sub.metadata or None,
        current_period_start=sub.current_period_start.isoformat(),
        current_period_end=sub.current_period_end.isoformat(),
        next_invoice_on=_day(sub.next_invoice_on),
        period_charged=sub.period_charged or None,
        period_credited=sub.period_credited or None,
        pending_lines=[_line_json(line) for line in sub.pending_lines] or None,
        cancel_at=_day(sub.cancel_at),
        cancel_with_credit=sub.cancel_with_credit,
        canceled_on=_day(sub.canceled_on),
        paused_on=_day(sub.paused_on),
        resumes_on=_day(sub.resumes_on),
        latest_invoice_id=sub.latest_invoice_id,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def from_record(r: SubscriptionRecord) -> Subscription:
    """The domain subscription of a stored record."""
    return Subscription(
        tenant_id=r.tenant_id,
        subscription_id=r.subscription_id,
        counterparty_id=r.counterparty_id,
        currency=r.currency,
        status=SubscriptionStatus(r.status),
        items=tuple(
            SubscriptionItem(item_id=i["item_id"], terms=_terms(i["terms"]), quantity=int(i["quantity"]))
            for i in r.items
        ),
        interval=Interval(r.interval),
        interval_count=int(r.interval_count),
        start_date=date.fromisoformat(r.start_date),
        trial_end=_date(r.trial_end),
        billing_cycle_anchor=date.fromisoformat(r.billing_cycle_anchor),
        collection_method=CollectionMethod(r.collection_method),
        payment_method=_payment_method(r.payment_method),
        days_until_due=None if r.days_until_due is None else int(r.days_until_due),
        minimum_term_months=None if r.minimum_term_months is None else int(r.minimum_term_months),
        notice_days=None if r.notice_days is None else int(r.notice_days),
        discounts=tuple(
            Discount(
                discount_id=d["discount_id"],
                percent_basis_points=d["percent_basis_points"],
                amount=d["amount"],
                periods=d["periods"],
                applied_periods=int(d["applied_periods"]),
            )
            for d in r.discounts or []
        ),
        metadata=dict(r.metadata or {}),
        current_period_start=date.fromisoformat(r.current_period_start),
        current_period_end=date.fromisoformat(r.current_period_end),
        next_invoice_on=_date(r.next_invoice_on),
        period_charged=_amounts(r.period_charged),
        period_credited=_amounts(r.period_credited),
        pending_lines=tuple(_line(raw) for raw in r.pending_lines or []),
        cancel_at=_date(r.cancel_at),
        cancel_with_credit=bool(r.cancel_with_credit),
        canceled_on=_date(r.canceled_on),
        paused_on=_date(r.paused_on),
        resumes_on=_date(r.resumes_on),
        latest_invoice_id=r.latest_invoice_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )
