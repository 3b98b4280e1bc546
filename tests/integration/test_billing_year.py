"""A year of subscription billing, ticked month by month through the `subscription_billing` schedule
exactly as `cashline tick --at` fires it: every invoice is issued once and equals the hand-computed
oracle below; ticks fired concurrently (the same instant from several threads, and two different
instants) issue nothing twice; invoice numbers are gap-free.

The tenant bills from Germany (Europe/Berlin) to a German business customer without a VAT id:
domestic VAT 19 % on every line. Prices: Basic 30.00 EUR/month, Pro 90.00 EUR/month, API calls
0.05 EUR each (metered, billed in arrears). Every subscription starts 1 January 2027.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cashline.dal.invoice_repository import InvoiceRepository
from cashline.domain.billing.catalog import TaxCategory
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus
from cashline.schemas.billing_catalog import CreatePriceRequest, CreateProductRequest
from cashline.schemas.subscription_changes import CancelRequest, ChangeRequest, UsageRequest
from cashline.schemas.subscriptions import NewSubscription
from cashline.services.billing import catalog, upcoming
from cashline.services.billing.cancellation import cancel_subscription
from cashline.services.billing.changes import change_subscription
from cashline.services.billing.subscriptions import (
    create_subscription,
    get_subscription,
    pause_subscription,
    resume_subscription,
)
from cashline.services.billing.usage import record_usage
from cashline.services.counterparties import create_counterparty
from localcloud.handlers import fire_schedule
from tests.utils import TestTenant

pytestmark = pytest.mark.usefixtures("local_cloud")

invoices = InvoiceRepository()

Row = tuple[str, int, int, int]  # issue date, subtotal, tax, total (minor units)


def _monthly(first: int, last: int, subtotal: int, tax: int) -> list[Row]:
    return [(f"2027-{m:02d}-01", subtotal, tax, subtotal + tax) for m in range(first, last + 1)]


BASIC = (3000, 570)  # 30.00 + 19 % = 35.70
PRO = (9000, 1710)  # 90.00 + 19 % = 107.10

ORACLE: dict[str, list[Row]] = {
    # Trial until 1 February (the anchor moves there): nothing for January, then Basic monthly.
    "trial": _monthly(2, 12, *BASIC),
    # Basic -> Pro on 16 January (upgrade: now, create_prorations): 16 of 31 days remain,
    # credit 3000 x 16 / 31 = 1548.39 -> -15.48, charge 9000 x 16 / 31 = 4645.16 -> 46.45, kept for
    # February: 90.00 + 30.97 = 120.97, VAT 12097 x 19 % = 2298.43 -> 22.98, 143.95.
    "upgrade": [*_monthly(1, 1, *BASIC), ("2027-02-01", 12097, 2298, 14395), *_monthly(3, 12, *PRO)],
    # Pro -> Basic asked 10 March (downgrade: at the period's end, no proration): Basic from April.
    "downgrade": [*_monthly(1, 3, *PRO), *_monthly(4, 12, *BASIC)],
    # Basic x2 -> x5 on 16 June, always_invoice: June has 30 days, 15 remain: credit 6000 x 15 / 30
    # = -30.00, charge 15000 x 15 / 30 = 75.00, net 45.00, VAT 8.55, 53.55 invoiced that day.
    "quantity": [
        *_monthly(1, 6, 6000, 1140),
        ("2027-06-16", 4500, 855, 5355),
        *_monthly(7, 12, 15000, 2850),
    ],
    # Paused 10 May (June and July not invoiced), resumed 16 August: [16 Aug, 1 Sep) is 16 of 31
    # days: 3000 x 16 / 31 = 1548.39 -> 15.48, VAT 294.12 -> 2.94, 18.42; then Basic monthly.
    "pause": [*_monthly(1, 5, *BASIC), ("2027-08-16", 1548, 294, 1842), *_monthly(9, 12, *BASIC)],
    # Cancel at period end asked 10 September: canceled 1 October, nothing charged in advance then.
    "cancel": _monthly(1, 9, *BASIC),
    # Basic + API calls: 100 x m calls in month m, billed on the 1st of month m + 1 at 0.05 each:
    # February 30.00 + 5.00 = 35.00 (VAT 6.65), March 30.00 + 10.00 = 40.00 (VAT 7.60), ...
    "metered": [
        *_monthly(1, 1, *BASIC),
        *[
            (
                f"2027-{m + 1:02d}-01",
                3000 + 500 * m,
                (3000 + 500 * m) * 19 // 100,
                (3000 + 500 * m) * 119 // 100,
            )
            for m in range(1, 12)
        ],
    ],
    # 20 % off for 3 periods: 24.00 (VAT 4.56) January to March, then 30.00.
    "discount": [*_monthly(1, 3, 2400, 456), *_monthly(4, 12, *BASIC)],
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _price(tenant_id: str, name: str, **terms: Any) -> str:
    now = at("2027-01-01T08:00:00")
    product = catalog.create_product(
        tenant_id, CreateProductRequest(name=name, tax_category=TaxCategory.STANDARD), now=now
    )
    request = CreatePriceRequest.model_validate(
        {"product_id": product.product_id, "currency": "EUR", "interval": "month", **terms}
    )
    return catalog.create_price(tenant_id, request, now=now).price_id


def _rows(sub: Subscription) -> list[Row]:
    page = upcoming.subscription_invoices(sub.tenant_id, sub.subscription_id, limit=100, starting_after=None)
    rows = [
        (invoice.issue_date.isoformat(), invoice.subtotal, invoice.tax, invoice.amount_due)
        for invoice in page.items
    ]
    return sorted(rows)


def test_a_year_of_monthly_ticks_issues_every_invoice_once_as_the_oracle_says(
    tenant: TestTenant, chalice_app: Any
) -> None:
    tenant_id = tenant.tenant_id
    basic = _price(tenant_id, "Basic", unit_amount=3000)
    pro = _price(tenant_id, "Pro", unit_amount=9000)
    calls = _price(tenant_id, "API calls", unit_amount=5, usage_type="metered")
    customer = create_counterparty(
        tenant_id, {"name": "Kunde GmbH", "country": "DE"}, now=at("2027-01-01T08:00:00")
    ).counterparty.counterparty_id
    created = at("2027-01-01T09:00:00")

    def subscribe(*items: tuple[str, int], **fields: Any) -> Subscription:
        request = NewSubscription.model_validate(
            {
                "counterparty_id": customer,
                "items": [{"price_id": p, "quantity": q} for p, q in items],
                "start_date": "2027-01-01",
                "days_until_due": 14,
                **fields,
            }
        )
        return create_subscription(tenant_id, request, actor="test", now=created)

    subs = {
        "trial": subscribe((basic, 1), trial_end="2027-02-01"),
        "upgrade": subscribe((basic, 1)),
        "downgrade": subscribe((pro, 1)),
        "quantity": subscribe((basic, 2)),
        "pause": subscribe((basic, 1)),
        "cancel": subscribe((basic, 1)),
        "metered": subscribe((basic, 1), (calls, 1)),
        "discount": subscribe((basic, 1), discounts=[{"percent_basis_points": 2000, "periods": 3}]),
    }
    ids = {name: sub.subscription_id for name, sub in subs.items()}
    metered_item = next(i.item_id for i in subs["metered"].items if i.terms.price_id == calls)

    def change(name: str, when: str, **request: Any) -> None:
        change_subscription(
            tenant_id, ids[name], ChangeRequest.model_validate(request), actor="test", now=at(when)
        )

    def tick(when: str) -> None:
        fire_schedule(chalice_app, "subscription_billing", at(when))

    def concurrent_ticks(when: str, later: str) -> None:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(tick, [when, when, when, later]))

    actions: dict[str, Callable[[], None]] = {
        "2027-01-16T09:00:00": lambda: change(
            "upgrade",
            "2027-01-16T09:00:00",
            items=[{"id": subs["upgrade"].items[0].item_id, "price_id": pro}],
        ),
        "2027-03-10T09:00:00": lambda: change(
            "downgrade",
            "2027-03-10T09:00:00",
            items=[{"id": subs["downgrade"].items[0].item_id, "price_id": basic}],
        ),
        "2027-05-10T09:00:00": lambda: pause_subscription(
            tenant_id, ids["pause"], now=at("2027-05-10T09:00:00")
        ),
        "2027-06-16T09:00:00": lambda: change(
            "quantity",
            "2027-06-16T09:00:00",
            items=[{"id": subs["quantity"].items[0].item_id, "quantity": 5}],
            proration="always_invoice",
        ),
        "2027-08-16T09:00:00": lambda: resume_subscription(
            tenant_id, ids["pause"], on=None, now=at("2027-08-16T09:00:00")
        ),
        "2027-09-10T09:00:00": lambda: cancel_subscription(
            tenant_id,
            ids["cancel"],
            CancelRequest(at="period_end"),
            actor="test",
            now=at("2027-09-10T09:00:00"),
        ),
    }
    for month in range(1, 12):
        usage_at = at(f"2027-{month:02d}-15T12:00:00")
        record_usage(
            tenant_id,
            metered_item,
            UsageRequest.model_validate(
                {"quantity": 100 * month, "timestamp": usage_at.isoformat(), "idempotency_key": f"u{month}"}
            ),
            now=usage_at,
        )
        for when, action in actions.items():
            if when.startswith(f"2027-{month:02d}-"):
                action()
        next_tick = f"2027-{month + 1:02d}-01T06:00:00"
        if month + 1 in (7, 12):
            # Three deliveries of the same tick and one at another instant, all at once.
            concurrent_ticks(next_tick, f"2027-{month + 1:02d}-01T06:15:00")
        else:
            tick(next_tick)
    tick("2027-12-01T06:00:00")  # a replay of a tick already handled: nothing happens

    for name, sub in subs.items():
        assert _rows(sub) == ORACLE[name], name
    assert get_subscription(tenant_id, ids["cancel"]).status is SubscriptionStatus.CANCELED
    assert get_subscription(tenant_id, ids["cancel"]).canceled_on == date(2027, 10, 1)
    assert get_subscription(tenant_id, ids["trial"]).status is SubscriptionStatus.ACTIVE
    assert get_subscription(tenant_id, ids["discount"]).discounts[0].applied_periods == 3

    # Every invoice finalised with the next number of the tenant's 2027 sequence: no gap, no repeat.
    numbers = sorted(
        invoice.number
        for sub in subs.values()
        for invoice in upcoming.subscription_invoices(
            tenant_id, sub.subscription_id, limit=100, starting_after=None
        ).items
    )
    expected = sum(len(rows) for rows in ORACLE.values())
    assert numbers == [f"2027-{seq:06d}" for seq in range(1, expected + 1)]
