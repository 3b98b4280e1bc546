"""Helpers of the payment and webhook tests: invoices, payments, settings, processor connections,
and handing queued webhook events to the queue handler as Lambda's event source would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from localcloud.cloud import LocalCloud
from localcloud.handlers import deliver_queue_batch
from tests.utils import FROZEN_NOW, Api, TestTenant

# The date the helpers' invoices and payments are dated from: tests using them run at FROZEN_NOW (the
# `frozen_now` fixture), so "due in 20 days" and "paid today" mean the same to the test and the app.
TODAY = FROZEN_NOW.date()
WEBHOOK_QUEUE = "cashline-webhook-events"


def invoice(
    api: Api, tenant: TestTenant, number: str, amount: int, *, due_in: int = 20, **fields: Any
) -> dict[str, Any]:
    body = {
        "direction": "receivable",
        "counterparty": {"name": "Kunde AG", "external_reference": "K-1"},
        "number": number,
        "issue_date": str(TODAY - timedelta(days=10)),
        "due_date": str(TODAY + timedelta(days=due_in)),
        "currency": "EUR",
        "amount_due": amount,
        **fields,
    }
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def pay(
    api: Api,
    tenant: TestTenant,
    amount: int,
    *,
    expect: int = 201,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {"amount": amount, "currency": "EUR", "value_date": str(TODAY), **fields}
    response = api.post("/v1/payments", key=tenant.finance, json_body=body, headers=headers)
    assert response.status_code == expect, response.body
    result: dict[str, Any] = response.json()
    return result


def get_invoice(api: Api, tenant: TestTenant, invoice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}", key=tenant.read_only)
    assert response.status_code == 200, response.body
    found: dict[str, Any] = response.json()
    return found


def credit_of(api: Api, tenant: TestTenant, counterparty_id: str, currency: str = "EUR") -> int:
    body = api.get(f"/v1/counterparties/{counterparty_id}", key=tenant.read_only).json()
    for totals in body["totals"]:
        if totals["direction"] == "receivable" and totals["currency"] == currency:
            return int(totals["credit"])
    return 0


def settings(api: Api, tenant: TestTenant, **changes: Any) -> dict[str, Any]:
    current = api.get("/v1/payment-settings", key=tenant.read_only).json()
    body = {
        "allocation_rule": current["allocation_rule"],
        "alert_thresholds": current["alert_thresholds"],
        "finance_emails": current["finance_emails"],
        "version": current["version"],
        **changes,
    }
    response = api.request("PUT", "/v1/payment-settings", key=tenant.admin, json_body=body)
    assert response.status_code == 200, response.body
    saved: dict[str, Any] = response.json()
    return saved


def connect(
    api: Api, tenant: TestTenant, provider: str, secret: str, api_key: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": provider, "webhook_secret": secret}
    if api_key:
        body["api_key"] = api_key
    response = api.post("/v1/processor-connections", key=tenant.admin, json_body=body)
    assert response.status_code == 201, response.body
    connection: dict[str, Any] = response.json()
    assert "webhook_secret" not in response.body.decode() and secret not in response.body.decode()
    return connection


def queue_url(cloud: LocalCloud) -> str:
    return cloud.queue_urls["WebhookEventsQueue"]


def drain(cloud: LocalCloud, app: Any, *, allow_failures: bool = False, at: datetime | None = None) -> int:
    """Hand every queued event to the queue handler, as Lambda's event source would, processed at `at`
    (default: the app's clock). A failed message is made visible again at once (Lambda would wait for
    the visibility timeout) when allowed."""
    sqs, url, handled = cloud.client("sqs"), queue_url(cloud), 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return handled
        failed = set(deliver_queue_batch(app, WEBHOOK_QUEUE, messages, at=at))
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                handled += 1
            elif allow_failures:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        assert allow_failures or not failed, "a queued event failed"
        if failed:
            return handled


GOCARDLESS_SECRET = "webhook-secret-for-tests-0001"


def signed_gocardless(connection: dict[str, Any], body: dict[str, Any], secret: str) -> dict[str, Any]:
    """Keyword arguments of `Api.post` for a GoCardless delivery signed as GoCardless signs it."""
    import hashlib
    import hmac
    import json

    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "path": connection["webhook_path"],
        "raw_body": raw,
        "headers": {"Webhook-Signature": signature, "Content-Type": "application/json"},
    }
