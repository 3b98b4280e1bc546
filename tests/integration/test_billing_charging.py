"""Charging subscription invoices against DynamoDB Local and the processor stand-ins: concurrent
sweeps charge once, a timeout is asked again with the same key, a decline makes the subscription
past_due and retries on the tenant's days (counted from the first failure), the last failure cancels
or leaves the invoice unpaid, an invoice paid meanwhile is not charged, a campaign's retry_payment
step charges once and the webhook's payment completes the run, and one tenant cannot touch another's.

The invoices are ordinary open receivables with the subscription in their metadata (as issuing
makes them) and the first attempt is staged as finalisation stages it, so this part is tested
without the issuing and finalising sweeps. Time: every `invoice_charges` tick here is after the one
before it (a tick instant is claimed once per schedule), and every test leaves no attempt due.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bench.dynamodb_meter import metered
from cashline.dal.billing_charges import CHARGE_JOB, ChargeAttemptRecord, ChargeRepository
from cashline.dal.billing_invoices import InvoiceJobRecord, stage_delivery_due
from cashline.dal.billing_settings import BillingSettings, save_billing_settings
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.due import DUE_SHARDS, due_partition
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.charges import ChargeAttempt, ChargeStatus
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    PaymentMethod,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)
from cashline.errors import NotFoundError
from cashline.ids import new_id
from cashline.services.billing import charging
from chalicelib.runtime import scheduler_ready
from localcloud.cloud import LocalCloud
from localcloud.handlers import fire_schedule, lambda_context
from localcloud.paths import ROOT
from tests.billing_utils import domain_subscription, price_terms, store_subscription
from tests.integration.test_webhooks import intent, post_stripe, stripe_event
from tests.payment_utils import connect, drain, get_invoice
from tests.utils import FROZEN_NOW, Api, TestTenant

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = FROZEN_NOW.astimezone(BERLIN).date()
CHARGES = "invoice_charges"
STRIPE_CARD = PaymentMethod(processor="stripe", customer_id="cus_G1", payment_method_id="pm_G1")
GOCARDLESS_MANDATE = PaymentMethod(processor="gocardless", mandate_id="MD000G1")
STRIPE_SECRET = "whsec_charging_0001"
PLAN = price_terms("prc_plan", 30_00, product_id="prd_plan", product_name="Pro plan")

attempts = ChargeRepository()
subscriptions = SubscriptionRepository()
invoices = InvoiceRepository()
_last_tick: list[datetime] = [datetime(2041, 1, 5, 9, 0, tzinfo=UTC)]

# Requests are handled at FROZEN_NOW; the charge sweeps at the instants fired.
pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture(autouse=True)
def _fresh_processors(local_cloud: LocalCloud) -> Iterator[None]:
    local_cloud.processors.reset()  # no outcome left queued by an earlier test
    _no_charges_left_by_other_tests()
    yield


def _no_charges_left_by_other_tests() -> None:
    """Take every charge attempt still due off the index before a test: the charge sweep reads the
    whole table, and attempts other test files left due (charge_automatically subscriptions of the
    issuing, finalising and demo tests, on the same DynamoDB Local) would be charged by this file's
    far-future ticks and counted here."""
    for shard in range(DUE_SHARDS):
        for item in CashlineItem.due.query(due_partition(CHARGE_JOB, shard)):
            record = type(item)
            item.update(actions=[record.due_pk.remove(), record.due_sk.remove()], add_version_condition=False)


def next_moment() -> datetime:
    """A moment two days after the last charge tick of this session: sweeps go forward."""
    return _last_tick[0] + timedelta(days=2)


def fire(app: Any, instant: datetime) -> dict[str, Any]:
    assert instant >= _last_tick[0], "charge ticks go forward"
    _last_tick[0] = instant
    result: dict[str, Any] = fire_schedule(app, CHARGES, instant)
    return result


def fire_together(app: Any, instants: list[datetime]) -> list[dict[str, Any]]:
    _last_tick[0] = max(instants)
    with ThreadPoolExecutor(max_workers=len(instants)) as pool:
        return list(pool.map(lambda at: fire_schedule(app, CHARGES, at), instants))


def billing(tenant: TestTenant, **values: Any) -> None:
    save_billing_settings(tenant.tenant_id, BillingSettings(**values), FROZEN_NOW)


def customer(api: Api, tenant: TestTenant, name: str = "Kunde GmbH") -> str:
    body = {"name": name, "email": "ap@kunde.example", "country": "DE", "preferred_language": "de"}
    response = api.post("/v1/counterparties", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    return str(response.json()["id"])


def subscribe(
    tenant: TestTenant,
    counterparty_id: str,
    *,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    method: PaymentMethod = STRIPE_CARD,
    start: date = date(2027, 1, 1),
) -> Subscription:
    return store_subscription(
        domain_subscription(
            SubscriptionItem(item_id=new_id("subscription_item"), terms=PLAN, quantity=1),
            tenant_id=tenant.tenant_id,
            subscription_id=new_id("subscription"),
            counterparty_id=counterparty_id,
            status=status,
            start_date=start,
            billing_cycle_anchor=start,
            collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
            payment_method=method,
            days_until_due=None,
            current_period_start=date(2027, 3, 1),
            current_period_end=date(2027, 4, 1),
            next_invoice_on=date(2027, 4, 1),
            created_at=FROZEN_NOW,
            updated_at=FROZEN_NOW,
            version=0,
        )
    )


def subscription_invoice(
    api: Api, tenant: TestTenant, sub: Subscription, amount: int, *, period_start: date = date(2027, 3, 1)
) -> str:
    """An open receivable as issuing makes it: the subscription and the period in its metadata."""
    body = {
        "direction": "receivable",
        "counterparty": {"id": sub.counterparty_id},
        "number": f"SUB-{new_id('invoice')[-8:]}",
        "issue_date": str(TODAY),
        "due_date": str(TODAY + timedelta(days=14)),
        "currency": "EUR",
        "amount_due": amount,
        "metadata": {"subscription_id": sub.subscription_id, "period_start": period_start.isoformat()},
    }
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    return str(response.json()["id"])


def finalised(tenant: TestTenant, invoice_id: str, method: PaymentMethod, at: datetime) -> None:
    """What finalisation stages for a charge_automatically invoice: its first attempt, due at once."""
    invoice = invoices.get_header(tenant.tenant_id, invoice_id)
    UnitOfWork("test finalise").add(
        lambda write: charging.stage_first_charge(write, invoice, method, at)
    ).commit()


def attempts_of(tenant: TestTenant, invoice_id: str) -> list[ChargeAttempt]:
    return attempts.attempts_of(tenant.tenant_id, invoice_id)


def status_of(tenant: TestTenant, sub: Subscription) -> SubscriptionStatus:
    return subscriptions.get(tenant.tenant_id, sub.subscription_id).status


def setup(api: Api, tenant: TestTenant, amount: int = 30_00, **sub_fields: Any) -> tuple[Subscription, str]:
    connect(api, tenant, "stripe", STRIPE_SECRET, api_key="sk_test_tenant_own_key")
    connect(api, tenant, "gocardless", "gc_webhook_secret_1", api_key="gc_access_tenant_own")
    sub = subscribe(tenant, customer(api, tenant), **sub_fields)
    return sub, subscription_invoice(api, tenant, sub, amount)


# --- exactly once ---------------------------------------------------------------------------------


def test_concurrent_sweeps_charge_once_and_the_subscription_is_active_again(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    sub, invoice_id = setup(api, tenant, 45_50, status=SubscriptionStatus.PAST_DUE)
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)
    local_cloud.processors.script("stripe", "succeed_slowly")

    results = fire_together(chalice_app, [start + timedelta(seconds=s) for s in range(4)])

    assert sum(r["charges"] for r in results) == 1
    [created] = local_cloud.processors.created
    assert created.idempotency_key == f"{invoice_id}-1" and created.amount == 45_50
    assert created.metadata["cashline_invoice"] == invoice_id
    assert created.metadata["cashline_subscription"] == sub.subscription_id
    assert created.params["customer"] == "cus_G1" and created.params["payment_method"] == "pm_G1"
    [attempt] = attempts_of(tenant, invoice_id)
    assert attempt.status is ChargeStatus.SUCCEEDED and attempt.processor_reference == created.reference
    assert status_of(tenant, sub) is SubscriptionStatus.ACTIVE
    # The money is the webhook's to apply: the charge itself records no payment.
    assert get_invoice(api, tenant, invoice_id)["amount_paid"] == 0
    assert fire(chalice_app, start + timedelta(hours=1))["charges"] == 0  # nothing left due


def test_a_timeout_is_asked_again_later_with_the_same_key(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    sub, invoice_id = setup(api, tenant)
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)
    local_cloud.processors.script("stripe", "timeout_after_create")

    fire(chalice_app, start)
    [asked] = attempts_of(tenant, invoice_id)
    assert asked.status is ChargeStatus.PROCESSING and asked.failure_reason == "DebitTimeoutError"
    assert status_of(tenant, sub) is SubscriptionStatus.ACTIVE  # unknown is no failure
    fire(chalice_app, start + timedelta(minutes=10))  # not yet: asked again 30 minutes later
    assert len(local_cloud.processors.created) == 1

    fire(chalice_app, start + timedelta(minutes=31))
    [created] = local_cloud.processors.created  # the replay made nothing new
    assert created.idempotency_key == f"{invoice_id}-1"
    [done] = attempts_of(tenant, invoice_id)
    assert done.status is ChargeStatus.SUCCEEDED and done.attempt == 1


# --- failures and retries -------------------------------------------------------------------------


def test_declines_retry_on_the_tenants_days_then_the_last_failure_cancels(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    billing(tenant, retry_days=(1, 3), after_last_failure="cancel")
    sub, invoice_id = setup(api, tenant)
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)
    local_cloud.processors.script("stripe", "fail", "fail", "fail")

    fire(chalice_app, start)
    first, second = attempts_of(tenant, invoice_id)
    assert (first.status, first.failure_reason) == (ChargeStatus.FAILED, "insufficient_funds")
    assert second.status is ChargeStatus.SCHEDULED and second.due_at == start + timedelta(days=1)
    assert status_of(tenant, sub) is SubscriptionStatus.PAST_DUE

    fire(chalice_app, start + timedelta(days=1) - timedelta(minutes=1))
    assert len(local_cloud.processors.created) == 1  # not before its moment
    fire(chalice_app, start + timedelta(days=1))
    third = attempts_of(tenant, invoice_id)[2]
    # Counted from the first failure: +3 days, not +1 +3.
    assert third.status is ChargeStatus.SCHEDULED and third.due_at == start + timedelta(days=3)
    assert status_of(tenant, sub) is SubscriptionStatus.PAST_DUE

    fire(chalice_app, start + timedelta(days=3))
    keys = [p.idempotency_key for p in local_cloud.processors.created]
    assert keys == [f"{invoice_id}-1", f"{invoice_id}-2", f"{invoice_id}-3"]  # a new key per attempt
    assert [a.status for a in attempts_of(tenant, invoice_id)] == [ChargeStatus.FAILED] * 3
    canceled = subscriptions.get(tenant.tenant_id, sub.subscription_id)
    assert canceled.status is SubscriptionStatus.CANCELED
    assert canceled.canceled_on == (start + timedelta(days=3)).astimezone(BERLIN).date()
    assert canceled.next_invoice_on is None
    assert get_invoice(api, tenant, invoice_id)["status"] == "open"  # still owed
    assert fire(chalice_app, start + timedelta(days=9))["charges"] == 0


def test_a_first_invoice_never_paid_leaves_the_subscription_incomplete_and_unpaid(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    billing(tenant, retry_days=(2,), after_last_failure="leave_unpaid")
    connect(api, tenant, "stripe", STRIPE_SECRET, api_key="sk_test_tenant_own_key")
    sub = subscribe(tenant, customer(api, tenant), start=date(2027, 3, 1))
    invoice_id = subscription_invoice(api, tenant, sub, 30_00, period_start=date(2027, 3, 1))
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)
    local_cloud.processors.script("stripe", "fail", "fail")

    fire(chalice_app, start)
    assert status_of(tenant, sub) is SubscriptionStatus.INCOMPLETE
    fire(chalice_app, start + timedelta(days=2))
    assert [a.status for a in attempts_of(tenant, invoice_id)] == [ChargeStatus.FAILED] * 2
    assert status_of(tenant, sub) is SubscriptionStatus.INCOMPLETE  # left unpaid, not cancelled
    assert get_invoice(api, tenant, invoice_id)["status"] == "open"  # collection's now


def test_without_a_processor_connection_the_attempt_fails_and_the_subscription_is_past_due(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    billing(tenant, retry_days=())
    sub = subscribe(tenant, customer(api, tenant))
    invoice_id = subscription_invoice(api, tenant, sub, 30_00)
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)

    fire(chalice_app, start)
    [failed] = attempts_of(tenant, invoice_id)
    assert (failed.status, failed.failure_reason) == (ChargeStatus.FAILED, "no_processor_connection")
    assert local_cloud.processors.created == []
    assert status_of(tenant, sub) is SubscriptionStatus.PAST_DUE


def test_an_invoice_paid_meanwhile_is_not_charged(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    sub, invoice_id = setup(api, tenant, 12_00)
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)
    paid = api.post(
        "/v1/payments",
        key=tenant.finance,
        json_body={"amount": 12_00, "currency": "EUR", "value_date": str(TODAY), "invoice_id": invoice_id},
    )
    assert paid.status_code == 201, paid.body

    fire(chalice_app, start)
    assert local_cloud.processors.created == []
    [canceled] = attempts_of(tenant, invoice_id)
    assert (canceled.status, canceled.failure_reason) == (ChargeStatus.CANCELED, "invoice_settled")
    assert status_of(tenant, sub) is SubscriptionStatus.ACTIVE


def test_a_gocardless_charge_is_followed_until_it_settles(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    sub, invoice_id = setup(api, tenant, 99_00, method=GOCARDLESS_MANDATE, status=SubscriptionStatus.PAST_DUE)
    start = next_moment()
    finalised(tenant, invoice_id, GOCARDLESS_MANDATE, start)

    fire(chalice_app, start)
    [created] = local_cloud.processors.created
    assert created.processor == "gocardless" and created.idempotency_key == f"{invoice_id}-1"
    [pending] = attempts_of(tenant, invoice_id)
    assert (pending.status, pending.phase) == (ChargeStatus.PROCESSING, "poll")
    local_cloud.processors.set_status(created.reference, "confirmed")

    fire(chalice_app, start + timedelta(hours=1))
    [settled] = attempts_of(tenant, invoice_id)
    assert settled.status is ChargeStatus.SUCCEEDED
    assert len(local_cloud.processors.created) == 1  # asked how it went, never charged again
    assert status_of(tenant, sub) is SubscriptionStatus.ACTIVE


# --- retry_payment in a campaign ------------------------------------------------------------------


def _campaign_run(api: Api, tenant: TestTenant, invoice_id: str) -> dict[str, Any]:
    steps = [
        {"offset_days": 1, "channel": "email", "send_on_weekends": True},
        {"offset_days": 3, "channel": "retry_payment", "send_on_weekends": True},
        {"offset_days": 7, "channel": "email", "send_on_weekends": True},
    ]
    plan = api.post("/v1/campaigns", key=tenant.admin, json_body={"name": "Mixed", "steps": steps})
    assert plan.status_code == 201, plan.body
    started = api.post(
        f"/v1/invoices/{invoice_id}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": plan.json()["id"]},
    )
    assert started.status_code == 200, started.body
    run: dict[str, Any] = started.json()
    return run


def _step_moment(api: Api, tenant: TestTenant, invoice_id: str, offset: int, minute: int = 0) -> datetime:
    """10:`minute` on the step's day in Berlin (each test its own minute: a tick instant runs once)."""
    due = date.fromisoformat(get_invoice(api, tenant, invoice_id)["due_date"])
    return datetime.combine(due + timedelta(days=offset), time(10, minute), tzinfo=BERLIN)


