"""Stripe webhooks: signatures checked by the stripe SDK, and each event type's translation.

Payloads are modelled on Stripe's API objects (trimmed to the fields that matter plus a few that do not),
and signed with the SDK's own test helper, so the check runs against exactly what Stripe would send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import stripe

from cashline.adapters.webhooks import MalformedEventError, SignatureError
from cashline.adapters.webhooks.stripe_events import parse_stripe, targets_from_metadata
from cashline.domain.payments import PaymentMethod, PaymentSource
from cashline.ids import new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent

SECRET = "whsec_current_3f9a1c0d8e7b6a5f4e3d2c1b0a9f8e7d"
PREVIOUS_SECRET = "whsec_previous_0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"
CREATED = 1_717_236_000  # 2024-06-01T10:00:00Z
# Deliveries are signed and checked at this instant, never the wall clock's: the age check is exact.
NOW_S = CREATED + 30
NOW = datetime.fromtimestamp(NOW_S, tz=UTC)

INVOICE = new_id("invoice")
INSTALLMENT = new_id("installment")
PLAN = new_id("plan")
COUNTERPARTY = new_id("counterparty")


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """`t=<unix time>,v1=<HMAC-SHA256 of "t.body">`, made by the SDK's own helper for tests."""
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=NOW_S if timestamp is None else timestamp
    )
    return str(header)  # the helper is not annotated


def event_body(
    event_type: str, obj: dict[str, Any], *, event_id: str = "evt_1PMwJ2LkdIwHu7ix0zQ3vB4c"
) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": CREATED,
            "data": {"object": obj, "previous_attributes": {}},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {
                "id": "req_8Hq2mVx0aLk3Pz",
                "idempotency_key": "6f1b7e0c-29a4-4b8e-9d1f-0c3a5e7b9d21",
            },
            "type": event_type,
        }
    ).encode()


def parse(body: bytes, **kwargs: Any) -> PaymentEvent:
    return parse_stripe(body, sign(body), [SECRET], now=NOW, **kwargs)


def payment_intent(**changes: Any) -> dict[str, Any]:
    intent: dict[str, Any] = {
        "id": "pi_3PMwIzLkdIwHu7ix1aB2cD3e",
        "object": "payment_intent",
        "amount": 12500,
        "amount_capturable": 0,
        "amount_received": 12500,
        "capture_method": "automatic",
        "created": CREATED - 5,
        "currency": "eur",
        "customer": "cus_Q3kDn4vZ8xYw2L",
        "description": "Installment 2 of 6, invoice RE-2024-0042",
        "last_payment_error": None,
        "latest_charge": "ch_3PMwIzLkdIwHu7ix1Xy9Zt0u",
        "livemode": False,
        "metadata": {
            "cashline_invoice": INVOICE,
            "cashline_installment": INSTALLMENT,
            "cashline_plan": PLAN,
            "cashline_counterparty": COUNTERPARTY,
            "invoice_number": "RE-2024-0042",
            "attempt": "1",
        },
        "payment_method": "pm_1PMwIyLkdIwHu7ixQq7r8s9t",
        "payment_method_types": ["card"],
        "receipt_email": "ap@example-gmbh.de",
        "status": "succeeded",
    }
    return intent | changes


def charge(**changes: Any) -> dict[str, Any]:
    return {
        "id": "ch_3PMwIzLkdIwHu7ix1Xy9Zt0u",
        "object": "charge",
        "amount": 12500,
        "amount_captured": 12500,
        "amount_refunded": 4000,
        "captured": True,
        "created": CREATED - 86_400,
        "currency": "eur",
        "customer": "cus_Q3kDn4vZ8xYw2L",
        "metadata": {"cashline_installment": INSTALLMENT},
        "paid": True,
        "payment_intent": "pi_3PMwIzLkdIwHu7ix1aB2cD3e",
        "refunded": False,
        "status": "succeeded",
    } | changes


def dispute(**changes: Any) -> dict[str, Any]:
    return {
        "id": "du_1PMx0aLkdIwHu7ixVb3nM4kq",
        "object": "dispute",
        "amount": 12500,
        "balance_transactions": [],
        "charge": "ch_3PMwIzLkdIwHu7ix1Xy9Zt0u",
        "created": CREATED,
        "currency": "eur",
        "evidence_details": {"due_by": CREATED + 7 * 86_400, "has_evidence": False, "submission_count": 0},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": "pi_3PMwIzLkdIwHu7ix1aB2cD3e",
        "reason": "fraudulent",
        "status": "needs_response",
    } | changes


