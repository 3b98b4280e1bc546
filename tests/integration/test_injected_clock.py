"""Tests pass the instant in, end to end (finding 11): a request (`api.at`), a whole test (the
`frozen_now` fixture) and a queued event (`drain(..., at=)`) are handled at the instant given, by the
authorizer, the route, the webhook signature check and the queue handler alike, whatever the wall
clock says and however long the test takes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from localcloud.cloud import LocalCloud
from tests.payment_utils import connect, drain, get_invoice, queue_url
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

# Late evening in UTC, already the next day in Berlin (the test tenants' zone), years from today.
INSTANT = datetime(2031, 6, 30, 22, 30, tzinfo=UTC)
STRIPE_SECRET = "whsec_injected_clock_0001"


def receivable(number: str, due: str) -> dict[str, Any]:
    return {
        "direction": "receivable",
        "counterparty": {"name": "Kunde AG"},
        "number": number,
        "issue_date": "2031-06-01",
        "due_date": due,
        "currency": "EUR",
        "amount_due": 10_000,
    }


def test_a_request_sent_at_an_instant_is_handled_at_that_instant(api: Api, tenant: TestTenant) -> None:
    # 00:30 on 1 July in Berlin: an invoice due on 30 June is a day overdue.
    late = api.at(INSTANT).post("/v1/invoices", key=tenant.finance, json_body=receivable("C-1", "2031-06-30"))
    assert late.status_code == 201, late.body
    created = late.json()
    assert (created["status"], created["days_past_due"]) == ("overdue", 1)
    assert datetime.fromisoformat(created["created_at"]) == INSTANT

    # An hour earlier it is still 30 June in Berlin: the same due date is not yet past.
    earlier = api.at(INSTANT - timedelta(hours=1)).post(
        "/v1/invoices", key=tenant.finance, json_body=receivable("C-2", "2031-06-30")
    )
    assert earlier.status_code == 201, earlier.body
    assert earlier.json()["status"] == "open"


def test_the_frozen_now_fixture_runs_every_request_at_one_instant(
    frozen_now: datetime, api: Api, tenant: TestTenant
) -> None:
    assert frozen_now == FROZEN_NOW
    first = api.post("/v1/invoices", key=tenant.finance, json_body=receivable("F-1", "2099-01-01"))
    second = api.post("/v1/invoices", key=tenant.finance, json_body=receivable("F-2", "2099-01-01"))
    assert first.status_code == second.status_code == 201, (first.body, second.body)
    assert {datetime.fromisoformat(r.json()["created_at"]) for r in (first, second)} == {FROZEN_NOW}


def test_the_authorizer_checks_expiry_at_the_instant_given(api: Api, tenant_factory: Any) -> None:
    from cashline.domain.access import Role
    from cashline.services.access import create_api_key

    tenant = tenant_factory()
    key = create_api_key(tenant.tenant_id, name="short", role=Role.ADMIN, now=INSTANT, expires_in_days=1)
    assert api.at(INSTANT + timedelta(hours=23)).get("/v1/tenant", key=key.secret).status_code == 200
    expired = api.at(INSTANT + timedelta(days=2)).get("/v1/tenant", key=key.secret)
    assert expired.status_code == 401 and error_of(expired)["type"] == "unauthorized"


@pytest.fixture
def _empty_webhook_queue(local_cloud: LocalCloud) -> None:
    sqs, url = local_cloud.client("sqs"), queue_url(local_cloud)
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.usefixtures("_empty_webhook_queue")
def test_a_webhook_is_verified_when_received_and_applied_when_processed(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    signed_at = int(INSTANT.timestamp())
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    invoice = api.at(INSTANT).post(
        "/v1/invoices", key=tenant.finance, json_body=receivable("W-1", "2031-08-01")
    )
    assert invoice.status_code == 201, invoice.body
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": signed_at,
        "data": {
            "object": {
                "id": "pi_clock",
                "object": "payment_intent",
                "amount": 10_000,
                "amount_received": 10_000,
                "currency": "eur",
                "created": signed_at,
                "metadata": {"cashline_invoice": invoice.json()["id"]},
                "status": "succeeded",
            }
        },
    }
    body = json.dumps(event).encode()
    headers = {
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
            body.decode(), STRIPE_SECRET, timestamp=signed_at
        ),
        "Content-Type": "application/json",
    }
    path = connection["webhook_path"]

    # Signed at INSTANT: too old 301 s later, fresh 299 s later (the check reads the instant given).
    stale = api.at(INSTANT + timedelta(seconds=301)).post(path, raw_body=body, headers=headers)
    assert stale.status_code == 400 and error_of(stale)["field"] == "signature"
    received = api.at(INSTANT + timedelta(seconds=299)).post(path, raw_body=body, headers=headers)
    assert received.status_code == 200, received.body

    # Processed from the queue an hour later, at the instant given to the queue handler.
    processed_at = INSTANT + timedelta(hours=1)
    assert drain(local_cloud, chalice_app, at=processed_at) == 1
    [payment] = api.get("/v1/payments", key=tenant.read_only).json()["data"]
    assert datetime.fromisoformat(payment["created_at"]) == processed_at
    assert "/2031-06-30/" in payment["raw_payload_key"]  # kept under the day it was received (UTC)
    assert get_invoice(api, tenant, invoice.json()["id"])["status"] == "paid"