def test_a_campaign_retry_step_charges_once_and_the_webhooks_payment_completes_the_run(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    sub, invoice_id = setup(api, tenant, 64_00, status=SubscriptionStatus.PAST_DUE)
    connection = api.get("/v1/processor-connections", key=tenant.read_only).json()["data"]
    [stripe_connection] = [c for c in connection if c["provider"] == "stripe"]
    _campaign_run(api, tenant, invoice_id)

    fire_schedule(chalice_app, "collection_steps", _step_moment(api, tenant, invoice_id, 1))
    assert local_cloud.processors.created == []  # the e-mail step charges nothing
    retry_at = _step_moment(api, tenant, invoice_id, 3)
    fire_schedule(chalice_app, "collection_steps", retry_at)
    fire_schedule(chalice_app, "collection_steps", retry_at + timedelta(minutes=5))  # again: nothing new

    [created] = local_cloud.processors.created
    assert created.idempotency_key == f"{invoice_id}-1" and created.amount == 64_00
    [attempt] = attempts_of(tenant, invoice_id)
    assert (attempt.origin, attempt.status) == ("campaign", ChargeStatus.SUCCEEDED)
    assert status_of(tenant, sub) is SubscriptionStatus.ACTIVE
    events = api.get(f"/v1/invoices/{invoice_id}/events?limit=100", key=tenant.read_only).json()["data"]
    assert "payment_retry_succeeded" in [e["action"] for e in events]

    # The processor's webhook brings the money through the ordinary payment path.
    body = stripe_event("payment_intent.succeeded", intent(created.reference, 64_00, **created.metadata))
    assert post_stripe(api, stripe_connection, body, secret=STRIPE_SECRET).status_code == 200
    assert drain(local_cloud, chalice_app) == 1
    assert get_invoice(api, tenant, invoice_id)["status"] == "paid"
    run = api.get(f"/v1/invoices/{invoice_id}/collection", key=tenant.read_only).json()
    assert run["status"] == "completed"


def test_a_declined_campaign_retry_leaves_the_run_going_with_its_reminders(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    billing(tenant, retry_days=())
    sub, invoice_id = setup(api, tenant, 20_00)
    _campaign_run(api, tenant, invoice_id)
    local_cloud.processors.script("stripe", "fail")

    fire_schedule(chalice_app, "collection_steps", _step_moment(api, tenant, invoice_id, 1, minute=30))
    fire_schedule(chalice_app, "collection_steps", _step_moment(api, tenant, invoice_id, 3, minute=30))

    [attempt] = attempts_of(tenant, invoice_id)
    assert (attempt.origin, attempt.status) == ("campaign", ChargeStatus.FAILED)
    assert status_of(tenant, sub) is SubscriptionStatus.PAST_DUE
    run = api.get(f"/v1/invoices/{invoice_id}/collection", key=tenant.read_only).json()
    assert run["status"] == "active" and run["next_channel"] == "email"


def test_a_retry_step_is_refused_what_only_messages_have(api: Api, tenant: TestTenant) -> None:
    bad = {"offset_days": 3, "channel": "retry_payment", "template": "first_reminder"}
    response = api.post("/v1/campaigns", key=tenant.admin, json_body={"name": "Bad", "steps": [bad]})
    assert response.status_code == 400, response.body  # as every campaign rule (CampaignRuleError)
    assert response.json()["error"]["field"] == "steps[0].template"
    template = api.post(
        "/v1/reminder-templates",
        key=tenant.admin,
        json_body={"name": "retry_text", "channel": "retry_payment", "language": "de", "body": "x"},
    )
    assert template.status_code in (400, 422), template.body
    assert "channel" in template.body.decode()


# --- tenants --------------------------------------------------------------------------------------


def test_another_tenants_invoice_cannot_be_charged(
    api: Api, tenant: TestTenant, tenant_factory: Any, local_cloud: LocalCloud
) -> None:
    sub, invoice_id = setup(api, tenant)
    other = tenant_factory()
    connect(api, other, "stripe", STRIPE_SECRET, api_key="sk_test_other_key")
    runtime = charging.ChargeRuntime(scheduler_ready())

    with pytest.raises(NotFoundError):
        charging.retry_now(other.tenant_id, invoice_id, now=next_moment(), runtime=runtime)
    assert attempts.attempts_of(other.tenant_id, invoice_id) == []
    assert local_cloud.processors.created == []
    with pytest.raises(NotFoundError):
        subscriptions.get(other.tenant_id, sub.subscription_id)


def test_a_retry_now_while_a_scheduled_attempt_waits_charges_once(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    billing(tenant, retry_days=(1,))
    sub, invoice_id = setup(api, tenant, 15_00)
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)
    local_cloud.processors.script("stripe", "fail", "succeed")
    fire(chalice_app, start)  # declined: attempt 2 waits for tomorrow

    runtime = charging.ChargeRuntime(scheduler_ready())
    outcome = charging.retry_now(
        tenant.tenant_id, invoice_id, now=start + timedelta(hours=2), runtime=runtime
    )
    assert outcome == charging.ChargeOutcome("succeeded", 3)
    fire(chalice_app, start + timedelta(days=1))  # the scheduled retry: cancelled, not charged

    assert [p.idempotency_key for p in local_cloud.processors.created] == [
        f"{invoice_id}-1",
        f"{invoice_id}-3",
    ]
    statuses = [(a.attempt, a.status) for a in attempts_of(tenant, invoice_id)]
    assert statuses == [(1, ChargeStatus.FAILED), (2, ChargeStatus.CANCELED), (3, ChargeStatus.SUCCEEDED)]
    assert status_of(tenant, sub) is SubscriptionStatus.ACTIVE
    again = charging.retry_now(tenant.tenant_id, invoice_id, now=start + timedelta(days=1), runtime=runtime)
    assert again.status == "skipped"  # succeeded already: its payment is on the way


def test_the_sample_tick_runs_the_charge_sweep(chalice_app: Any) -> None:
    event = json.loads((ROOT / "events" / "schedule_invoice_charges.json").read_text())
    result = chalice_app.handler_map[CHARGES](event, lambda_context(CHARGES))
    assert set(result) == {"claimed", "charges", "items_read"}


def test_what_one_charge_costs_in_dynamodb_calls(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    """A figure, bounded so a regression shows: a tick reads the 16 due shards and claims itself (19
    calls); one charge of an active subscription adds 7 (measured: the claim, the invoice header,
    the invoice's attempts twice, the tenant's connections, the subscription, one transaction;
    about 5 RCU and 7 WCU). A charge that moves the subscription's status also rewrites the
    subscription item (about 30 WCU more here: it is on three ALL-projected indexes)."""
    _, invoice_id = setup(api, tenant, 10_00)  # active: the common case, no status to move
    start = next_moment()
    finalised(tenant, invoice_id, STRIPE_CARD, start)
    with metered() as idle:
        fire(chalice_app, start - timedelta(minutes=1))  # nothing due yet: the sweep's own cost
    with metered() as busy:
        fire(chalice_app, start)
    charge_calls = busy.total_calls - idle.total_calls
    print(
        f"idle tick: {idle.describe()}; tick with one charge: {busy.describe()}; the charge: "
        f"{charge_calls} calls, {busy.read_units - idle.read_units:.1f} RCU, "
        f"{busy.write_units - idle.write_units:.1f} WCU ({dict(busy.units)})"
    )
    assert busy.calls["Scan"] == 0
    assert charge_calls <= 10
    assert busy.calls["TransactWriteItems"] == 1  # the outcome with the subscription, in one write


# --- the invoice's partition: attempts and work items stay out of the invoice's read --------------


def test_an_invoice_with_attempts_and_work_items_reads_where_their_records_are_unknown(
    api: Api, tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invoice with a charge attempt and a delivery work item in its partition
    _, invoice_id = setup(api, tenant)
    finalised(tenant, invoice_id, STRIPE_CARD, next_moment())
    [waiting] = attempts_of(tenant, invoice_id)
    done = replace(waiting, status=ChargeStatus.FAILED)  # off the due index: later ticks meet nothing
    UnitOfWork("test attempt done").add(
        lambda write: attempts.stage_outcome(write, waiting, done, due_at=None, now=FROZEN_NOW)
    ).commit()
    invoice = invoices.get_header(tenant.tenant_id, invoice_id)
    UnitOfWork("test delivery item").add(
        lambda write: stage_delivery_due(write, invoice, FROZEN_NOW + timedelta(days=365))
    ).commit()
    partition = list(CashlineItem.query(invoice_pk(tenant.tenant_id, invoice_id)))
    assert {ChargeAttemptRecord, InvoiceJobRecord} <= {item.kind for item in partition}
    # (the attempt's key sorts after the audit trail, before the work items and the collection run)
    [attempt_sk] = [item.sk for item in partition if isinstance(item, ChargeAttemptRecord)]
    assert "INV#EVT#" < attempt_sk < "JOB#" < "MSG#"
    # When a process that has not imported those records (the API function) reads it: simulated by
    # taking their kinds out of the discriminator's registry, as an unimported module leaves it
    registry = CashlineItem.get_attributes()["kind"]._discriminator_map  # type: ignore[attr-defined]
    monkeypatch.delitem(registry, "charge_attempt")
    monkeypatch.delitem(registry, "invoice_job")
    # Then the invoice's read meets none of them, and GET answers it
    header, _, documents = invoices.get(tenant.tenant_id, invoice_id)
    assert (header.invoice_id, documents) == (invoice_id, [])
    assert get_invoice(api, tenant, invoice_id)["id"] == invoice_id