def invoice(**changes: Any) -> dict[str, Any]:
    return {
        "id": "in_1PMwHxLkdIwHu7ixKp0aQ2rS",
        "object": "invoice",
        "amount_due": 9900,
        "amount_paid": 9900,
        "amount_remaining": 0,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": CREATED - 3600,
        "currency": "eur",
        "customer": "cus_Q3kDn4vZ8xYw2L",
        "customer_email": "billing@example-gmbh.de",
        "customer_name": "Example GmbH",
        "metadata": {"cashline_invoice": INVOICE},
        "number": "A1B2C3D4-0007",
        "paid": True,
        "paid_out_of_band": False,
        "payment_intent": "pi_3PMwIzLkdIwHu7ix1aB2cD3e",
        "status": "paid",
        "status_transitions": {"paid_at": CREATED},
        "total": 9900,
    } | changes


# --- signatures ----------------------------------------------------------------------------------


def test_signed_event_is_accepted() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    assert parse(body).event_id == "evt_1PMwJ2LkdIwHu7ix0zQ3vB4c"


def test_header_made_as_stripe_documents_it_is_accepted() -> None:
    # https://docs.stripe.com/webhooks#verify-manually: HMAC-SHA256 of "<t>.<raw body>" with the secret.
    body = event_body("payment_intent.succeeded", payment_intent())
    timestamp = NOW_S
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign(body, timestamp=timestamp) == f"t={timestamp},v1={digest}"
    assert parse_stripe(body, f"t={timestamp},v1={digest}", [SECRET], now=NOW).action is EventAction.SUCCEEDED


def test_header_with_several_v1_signatures_is_accepted_when_one_matches() -> None:
    # During a secret rotation Stripe signs with both secrets: one v1= per secret, in one header.
    body = event_body("payment_intent.succeeded", payment_intent())
    other = sign(body, PREVIOUS_SECRET, NOW_S).split(",")[1]
    header = f"{sign(body, SECRET, NOW_S)},{other}"
    assert header.count("v1=") == 2
    assert parse_stripe(body, header, [SECRET], now=NOW).action is EventAction.SUCCEEDED
    assert parse_stripe(body, header, [PREVIOUS_SECRET], now=NOW).action is EventAction.SUCCEEDED


def test_rotated_previous_secret_second_in_the_list_is_accepted() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    assert parse_stripe(body, sign(body, PREVIOUS_SECRET), [SECRET, PREVIOUS_SECRET], now=NOW).reference


def test_tampered_body_is_refused() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    header = sign(body)
    tampered = body.replace(b"12500", b"99500")
    with pytest.raises(SignatureError, match="matches none"):
        parse_stripe(tampered, header, [SECRET, PREVIOUS_SECRET], now=NOW)


def test_wrong_secret_is_refused() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    with pytest.raises(SignatureError, match="matches none"):
        parse_stripe(body, sign(body, "whsec_someone_else"), [SECRET, PREVIOUS_SECRET], now=NOW)


def test_timestamp_301_seconds_old_is_refused_as_too_old() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    header = sign(body, timestamp=NOW_S - 301)
    with pytest.raises(SignatureError, match="more than 300 s old"):
        parse_stripe(body, header, [SECRET], now=NOW)


def test_the_age_is_measured_from_the_callers_now_not_the_wall_clock() -> None:
    # The SDK's own check reads time.time(); a delivery signed in 2024 passes at a 2024 `now` and is
    # too old at a 2031 one, whatever the machine's date.
    body = event_body("payment_intent.succeeded", payment_intent())
    header = sign(body, timestamp=CREATED)
    assert parse_stripe(body, header, [SECRET], now=NOW).action is EventAction.SUCCEEDED
    with pytest.raises(SignatureError, match="more than 300 s old"):
        parse_stripe(body, header, [SECRET], now=datetime(2031, 6, 1, tzinfo=UTC))


def test_a_shorter_tolerance_is_applied() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    header = sign(body, timestamp=NOW_S - 120)
    assert parse_stripe(body, header, [SECRET], now=NOW).action is EventAction.SUCCEEDED
    with pytest.raises(SignatureError, match="more than 60 s old"):
        parse_stripe(body, header, [SECRET], tolerance_s=60, now=NOW)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_refused(header: str | None) -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    with pytest.raises(SignatureError, match="missing Stripe-Signature"):
        parse_stripe(body, header, [SECRET], now=NOW)


