"""Subscriptions against DynamoDB Local: create with each collection method, trials and anchors, every
bad field named, another tenant's ids a 404, lists served by Queries, pause and resume, and illegal
transitions a 409. FROZEN_NOW is 2027-03-15 10:00 UTC; the test tenant is in Europe/Berlin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pynamodb.connection.base import Connection

from cashline.dal.billing_subscription_codec import SubscriptionRecord, subscription_pk
from cashline.dal.billing_subscriptions import UNCHANGED, SubscriptionRepository
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.subscriptions import SubscriptionStatus
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.services.billing import issuing
from tests.utils import Api, TestTenant, error_of

pytestmark = pytest.mark.usefixtures("frozen_now")

repository = SubscriptionRepository()
STRIPE = {"processor": "stripe", "customer_id": "cus_123", "payment_method_id": "pm_456"}
GOCARDLESS = {"processor": "gocardless", "mandate_id": "MD000123"}


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.body
    body: dict[str, Any] = response.json()
    return body


def _counterparty(api: Api, tenant: TestTenant, name: str = "Kunde AG") -> str:
    body = {"name": name, "email": "ap@kunde.example", "country": "DE"}
    return str(_created(api.post("/v1/counterparties", key=tenant.finance, json_body=body))["id"])


def _price(api: Api, tenant: TestTenant, **fields: Any) -> str:
    product = _created(
        api.post(
            "/v1/products", key=tenant.finance, json_body={"name": "Pro plan", "tax_category": "standard"}
        )
    )
    body = {
        "product_id": product["id"],
        "currency": "EUR",
        "unit_amount": 3000,
        "interval": "month",
        **fields,
    }
    return str(_created(api.post("/v1/prices", key=tenant.finance, json_body=body))["id"])


@pytest.fixture
def setup(api: Api, tenant: TestTenant) -> dict[str, str]:
    return {"cp": _counterparty(api, tenant), "price": _price(api, tenant)}


def _subscribe(api: Api, tenant: TestTenant, setup: dict[str, str], **fields: Any) -> Any:
    body = {"counterparty_id": setup["cp"], "items": [{"price_id": setup["price"]}], **fields}
    return api.post("/v1/subscriptions", key=tenant.finance, json_body=body)


# ---------------------------------------------------------------------------------------------
# Create


def test_send_invoice_from_today_issues_the_first_invoice_at_once(
    api: Api, tenant: TestTenant, setup: dict[str, str]
) -> None:
    sub = _created(_subscribe(api, tenant, setup, items=[{"price_id": setup["price"], "quantity": 2}]))
    assert sub["id"].startswith("sub_") and sub["status"] == "active"
    assert (sub["collection_method"], sub["days_until_due"], sub["payment_method"]) == (
        "send_invoice",
        14,
        None,
    )
    assert (sub["start_date"], sub["billing_cycle_anchor"]) == ("2027-03-15", "2027-03-15")
    assert (sub["current_period_start"], sub["current_period_end"]) == ("2027-03-15", "2027-04-15")
    assert sub["next_invoice_date"] == "2027-04-15"
    item = sub["items"][0]
    assert item["id"].startswith("si_") and (item["price_id"], item["quantity"]) == (setup["price"], 2)
    assert (item["product_name"], item["unit_amount"], item["interval"]) == ("Pro plan", 3000, "month")
    assert sub["latest_invoice_id"] is not None
    invoice = api.get(f"/v1/invoices/{sub['latest_invoice_id']}", key=tenant.read_only).json()
    assert (invoice["subtotal"], invoice["source"], invoice["counterparty_id"]) == (
        6000,
        "subscription",
        setup["cp"],
    )
    # The price is now used: its terms are frozen.
    assert api.get(f"/v1/prices/{setup['price']}", key=tenant.read_only).json()["used"] is True
    assert api.get(f"/v1/subscriptions/{sub['id']}", key=tenant.read_only).json() == sub


@pytest.mark.parametrize("method", [STRIPE, GOCARDLESS])
def test_charge_automatically_keeps_the_payment_method(
    api: Api, tenant: TestTenant, setup: dict[str, str], method: dict[str, str]
) -> None:
    sub = _created(
        _subscribe(
            api,
            tenant,
            setup,
            start_date="2027-04-01",
            collection_method="charge_automatically",
            payment_method=method,
        )
    )
    expected = {"customer_id": None, "payment_method_id": None, "mandate_id": None, **method}
    assert sub["payment_method"] == expected and sub["days_until_due"] is None
    # Starting later: nothing is issued yet; the sweep issues it at the start of 1 April in Berlin.
    assert (sub["latest_invoice_id"], sub["next_invoice_date"]) == (None, "2027-04-01")
    record = SubscriptionRecord.get(subscription_pk(tenant.tenant_id, sub["id"]), "SUB")
    assert record.due_pk is not None and record.due_pk.startswith("DUE#subscription_invoice#")
    assert record.due_sk is not None and record.due_sk.startswith("2027-03-31T22:00:00Z#")


def test_a_trial_issues_nothing_until_it_ends(api: Api, tenant: TestTenant, setup: dict[str, str]) -> None:
    sub = _created(_subscribe(api, tenant, setup, trial_end="2027-03-29"))
    assert (sub["status"], sub["latest_invoice_id"]) == ("trialing", None)
    assert (sub["current_period_start"], sub["current_period_end"]) == ("2027-03-15", "2027-03-29")
    assert (sub["billing_cycle_anchor"], sub["next_invoice_date"]) == ("2027-03-29", "2027-03-29")


def test_an_anchor_on_the_31st_and_a_short_first_period(
    api: Api, tenant: TestTenant, setup: dict[str, str]
) -> None:
    on_31st = _created(_subscribe(api, tenant, setup, start_date="2027-03-31"))
    # April has 30 days: the period ends on its last day, the next one on 31 May.
    assert (on_31st["current_period_start"], on_31st["current_period_end"]) == ("2027-03-31", "2027-04-30")
    short = _created(
        _subscribe(api, tenant, setup, start_date="2027-03-20", billing_cycle_anchor="2027-03-31")
    )
    assert (short["current_period_start"], short["current_period_end"]) == ("2027-03-20", "2027-03-31")
    assert short["billing_cycle_anchor"] == "2027-03-31"


def test_discounts_and_metadata_are_kept(api: Api, tenant: TestTenant, setup: dict[str, str]) -> None:
    sub = _created(
        _subscribe(
            api,
            tenant,
            setup,
            start_date="2027-04-01",
            discounts=[{"percent_basis_points": 2500, "periods": 3}, {"amount": 500}],
            minimum_term_months=12,
            notice_days=30,
            metadata={"crm": "42"},
        )
    )
    assert sub["discounts"] == [
        {"id": "d1", "percent_basis_points": 2500, "amount": None, "periods": 3, "applied_periods": 0},
        {"id": "d2", "percent_basis_points": None, "amount": 500, "periods": None, "applied_periods": 0},
    ]
    assert (sub["minimum_term_months"], sub["notice_days"], sub["metadata"]) == (12, 30, {"crm": "42"})
    assert sub["pending_proration_amount"] == 0


# ---------------------------------------------------------------------------------------------
# Validation: every bad field named, nothing written


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"counterparty_id": "cp_01JUNKNOWN000000000000000"}, 404, "counterparty_id"),
        ({"items": [{"price_id": "prc_01JUNKNOWN000000000000000"}]}, 404, "items.0.price_id"),
        ({"items": []}, 400, "items"),
        ({"items": [{"price_id": "P", "quantity": 0}]}, 400, "items.0.quantity"),
        ({"trial_end": "2027-03-15"}, 422, "trial_end"),
        ({"start_date": "2027-04-01", "trial_end": "2027-03-20"}, 422, "trial_end"),
        ({"billing_cycle_anchor": "2027-03-01"}, 422, "billing_cycle_anchor"),
        ({"billing_cycle_anchor": "2027-04-15"}, 422, "billing_cycle_anchor"),
        ({"start_date": "1969-12-31"}, 400, "start_date"),
        # Backdated further than one interval (today 15 Mar 2027, monthly: 15 Feb at the earliest).
        ({"start_date": "2020-01-01"}, 422, "start_date"),
        ({"start_date": "2027-02-14"}, 422, "start_date"),
        ({"collection_method": "charge_automatically"}, 400, "payment_method"),
        (
            {"collection_method": "charge_automatically", "payment_method": {"processor": "stripe"}},
            400,
            "payment_method.customer_id",
        ),
        ({"collection_method": "by_pigeon"}, 400, "collection_method"),
        ({"discounts": [{"percent_basis_points": 0}]}, 400, "discounts.0.percent_basis_points"),
        ({"minimum_term_months": 61}, 400, "minimum_term_months"),
        ({"notice_days": -1}, 400, "notice_days"),
        ({"metadata": {"k": "x" * 501}}, 400, "metadata.k"),
        ({"colour": "red"}, 400, "colour"),
    ],
)
def test_bad_fields_are_named(
    api: Api, tenant: TestTenant, setup: dict[str, str], fields: dict[str, Any], status: int, field: str
) -> None:
    response = _subscribe(api, tenant, setup, **fields)
    assert response.status_code == status, response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/subscriptions", key=tenant.read_only).json()["data"] == []


def test_a_start_one_interval_back_is_the_earliest_and_issues_two_invoices(
    api: Api, tenant: TestTenant, setup: dict[str, str]
) -> None:
    sub = _created(_subscribe(api, tenant, setup, start_date="2027-02-15"))
    invoices = api.get(f"/v1/subscriptions/{sub['id']}/invoices", key=tenant.read_only)
    assert invoices.status_code == 200, invoices.body
    assert len(invoices.json()["data"]) == 2  # [15 Feb, 15 Mar) and [15 Mar, 15 Apr): no more
    refused = _subscribe(api, tenant, setup, start_date="2027-02-14")
    assert refused.status_code == 422 and error_of(refused)["field"] == "start_date"
    assert "2027-02-15" in error_of(refused)["message"]


def test_prices_must_agree(api: Api, tenant: TestTenant, setup: dict[str, str]) -> None:
    usd = _price(api, tenant, currency="USD")
    yearly = _price(api, tenant, interval="year")
    one_off = _price(api, tenant, interval=None)
    inactive = _price(api, tenant)
    api.patch(f"/v1/prices/{inactive}", key=tenant.finance, json_body={"active": False})
    cases = [
        ([setup["price"], usd], 422, "items.1.price_id"),
        ([setup["price"], yearly], 422, "items.1.price_id"),
        ([one_off], 422, "items"),
        ([setup["price"], inactive], 404, "items.1.price_id"),
    ]
    for prices, status, field in cases:
        response = _subscribe(api, tenant, setup, items=[{"price_id": p} for p in prices])
        assert (response.status_code, error_of(response)["field"]) == (status, field), prices
    # A one-off price may join a recurring one (charged once, on the first invoice).
    both = _subscribe(
        api,
        tenant,
        setup,
        start_date="2027-04-01",
        items=[{"price_id": setup["price"]}, {"price_id": one_off}],
    )
    assert [i["interval"] for i in _created(both)["items"]] == ["month", None]
    # The refused creates marked no price used.
    assert api.get(f"/v1/prices/{usd}", key=tenant.read_only).json()["used"] is False


def test_another_tenants_ids_are_not_found(api: Api, tenant_factory: Callable[..., TestTenant]) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    own = {"cp": _counterparty(api, tenant), "price": _price(api, tenant)}
    foreign = {"cp": _counterparty(api, other), "price": _price(api, other)}
    sub = _created(_subscribe(api, tenant, own, start_date="2027-04-01"))
    for path in (f"/v1/subscriptions/{sub['id']}",):
        response = api.get(path, key=other.read_only)
        assert (response.status_code, error_of(response)["field"]) == (404, "subscription_id")
    for action in ("pause", "resume"):
        response = api.post(f"/v1/subscriptions/{sub['id']}/{action}", key=other.finance, json_body={})
        assert response.status_code == 404, action
    with_foreign_cp = _subscribe(api, tenant, {**own, "cp": foreign["cp"]})
    assert (with_foreign_cp.status_code, error_of(with_foreign_cp)["field"]) == (404, "counterparty_id")
    with_foreign_price = _subscribe(api, tenant, {**own, "price": foreign["price"]})
    assert (with_foreign_price.status_code, error_of(with_foreign_price)["field"]) == (
        404,
        "items.0.price_id",
    )
    assert api.get("/v1/subscriptions", key=other.read_only).json()["data"] == []


# ---------------------------------------------------------------------------------------------
# Lists


@pytest.fixture
def no_scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request path must not Scan")

    monkeypatch.setattr(Connection, "scan", refuse)
    yield


def test_lists_by_status_and_counterparty_are_queries(
    api: Api, tenant: TestTenant, setup: dict[str, str], no_scans: None
) -> None:
    other_cp = _counterparty(api, tenant, "Other GmbH")
    first = _created(_subscribe(api, tenant, setup, start_date="2027-04-01"))
    trial = _created(_subscribe(api, tenant, setup, start_date="2027-04-01", trial_end="2027-04-15"))
    theirs = _created(_subscribe(api, tenant, {**setup, "cp": other_cp}, start_date="2027-04-01"))

    def ids(query: str) -> list[str]:
        response = api.get(f"/v1/subscriptions{query}", key=tenant.read_only)
        assert response.status_code == 200, response.body
        return [s["id"] for s in response.json()["data"]]

    assert ids("") == [first["id"], trial["id"], theirs["id"]]
    assert ids("?status=active") == [first["id"], theirs["id"]]
    assert ids("?status=trialing") == [trial["id"]]
    assert ids(f"?counterparty_id={setup['cp']}") == [first["id"], trial["id"]]
    assert ids(f"?counterparty_id={setup['cp']}&status=trialing") == [trial["id"]]
    assert ids(f"?counterparty_id={other_cp}&status=trialing") == []
    page = api.get("/v1/subscriptions?limit=2", key=tenant.read_only).json()
    assert page["has_more"] is True and len(page["data"]) == 2
    rest = api.get(f"/v1/subscriptions?limit=2&starting_after={page['next_cursor']}", key=tenant.read_only)
    assert [s["id"] for s in rest.json()["data"]] == [theirs["id"]]
    bad = api.get("/v1/subscriptions?status=sleeping", key=tenant.read_only)
    assert (bad.status_code, error_of(bad)["field"]) == (400, "status")


# ---------------------------------------------------------------------------------------------
# Pause and resume


def test_pause_and_resume_inside_the_paid_period(api: Api, tenant: TestTenant, setup: dict[str, str]) -> None:
    sub = _created(_subscribe(api, tenant, setup))
    first_invoice = sub["latest_invoice_id"]
    paused = api.post(f"/v1/subscriptions/{sub['id']}/pause", key=tenant.finance, json_body={})
    assert paused.status_code == 200, paused.body
    assert (paused.json()["status"], paused.json()["paused_on"]) == ("paused", "2027-03-15")
    assert paused.json()["next_invoice_date"] is None
    record = SubscriptionRecord.get(subscription_pk(tenant.tenant_id, sub["id"]), "SUB")
    assert record.due_pk is None  # off the issuing index: no invoice while paused
    again = api.post(f"/v1/subscriptions/{sub['id']}/pause", key=tenant.finance, json_body={})
    assert (again.status_code, error_of(again)["field"]) == (409, "status")

    later = api.at(datetime(2027, 3, 20, 9, 0, tzinfo=UTC))
    back = later.post(f"/v1/subscriptions/{sub['id']}/resume", key=tenant.finance, json_body={})
    assert back.status_code == 200, back.body
    body = back.json()
    # Still inside the paid [15 Mar, 15 Apr): nothing new is issued, the cycle goes on.
    assert (body["status"], body["paused_on"], body["next_invoice_date"]) == ("active", None, "2027-04-15")
    assert body["latest_invoice_id"] == first_invoice
    resumed_again = later.post(f"/v1/subscriptions/{sub['id']}/resume", key=tenant.finance, json_body={})
    assert (resumed_again.status_code, error_of(resumed_again)["field"]) == (409, "status")


def test_resuming_after_the_paid_period_invoices_the_rest_of_the_cycle(
    api: Api, tenant: TestTenant, setup: dict[str, str]
) -> None:
    sub = _created(_subscribe(api, tenant, setup))
    api.post(f"/v1/subscriptions/{sub['id']}/pause", key=tenant.finance, json_body={})
    later = api.at(datetime(2027, 5, 20, 9, 0, tzinfo=UTC))
    back = later.post(
        f"/v1/subscriptions/{sub['id']}/resume", key=tenant.finance, json_body={"on": "2027-05-16"}
    )
    assert back.status_code == 200, back.body
    body = back.json()
    # [15 Apr, 15 May) was skipped; [16 May, 15 Jun) is 30 of the 31 days of [15 May, 15 Jun):
    # 3000 x 30 / 31 = 2903.23 -> 2903 (half-up once).
    assert (body["current_period_start"], body["current_period_end"]) == ("2027-05-16", "2027-06-15")
    assert body["next_invoice_date"] == "2027-06-15"
    assert body["latest_invoice_id"] not in (None, sub["latest_invoice_id"])
    invoice = api.get(f"/v1/invoices/{body['latest_invoice_id']}", key=tenant.read_only).json()
    assert invoice["subtotal"] == 2903


@pytest.mark.parametrize(("on", "field"), [("2027-03-16", "on"), ("2027-03-14", "on"), ("16.03.2027", "on")])
def test_bad_resume_days_are_named(
    api: Api, tenant: TestTenant, setup: dict[str, str], on: str, field: str
) -> None:
    sub = _created(_subscribe(api, tenant, setup, start_date="2027-04-01"))
    api.post(f"/v1/subscriptions/{sub['id']}/pause", key=tenant.finance, json_body={})
    response = api.post(f"/v1/subscriptions/{sub['id']}/resume", key=tenant.finance, json_body={"on": on})
    assert response.status_code in (400, 422), response.body
    assert error_of(response)["field"] == field


def test_a_canceled_subscription_cannot_pause(api: Api, tenant: TestTenant, setup: dict[str, str]) -> None:
    sub = _created(_subscribe(api, tenant, setup, start_date="2027-04-01"))
    before = repository.get(tenant.tenant_id, sub["id"])
    canceled = replace(before, status=SubscriptionStatus.CANCELED)
    UnitOfWork("test").add(
        lambda write: repository.stage_update(write, before, canceled, due_at=None)
    ).commit()
    response = api.post(f"/v1/subscriptions/{sub['id']}/pause", key=tenant.finance, json_body={})
    assert (response.status_code, error_of(response)["field"]) == (409, "status")
    assert "canceled" in error_of(response)["message"]


# ---------------------------------------------------------------------------------------------
# The repository


def test_updates_are_versioned_and_move_the_due_entry(
    api: Api, tenant: TestTenant, setup: dict[str, str]
) -> None:
    sub = _created(_subscribe(api, tenant, setup, start_date="2027-04-01"))
    before = repository.get(tenant.tenant_id, sub["id"])
    key = subscription_pk(tenant.tenant_id, sub["id"])
    due_sk = SubscriptionRecord.get(key, "SUB").due_sk
    after = replace(before, metadata={"n": "1"})
    UnitOfWork("test").add(
        lambda write: repository.stage_update(write, before, after, due_at=UNCHANGED)
    ).commit()
    assert SubscriptionRecord.get(key, "SUB").due_sk == due_sk
    # A second writer still holding the old version loses.
    with pytest.raises(ConflictError):
        UnitOfWork("stale").add(lambda write: repository.stage_update(write, before, after)).commit()
    current = repository.get(tenant.tenant_id, sub["id"])
    assert (current.version, current.metadata) == (before.version + 1, {"n": "1"})
    moved_to = datetime(2027, 4, 30, 22, 0, tzinfo=UTC)
    UnitOfWork("test").add(
        lambda write: repository.stage_update(write, current, current, due_at=moved_to)
    ).commit()
    assert (SubscriptionRecord.get(key, "SUB").due_sk or "").startswith("2027-04-30T22:00:00Z#")
    # Each item finds its subscription (usage reports name only the item).
    item_id = current.items[0].item_id
    assert repository.subscription_of_item(tenant.tenant_id, item_id).subscription_id == sub["id"]
    with pytest.raises(NotFoundError):
        repository.subscription_of_item("ten_other", item_id)


# ---------------------------------------------------------------------------------------------
# The routes to the other parts' services (their rules are tested with them)


def test_change_cancel_usage_upcoming_and_invoices_are_routed(
    api: Api, tenant: TestTenant, setup: dict[str, str]
) -> None:
    metered = _price(api, tenant, unit_amount=10, usage_type="metered")
    items = [{"price_id": setup["price"]}, {"price_id": metered}]
    sub = _created(_subscribe(api, tenant, setup, items=items))
    path = f"/v1/subscriptions/{sub['id']}"

    upcoming = api.get(f"{path}/upcoming-invoice", key=tenant.read_only)
    assert upcoming.status_code == 200, upcoming.body
    assert (upcoming.json()["subscription_id"], upcoming.json()["period_start"]) == (sub["id"], "2027-04-15")
    invoices = api.get(f"{path}/invoices", key=tenant.read_only)
    assert invoices.status_code == 200, invoices.body
    assert [i["id"] for i in invoices.json()["data"]] == [sub["latest_invoice_id"]]

    item_id = sub["items"][1]["id"]
    report = {"quantity": 7, "timestamp": "2027-03-15T09:00:00Z"}
    first = api.post(
        f"/v1/subscription-items/{item_id}/usage",
        key=tenant.finance,
        json_body=report,
        headers={"Idempotency-Key": "u-1"},
    )
    assert first.status_code == 201, first.body
    repeat = api.post(
        f"/v1/subscription-items/{item_id}/usage",
        key=tenant.finance,
        json_body=report,
        headers={"Idempotency-Key": "u-1"},
    )
    assert (repeat.status_code, repeat.json()["id"]) == (200, first.json()["id"])

    licensed_id = sub["items"][0]["id"]
    change = api.post(
        f"{path}/change", key=tenant.finance, json_body={"items": [{"id": licensed_id, "quantity": 3}]}
    )
    assert change.status_code == 200, change.body
    assert change.json()["subscription_id"] == sub["id"]

    cancel = api.post(f"{path}/cancel", key=tenant.finance, json_body={"at": "period_end"})
    assert cancel.status_code == 200, cancel.body
    assert cancel.json()["subscription_id"] == sub["id"]
    unknown = api.post(
        "/v1/subscription-items/si_01JUNKNOWN000000000000000/usage",
        key=tenant.finance,
        json_body={**report, "idempotency_key": "u-2"},
    )
    assert unknown.status_code == 404, unknown.body


def test_a_first_invoice_that_cannot_be_issued_at_once_is_left_to_the_sweep(
    api: Api, tenant: TestTenant, setup: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str | None:
        raise UnprocessableError("the tax of this counterparty cannot be decided", field="country")

    monkeypatch.setattr(issuing, "issue_due_invoice", refuse)
    sub = _created(_subscribe(api, tenant, setup))
    # Stored, answered without an invoice, and still due: the next sweep issues it.
    assert (sub["status"], sub["latest_invoice_id"], sub["next_invoice_date"]) == (
        "active",
        None,
        "2027-03-15",
    )
    record = SubscriptionRecord.get(subscription_pk(tenant.tenant_id, sub["id"]), "SUB")
    assert (record.due_sk or "").startswith("2027-03-14T23:00:00Z#")
