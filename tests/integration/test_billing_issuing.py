"""The issuing engine against DynamoDB Local: each period becomes one invoice, exactly once.

The tenant is in Europe/Berlin and bills a German customer (domestic VAT 19 %); every figure is
worked out in the comment next to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pynamodb.connection.base import Connection

from cashline.dal.billing_subscription_codec import SUBSCRIPTION_SK, SubscriptionRecord, subscription_pk
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import TaxBehavior, TaxCategory
from cashline.domain.billing.periods import Period
from cashline.domain.billing.proration import change_lines
from cashline.domain.billing.subscriptions import PendingLine, Subscription, SubscriptionStatus
from cashline.domain.invoices import Invoice, InvoiceBody, InvoiceStatus
from cashline.errors import ConflictError, NotFoundError
from cashline.schemas.subscription_changes import UsageRequest
from cashline.services.billing import catalog, issuing, upcoming
from cashline.services.billing.credit import credit_balance
from cashline.services.billing.usage import record_usage
from localcloud.handlers import lambda_context
from localcloud.paths import ROOT
from tests.billing_utils import billing_customer, catalog_price, subscribe_through_service
from tests.utils import FROZEN_NOW, Api, TestTenant

pytestmark = pytest.mark.usefixtures("local_cloud")

EVENTS = ROOT / "events"
subscriptions = SubscriptionRepository()
invoices = InvoiceRepository()

CREATED = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
# 1 February begins in Berlin at 2027-01-31 23:00 UTC.
FEB_TICK = datetime(2027, 1, 31, 23, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def price(tenant_id: str, unit_amount: int, *, name: str = "Basic", **terms: Any) -> str:
    return catalog_price(tenant_id, unit_amount, name=name, now=CREATED, **terms)


@pytest.fixture
def customer(tenant: TestTenant) -> str:
    return billing_customer(tenant.tenant_id, now=CREATED)


Subscribe = Callable[..., Subscription]


@pytest.fixture
def subscribe(tenant: TestTenant, customer: str) -> Subscribe:
    def make(*items: tuple[str, int], now: datetime = CREATED, **fields: Any) -> Subscription:
        return subscribe_through_service(tenant.tenant_id, customer, *items, now=now, **fields)

    return make


def issued(sub: Subscription) -> list[tuple[Invoice, InvoiceBody | None]]:
    """The subscription's invoices, oldest first, with their bodies."""
    page = upcoming.subscription_invoices(sub.tenant_id, sub.subscription_id, limit=100, starting_after=None)
    found = []
    for header in reversed(page.items):
        invoice, body, _ = invoices.get(sub.tenant_id, header.invoice_id)
        found.append((invoice, body))
    return found


def summary(sub: Subscription) -> list[tuple[str, int, int, int]]:
    return [
        (invoice.metadata["period_start"], invoice.subtotal, invoice.tax, invoice.amount_due)
        for invoice, _ in issued(sub)
    ]


def test_the_first_period_is_invoiced_at_creation_and_finalised(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    basic = price(tenant.tenant_id, 3000)
    sub = subscribe((basic, 2))
    [(invoice, body)] = issued(sub)
    # 2 x 30.00 = 60.00; VAT 19 % = 11.40; 71.40.
    assert (invoice.subtotal, invoice.tax, invoice.amount_due) == (6000, 1140, 7140)
    assert invoice.status is InvoiceStatus.OPEN  # auto_finalise_hours 0: finalised on issue
    assert not invoice.number.startswith("DRAFT-")
    assert invoice.source == "subscription"
    assert (invoice.issue_date, invoice.due_date) == (date(2027, 1, 1), date(2027, 1, 15))
    assert invoice.metadata == {
        "subscription_id": sub.subscription_id,
        "period_start": "2027-01-01",
        "period_end": "2027-02-01",
    }
    assert body is not None and body.details is not None
    [line] = body.details["lines"]
    assert (
        line["tax_category_code"],
        line["tax_rate_basis_points"],
        line["service_start"],
        line["service_end"],
    ) == (
        "S",
        1900,
        "2027-01-01",
        "2027-02-01",
    )
    assert body.lines[0]["tax_rate"] == "19"
    assert sub.latest_invoice_id == invoice.invoice_id
    assert (sub.current_period_start, sub.current_period_end, sub.next_invoice_on) == (
        date(2027, 1, 1),
        date(2027, 2, 1),
        date(2027, 2, 1),
    )
    assert sub.period_charged == {sub.items[0].item_id: 6000}


def test_each_period_is_issued_once_however_often_and_concurrently_the_sweep_runs(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    # Not yet February in Berlin one second before: nothing to issue.
    assert (
        issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=utc("2027-01-31T22:59:59"))
        is None
    )
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda at: _quietly(
                    lambda: issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=at)
                ),
                [FEB_TICK, FEB_TICK, utc("2027-02-01T10:00:00"), utc("2027-02-03T10:00:00")],
            )
        )
    assert len({r for r in results if r}) == 1
    first = issuing.run_subscription_invoices(tick_at=utc("2027-02-02T00:00:00"), worker="w1")
    again = issuing.run_subscription_invoices(tick_at=utc("2027-02-02T00:00:00"), worker="w2")
    assert first.claimed and not again.claimed
    assert summary(sub) == [("2027-01-01", 3000, 570, 3570), ("2027-02-01", 3000, 570, 3570)]