@pytest.mark.parametrize("header", ["garbage", "t=notanumber,v1=abc", "t=1717236000", "v1=abc"])
def test_unreadable_header_is_refused(header: str) -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    with pytest.raises(SignatureError):
        parse_stripe(body, header, [SECRET], now=NOW)


def test_body_that_is_not_utf8_is_refused_not_crashed_on() -> None:
    body = b'{"id": "evt_1", "object": "event", "x": "\xff"}'
    with pytest.raises(SignatureError, match="UTF-8"):
        parse_stripe(body, "t=1717236000,v1=00", [SECRET], now=NOW)


def test_no_configured_secret_is_a_configuration_error() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    with pytest.raises(ValueError, match="secret"):
        parse_stripe(body, sign(body), ["", "  "], now=NOW)


def test_zero_tolerance_is_refused_because_the_sdk_would_skip_the_age_check() -> None:
    body = event_body("payment_intent.succeeded", payment_intent())
    with pytest.raises(ValueError, match="tolerance"):
        parse_stripe(body, sign(body), [SECRET], tolerance_s=0, now=NOW)


# --- malformed bodies (correctly signed) ---------------------------------------------------------


def test_signed_body_that_is_not_json_is_malformed() -> None:
    body = b"this is not json"
    with pytest.raises(MalformedEventError, match="not JSON"):
        parse(body)


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"id": "evt_1", "object": "charge"},
        {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "created": CREATED},
        {"id": "evt_1", "object": "event", "type": "x", "created": "yesterday", "data": {"object": {}}},
        {"object": "event", "type": "x", "created": CREATED, "data": {"object": {}}},
    ],
)
def test_signed_json_that_is_not_an_event_is_malformed(payload: object) -> None:
    with pytest.raises(MalformedEventError):
        parse(json.dumps(payload).encode())


@pytest.mark.parametrize("amount", [12500.0, True, "12500"])
def test_amount_that_is_not_an_integer_is_malformed(amount: object) -> None:
    body = event_body("payment_intent.succeeded", payment_intent(amount_received=amount))
    with pytest.raises(MalformedEventError, match="amount_received"):
        parse(body)


def test_float_amount_written_as_exponent_is_malformed() -> None:
    body = event_body("payout.paid", {"id": "po_1", "amount": 1, "currency": "eur", "arrival_date": CREATED})
    with pytest.raises(MalformedEventError):
        parse(body.replace(b'"amount": 1', b'"amount": 1e3'))


def test_negative_amount_is_malformed() -> None:
    body = event_body("payment_intent.succeeded", payment_intent(amount_received=-100))
    with pytest.raises(MalformedEventError, match="amount: Input should be greater than or equal to 0"):
        parse(body)


def test_unknown_currency_is_malformed() -> None:
    body = event_body("payment_intent.succeeded", payment_intent(currency="xyz"))
    with pytest.raises(MalformedEventError):
        parse(body)


# --- payment intents -----------------------------------------------------------------------------


def test_payment_intent_succeeded() -> None:
    event = parse(event_body("payment_intent.succeeded", payment_intent()))
    assert event.source is PaymentSource.STRIPE
    assert event.event_id == "evt_1PMwJ2LkdIwHu7ix0zQ3vB4c"
    assert event.event_type == "payment_intent.succeeded"
    assert event.occurred_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert event.action is EventAction.SUCCEEDED
    assert event.reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"
    assert event.amount == 12500
    assert event.currency == "EUR"
    assert event.method is PaymentMethod.CARD
    assert event.value_date == date(2024, 6, 1)
    assert event.payer.reference == "cus_Q3kDn4vZ8xYw2L"
    assert event.payer.email == "ap@example-gmbh.de"
    assert event.remittance_reference == "Installment 2 of 6, invoice RE-2024-0042"
    assert event.targets.invoice_id == INVOICE
    assert event.targets.installment_id == INSTALLMENT
    assert event.targets.plan_id == PLAN
    assert event.targets.counterparty_id == COUNTERPARTY
    assert event.targets.invoice_number == "RE-2024-0042"
    assert event.original_reference is None
    assert event.failure_reason is None


