"""Processor webhooks, in two steps.

Intake (the HTTP route, a few milliseconds of work): find the connection the path names, verify the
signature with the provider's scheme, keep the body as received in S3 for audit, put one message per
event on the webhook queue, answer 2xx. A bad signature leaves no trace but a log line and a metric.

Processing (the queue handler): each message is one normalized event, applied exactly once
(services/payments/events.py). A message that fails returns to the queue; after five tries it goes to the
dead-letter queue, where an alarm and a person look at it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from cashline.adapters.aws import _CLIENT_CONFIG, s3_client
from cashline.adapters.secrets import SecretStore
from cashline.adapters.webhooks import MalformedEventError, SignatureError
from cashline.domain.payments import PaymentSource
from cashline.errors import NotFoundError, ValidationError
from cashline.observability import MetricUnit, logger, metrics
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services import connections
from cashline.services.payments.context import Outcome, context_for, event_seen
from cashline.services.payments.events import process_event
from cashline.services.payments.payouts import payout_fetcher

if TYPE_CHECKING:
    from cashline.adapters.webhooks.paypal_events import CertificateFetcher

SQS_BATCH = 10


@dataclass(frozen=True, slots=True)
class IntakeRuntime:
    secrets: SecretStore
    bucket: str
    queue_url: str
    region: str
    endpoint: str | None
    paypal_cert_file: str | None = None
    gocardless_base_url: str | None = None
    stripe_api_base: str | None = None  # the processor stand-in locally; unset in AWS


@dataclass(frozen=True, slots=True)
class Receipt:
    events: int
    raw_payload_key: str


@lru_cache(maxsize=4)
def _sqs(region: str, endpoint: str | None) -> Any:
    return boto3.client("sqs", region_name=region, endpoint_url=endpoint, config=_CLIENT_CONFIG)


class _FileCertificate:
    """The local cloud's stand-in for PayPal's certificate, whatever URL the delivery names."""

    def __init__(self, path: str):
        self.pem = Path(path).read_bytes()

    def __call__(self, url: str) -> bytes:
        return self.pem


@lru_cache(maxsize=1)
def _paypal_fetcher(cert_file: str | None) -> CertificateFetcher:
    # Deferred: PayPal's adapter loads cryptography and requests, not needed at cold start.
    from cashline.adapters.webhooks.paypal_events import HttpsCertificateFetcher

    if cert_file:
        return _FileCertificate(cert_file)
    return HttpsCertificateFetcher()  # one per process: it caches PayPal's certificates


def _verified_events(
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: list[str],
    runtime: IntakeRuntime,
    now: datetime,
) -> list[PaymentEvent]:
    lower = {k.lower(): v for k, v in headers.items()}
    # Each provider's adapter is deferred to its first delivery: they load the processors' SDKs
    # (stripe, gocardless_pro) or cryptography, and one function serves all three.
    if provider == "stripe":
        from cashline.adapters.webhooks.stripe_events import parse_stripe  # deferred: the stripe SDK

        return [parse_stripe(body, lower.get("stripe-signature"), secrets, now=now)]
    if provider == "gocardless":
        from cashline.adapters.webhooks.gocardless_events import parse_gocardless  # deferred: gocardless_pro

        return parse_gocardless(body, lower.get("webhook-signature"), secrets)
    from cashline.adapters.webhooks.paypal_events import parse_paypal  # deferred: cryptography

    return [
        parse_paypal(
            body, lower, secrets, fetch_certificate=_paypal_fetcher(runtime.paypal_cert_file), now=now
        )
    ]


def receive(
    provider: str,
    connection_id: str,
    headers: Mapping[str, str],
    body: bytes,
    runtime: IntakeRuntime,
    *,
    now: datetime,
) -> Receipt:
    connection = connections.find(connection_id)
    if connection is None or connection.provider != provider or connection.status != "active":
        metrics.add_metric(name="WebhookUnknownConnection", unit=MetricUnit.Count, value=1)
        raise NotFoundError("no such webhook endpoint", field="connection_id")
    secrets = connections.secrets_of(runtime.secrets, connection, now=now)
    try:
        events = _verified_events(provider, headers, body, secrets.webhook_secrets, runtime, now)
    except SignatureError as exc:
        metrics.add_metric(name="WebhookBadSignature", unit=MetricUnit.Count, value=1)
        logger.warning(
            "webhook signature refused", provider=provider, connection_id=connection_id, reason=str(exc)
        )
        raise ValidationError("the webhook signature is not valid", field="signature") from None
    except MalformedEventError as exc:
        logger.warning(
            "webhook body unreadable", provider=provider, connection_id=connection_id, reason=str(exc)
        )
        raise ValidationError(f"the webhook body is not a {provider} event: {exc}", field="body") from None
    # Named by content: the same delivery twice is one object.
    key = (
        f"webhooks/{connection.tenant_id}/{provider}/{now.date().isoformat()}/"
        f"{hashlib.sha256(body).hexdigest()}.json"
    )
    s3_client(runtime.region, runtime.endpoint).put_object(
        Bucket=runtime.bucket, Key=key, Body=body, ContentType="application/json"
    )
    messages = [
        {
            "Id": str(index),
            "MessageBody": json.dumps(
                {
                    "tenant_id": connection.tenant_id,
                    "connection_id": connection.connection_id,
                    "raw_payload_key": key,
                    "event": event.model_dump(mode="json"),
                }
            ),
        }
        for index, event in enumerate(events)
    ]
    sqs = _sqs(runtime.region, runtime.endpoint)
    for start in range(0, len(messages), SQS_BATCH):
        answer = sqs.send_message_batch(
            QueueUrl=runtime.queue_url, Entries=messages[start : start + SQS_BATCH]
        )
        if answer.get("Failed"):
            raise RuntimeError(
                f"webhook queue refused {len(answer['Failed'])} events"
            )  # 500: the sender retries
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=len(events))
    return Receipt(events=len(events), raw_payload_key=key)


def process_message(
    body: str, runtime: IntakeRuntime, *, now: datetime, delivery_attempt: int = 1
) -> tuple[Outcome, list[Any]]:
    """One queued event: apply it. Returns the outcome and the alerts it committed."""
    message = json.loads(body)
    event = PaymentEvent.model_validate(message["event"])
    if event_seen(message["tenant_id"], event):
        # A redelivery: one read, before the tenant and its settings are looked up.
        return Outcome("duplicate"), []
    ctx = context_for(
        message["tenant_id"],
        now=now,
        actor=f"webhook:{event.source.value}",
        connection_id=message.get("connection_id"),
        raw_payload_key=message.get("raw_payload_key"),
        delivery_attempt=str(delivery_attempt),
    )
    if event.action is EventAction.PAYOUT and message.get("connection_id"):
        # What the payout is made of is read with the connection's API credential before any write.
        connection = connections.get(message["tenant_id"], message["connection_id"])
        ctx = replace(
            ctx,
            payout_details=payout_fetcher(
                event.source,
                api_key=connections.secrets_of(runtime.secrets, connection, now=now).api_key,
                stripe_api_base=runtime.stripe_api_base,
                gocardless_base_url=runtime.gocardless_base_url,
            ),
        )
    fetch = None
    if event.source is PaymentSource.GOCARDLESS:
        fetch = _gocardless_details(message["tenant_id"], message.get("connection_id"), runtime, now)
    outcome = process_event(ctx, event, fetch_details=fetch)
    return outcome, list(ctx.committed_alerts)


def _gocardless_details(
    tenant_id: str, connection_id: str | None, runtime: IntakeRuntime, now: datetime
) -> Callable[[PaymentEvent], PaymentEvent]:
    """GoCardless events carry only links: the amount comes from its API, with the tenant's token."""

    def fetch(event: PaymentEvent) -> PaymentEvent:
        # Deferred: the GoCardless adapter loads the gocardless_pro SDK.
        from cashline.adapters.webhooks.gocardless_events import (
            fetch_gocardless_payment,
            with_payment_details,
        )

        connection = connections.get(tenant_id, connection_id or "")
        token = connections.secrets_of(runtime.secrets, connection, now=now).api_key
        payment_id = event.original_reference or event.reference
        if not token or not payment_id:
            raise NotFoundError("the GoCardless connection has no access token to read the payment")
        payment = fetch_gocardless_payment(token, payment_id, base_url=runtime.gocardless_base_url)
        return with_payment_details(event, payment)

    return fetch
