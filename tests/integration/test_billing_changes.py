"""Subscription changes, cancellations and scheduled changes against DynamoDB Local, with D1's issuing.

The tenant is in Europe/Berlin and bills a German customer (VAT 19 %); a 30.00 EUR/month plan from
1 January 2027. Every figure is worked out in the comment next to it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bench.dynamodb_meter import metered
from cashline.dal.billing_scheduled_changes import ScheduledChangeRecord, scheduled_change_pk
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.domain.billing.subscription_changes import ChangeKind
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus
from cashline.domain.invoices import Invoice
from cashline.errors import CashlineError, ConflictError, NotFoundError, UnprocessableError
from cashline.schemas.subscription_changes import CancelRequest, ChangeRequest, UsageRequest
from cashline.services.billing import catalog, issuing, upcoming
from cashline.services.billing.cancellation import cancel_subscription
from cashline.services.billing.changes import change_subscription
from cashline.services.billing.scheduled_changes import run_subscription_changes, scheduled_change_of
from cashline.services.billing.subscriptions import pause_subscription
from cashline.services.billing.usage import record_usage
from tests.billing_utils import billing_customer, catalog_price, subscribe_through_service
from tests.utils import Api, TestTenant, error_of

pytestmark = pytest.mark.usefixtures("local_cloud")

subscriptions = SubscriptionRepository()
invoices = InvoiceRepository()

CREATED = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
ON_16_JAN = datetime(2027, 1, 16, 9, 0, tzinfo=UTC)
# 1 February begins in Berlin at 2027-01-31 23:00 UTC.
FEB_TICK = datetime(2027, 1, 31, 23, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def price(tenant_id: str, unit_amount: int, *, name: str | None = None, **terms: Any) -> str:
    return catalog_price(
        tenant_id, unit_amount, name=name or f"Plan {unit_amount // 100}", now=CREATED, **terms
    )


Subscribe = Callable[..., Subscription]


@pytest.fixture
def subscribe(tenant: TestTenant) -> Subscribe:
    customer = billing_customer(tenant.tenant_id, now=CREATED)

    def make(*items: tuple[str, int], now: datetime = CREATED, **fields: Any) -> Subscription:
        return subscribe_through_service(tenant.tenant_id, customer, *items, now=now, **fields)

    return make


def change(sub: Subscription, body: dict[str, Any], *, now: datetime = ON_16_JAN) -> Any:
    return change_subscription(
        sub.tenant_id, sub.subscription_id, ChangeRequest.model_validate(body), actor="test", now=now
    )


def cancel(sub: Subscription, body: dict[str, Any], *, now: datetime = ON_16_JAN) -> Any:
    return cancel_subscription(
        sub.tenant_id, sub.subscription_id, CancelRequest.model_validate(body), actor="test", now=now
    )


def issued(sub: Subscription) -> list[Invoice]:
    page = upcoming.subscription_invoices(sub.tenant_id, sub.subscription_id, limit=100, starting_after=None)
    return [invoices.get(sub.tenant_id, header.invoice_id)[0] for header in reversed(page.items)]


def amounts(invoice: Invoice) -> tuple[int, int, int]:
    return invoice.subtotal, invoice.tax, invoice.amount_due


def reload(sub: Subscription) -> Subscription:
    return subscriptions.get(sub.tenant_id, sub.subscription_id)


# --- the worked example -----------------------------------------------------------------------


def test_worked_example_always_invoice_then_february(tenant: TestTenant, subscribe: Subscribe) -> None:
    # Given 30.00 EUR/month from 1 January (January invoiced: 30.00 + 5.70)
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    ninety = price(tenant.tenant_id, 9000)
    # When it moves to the 90.00 plan effective 16 January with always_invoice
    outcome = change(
        sub, {"items": [{"id": sub.items[0].item_id, "price_id": ninety}], "proration": "always_invoice"}
    )
    # Then one invoice: credit -15.48, charge 46.45, net 30.97, VAT 19 % 5.88, total 36.85
    assert outcome.invoice_id is not None and outcome.credit_note_id is None
    invoice = invoices.get(tenant.tenant_id, outcome.invoice_id)[0]
    assert amounts(invoice) == (3097, 588, 3685)
    after = outcome.subscription
    assert after.items[0].terms.price_id == ninety and after.pending_lines == ()
    assert after.period_charged == {sub.items[0].item_id: 3000 + 4645}
    assert after.period_credited == {sub.items[0].item_id: 1548}
    # And February is the new plan in full: 90.00 + 17.10 = 107.10
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert [amounts(i) for i in issued(sub)] == [(3000, 570, 3570), (3097, 588, 3685), (9000, 1710, 10710)]


def test_upgrade_defaults_to_today_with_prorations_on_the_next_invoice(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    outcome = change(
        sub, {"items": [{"id": sub.items[0].item_id, "price_id": price(tenant.tenant_id, 9000)}]}
    )
    # create_prorations: nothing invoiced now; -1548 + 4645 = 3097 wait for February
    assert outcome.invoice_id is None and outcome.scheduled_change is None
    assert [line.amount for line in outcome.subscription.pending_lines] == [-1548, 4645]
    assert outcome.subscription.pending_proration_amount == 3097
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    # February: 90.00 + 30.97 = 120.97 net, VAT 19 %: 22.98 (22.9843), total 143.95
    assert amounts(issued(sub)[-1]) == (12097, 2298, 14395)
    assert reload(sub).pending_lines == ()


def test_quantity_change_prorates_the_same_way(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 1000, name="Seat"), 3))
    outcome = change(
        sub, {"items": [{"id": sub.items[0].item_id, "quantity": 5}], "proration": "always_invoice"}
    )
    # 30.00 -> 50.00 on 16 Jan: credit 3000 x 16/31 = 1548.39 -> 1548, charge 5000 x 16/31 = 2580.65 -> 2581
    # net 1033, VAT 196.27 -> 196, total 1229
    invoice = invoices.get(tenant.tenant_id, outcome.invoice_id)[0]
    assert amounts(invoice) == (1033, 196, 1229)
    assert outcome.subscription.items[0].quantity == 5


def test_downgrade_defaults_to_the_period_end_and_the_schedule_applies_it_once(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    ninety = price(tenant.tenant_id, 9000)
    thirty = price(tenant.tenant_id, 3000)
    sub = subscribe((ninety, 1))
    outcome = change(sub, {"items": [{"id": sub.items[0].item_id, "price_id": thirty}]})
    scheduled = outcome.scheduled_change
    assert scheduled is not None and scheduled.effective_date == date(2027, 2, 1)
    assert scheduled.kind is ChangeKind.CHANGE and scheduled.proration.value == "none"
    assert scheduled_change_of(tenant.tenant_id, sub.subscription_id) == scheduled
    assert reload(sub).items[0].terms.price_id == ninety  # nothing changed yet
    # Two ticks at once (both sweeps claim their tick and race for the item), a repeated tick and a
    # later one: applied exactly once, before February is issued
    ticks = [utc("2027-01-31T23:00:07"), utc("2027-01-31T23:00:08"), utc("2027-01-31T23:00:07")]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda at: run_subscription_changes(tick_at=at, worker=str(at)), ticks))
    assert sum(r.claimed for r in results) == 2
    run_subscription_changes(tick_at=utc("2027-01-31T23:15:07"), worker="w3")
    after = reload(sub)
    assert [i.terms.price_id for i in after.items] == [thirty]
    assert after.version == sub.version + 1
    assert scheduled_change_of(tenant.tenant_id, sub.subscription_id) is None
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert [amounts(i) for i in issued(sub)] == [(9000, 1710, 10710), (3000, 570, 3570)]


def test_a_new_change_replaces_the_scheduled_one(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 9000), 1))
    item = sub.items[0].item_id
    first = change(sub, {"items": [{"id": item, "price_id": price(tenant.tenant_id, 3000)}]}).scheduled_change
    second = change(
        sub, {"items": [{"id": item, "quantity": 2}], "effective_date": "2027-01-20"}
    ).scheduled_change
    assert first.change_id != second.change_id
    assert scheduled_change_of(tenant.tenant_id, sub.subscription_id) == second
    # A cancellation removes it too
    cancel(sub, {"at": "period_end"})
    assert scheduled_change_of(tenant.tenant_id, sub.subscription_id) is None


def test_a_scheduled_mid_period_change_prorates_as_of_its_day(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    change(
        sub,
        {
            "items": [{"id": sub.items[0].item_id, "price_id": price(tenant.tenant_id, 9000)}],
            "effective_date": "2027-01-22",
        },
    )
    # 22 January begins in Berlin at 21 Jan 23:00 UTC; 10 of 31 days remain:
    # credit 3000 x 10/31 = 967.74 -> 968, charge 9000 x 10/31 = 2903.23 -> 2903
    run_subscription_changes(tick_at=utc("2027-01-21T23:00:11"), worker="w")
    assert [line.amount for line in reload(sub).pending_lines] == [-968, 2903]


# --- cancellation -----------------------------------------------------------------------------


def test_cancel_now_credits_the_unused_days_with_a_credit_note(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    outcome = cancel(sub, {"at": "now"})
    # 3000 x 16/31 = 1548.39 -> 1548 credited, VAT 294.12 -> 294: a credit note of 18.42
    assert outcome.credit_note_id is not None and outcome.invoice_id is None
    note = invoices.get(tenant.tenant_id, outcome.credit_note_id)[0]
    assert abs(note.amount_due) == 1842
    after = reload(sub)
    assert (after.status, after.canceled_on, after.next_invoice_on) == (
        SubscriptionStatus.CANCELED,
        date(2027, 1, 16),
        None,
    )
    with pytest.raises(ConflictError):
        cancel(after, {"at": "now"})
    with pytest.raises(ConflictError):
        change(after, {"items": [{"id": sub.items[0].item_id, "quantity": 2}]})


def test_cancel_now_without_credit_and_at_period_end(tenant: TestTenant, subscribe: Subscribe) -> None:
    plain = subscribe((price(tenant.tenant_id, 3000), 1))
    outcome = cancel(plain, {"at": "now", "prorate": False})
    assert outcome.credit_note_id is None and outcome.subscription.status is SubscriptionStatus.CANCELED
    later = subscribe((price(tenant.tenant_id, 3000), 1))
    outcome = cancel(later, {"at": "period_end"})
    assert outcome.subscription.cancel_at == date(2027, 2, 1)
    assert outcome.subscription.status is SubscriptionStatus.ACTIVE


def test_minimum_term_and_notice_are_refused_unless_forced(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1), minimum_term_months=12, notice_days=30)
    with pytest.raises(UnprocessableError) as raised:
        cancel(sub, {"at": "period_end"})
    assert raised.value.field == "at"
    with pytest.raises(UnprocessableError) as raised:
        cancel(sub, {"at": "2027-12-01"})  # inside the 12 months (they end on 1 Jan 2028)
    assert raised.value.field == "at"
    dated = cancel(sub, {"at": "2028-01-01"})
    assert dated.scheduled_change.kind is ChangeKind.CANCEL
    forced = cancel(sub, {"at": "now", "force": True, "prorate": False})
    assert forced.subscription.status is SubscriptionStatus.CANCELED
    assert scheduled_change_of(tenant.tenant_id, sub.subscription_id) is None


def test_a_dated_cancellation_applies_on_its_day(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    outcome = cancel(sub, {"at": "2027-01-26"})
    assert outcome.subscription.status is SubscriptionStatus.ACTIVE
    run_subscription_changes(tick_at=utc("2027-01-25T23:00:13"), worker="w")
    after = reload(sub)
    assert (after.status, after.canceled_on) == (SubscriptionStatus.CANCELED, date(2027, 1, 26))
    # 6 of 31 days unused: 3000 x 6/31 = 580.65 -> 581, VAT 110.39 -> 110: a credit note of 6.91
    assert [abs(i.amount_due) for i in issued(sub)][-1] == 691


def test_the_sweep_completes_the_changes_it_applies_and_deletes_nothing(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    # Given a scheduled quantity change (20 Jan), a dated cancellation on another subscription
    # (26 Jan) and a change whose price is deactivated before its day (dropped)
    seat = price(tenant.tenant_id, 1000, name="Seat")
    changed = subscribe((seat, 1))
    change(
        changed, {"items": [{"id": changed.items[0].item_id, "quantity": 2}], "effective_date": "2027-01-20"}
    )
    ended = subscribe((price(tenant.tenant_id, 3000), 1))
    cancel(ended, {"at": "2027-01-26"})
    doomed = subscribe((price(tenant.tenant_id, 3000), 1))
    gone = price(tenant.tenant_id, 5000)
    change(
        doomed, {"items": [{"id": doomed.items[0].item_id, "price_id": gone}], "effective_date": "2027-01-20"}
    )
    catalog.update_price(tenant.tenant_id, gone, {"active": False}, expected_version=None, now=ON_16_JAN)

    # When the sweeps of 20 and 26 January run (and again: nothing more happens)
    for tick in ("2027-01-19T23:00:05", "2027-01-25T23:00:05", "2027-01-25T23:15:05"):
        run_subscription_changes(tick_at=utc(tick), worker="w")

    # Then each change is kept, completed (applied or dropped) and off the due index; none pending
    assert reload(changed).items[0].quantity == 2
    assert reload(ended).status is SubscriptionStatus.CANCELED
    assert reload(doomed).items[0].terms.unit_amount == 3000
    outcomes = {}
    for sub in (changed, ended, doomed):
        assert scheduled_change_of(tenant.tenant_id, sub.subscription_id) is None
        records = list(
            ScheduledChangeRecord.query(
                scheduled_change_pk(tenant.tenant_id, sub.subscription_id),
                ScheduledChangeRecord.sk.startswith("SSC#"),
                consistent_read=True,
            )
        )
        assert len(records) == 1 and records[0].due_pk is None and records[0].due_sk is None
        outcomes[sub.subscription_id] = records[0].status
    assert [outcomes[s.subscription_id] for s in (changed, ended, doomed)] == [
        "applied",
        "applied",
        "dropped",
    ]
    # A new change on the same subscription is pending beside the applied one
    later = change(
        changed,
        {"items": [{"id": changed.items[0].item_id, "quantity": 3}], "effective_date": "2027-01-28"},
        now=utc("2027-01-26T09:00:00"),
    )
    assert scheduled_change_of(tenant.tenant_id, changed.subscription_id) == later.scheduled_change


def test_a_paused_subscription_cancels_now_only(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    pause_subscription(tenant.tenant_id, sub.subscription_id, now=ON_16_JAN)
    # At the period's end or on a date: it would never be carried out while paused (no due entry)
    for at in ("period_end", "2027-03-01"):
        with pytest.raises(ConflictError) as raised:
            cancel(sub, {"at": at}, now=utc("2027-01-20T09:00:00"))
        assert raised.value.field == "status" and "resume" in raised.value.message
    paused = reload(sub)
    assert (paused.status, paused.cancel_at) == (SubscriptionStatus.PAUSED, None)
    assert scheduled_change_of(tenant.tenant_id, sub.subscription_id) is None
    # Now: canceled at once. Nothing is credited, as a pause credits nothing (prorates_on: a paused
    # subscription is not billing); resuming first and cancelling now would credit the unused days
    outcome = cancel(sub, {"at": "now"}, now=utc("2027-01-20T09:00:00"))
    after = reload(sub)
    assert (after.status, after.canceled_on, after.next_invoice_on) == (
        SubscriptionStatus.CANCELED,
        date(2027, 1, 20),
        None,
    )
    assert outcome.credit_note_id is None and outcome.invoice_id is None
    assert len(issued(sub)) == 1  # January's invoice only


# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"id": "si_unknown", "quantity": 2}]}, "items.0.id"),
        ({"items": [{"price_id": "prc_01J0000000000000000000000A"}]}, "items.0.price_id"),
        ({"items": [{"id": "ITEM", "quantity": 2}], "effective_date": "2027-01-10"}, "effective_date"),
        ({"items": [{"id": "ITEM", "deleted": True}]}, "items"),
    ],
)
def test_changes_that_do_not_fit_name_the_field(
    tenant: TestTenant, subscribe: Subscribe, body: dict[str, Any], field: str
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    for item in body["items"]:
        if item.get("id") == "ITEM":
            item["id"] = sub.items[0].item_id
    with pytest.raises(CashlineError) as raised:
        change(sub, body)
    assert raised.value.field == field
    assert reload(sub).version == sub.version  # nothing written


def test_another_tenants_subscription_is_not_found(
    tenant: TestTenant, subscribe: Subscribe, tenant_factory: Callable[..., TestTenant]
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    other = tenant_factory()
    with pytest.raises(NotFoundError):
        change_subscription(
            other.tenant_id,
            sub.subscription_id,
            ChangeRequest.model_validate({"items": [{"id": sub.items[0].item_id, "quantity": 2}]}),
            actor="test",
            now=ON_16_JAN,
        )
    with pytest.raises(NotFoundError):
        cancel_subscription(
            other.tenant_id, sub.subscription_id, CancelRequest(), actor="test", now=ON_16_JAN
        )


# --- through the HTTP API ---------------------------------------------------------------------


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def test_worked_example_through_the_api(api: Api, tenant: TestTenant) -> None:
    at_creation, on_16 = api.at(CREATED), api.at(ON_16_JAN)
    key = tenant.finance

    def http_price(amount: int) -> str:
        product = _created(
            at_creation.post(
                "/v1/products",
                key=key,
                json_body={"name": f"Plan {amount // 100}", "tax_category": "standard"},
            )
        )
        body = {"product_id": product["id"], "currency": "EUR", "unit_amount": amount, "interval": "month"}
        return str(_created(at_creation.post("/v1/prices", key=key, json_body=body))["id"])

    thirty, ninety = http_price(3000), http_price(9000)
    customer = _created(
        at_creation.post("/v1/counterparties", key=key, json_body={"name": "Kunde GmbH", "country": "DE"})
    )["id"]
    sub = _created(
        at_creation.post(
            "/v1/subscriptions",
            key=key,
            json_body={
                "counterparty_id": customer,
                "items": [{"price_id": thirty, "quantity": 1}],
                "start_date": "2027-01-01",
                "days_until_due": 14,
            },
        )
    )
    path = f"/v1/subscriptions/{sub['id']}"
    item_id = sub["items"][0]["id"]

    # Unknown fields and bad forms are 400s naming the field; nothing changes
    bad = on_16.post(
        f"{path}/change", key=key, json_body={"items": [{"id": item_id, "quantity": 2}], "when": "now"}
    )
    assert bad.status_code == 400 and error_of(bad)["field"] == "when"
    bad = on_16.post(f"{path}/change", key=key, json_body={"items": [{"id": item_id}]})
    assert bad.status_code == 400 and error_of(bad)["field"] == "items.0.quantity"

    response = on_16.post(
        f"{path}/change",
        key=key,
        json_body={"items": [{"id": item_id, "price_id": ninety}], "proration": "always_invoice"},
    )
    assert response.status_code == 200, response.json()
    outcome = response.json()
    assert outcome["credit_note_id"] is None and outcome["scheduled_change"] is None
    assert outcome["pending_proration_amount"] == 0
    invoice = api.get(f"/v1/invoices/{outcome['invoice_id']}", key=key).json()
    # credit -15.48 + charge 46.45 = 30.97, VAT 19 % 5.88, total 36.85
    assert (invoice["subtotal"], invoice["tax"], invoice["amount_due"]) == (3097, 588, 3685)

    issuing.issue_due_invoice(tenant.tenant_id, sub["id"], now=FEB_TICK)
    listed = api.get(f"{path}/invoices", key=key).json()["data"]
    assert [i["amount_due"] for i in listed] == [10710, 3685, 3570]  # newest first; February 107.10

    # A downgrade without a date waits for the period's end
    response = api.at(datetime(2027, 2, 10, 9, tzinfo=UTC)).post(
        f"{path}/change", key=key, json_body={"items": [{"id": item_id, "price_id": thirty}]}
    )
    scheduled = response.json()["scheduled_change"]
    assert (scheduled["kind"], scheduled["effective_date"], scheduled["proration"]) == (
        "change",
        "2027-03-01",
        "none",
    )
    # ... and the subscription's GET shows it (lists leave it out: null)
    shown = api.get(path, key=key).json()["scheduled_change"]
    assert (shown["id"], shown["kind"], shown["effective_date"]) == (scheduled["id"], "change", "2027-03-01")
    assert shown["items"] == [{"id": item_id, "price_id": thirty, "quantity": None, "deleted": False}]
    assert [s["scheduled_change"] for s in api.get("/v1/subscriptions", key=key).json()["data"]] == [None]

    # Cancelling inside the notice period is refused... there is none here: at period end it is
    response = api.at(datetime(2027, 2, 10, 9, tzinfo=UTC)).post(
        f"{path}/cancel", key=key, json_body={"at": "period_end"}
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["cancel_at"], response.json()["status"]) == ("2027-03-01", "active")
    assert scheduled_change_of(tenant.tenant_id, sub["id"]) is None
    assert api.get(path, key=key).json()["scheduled_change"] is None


def test_usage_through_the_api(api: Api, tenant: TestTenant, subscribe: Subscribe) -> None:
    metered = price(tenant.tenant_id, 2, usage_type="metered")
    sub = subscribe((metered, 1))
    path = f"/v1/subscription-items/{sub.items[0].item_id}/usage"
    on_20 = api.at(datetime(2027, 1, 20, 12, tzinfo=UTC))
    body = {"quantity": 30, "timestamp": "2027-01-20T11:00:00+01:00"}
    first = on_20.post(path, key=tenant.finance, json_body=body, headers={"Idempotency-Key": "u-1"})
    assert first.status_code == 201, first.json()
    again = on_20.post(path, key=tenant.finance, json_body=body, headers={"Idempotency-Key": "u-1"})
    assert again.status_code == 200 and again.json() == first.json()
    other = on_20.post(
        path, key=tenant.finance, json_body={**body, "quantity": 31}, headers={"Idempotency-Key": "u-1"}
    )
    assert other.status_code == 409 and error_of(other)["field"] == "idempotency_key"
    keyless = on_20.post(path, key=tenant.finance, json_body=body)
    assert keyless.status_code == 400 and error_of(keyless)["field"] == "idempotency_key"
    ahead = on_20.post(
        path,
        key=tenant.finance,
        json_body={**body, "timestamp": "2027-01-21T10:00:00+00:00", "idempotency_key": "u-2"},
    )
    assert ahead.status_code == 422 and error_of(ahead)["field"] == "timestamp"
    assert first.json()["period_start"] == "2027-01-01" and first.json()["action"] == "increment"
    assert first.json()["timestamp"] == "2027-01-20T10:00:00Z"


def test_what_a_change_costs(tenant: TestTenant, subscribe: Subscribe) -> None:
    # The request path reads by key (GetItem) and one Query (the pending scheduled change), never a Scan
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    ninety = price(tenant.tenant_id, 9000)
    with metered() as meter:
        change(sub, {"items": [{"id": sub.items[0].item_id, "price_id": ninety}]})
    assert "Scan" not in meter.calls and meter.calls["TransactWriteItems"] == 1, meter.describe()
    print(
        f"change now (create_prorations): {meter.describe()}, {meter.read_units} RCU, {meter.write_units} WCU"
    )
    with metered() as meter:
        change(sub, {"items": [{"id": sub.items[0].item_id, "quantity": 2}], "effective_date": "2027-01-25"})
    assert "Scan" not in meter.calls, meter.describe()
    print(f"change scheduled: {meter.describe()}, {meter.read_units} RCU, {meter.write_units} WCU")


# --- metered usage is never lost --------------------------------------------------------------


def _report(
    sub: Subscription, item_id: str, quantity: int, key: str, *, at: str = "2027-01-10T10:00:00+00:00"
) -> None:
    request = UsageRequest.model_validate({"quantity": quantity, "timestamp": at})
    record_usage(sub.tenant_id, item_id, request, idempotency_key=key, now=utc("2027-01-16T08:00:00"))


def test_cancel_now_bills_the_usage_so_far(tenant: TestTenant, subscribe: Subscribe) -> None:
    # 30.00 EUR/month + 0.02 EUR a call from 1 January; 200 calls reported by 16 January
    sub = subscribe((price(tenant.tenant_id, 3000), 1), (price(tenant.tenant_id, 2, usage_type="metered"), 1))
    calls = sub.items[1].item_id
    _report(sub, calls, 200, "u1")
    outcome = cancel(sub, {"at": "now"})
    # credit 3000 x 16/31 = -1548, usage 200 x 2 = +400: net -1148, VAT 19 % -218.12 -> -218: 13.66
    note, body, _ = invoices.get(tenant.tenant_id, outcome.credit_note_id)
    assert abs(note.amount_due) == 1366
    assert body is not None
    assert any("200 used 2027-01-01 to 2027-01-15" in line["description"] for line in body.lines)
    # A later report is refused: no document would bill it
    with pytest.raises(ConflictError):
        _report(sub, calls, 5, "u2")


def test_cancel_now_without_credit_invoices_the_usage(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1), (price(tenant.tenant_id, 2, usage_type="metered"), 1))
    _report(sub, sub.items[1].item_id, 200, "u1")
    outcome = cancel(sub, {"at": "now", "prorate": False})
    # usage 4.00 + VAT 0.76 = 4.76, an invoice
    assert outcome.invoice_id is not None and outcome.credit_note_id is None
    assert amounts(invoices.get(tenant.tenant_id, outcome.invoice_id)[0]) == (400, 76, 476)


def test_a_dated_cancellation_bills_the_usage_so_far(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1), (price(tenant.tenant_id, 2, usage_type="metered"), 1))
    _report(sub, sub.items[1].item_id, 1000, "u1")
    cancel(sub, {"at": "2027-01-26"})
    # (a tick of its own: a tick already run by another test here would be a no-op)
    run_subscription_changes(tick_at=utc("2027-01-25T23:15:07"), worker="w2")
    # credit 3000 x 6/31 = -581, usage 1000 x 2 = +2000: net 1419, VAT 269.61 -> 270: an invoice of 16.89
    # (January's invoice and this one share their issue day: compared as a set, not by position)
    assert sorted(amounts(i) for i in issued(sub)) == [(1419, 270, 1689), (3000, 570, 3570)]
    assert reload(sub).status is SubscriptionStatus.CANCELED


def test_deleting_a_metered_item_keeps_its_usage_for_the_next_invoice(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1), (price(tenant.tenant_id, 2, usage_type="metered"), 1))
    calls = sub.items[1].item_id
    _report(sub, calls, 200, "u1")
    change(sub, {"items": [{"id": calls, "deleted": True}]})
    after = reload(sub)
    assert [item.item_id for item in after.items] == [sub.items[0].item_id]
    assert [(line.amount, line.item_id) for line in after.pending_lines] == [(400, calls)]
    # A later report on the deleted item is refused
    with pytest.raises(UnprocessableError) as raised:
        _report(sub, calls, 5, "u2")
    assert raised.value.field == "item_id"
    # February: 30.00 + the 4.00 of usage = 34.00, VAT 6.46: 40.46
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert sorted(amounts(i) for i in issued(sub)) == [(3000, 570, 3570), (3400, 646, 4046)]