def test_amount_received_is_what_counts_after_a_partial_capture() -> None:
    event = parse(event_body("payment_intent.succeeded", payment_intent(amount=12500, amount_received=10000)))
    assert event.amount == 10000


def test_amount_is_the_fallback_when_amount_received_is_absent() -> None:
    intent = payment_intent()
    del intent["amount_received"]
    assert parse(event_body("payment_intent.succeeded", intent)).amount == 12500


@pytest.mark.parametrize(
    ("types", "method"),
    [
        (["card"], PaymentMethod.CARD),
        (["sepa_debit"], PaymentMethod.SEPA_DEBIT),
        (["bacs_debit"], PaymentMethod.BACS_DEBIT),
        (["us_bank_account"], PaymentMethod.ACH_DEBIT),
        (["au_becs_debit"], PaymentMethod.BECS_DEBIT),
        (["paypal"], PaymentMethod.PAYPAL),
        (["ideal"], PaymentMethod.OTHER),
        (["card", "link"], PaymentMethod.CARD),
        ([], None),
    ],
)
def test_payment_method_types(types: list[str], method: PaymentMethod | None) -> None:
    event = parse(event_body("payment_intent.succeeded", payment_intent(payment_method_types=types)))
    assert event.method is method


def test_generic_invoice_id_metadata_is_used_only_when_it_is_a_cashline_id() -> None:
    metadata = {"invoice_id": INVOICE}
    assert (
        parse(event_body("payment_intent.succeeded", payment_intent(metadata=metadata))).targets.invoice_id
        == INVOICE
    )
    # Another system's invoice id is no Cashline id: dropped, the payment still goes through.
    other = {"invoice_id": "4711", "cashline_installment": "ins_not-an-id", "invoice_number": "x" * 101}
    targets = parse(event_body("payment_intent.succeeded", payment_intent(metadata=other))).targets
    assert targets.model_dump(exclude_none=True) == {}


def test_cashline_invoice_key_wins_over_the_generic_one() -> None:
    other_invoice = new_id("invoice")
    targets = targets_from_metadata({"invoice_id": other_invoice, "cashline_invoice": INVOICE})
    assert targets.invoice_id == INVOICE


def test_payment_intent_without_customer_email_or_description() -> None:
    intent = payment_intent(customer=None, receipt_email=None, description=None, metadata={})
    event = parse(event_body("payment_intent.succeeded", intent))
    assert event.payer.reference is None
    assert event.payer.email is None
    assert event.remittance_reference is None


def test_payment_intent_processing_is_pending() -> None:
    event = parse(
        event_body("payment_intent.processing", payment_intent(status="processing", amount_received=0))
    )
    assert event.action is EventAction.PENDING
    assert event.reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"
    assert event.amount == 12500  # the amount asked for: nothing is received yet
    assert event.value_date is None


def test_payment_intent_payment_failed_carries_the_reason() -> None:
    error = {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "type": "card_error",
    }
    intent = payment_intent(status="requires_payment_method", amount_received=0, last_payment_error=error)
    event = parse(event_body("payment_intent.payment_failed", intent))
    assert event.action is EventAction.FAILED
    assert event.failure_reason == "Your card has insufficient funds."
    assert event.targets.installment_id == INSTALLMENT


def test_payment_failed_without_message_uses_the_code() -> None:
    intent = payment_intent(last_payment_error={"code": "payment_intent_authentication_failure", "type": "x"})
    assert parse(event_body("payment_intent.payment_failed", intent)).failure_reason == (
        "payment_intent_authentication_failure"
    )


def test_payment_intent_canceled_is_cancelled() -> None:
    intent = payment_intent(status="canceled", amount_received=0, cancellation_reason="abandoned")
    event = parse(event_body("payment_intent.canceled", intent))
    assert event.action is EventAction.CANCELLED
    assert event.reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"


# --- currencies whose minor units differ ---------------------------------------------------------


def test_zero_decimal_currency_is_taken_as_is() -> None:
    event = parse(
        event_body("payment_intent.succeeded", payment_intent(currency="jpy", amount_received=5000))
    )
    assert (event.amount, event.currency) == (5000, "JPY")


def test_isk_is_two_decimal_at_stripe_and_zero_decimal_in_cashline() -> None:
    event = parse(
        event_body("payment_intent.succeeded", payment_intent(currency="isk", amount_received=50000))
    )
    assert (event.amount, event.currency) == (500, "ISK")


