"""Processor webhooks end to end against the local cloud: verified, kept in S3, queued, processed
from the queue exactly once, with the real corpus bodies, SDK-signed bodies, replays, out-of-order,
tampered and concurrent deliveries; and the alerts they raise."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import stripe

from cashline.adapters.outbound_webhooks import RETRY_SCHEDULE, SIGNATURE_HEADER, verify
from localcloud.cloud import LocalCloud
from localcloud.handlers import deliver_queue_batch, fire_schedule
from localcloud.template import local_name
from tests.payment_utils import connect, credit_of, drain, get_invoice, invoice, queue_url, settings
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webhooks"
QUEUE = "cashline-webhook-events"
STRIPE_SECRET = "whsec_test_cashline_0001"
TODAY = FROZEN_NOW.date()
NOW_S = int(FROZEN_NOW.timestamp())  # events are created, signed and verified at the same fixed instant

# Every request and queued event here is handled at FROZEN_NOW: signatures, retries and dates do not
# depend on the wall clock or on how long the test takes.
pytestmark = pytest.mark.usefixtures("frozen_now")


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created": NOW_S,
        "data": {"object": obj},
        "livemode": False,
        "api_version": "2024-06-20",
    }
    return json.dumps(event).encode()


def intent(pi: str, amount: int, **metadata: str) -> dict[str, Any]:
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "eur",
        "created": NOW_S,
        "customer": "cus_test_1",
        "payment_method_types": ["card"],
        "metadata": metadata,
        "status": "succeeded",
    }


def post_stripe(
    api: Api, connection: dict[str, Any], body: bytes, secret: str = STRIPE_SECRET, **kw: Any
) -> Any:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, **{"timestamp": NOW_S, **kw}
    )
    return api.post(
        connection["webhook_path"],
        raw_body=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def payments_of(api: Api, tenant: TestTenant) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get("/v1/payments?limit=100", key=tenant.read_only).json()["data"]
    return found


@pytest.fixture(autouse=True)
def _empty_queue(local_cloud: LocalCloud) -> None:
    # PurgeQueue is allowed once a minute: receive and delete what an earlier test left instead.
    sqs, url = local_cloud.client("sqs"), queue_url(local_cloud)
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_stripe_payment_is_kept_queued_and_applied_once(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    assert connection["webhook_path"] == f"/v1/webhooks/stripe/{connection['id']}"
    inv = invoice(api, tenant, "S-1", 10000)
    body = stripe_event("payment_intent.succeeded", intent("pi_1", 10000, cashline_invoice=inv["id"]))
    response = post_stripe(api, connection, body)
    assert response.status_code == 200 and response.json() == {"received": 1}
    kept = local_cloud.client("s3").list_objects_v2(
        Bucket=local_name("DocumentsBucket"), Prefix=f"webhooks/{tenant.tenant_id}/stripe/"
    )["Contents"]
    assert [
        local_cloud.client("s3").get_object(Bucket=local_name("DocumentsBucket"), Key=k["Key"])["Body"].read()
        for k in kept
    ] == [body]
    assert drain(local_cloud, chalice_app) == 1
    after = get_invoice(api, tenant, inv["id"])
    assert after["status"] == "paid"
    [payment] = payments_of(api, tenant)
    assert (
        payment["source"] == "stripe"
        and payment["method"] == "card"
        and payment["source_reference"] == "pi_1"
    )
    assert payment["raw_payload_key"].startswith(f"webhooks/{tenant.tenant_id}/stripe/")

    # Stripe's invoice.paid for the same PaymentIntent is the same money: merged, not counted again.
    merged = stripe_event(
        "invoice.paid",
        {
            "id": "in_1",
            "object": "invoice",
            "payment_intent": "pi_1",
            "amount_paid": 10000,
            "currency": "eur",
            "customer": "cus_test_1",
            "number": "S-1",
            "metadata": {},
            "status": "paid",
        },
    )
    assert post_stripe(api, connection, merged).status_code == 200
    drain(local_cloud, chalice_app)
    assert len(payments_of(api, tenant)) == 1
    assert get_invoice(api, tenant, inv["id"])["amount_paid"] == 10000


def test_replays_and_concurrent_deliveries_have_one_effect(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    inv = invoice(api, tenant, "R-1", 5000)
    body = stripe_event(
        "payment_intent.succeeded", intent("pi_dup", 3000, cashline_invoice=inv["id"]), event_id="evt_dup"
    )
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: post_stripe(api, connection, body).status_code, range(10)))
    assert answers == [200] * 10

    # Ten copies on the queue, handled by ten concurrent handler invocations.
    sqs, url = local_cloud.client("sqs"), queue_url(local_cloud)
    messages: list[dict[str, Any]] = []
    while len(messages) < 10:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        assert got, "the ten deliveries were not all queued"
        messages += got
    with ThreadPoolExecutor(max_workers=10) as pool:
        failed = list(pool.map(lambda m: deliver_queue_batch(chalice_app, QUEUE, [m]), messages))
    assert failed == [[]] * 10
    [payment] = payments_of(api, tenant)
    assert payment["amount"] == 3000
    after = get_invoice(api, tenant, inv["id"])
    assert after["amount_paid"] == 3000 and after["status"] == "partially_paid"
    trail = api.get(f"/v1/invoices/{inv['id']}/events", key=tenant.read_only).json()["data"]
    assert [e["action"] for e in trail].count("payment_applied") == 1


def test_refunds_chargebacks_and_late_failures_reopen_what_was_paid(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    inv = invoice(api, tenant, "F-1", 10000)
    post_stripe(
        api,
        connection,
        stripe_event("payment_intent.succeeded", intent("pi_r", 10000, cashline_invoice=inv["id"])),
    )
    drain(local_cloud, chalice_app)
    assert get_invoice(api, tenant, inv["id"])["status"] == "paid"

    def refunded(total: int) -> bytes:
        charge = {
            "id": "ch_r",
            "object": "charge",
            "payment_intent": "pi_r",
            "amount": 10000,
            "amount_refunded": total,
            "currency": "eur",
            "refunded": total == 10000,
            "created": NOW_S,
        }
        return stripe_event("charge.refunded", charge)

    # Two partial refunds, the later one delivered first: each gives back only what is new.
    second, first = refunded(7000), refunded(3000)
    post_stripe(api, connection, second)
    post_stripe(api, connection, first)
    drain(local_cloud, chalice_app)
    after = get_invoice(api, tenant, inv["id"])
    assert after["amount_paid"] == 3000 and after["status"] == "partially_paid"
    original = next(p for p in payments_of(api, tenant) if p["kind"] == "payment")
    assert original["reversed_amount"] == 7000
    refunds = [p for p in payments_of(api, tenant) if p["kind"] == "refund"]
    assert [r["amount"] for r in refunds] == [7000] and refunds[0]["related_payment_id"] == original["id"]
    trail = [
        e["action"] for e in api.get(f"/v1/invoices/{inv['id']}/events", key=tenant.read_only).json()["data"]
    ]
    assert "payment_applied" in trail and "payment_reversed" in trail

    # A chargeback of the rest; the dispute is then won and the money applies again.
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": "pi_r",
        "charge": "ch_r",
        "amount": 3000,
        "currency": "eur",
        "reason": "fraudulent",
        "status": "needs_response",
        "created": NOW_S,
    }
    post_stripe(api, connection, stripe_event("charge.dispute.created", dispute))
    drain(local_cloud, chalice_app)
    assert get_invoice(api, tenant, inv["id"])["amount_paid"] == 0
    post_stripe(api, connection, stripe_event("charge.dispute.closed", {**dispute, "status": "won"}))
    drain(local_cloud, chalice_app)
    assert get_invoice(api, tenant, inv["id"])["amount_paid"] == 3000


def test_a_refund_delivered_before_its_payment_waits_for_it(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    inv = invoice(api, tenant, "OO-1", 6000)
    charge = {
        "id": "ch_oo",
        "object": "charge",
        "payment_intent": "pi_oo",
        "amount": 6000,
        "amount_refunded": 2000,
        "currency": "eur",
        "refunded": False,
        "created": NOW_S,
    }
    post_stripe(api, connection, stripe_event("charge.refunded", charge))
    assert drain(local_cloud, chalice_app, allow_failures=True) == 0  # back on the queue
    post_stripe(
        api,
        connection,
        stripe_event("payment_intent.succeeded", intent("pi_oo", 6000, cashline_invoice=inv["id"])),
    )
    for _ in range(3):
        drain(local_cloud, chalice_app, allow_failures=True)
    refund = next(p for p in payments_of(api, tenant) if p["kind"] == "refund")
    original = next(p for p in payments_of(api, tenant) if p["kind"] == "payment")
    assert refund["related_payment_id"] == original["id"] and refund["amount"] == 2000
    assert get_invoice(api, tenant, inv["id"])["amount_paid"] == 4000


def test_a_failure_after_success_reverses_the_payment(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    inv = invoice(api, tenant, "LF-1", 4000)
    post_stripe(
        api,
        connection,
        stripe_event("payment_intent.succeeded", intent("pi_lf", 4000, cashline_invoice=inv["id"])),
    )
    failed = {
        **intent("pi_lf", 4000),
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
    }
    post_stripe(api, connection, stripe_event("payment_intent.payment_failed", failed))
    drain(local_cloud, chalice_app)
    [payment] = payments_of(api, tenant)
    assert payment["status"] == "failed" and payment["allocated_amount"] == 0
    assert get_invoice(api, tenant, inv["id"])["status"] == "open"


def test_bad_signatures_are_refused_and_leave_no_trace(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    body = stripe_event("payment_intent.succeeded", intent("pi_bad", 100))
    tampered = body.replace(b"100", b"999")
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET, timestamp=NOW_S)
    cases = [
        {"Stripe-Signature": header, "body": tampered},
        {
            "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
                body.decode(), "whsec_wrong_one1", timestamp=NOW_S
            ),
            "body": body,
        },
        {
            "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
                body.decode(), STRIPE_SECRET, timestamp=NOW_S - 301
            ),
            "body": body,
        },
        {"body": body},
    ]
    for case in cases:
        raw = case.pop("body")
        response = api.post(
            connection["webhook_path"], raw_body=raw, headers={**case, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.body
        assert error_of(response)["field"] == "signature"
    attributes = local_cloud.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(local_cloud), AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    # An unknown connection, or one of another provider, is no endpoint at all.
    assert (
        api.post(
            "/v1/webhooks/stripe/pcn_01JD3Z5W4YV6Q3R0M8X2N5B7C9",
            raw_body=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        ).status_code
        == 404
    )
    assert (
        api.post(
            f"/v1/webhooks/paypal/{connection['id']}",
            raw_body=body,
            headers={"Content-Type": "application/json"},
        ).status_code
        == 404
    )


def test_a_rotated_secret_keeps_the_previous_one_valid_for_a_while(api: Api, tenant: TestTenant) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    rotated = api.post(
        f"/v1/processor-connections/{connection['id']}/rotate-secret",
        key=tenant.admin,
        json_body={"webhook_secret": "whsec_new_secret_2", "previous_valid_hours": 24},
    )
    assert rotated.status_code == 200, rotated.body
    assert rotated.json()["secret_hint"] == "...et_2"
    body = stripe_event("payment_intent.processing", intent("pi_rot", 100))
    assert post_stripe(api, connection, body, secret=STRIPE_SECRET).status_code == 200
    assert post_stripe(api, connection, body, secret="whsec_new_secret_2").status_code == 200


def test_the_real_gocardless_body_and_a_confirmed_debit(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    readme = (CORPUS / "gocardless" / "README.md").read_text()
    secret = "ED7D658C-D8EB-4941-948B-3973214F2D49"
    signature = "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e"
    assert secret in readme and signature in readme
    connection = connect(api, tenant, "gocardless", secret, api_key="local_standin_token")
    body = (CORPUS / "gocardless" / "webhook_body.json").read_bytes().strip()
    response = api.post(
        connection["webhook_path"],
        raw_body=body,
        headers={"Webhook-Signature": signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 200 and response.json() == {"received": 2}
    assert drain(local_cloud, chalice_app) == 2
    assert payments_of(api, tenant) == []  # a subscription and a mandate created: nothing to apply

    # A debit made at GoCardless (the stand-in), confirmed by webhook: the amount comes from its API.
    from cashline.adapters.processors import DebitAccount, GoCardlessDebits

    inv = invoice(api, tenant, "GC-1", 2500)
    debit = GoCardlessDebits(
        "local_standin_token", base_url=local_cloud.processors.gocardless_base
    ).start_debit(
        idempotency_key=f"gc-{inv['id']}",
        amount=2500,
        currency="EUR",
        description="invoice GC-1",
        account=DebitAccount(processor="gocardless", mandate_id="MD000TEST1"),
        metadata={"cashline_invoice": inv["id"]},
    )
    import hashlib
    import hmac

    events = {
        "events": [
            {
                "id": "EVTEST1",
                "created_at": "2026-11-20T10:00:00.000Z",
                "resource_type": "payments",
                "action": "confirmed",
                "links": {"payment": debit.reference},
                "details": {"origin": "gocardless", "cause": "payment_confirmed"},
                "metadata": {},
            }
        ]
    }
    raw = json.dumps(events).encode()
    sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    for _ in range(2):  # delivered twice
        assert (
            api.post(
                connection["webhook_path"],
                raw_body=raw,
                headers={"Webhook-Signature": sig, "Content-Type": "application/json"},
            ).status_code
            == 200
        )
    drain(local_cloud, chalice_app)
    [payment] = payments_of(api, tenant)
    assert payment["amount"] == 2500 and payment["method"] == "sepa_debit"
    assert get_invoice(api, tenant, inv["id"])["status"] == "paid"


@pytest.mark.parametrize("name", ["payment.capture.completed.json", "payment.sale.completed.json"])
def test_real_paypal_bodies_signed_as_paypal_does(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any, name: str
) -> None:
    connection = connect(api, tenant, "paypal", "WH-LOCAL-0001")
    body = (CORPUS / "paypal" / name).read_bytes()
    headers = {
        **local_cloud.paypal.headers(body, "WH-LOCAL-0001", at=FROZEN_NOW),
        "Content-Type": "application/json",
    }
    assert api.post(connection["webhook_path"], raw_body=body, headers=headers).status_code == 200
    tampered = api.post(connection["webhook_path"], raw_body=body + b" ", headers=headers)
    assert tampered.status_code == 400
    other_webhook = {
        **local_cloud.paypal.headers(body, "WH-SOMEONE-ELSE", at=FROZEN_NOW),
        "Content-Type": "application/json",
    }
    assert api.post(connection["webhook_path"], raw_body=body, headers=other_webhook).status_code == 400
    drain(local_cloud, chalice_app)
    [payment] = payments_of(api, tenant)
    assert payment["source"] == "paypal" and payment["status"] == "succeeded" and payment["amount"] > 0
    assert payment["hold_reason"] == "payer not recognized"


def test_a_webhook_cannot_reach_another_tenants_invoice(
    api: Api, tenant_factory: Any, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    connection = connect(api, mine, "stripe", STRIPE_SECRET)
    foreign = invoice(api, theirs, "X-1", 1000)
    post_stripe(
        api,
        connection,
        stripe_event("payment_intent.succeeded", intent("pi_x", 1000, cashline_invoice=foreign["id"])),
    )
    drain(local_cloud, chalice_app)
    assert get_invoice(api, theirs, foreign["id"])["amount_paid"] == 0
    [payment] = payments_of(api, mine)
    assert payment["allocations"] == []
    assert payments_of(api, theirs) == []
    assert api.get(f"/v1/processor-connections/{connection['id']}", key=theirs.read_only).status_code == 404


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.fail_first > 0:
            _Receiver.fail_first -= 1
            self.send_response(500)
        else:
            _Receiver.received.append(({k: v for k, v in self.headers.items()}, body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received, _Receiver.fail_first = [], 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks"
    server.shutdown()


def test_a_large_payment_and_a_chargeback_alert_by_event_email_and_signed_webhook(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any, receiver: str
) -> None:
    events = local_cloud.client("events")
    sqs = local_cloud.client("sqs")
    seen = sqs.create_queue(QueueName=f"alerts-{tenant.tenant_id[-8:].lower()}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = local_name("EventBus")
    rule = f"alerts-{tenant.tenant_id[-8:]}"
    events.put_rule(
        Name=rule,
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["cashline"], "detail": {"tenant_id": [tenant.tenant_id]}}),
    )
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    saved = settings(
        api, tenant, alert_thresholds={"EUR": 50000}, finance_emails=["cfo@example.com"], webhook_url=receiver
    )
    secret = saved["webhook_secret"]
    assert secret and secret.startswith("whsec_")
    assert api.get("/v1/payment-settings", key=tenant.read_only).json()["webhook_secret"] is None

    inv = invoice(api, tenant, "BIG-1", 90000)
    response = api.post(
        "/v1/payments",
        key=tenant.finance,
        json_body={"amount": 90000, "currency": "EUR", "value_date": str(TODAY), "invoice_id": inv["id"]},
    )
    assert response.status_code == 201

    mails = [json.loads(p.read_text()) for p in local_cloud.outbox_dir.glob("*.json")]
    assert any(m["to"] == "cfo@example.com" and "Amount: 900,00 €" in m["text"] for m in mails)
    bus_messages = sqs.receive_message(QueueUrl=seen, MaxNumberOfMessages=10, WaitTimeSeconds=2).get(
        "Messages", []
    )
    details = [json.loads(m["Body"]) for m in bus_messages]
    assert [d["detail-type"] for d in details] == ["payment.received_large"]
    assert details[0]["detail"]["tenant_id"] == tenant.tenant_id

    # The webhook failed once (500): the outbox sweep retries it when it falls due, then it arrives.
    # The payment was handled at FROZEN_NOW, so the retry is due exactly RETRY_SCHEDULE[0] later.
    assert _Receiver.received == []
    retry_at = FROZEN_NOW + RETRY_SCHEDULE[0]
    fire_schedule(chalice_app, "alert_deliveries", retry_at - timedelta(seconds=1))
    assert _Receiver.received == []  # not yet due
    fire_schedule(chalice_app, "alert_deliveries", retry_at)
    [(headers, body)] = _Receiver.received
    assert verify(secret, body, headers[SIGNATURE_HEADER], now=int(retry_at.timestamp()))
    assert json.loads(body)["type"] == "payment.received_large"
    assert credit_of(api, tenant, inv["counterparty_id"]) == 0