def _quietly(issue: Callable[[], str | None]) -> str | None:
    try:
        return issue()
    except ConflictError:
        return None  # a concurrent issue of the same period won


def test_missed_periods_are_caught_up_one_invoice_each_in_order(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    result = issuing.run_subscription_invoices(tick_at=utc("2027-05-10T08:00:00"), worker="w")
    assert result.claimed and result.items_changed >= 1
    assert [row[0] for row in summary(sub)] == [
        "2027-01-01",
        "2027-02-01",
        "2027-03-01",
        "2027-04-01",
        "2027-05-01",
    ]
    numbers = [invoice.number for invoice, _ in issued(sub)]
    assert numbers == sorted(numbers)  # finalised in period order
    after = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    assert after.next_invoice_on == date(2027, 6, 1)


def test_a_trial_issues_nothing_and_its_end_starts_the_first_paid_period(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1), trial_end="2027-01-15")
    assert sub.status is SubscriptionStatus.TRIALING and issued(sub) == []
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=utc("2027-01-15T00:00:00"))
    after = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    assert after.status is SubscriptionStatus.ACTIVE
    # The anchor is the trial's end: a whole period [15 Jan, 15 Feb).
    assert summary(after) == [("2027-01-15", 3000, 570, 3570)]
    assert after.next_invoice_on == date(2027, 2, 15)