def test_fractional_isk_is_not_rounded() -> None:
    with pytest.raises(MalformedEventError, match="not a whole"):
        parse(event_body("payment_intent.succeeded", payment_intent(currency="isk", amount_received=50050)))


def test_three_decimal_currency_is_taken_as_is() -> None:
    event = parse(
        event_body("payment_intent.succeeded", payment_intent(currency="kwd", amount_received=12340))
    )
    assert (event.amount, event.currency) == (12340, "KWD")


# --- refunds and disputes ------------------------------------------------------------------------


def test_charge_refunded_reports_the_cumulative_amount_against_the_payment_intent() -> None:
    event = parse(event_body("charge.refunded", charge()))
    assert event.action is EventAction.REFUNDED
    assert event.reference == "ch_3PMwIzLkdIwHu7ix1Xy9Zt0u"
    assert event.original_reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"
    assert event.amount == 4000
    assert event.amount_is_cumulative is True
    assert event.currency == "EUR"
    assert event.targets.installment_id == INSTALLMENT


def test_refund_of_a_charge_without_payment_intent_points_at_the_charge() -> None:
    event = parse(
        event_body("charge.refunded", charge(payment_intent=None, amount_refunded=12500, refunded=True))
    )
    assert event.original_reference == "ch_3PMwIzLkdIwHu7ix1Xy9Zt0u"
    assert event.amount == 12500


def test_dispute_created_is_a_chargeback() -> None:
    event = parse(event_body("charge.dispute.created", dispute()))
    assert event.action is EventAction.CHARGED_BACK
    assert event.reference == "du_1PMx0aLkdIwHu7ixVb3nM4kq"
    assert event.resource_id == "du_1PMx0aLkdIwHu7ixVb3nM4kq"
    assert event.original_reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"
    assert event.amount == 12500
    assert event.currency == "EUR"
    assert event.failure_reason == "fraudulent"


def test_dispute_without_payment_intent_points_at_the_charge() -> None:
    event = parse(event_body("charge.dispute.created", dispute(payment_intent=None)))
    assert event.original_reference == "ch_3PMwIzLkdIwHu7ix1Xy9Zt0u"


def test_inquiry_takes_no_money_and_is_only_an_alert() -> None:
    event = parse(event_body("charge.dispute.created", dispute(status="warning_needs_response")))
    assert event.action is EventAction.DISPUTE_OPENED
    assert event.reference == "du_1PMx0aLkdIwHu7ixVb3nM4kq"


@pytest.mark.parametrize("event_type", ["charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated"])
def test_funds_events_accompanying_created_and_closed_are_not_counted_again(event_type: str) -> None:
    event = parse(event_body(event_type, dispute()))
    assert event.action is EventAction.IGNORED


def test_dispute_closed_won_reverses_the_chargeback() -> None:
    event = parse(event_body("charge.dispute.closed", dispute(status="won")))
    assert event.action is EventAction.CHARGEBACK_REVERSED
    assert event.reference == "du_1PMx0aLkdIwHu7ixVb3nM4kq"
    assert event.original_reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"
    assert event.amount == 12500


@pytest.mark.parametrize("status", ["lost", "warning_closed"])
def test_dispute_closed_otherwise_moves_nothing_more(status: str) -> None:
    event = parse(event_body("charge.dispute.closed", dispute(status=status)))
    assert event.action is EventAction.IGNORED
    assert event.reference == "du_1PMx0aLkdIwHu7ixVb3nM4kq"
    assert event.amount is None


# --- Stripe Billing invoices ---------------------------------------------------------------------


def test_invoice_paid_names_the_payment_intent_like_payment_intent_succeeded() -> None:
    paid = parse(event_body("invoice.paid", invoice()))
    succeeded = parse(
        event_body("payment_intent.succeeded", payment_intent(amount_received=9900, metadata={}))
    )
    assert paid.action is succeeded.action is EventAction.SUCCEEDED
    assert paid.reference == succeeded.reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"
    assert paid.resource_id == "in_1PMwHxLkdIwHu7ixKp0aQ2rS"
    assert paid.amount == 9900
    assert paid.currency == "EUR"
    assert paid.remittance_reference == "A1B2C3D4-0007"
    assert paid.payer.reference == "cus_Q3kDn4vZ8xYw2L"
    assert paid.payer.email == "billing@example-gmbh.de"
    assert paid.payer.name == "Example GmbH"
    assert paid.targets.invoice_id == INVOICE
    assert paid.method is None


