"""Metered usage against DynamoDB Local: exactly once per idempotency key, exact sums under
concurrency, the last value by instant, the period rules, and what the issuing engine reads.

The tenant is in Europe/Berlin; subscriptions start on 1 January 2027 (January invoiced at creation),
so January's usage is open until the February invoice is issued."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from bench.dynamodb_meter import metered
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.billing_usage import UsageRepository
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import TaxCategory, amount_for_quantity
from cashline.domain.billing.subscriptions import Subscription
from cashline.errors import ConflictError, NotFoundError, UnprocessableError, ValidationError
from cashline.schemas.billing_catalog import CreatePriceRequest, CreateProductRequest
from cashline.schemas.subscription_changes import CancelRequest, ChangeRequest, UsageRequest
from cashline.schemas.subscriptions import NewSubscription
from cashline.services.billing import catalog, issuing
from cashline.services.billing.cancellation import cancel_subscription
from cashline.services.billing.changes import change_subscription
from cashline.services.billing.subscriptions import (
    create_subscription,
    pause_subscription,
    resume_subscription,
)
from cashline.services.billing.usage import (
    UsageRecordView,
    record_usage,
    stage_usage_billed,
    usage_for_period,
)
from cashline.services.counterparties import create_counterparty
from tests.utils import TestTenant

pytestmark = pytest.mark.usefixtures("local_cloud")

invoices = InvoiceRepository()
subscriptions = SubscriptionRepository()

CREATED = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
JAN = date(2027, 1, 1)


def price(tenant_id: str, *, unit_amount: int = 2, **terms: Any) -> str:
    product = catalog.create_product(
        tenant_id, CreateProductRequest(name="API calls", tax_category=TaxCategory.STANDARD), now=CREATED
    )
    request = CreatePriceRequest.model_validate(
        {
            "product_id": product.product_id,
            "currency": "EUR",
            "unit_amount": unit_amount,
            "interval": "month",
            "usage_type": "metered",
            **terms,
        }
    )
    return catalog.create_price(tenant_id, request, now=CREATED).price_id


@pytest.fixture
def subscribe(tenant: TestTenant) -> Callable[..., Subscription]:
    customer = create_counterparty(
        tenant.tenant_id, {"name": "Kunde GmbH", "country": "DE", "email": "ap@kunde.example"}, now=CREATED
    ).counterparty.counterparty_id

    def make(*price_ids: str) -> Subscription:
        request = NewSubscription.model_validate(
            {
                "counterparty_id": customer,
                "items": [{"price_id": p, "quantity": 1} for p in price_ids],
                "start_date": "2027-01-01",
                "days_until_due": 14,
            }
        )
        return create_subscription(tenant.tenant_id, request, actor="test", now=CREATED)

    return make


def report(
    sub: Subscription,
    quantity: int,
    key: str,
    *,
    at: str = "2027-01-20T10:00:00+00:00",
    now: datetime = NOW,
    **fields: Any,
) -> UsageRecordView:
    request = UsageRequest.model_validate({"quantity": quantity, "timestamp": at, **fields})
    return record_usage(sub.tenant_id, sub.items[0].item_id, request, idempotency_key=key, now=now)


def total(sub: Subscription, period_start: date = JAN) -> int:
    item_id = sub.items[0].item_id
    return usage_for_period(sub.tenant_id, [item_id], period_start)[item_id]


def test_increments_add_up_and_a_repeated_key_counts_once(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id))
    first = report(sub, 100, "k1")
    report(sub, 50, "k2")
    again = report(sub, 100, "k1")
    assert not first.replayed and again.replayed
    assert again.record.usage_id == first.record.usage_id
    assert first.record.period_start == JAN
    assert total(sub) == 150
    # The same key for another report is a conflict, and changes nothing
    with pytest.raises(ConflictError) as raised:
        report(sub, 999, "k1")
    assert raised.value.field == "idempotency_key"
    assert total(sub) == 150


def test_twenty_concurrent_repeats_of_one_key_have_one_effect(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id))
    with ThreadPoolExecutor(20) as pool:
        views = list(pool.map(lambda _: report(sub, 7, "same"), range(20)))
    assert len({v.record.usage_id for v in views}) == 1
    assert sum(not v.replayed for v in views) == 1
    assert total(sub) == 7


def test_twenty_concurrent_reports_add_up_exactly(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id))
    with ThreadPoolExecutor(20) as pool:
        views = list(pool.map(lambda n: report(sub, n, f"key-{n}"), range(1, 21)))
    assert len({v.record.usage_id for v in views}) == 20
    assert total(sub) == sum(range(1, 21))  # 210


def test_the_last_value_is_the_one_with_the_latest_instant(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id, aggregation="last"))
    report(sub, 40, "a", at="2027-01-20T10:00:00+00:00")
    report(sub, 10, "b", at="2027-01-19T10:00:00+00:00")  # older: kept out
    assert total(sub) == 40
    report(sub, 25, "c", at="2027-01-20T11:00:00+00:00")
    assert total(sub) == 25
    assert report(sub, 10, "b", at="2027-01-19T10:00:00+00:00").replayed  # its key was claimed
    with pytest.raises(UnprocessableError) as raised:
        report(sub, 1, "d", action="increment")
    assert raised.value.field == "action"


def test_the_period_is_the_tenants_business_day(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id))
    # 31 Jan 23:30 UTC is already 1 February in Berlin: February's usage
    view = report(
        sub, 3, "feb", at="2027-01-31T23:30:00+00:00", now=datetime(2027, 1, 31, 23, 31, tzinfo=UTC)
    )
    assert view.record.period_start == date(2027, 2, 1)
    assert total(sub, date(2027, 2, 1)) == 3 and total(sub) == 0


def test_usage_of_an_invoiced_period_or_from_the_future_is_refused(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id))
    report(sub, 5, "jan")
    with pytest.raises(UnprocessableError) as raised:
        report(sub, 1, "ahead", at="2027-01-20T12:05:01+00:00")  # NOW + 5 min + 1 s
    assert raised.value.field == "timestamp"
    report(sub, 1, "slightly-ahead", at="2027-01-20T12:05:00+00:00")  # ... but not at 5 minutes
    # Once February is issued (January's usage billed with it), January is closed
    issuing.issue_due_invoice(
        tenant.tenant_id, sub.subscription_id, now=datetime(2027, 1, 31, 23, tzinfo=UTC)
    )
    with pytest.raises(UnprocessableError) as raised:
        report(sub, 1, "late", at="2027-01-30T10:00:00+00:00", now=datetime(2027, 2, 2, tzinfo=UTC))
    assert raised.value.field == "timestamp"
    assert total(sub) == 6
    # February's invoice billed January's 6 calls in arrears: 6 x 0.02 = 0.12 net
    latest = subscriptions.get(tenant.tenant_id, sub.subscription_id).latest_invoice_id
    assert latest is not None
    february = invoices.get(tenant.tenant_id, latest)[0]
    assert february.subtotal == 12


def test_what_is_refused(
    tenant: TestTenant, subscribe: Callable[..., Subscription], tenant_factory: Callable[..., TestTenant]
) -> None:
    licensed = catalog.create_price(
        tenant.tenant_id,
        CreatePriceRequest.model_validate(
            {
                "product_id": catalog.create_product(
                    tenant.tenant_id,
                    CreateProductRequest(name="Seat", tax_category=TaxCategory.STANDARD),
                    now=CREATED,
                ).product_id,
                "currency": "EUR",
                "unit_amount": 1000,
                "interval": "month",
            }
        ),
        now=CREATED,
    ).price_id
    seat = subscribe(licensed)
    with pytest.raises(UnprocessableError) as raised:
        report(seat, 1, "x")
    assert raised.value.field == "item_id"
    metered = subscribe(price(tenant.tenant_id))
    other = tenant_factory()
    request = UsageRequest.model_validate({"quantity": 1, "timestamp": "2027-01-20T10:00:00+00:00"})
    with pytest.raises(NotFoundError):
        record_usage(other.tenant_id, metered.items[0].item_id, request, idempotency_key="x", now=NOW)
    with pytest.raises(ValidationError) as missing:
        record_usage(tenant.tenant_id, metered.items[0].item_id, request, now=NOW)
    assert missing.value.field == "idempotency_key"
    with pytest.raises(PydanticValidationError):
        UsageRequest.model_validate({"quantity": -1, "timestamp": "2027-01-20T10:00:00+00:00"})
    assert total(metered) == 0


def test_the_issuing_engine_reads_totals_in_one_batch(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id), price(tenant.tenant_id, aggregation="last"))
    calls, peak = sub.items
    record_usage(
        tenant.tenant_id,
        calls.item_id,
        UsageRequest.model_validate({"quantity": 1200, "timestamp": "2027-01-10T10:00:00+00:00"}),
        idempotency_key="c1",
        now=NOW,
    )
    assert usage_for_period(tenant.tenant_id, [calls.item_id, peak.item_id], JAN) == {
        calls.item_id: 1200,
        peak.item_id: 0,
    }


def test_a_report_read_before_the_period_closed_cannot_land_in_it(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    # Given a report checked against January (open), then February issued before it is written
    sub = subscribe(price(tenant.tenant_id))
    stale = report(sub, 4, "before").record
    issuing.issue_due_invoice(
        tenant.tenant_id, sub.subscription_id, now=datetime(2027, 1, 31, 23, tzinfo=UTC)
    )
    # When a report for January is written as if the subscription were still in January
    late = replace(stale, usage_id="usg_late", idempotency_key="after", quantity=9)
    with pytest.raises(ConflictError):
        UsageRepository().record(late, change_total=True, max_total=10**15)
    # Then nothing was counted and the key was not taken
    assert total(sub) == 4
    assert UsageRepository().claim(tenant.tenant_id, sub.items[0].item_id, "after") is None


def test_the_issuing_engine_can_condition_on_the_totals_it_billed(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id))
    item_id = sub.items[0].item_id
    billed = usage_for_period(tenant.tenant_id, [item_id], JAN)  # {item: 0}
    UnitOfWork("unchanged").add(
        lambda write: stage_usage_billed(write, tenant.tenant_id, billed, JAN)
    ).commit()
    report(sub, 2, "meanwhile")
    with pytest.raises(ConflictError):
        UnitOfWork("changed").add(
            lambda write: stage_usage_billed(write, tenant.tenant_id, billed, JAN)
        ).commit()


def test_what_a_report_costs(tenant: TestTenant, subscribe: Callable[..., Subscription]) -> None:
    # Reads of the request path only (GetItem/BatchGetItem, never a Query or a Scan), one transaction
    sub = subscribe(price(tenant.tenant_id))
    with metered() as meter:
        report(sub, 1, "cost-1")
    assert set(meter.calls) <= {"GetItem", "TransactWriteItems"}, meter.describe()
    assert meter.calls["TransactWriteItems"] == 1 and meter.calls["GetItem"] <= 5, meter.describe()
    print(f"usage report: {meter.describe()}, {meter.read_units} RCU, {meter.write_units} WCU")
    with metered() as meter:
        report(sub, 1, "cost-1")  # a repeat: reads only
    assert "TransactWriteItems" not in meter.calls, meter.describe()
    print(f"usage repeat: {meter.describe()}, {meter.read_units} RCU")


def test_a_short_first_periods_usage_is_billed_on_the_first_full_invoice(tenant: TestTenant) -> None:
    # Given a subscription from 10 January anchored on the 1st: a short first period [10 Jan, 1 Feb)
    created = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    customer = create_counterparty(
        tenant.tenant_id, {"name": "Kunde GmbH", "country": "DE", "email": "ap@kunde.example"}, now=created
    ).counterparty.counterparty_id
    request = NewSubscription.model_validate(
        {
            "counterparty_id": customer,
            "items": [{"price_id": price(tenant.tenant_id), "quantity": 1}],
            "start_date": "2027-01-10",
            "billing_cycle_anchor": "2027-02-01",
            "days_until_due": 14,
        }
    )
    sub = create_subscription(tenant.tenant_id, request, actor="test", now=created)
    assert (sub.current_period_start, sub.current_period_end) == (date(2027, 1, 10), date(2027, 2, 1))

    # When 100 calls are reported on 15 January
    view = report(sub, 100, "short", at="2027-01-15T10:00:00+00:00")

    # Then they count in the short period, under its own start (not the cycle's 1 January) ...
    assert view.record.period_start == date(2027, 1, 10)
    assert total(sub, date(2027, 1, 10)) == 100
    with pytest.raises(UnprocessableError) as raised:  # ... and a day before the start is refused
        report(sub, 1, "before", at="2027-01-09T10:00:00+00:00")
    assert raised.value.field == "timestamp"
    # ... and the first full period's invoice (1 February) bills them in arrears: 100 x 0.02
    issued = issuing.issue_due_invoice(
        tenant.tenant_id, sub.subscription_id, now=datetime(2027, 1, 31, 23, tzinfo=UTC)
    )
    assert issued is not None
    february = invoices.get(tenant.tenant_id, issued)[0]
    assert february.subtotal == 200
    assert february.metadata["period_start"] == "2027-02-01"


def test_usage_after_a_resume_mid_cycle_is_billed(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    # Given January's 10 calls, then a pause on 20 January
    sub = subscribe(price(tenant.tenant_id))
    report(sub, 10, "jan")
    pause_subscription(tenant.tenant_id, sub.subscription_id, now=NOW)
    # Usage dated after the paid period while paused is counted nowhere: refused
    with pytest.raises(UnprocessableError) as raised:
        report(sub, 1, "paused", at="2027-02-03T10:00:00+00:00", now=datetime(2027, 2, 3, 12, tzinfo=UTC))
    assert raised.value.field == "timestamp"

    # When it resumes on 16 February, mid-cycle: [16 Feb, 1 Mar) is invoiced at once, with
    # January's usage in arrears (10 x 0.02)
    resumed = resume_subscription(
        tenant.tenant_id, sub.subscription_id, on=None, now=datetime(2027, 2, 16, 9, tzinfo=UTC)
    )
    assert resumed.current_period_start == date(2027, 2, 16)
    assert resumed.latest_invoice_id is not None
    assert invoices.get(tenant.tenant_id, resumed.latest_invoice_id)[0].subtotal == 20

    # Then usage on 20 February is kept under 16 February, and March's invoice bills it
    view = report(sub, 7, "feb", at="2027-02-20T10:00:00+00:00", now=datetime(2027, 2, 20, 12, tzinfo=UTC))
    assert view.record.period_start == date(2027, 2, 16)
    march = issuing.issue_due_invoice(
        tenant.tenant_id, sub.subscription_id, now=datetime(2027, 2, 28, 23, tzinfo=UTC)
    )
    assert march is not None
    assert invoices.get(tenant.tenant_id, march)[0].subtotal == 14


def test_usage_an_invoice_could_not_bill_is_refused(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    # 0.02 EUR a call: 10^15 minor units is 5 x 10^14 calls.
    sub = subscribe(price(tenant.tenant_id))
    limit = 5 * 10**14
    with pytest.raises(UnprocessableError) as raised:
        report(sub, limit + 1, "alone-too-much")
    assert raised.value.field == "quantity"
    report(sub, limit - 10, "nearly")
    with pytest.raises(UnprocessableError) as raised:
        report(sub, 11, "one-too-many")
    assert raised.value.field == "quantity"
    report(sub, 10, "exactly")
    assert total(sub) == limit
    # The refused keys were not taken: the same key with a fitting body is a new report later on.
    assert UsageRepository().claim(tenant.tenant_id, sub.items[0].item_id, "one-too-many") is None
    # The total's amount is within the limit (the net; the tax on it is the issuing side's check).
    assert amount_for_quantity(sub.items[0].terms, total(sub)) == 10**15


def test_concurrent_increments_cannot_pass_the_limit_together(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id, unit_amount=1000))  # 10.00 a unit: 10^12 units at most

    def attempt(n: int) -> str:
        try:
            report(sub, 4 * 10**11, f"big-{n}")
        except UnprocessableError as exc:
            return exc.field or ""
        return "ok"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["ok", "ok", "quantity", "quantity"]
    assert total(sub) == 8 * 10**11


def test_a_last_value_beyond_the_limit_is_refused(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    sub = subscribe(price(tenant.tenant_id, unit_amount=100, aggregation="last"))
    with pytest.raises(UnprocessableError) as raised:
        report(sub, 10**13 + 1, "set-too-much")
    assert raised.value.field == "quantity"
    report(sub, 10**13, "set-max")
    assert total(sub) == 10**13


def test_a_report_read_before_a_cancellation_or_deletion_cannot_land_after_it(
    tenant: TestTenant, subscribe: Callable[..., Subscription]
) -> None:
    # Given reports checked against open subscriptions, then one canceled and one item deleted
    canceled = subscribe(price(tenant.tenant_id))
    stale = report(canceled, 4, "before").record
    cancel_subscription(
        tenant.tenant_id,
        canceled.subscription_id,
        CancelRequest.model_validate({"at": "now"}),
        actor="test",
        now=NOW,
    )
    plan = price(tenant.tenant_id, unit_amount=3000, usage_type="licensed")
    deleted = subscribe(price(tenant.tenant_id), plan)
    stale_item = report(deleted, 4, "before").record
    change_subscription(
        tenant.tenant_id,
        deleted.subscription_id,
        ChangeRequest.model_validate({"items": [{"id": deleted.items[0].item_id, "deleted": True}]}),
        actor="test",
        now=NOW,
    )
    # When reports are written as if nothing had happened, then nothing is counted
    for sub, record in ((canceled, stale), (deleted, stale_item)):
        late = replace(record, usage_id="usg_late", idempotency_key="after", quantity=9)
        with pytest.raises(ConflictError):
            UsageRepository().record(late, change_total=True, max_total=10**15)
        assert total(sub) == 4