def test_a_full_discount_issues_a_zero_invoice_and_counts_its_periods(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe(
        (price(tenant.tenant_id, 3000), 1), discounts=[{"percent_basis_points": 10000, "periods": 1}]
    )
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    after = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    assert summary(after) == [("2027-01-01", 0, 0, 0), ("2027-02-01", 3000, 570, 3570)]
    assert issued(after)[0][0].status is InvoiceStatus.PAID
    assert after.discounts[0].applied_periods == 1


def test_cancel_at_period_end_charges_nothing_in_advance_and_cancels(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    _save(sub, replace(sub, cancel_at=date(2027, 2, 1)))
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    after = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    assert (after.status, after.canceled_on, after.next_invoice_on) == (
        SubscriptionStatus.CANCELED,
        date(2027, 2, 1),
        None,
    )
    assert len(issued(after)) == 1
    issuing.run_subscription_invoices(tick_at=utc("2027-03-02T00:00:00"), worker="w")
    assert len(issued(after)) == 1


def test_a_paused_subscription_is_skipped_and_leaves_the_due_index(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    _save(sub, replace(sub, status=SubscriptionStatus.PAUSED, paused_on=date(2027, 1, 20)))
    assert issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK) is None
    assert len(issued(sub)) == 1


def test_pending_prorations_go_on_the_next_invoice(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    item = sub.items[0]
    credit, charge = change_lines(3000, 9000, Period(date(2027, 1, 1), date(2027, 2, 1)), date(2027, 1, 16))
    pending = tuple(
        PendingLine(
            line.description,
            line.amount,
            item.item_id,
            item.terms.price_id,
            TaxCategory.STANDARD,
            TaxBehavior.EXCLUSIVE,
            date(2027, 1, 16),
            date(2027, 2, 1),
        )
        for line in (credit, charge)
    )
    _save(sub, replace(sub, pending_lines=pending))
    preview = upcoming.upcoming_invoice(tenant.tenant_id, sub.subscription_id, now=utc("2027-01-20T10:00:00"))
    # 30.00 + (-15.48 + 46.45) = 60.97; VAT 19 % of 6097 = 1158.43 -> 11.58; 72.55.
    assert (preview.subtotal, preview.tax, preview.total, preview.amount_due) == (6097, 1158, 7255, 7255)
    assert [line.kind for line in preview.lines] == ["licensed", "proration", "proration"]
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    after = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    assert summary(after)[1] == ("2027-02-01", 6097, 1158, 7255)
    assert after.pending_lines == ()


def move_on_16_january(
    tenant: TestTenant, sub: Subscription, unit_amount: int, *, name: str = "Basic"
) -> tuple[Subscription, list[PendingLine]]:
    """`sub` (one item, January invoiced) moved to a new price of `unit_amount` (product `name`) on
    16 January, with the change's proration lines: the old price credited and the new one charged
    for the 16 days of 31 left (change_lines)."""
    new = catalog.terms_for(tenant.tenant_id, price(tenant.tenant_id, unit_amount, name=name))
    item = sub.items[0]
    january = Period(date(2027, 1, 1), date(2027, 2, 1))
    credit, charge = change_lines(item.terms.unit_amount or 0, unit_amount, january, date(2027, 1, 16))
    lines = [
        PendingLine(
            line.description,
            line.amount,
            item.item_id,
            price_id,
            TaxCategory.STANDARD,
            TaxBehavior.EXCLUSIVE,
            date(2027, 1, 16),
            date(2027, 2, 1),
        )
        for line, price_id in ((credit, item.terms.price_id), (charge, new.price_id))
    ]
    return replace(sub, items=(replace(item, terms=new),)), lines


def test_a_proration_invoice_is_written_with_the_change_once(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    # The issue's worked example: 30.00 -> 90.00 effective 16 January, always_invoice.
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    after, lines = move_on_16_january(tenant, sub, 9000, name="Pro")
    after = replace(after, period_charged={sub.items[0].item_id: 9000})
    now = utc("2027-01-16T09:00:00")
    invoice_id = issuing.issue_proration_invoice(tenant.tenant_id, sub, after, lines, now=now)
    assert invoice_id is not None
    invoice, _, _ = invoices.get(tenant.tenant_id, invoice_id)
    # credit 15.48, charge 46.45, net 30.97, VAT 5.88, total 36.85
    assert (invoice.subtotal, invoice.tax, invoice.amount_due, invoice.issue_date) == (
        3097,
        588,
        3685,
        date(2027, 1, 16),
    )
    with pytest.raises(ConflictError):
        issuing.issue_proration_invoice(tenant.tenant_id, sub, after, lines, now=now)
    stored = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    assert stored.items[0].terms.price_id == after.items[0].terms.price_id
    assert stored.latest_invoice_id == invoice_id
    # February is the new plan in full: 90.00 + 17.10 = 107.10.
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert summary(stored)[-1] == ("2027-02-01", 9000, 1710, 10710)


def test_upcoming_invoice_writes_nothing_and_matches_what_is_issued(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 3), discounts=[{"amount": 500}])
    preview = upcoming.upcoming_invoice(tenant.tenant_id, sub.subscription_id, now=utc("2027-01-10T10:00:00"))
    # 3 x 30.00 - 5.00 = 85.00; VAT 16.15; 101.15.
    assert (preview.period_start, preview.period_end, preview.subtotal, preview.tax, preview.total) == (
        date(2027, 2, 1),
        date(2027, 3, 1),
        8500,
        1615,
        10115,
    )
    assert subscriptions.get(tenant.tenant_id, sub.subscription_id).version == sub.version
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert summary(sub)[-1] == ("2027-02-01", 8500, 1615, 10115)


def test_another_tenants_subscription_is_not_found(
    tenant_factory: Callable[..., TestTenant], subscribe: Subscribe, tenant: TestTenant
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    other = tenant_factory("Other AG")
    with pytest.raises(NotFoundError):
        upcoming.upcoming_invoice(other.tenant_id, sub.subscription_id, now=FEB_TICK)
    with pytest.raises(NotFoundError):
        upcoming.subscription_invoices(other.tenant_id, sub.subscription_id, limit=10, starting_after=None)
    with pytest.raises(NotFoundError):
        issuing.issue_due_invoice(other.tenant_id, sub.subscription_id, now=FEB_TICK)


def _save(before: Subscription, after: Subscription) -> None:
    """Store a state a change, a pause or a cancellation would have left (their own tests cover them)."""
    UnitOfWork("test").add(lambda write: subscriptions.stage_update(write, before, after)).commit()


def test_the_upcoming_invoice_and_the_invoices_over_http(
    tenant: TestTenant, subscribe: Subscribe, api: Any
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 3), discounts=[{"amount": 500}])
    client = api.at(utc("2027-01-10T10:00:00"))
    preview = client.get(f"/v1/subscriptions/{sub.subscription_id}/upcoming-invoice", key=tenant.read_only)
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert {k: body[k] for k in ("period_start", "period_end", "subtotal", "tax", "total", "amount_due")} == {
        "period_start": "2027-02-01",
        "period_end": "2027-03-01",
        "subtotal": 8500,
        "tax": 1615,
        "total": 10115,
        "amount_due": 10115,
    }
    assert [(line["kind"], line["amount"], line["tax_rate"]) for line in body["lines"]] == [
        ("licensed", 9000, "19"),
        ("discount", -500, "19"),
    ]
    listed = client.get(f"/v1/subscriptions/{sub.subscription_id}/invoices", key=tenant.read_only)
    assert listed.status_code == 200, listed.json()
    [invoice] = listed.json()["data"]
    assert (invoice["id"], invoice["amount_due"]) == (sub.latest_invoice_id, 10115)
    missing = client.get(
        "/v1/subscriptions/sub_01M95R789TK7JFNG2ZW1DBZMDG/upcoming-invoice", key=tenant.read_only
    )
    assert missing.status_code == 404


def test_issuing_a_period_costs_a_bounded_number_of_dynamodb_calls(
    tenant: TestTenant, subscribe: Subscribe, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    calls: list[str] = []
    dispatch = Connection.dispatch

    def counted(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        calls.append(operation_name)
        return dispatch(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", counted)
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    # Issue: subscription, tenant, settings (+ its tenant), counterparty, credit balance, one
    # transaction; finalise: its own reads and one transaction; the subscription read again (nothing
    # more due). 15 when measured; the figure is in the docs (subscription invoices, "Figures").
    writes = [c for c in calls if c == "TransactWriteItems"]
    assert len(writes) == 2, calls
    assert len(calls) <= 16, calls


def test_a_negative_proration_makes_a_credit_note_whose_credit_the_next_invoice_takes_first(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 9000, name="Pro"), 1))
    after, lines = move_on_16_january(tenant, sub, 3000)
    # credit 9000 x 16 / 31 = 4645.16 -> -46.45, charge 3000 x 16 / 31 = 15.48: net -30.97,
    # VAT -5.88, a credit note of 36.85.
    note_id = issuing.issue_proration_invoice(
        tenant.tenant_id, sub, after, lines, now=utc("2027-01-16T09:00:00")
    )
    assert note_id is not None
    note, _, _ = invoices.get(tenant.tenant_id, note_id)
    assert (note.document_kind.value, abs(note.amount_due)) == ("credit_note", 3685)
    # The January invoice it credits (107.10) is still unpaid: the credit settles it first (107.10
    # - 36.85 = 70.25 still owed), nothing is left in the balance for February (35.70 owed in full).
    january = invoices.get_header(tenant.tenant_id, sub.latest_invoice_id or "")
    assert (january.amount_due, january.amount_paid) == (10710, 3685)
    assert january.status in {InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE}  # still owed
    assert credit_balance(tenant.tenant_id, sub.counterparty_id, "EUR") == 0
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    february = next(i for i, _ in issued(sub) if i.metadata.get("period_start") == "2027-02-01")
    assert (february.amount_due, february.amount_paid, february.status) == (3570, 0, InvoiceStatus.OPEN)


def pay_in_full(api: Api, tenant: TestTenant, invoice: Invoice) -> None:
    body = {
        "amount": invoice.amount_due,
        "currency": invoice.currency,
        "value_date": str(FROZEN_NOW.date()),
        "invoice_id": invoice.invoice_id,
    }
    paid = api.post("/v1/payments", key=tenant.finance, json_body=body)
    assert paid.status_code == 201, paid.body


def test_a_credit_note_for_a_paid_invoice_goes_to_the_balance_for_the_next_invoice(
    api: Api, tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 9000, name="Pro"), 1))
    january = invoices.get_header(tenant.tenant_id, sub.latest_invoice_id or "")
    pay_in_full(api, tenant, january)
    sub = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    after, lines = move_on_16_january(tenant, sub, 3000)
    issuing.issue_proration_invoice(tenant.tenant_id, sub, after, lines, now=utc("2027-01-16T09:00:00"))
    # February: 30.00 + 5.70 = 35.70, all of it paid from the 36.85 credit (1.15 left).
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    february = next(i for i, _ in issued(sub) if i.metadata.get("period_start") == "2027-02-01")
    assert (february.amount_due, february.amount_paid, february.status) == (3570, 3570, InvoiceStatus.PAID)
    assert credit_balance(tenant.tenant_id, sub.counterparty_id, "EUR") == 115


def test_the_sample_schedule_event_runs_the_three_sweeps(chalice_app: Any) -> None:
    event = json.loads((EVENTS / "schedule_subscription_billing.json").read_text())
    result = chalice_app.handler_map["subscription_billing"](event, lambda_context("sb"))
    assert set(result) == {
        "claimed",
        "changes_applied",
        "subscriptions_invoiced",
        "invoices_finalised",
        "items_read",
    }


# --- a usage report racing the issue; leaving the due index after a change ------------------------


def _report(sub: Subscription, item_id: str, quantity: int, at: str, *, key: str, now: datetime) -> None:
    request = UsageRequest.model_validate({"quantity": quantity, "timestamp": at})
    record_usage(sub.tenant_id, item_id, request, idempotency_key=key, now=now)


def test_a_usage_report_landing_between_the_read_and_the_write_is_billed_by_the_retry(
    tenant: TestTenant, subscribe: Subscribe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30.00 a month plus API calls at 0.05 each, 100 calls reported in January
    calls = price(tenant.tenant_id, 5, name="API calls", usage_type="metered")
    sub = subscribe((price(tenant.tenant_id, 3000), 1), (calls, 1))
    metered = next(i.item_id for i in sub.items if i.terms.price_id == calls)
    _report(sub, metered, 100, "2027-01-20T10:00:00+00:00", key="jan-20", now=utc("2027-01-20T10:00:00"))
    # When 50 more are reported after the issue read the totals and before it wrote the invoice
    read_totals = issuing.usage_for_period

    def read_then_a_report_commits(tenant_id: str, item_ids: Any, period_start: date) -> dict[str, int]:
        totals = read_totals(tenant_id, item_ids, period_start)
        _report(sub, metered, 50, "2027-01-31T22:30:00+00:00", key="jan-31", now=FEB_TICK)
        return totals

    monkeypatch.setattr(issuing, "usage_for_period", read_then_a_report_commits)
    # Then that issue writes nothing (its totals are no longer the totals)
    with pytest.raises(ConflictError):
        issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert len(issued(sub)) == 1
    assert subscriptions.get(tenant.tenant_id, sub.subscription_id).next_invoice_on == date(2027, 2, 1)
    # And the next try bills all 150 calls: 30.00 + 7.50 = 37.50; VAT 19 % of 3750 = 712.5 -> 7.13
    monkeypatch.undo()
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert summary(sub)[1] == ("2027-02-01", 3750, 713, 4463)
    _, body = issued(sub)[1]
    assert body is not None and sorted(line["net_amount"] for line in body.lines) == [750, 3000]


def _due_keys(sub: Subscription) -> tuple[str | None, str | None]:
    record = SubscriptionRecord.get(
        subscription_pk(sub.tenant_id, sub.subscription_id), SUBSCRIPTION_SK, consistent_read=True
    )
    return record.due_pk, record.due_sk


@pytest.mark.parametrize(
    "status", [SubscriptionStatus.CANCELED, SubscriptionStatus.PAUSED], ids=["canceled", "paused"]
)
def test_a_change_that_cancels_or_pauses_with_a_credit_leaves_the_due_index(
    tenant: TestTenant, subscribe: Subscribe, status: SubscriptionStatus
) -> None:
    # Given a 30.00 plan from 1 January, on the due index for 1 February
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    assert _due_keys(sub) != (None, None)
    item = sub.items[0]
    # When it ends on 16 January with the unused 16 of 31 days credited: 30.00 x 16 / 31 = 15.48
    credit = PendingLine(
        "Unused time on Basic",
        -1548,
        item.item_id,
        item.terms.price_id,
        TaxCategory.STANDARD,
        TaxBehavior.EXCLUSIVE,
        date(2027, 1, 16),
        date(2027, 2, 1),
    )
    day = date(2027, 1, 16)
    ended = replace(
        sub,
        status=status,
        canceled_on=day if status is SubscriptionStatus.CANCELED else None,
        paused_on=day if status is SubscriptionStatus.PAUSED else None,
        next_invoice_on=None if status is SubscriptionStatus.CANCELED else sub.next_invoice_on,
    )
    now = utc("2027-01-16T09:00:00")
    note_id = issuing.issue_proration_invoice(tenant.tenant_id, sub, ended, [credit], now=now)
    # Then the credit note is written with it, and the subscription is off the due index
    assert note_id is not None
    assert _due_keys(sub) == (None, None)
    # And a tick leaves it as it is (it no longer reads it)
    stored = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    issuing.run_subscription_invoices(tick_at=utc("2027-02-01T00:00:00"), worker="w")
    assert subscriptions.get(tenant.tenant_id, sub.subscription_id).version == stored.version
    assert [invoice.document_kind.value for invoice, _ in issued(sub)] == ["invoice", "credit_note"]