def test_invoice_paid_without_a_payment_intent_is_the_invoice_itself() -> None:
    # E.g. paid from the customer's credit balance: no PaymentIntent, so no other event for this money.
    event = parse(event_body("invoice.paid", invoice(payment_intent=None)))
    assert event.action is EventAction.SUCCEEDED
    assert event.reference == "in_1PMwHxLkdIwHu7ixKp0aQ2rS"


def _basil_invoice(**changes: Any) -> dict[str, Any]:
    # Since 2025-03-31.basil: no payment_intent, paid or paid_out_of_band fields on the invoice.
    shape = invoice(amount_paid_off_stripe=0) | changes
    for removed in ("payment_intent", "paid", "paid_out_of_band"):
        shape.pop(removed)
    return shape


def test_zero_invoice_moves_no_money() -> None:
    event = parse(event_body("invoice.paid", invoice(amount_due=0, amount_paid=0, payment_intent=None)))
    assert event.action is EventAction.IGNORED
    assert event.amount is None


def test_newer_invoice_with_expanded_payments_names_the_payment_intent() -> None:
    payments = {
        "object": "list",
        "data": [
            {
                "id": "inpay_1PMwJ0LkdIwHu7ixAb12Cd34",
                "object": "invoice_payment",
                "amount_paid": 9900,
                "currency": "eur",
                "invoice": "in_1PMwHxLkdIwHu7ixKp0aQ2rS",
                "is_default": True,
                "payment": {"type": "payment_intent", "payment_intent": "pi_3PMwIzLkdIwHu7ix1aB2cD3e"},
                "status": "paid",
            }
        ],
        "has_more": False,
    }
    event = parse(event_body("invoice.paid", _basil_invoice(payments=payments)))
    assert event.action is EventAction.SUCCEEDED
    assert event.reference == "pi_3PMwIzLkdIwHu7ix1aB2cD3e"


def test_newer_invoice_without_the_link_is_acknowledged_rather_than_counted_twice() -> None:
    event = parse(event_body("invoice.paid", _basil_invoice()))
    assert event.action is EventAction.IGNORED
    assert event.reference == "in_1PMwHxLkdIwHu7ixKp0aQ2rS"
    assert event.amount is None


def test_newer_invoice_paid_entirely_outside_stripe_is_the_invoice_itself() -> None:
    event = parse(event_body("invoice.paid", _basil_invoice(amount_paid_off_stripe=9900)))
    assert event.action is EventAction.SUCCEEDED
    assert event.reference == "in_1PMwHxLkdIwHu7ixKp0aQ2rS"
    assert event.amount == 9900


# --- payouts and everything else -----------------------------------------------------------------


def test_payout_paid() -> None:
    payout = {
        "id": "po_1PMy2bLkdIwHu7ixR4s5T6u7",
        "object": "payout",
        "amount": 482_310,
        "arrival_date": 1_717_372_800,  # 2024-06-03T00:00:00Z
        "automatic": True,
        "balance_transaction": "txn_1PMy2bLkdIwHu7ixW8x9Y0z1",
        "created": CREATED,
        "currency": "eur",
        "destination": "ba_1OZ0aBLkdIwHu7ixC2d3E4f5",
        "method": "standard",
        "status": "paid",
        "type": "bank_account",
    }
    event = parse(event_body("payout.paid", payout))
    assert event.action is EventAction.PAYOUT
    assert event.reference == "po_1PMy2bLkdIwHu7ixR4s5T6u7"
    assert event.amount == 482_310
    assert event.currency == "EUR"
    assert event.value_date == date(2024, 6, 3)
    assert event.method is PaymentMethod.BANK_TRANSFER


@pytest.mark.parametrize(
    "event_type", ["customer.created", "payment_intent.created", "charge.succeeded", "invoice.finalized"]
)
def test_other_event_types_are_ignored(event_type: str) -> None:
    event = parse(event_body(event_type, {"id": "cus_Q3kDn4vZ8xYw2L", "object": "customer"}))
    assert event.action is EventAction.IGNORED
    assert event.reference is None
    assert event.event_type == event_type
    assert event.event_id == "evt_1PMwJ2LkdIwHu7ix0zQ3vB4c"
