"""GoCardless webhooks: signatures checked by the gocardless-pro SDK, each event's translation, and
filling an event in from its payment.

The first test reads a real GoCardless delivery in place (../shared/corpus/webhooks/gocardless); the
others sign their own bodies as GoCardless does: HMAC-SHA256 hex of the raw body with the endpoint secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import gocardless_pro  # type: ignore[import-untyped]
import pytest
from gocardless_pro.resources import Payment  # type: ignore[import-untyped]

from cashline.adapters.webhooks import MalformedEventError, SignatureError
from cashline.adapters.webhooks.gocardless_events import (
    GoCardlessPayment,
    fetch_gocardless_payment,
    parse_gocardless,
    with_payment_details,
)
from cashline.domain.payments import PaymentMethod, PaymentSource
from cashline.ids import new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webhooks" / "gocardless"

SECRET = "gc-webhook-secret-current-6N2vQ8rT4yU1"
PREVIOUS_SECRET = "gc-webhook-secret-previous-3K9mP5sW7xZ0"

INSTALLMENT = new_id("installment")
PLAN = new_id("plan")
INVOICE = new_id("invoice")


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def gc_event(resource_type: str, action: str, links: dict[str, str], **extra: Any) -> dict[str, Any]:
    cause = f"{resource_type[:-1]}_{action}"
    return {
        "id": "EV" + hashlib.sha256(f"{resource_type}.{action}".encode()).hexdigest()[:12].upper(),
        "created_at": "2024-06-03T07:41:22.153Z",
        "resource_type": resource_type,
        "action": action,
        "links": links,
        "details": {"origin": "gocardless", "cause": cause, "description": f"{resource_type} {action}."},
        "metadata": {},
    } | extra


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events), "meta": {"webhook_id": "WB0012RG4XMZ5K"}}).encode()


def parse_one(event: dict[str, Any]) -> PaymentEvent:
    body = body_of(event)
    (parsed,) = parse_gocardless(body, sign(body), [SECRET])
    return parsed


# --- the real delivery ---------------------------------------------------------------------------


def _corpus_secret_and_signature() -> tuple[str, str]:
    readme = (CORPUS / "README.md").read_text()
    secret = re.search(r"secret ([0-9A-F-]{36})", readme)
    signature = re.search(r"\b([0-9a-f]{64})\b", readme)
    assert secret and signature, "the corpus README names the secret and the signature"
    return secret.group(1), signature.group(1)


def test_real_gocardless_delivery_verifies_and_is_two_ignored_events() -> None:
    secret, signature = _corpus_secret_and_signature()
    # The file ends in a newline the delivery did not have: GoCardless signed the stripped body.
    body = (CORPUS / "webhook_body.json").read_bytes().strip()
    events = parse_gocardless(body, signature, ["some-newer-secret", secret])
    assert [e.event_id for e in events] == ["EV00BD05S5VM2T", "EV00BD05TB8K63"]
    assert [e.event_type for e in events] == ["subscriptions.created", "mandates.created"]
    assert all(e.action is EventAction.IGNORED and e.reference is None for e in events)
    assert all(e.source is PaymentSource.GOCARDLESS for e in events)
    assert events[0].occurred_at == datetime(2018, 7, 5, 9, 13, 51, 404000, tzinfo=UTC)


def test_real_delivery_with_its_trailing_newline_does_not_verify() -> None:
    secret, signature = _corpus_secret_and_signature()
    body = (CORPUS / "webhook_body.json").read_bytes()
    assert body != body.strip()
    with pytest.raises(SignatureError):
        parse_gocardless(body, signature, [secret])


# --- signatures ----------------------------------------------------------------------------------


def test_rotated_previous_secret_second_in_the_list_is_accepted() -> None:
    body = body_of(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    assert len(parse_gocardless(body, sign(body, PREVIOUS_SECRET), [SECRET, PREVIOUS_SECRET])) == 1


def test_tampered_body_is_refused() -> None:
    body = body_of(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    signature = sign(body)
    with pytest.raises(SignatureError, match="matches none"):
        parse_gocardless(body.replace(b"PM00ABCD1234EF", b"PM00ZZZZ9999ZZ"), signature, [SECRET])


def test_wrong_secret_is_refused() -> None:
    body = body_of(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    with pytest.raises(SignatureError, match="matches none"):
        parse_gocardless(body, sign(body, "someone-else"), [SECRET, PREVIOUS_SECRET])


@pytest.mark.parametrize("header", [None, "", "  "])
def test_missing_signature_is_refused(header: str | None) -> None:
    body = body_of(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    with pytest.raises(SignatureError, match="missing"):
        parse_gocardless(body, header, [SECRET])


def test_non_ascii_signature_is_refused_not_crashed_on() -> None:
    body = body_of(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    with pytest.raises(SignatureError):
        parse_gocardless(body, "é" * 64, [SECRET])


def test_no_configured_secret_is_a_configuration_error() -> None:
    body = body_of(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    with pytest.raises(ValueError, match="secret"):
        parse_gocardless(body, sign(body), [""])


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"events": "EV1"}',
        b'{"events": [{"id": "EV1", "resource_type": "payments", "action": "confirmed", "links": {}}]}',
        b'{"events": [{"id": "EV1", "created_at": "yesterday", "resource_type": "x", "action": "y"}]}',
        # no time zone
        b'{"events": [{"id": "EV1", "created_at": "2024-06-03T07:41:22", "resource_type": "x"}]}',
    ],
)
def test_signed_body_that_is_no_event_list_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedEventError):
        parse_gocardless(body, sign(body), [SECRET])


# --- the events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("created", EventAction.PENDING),
        ("customer_approval_granted", EventAction.PENDING),
        ("submitted", EventAction.PENDING),
        ("confirmed", EventAction.SUCCEEDED),
        ("paid_out", EventAction.SUCCEEDED),
        ("failed", EventAction.FAILED),
        ("late_failure_settled", EventAction.FAILED),
        ("customer_approval_denied", EventAction.FAILED),
        ("cancelled", EventAction.CANCELLED),
    ],
)
def test_payment_actions(action: str, expected: EventAction) -> None:
    event = parse_one(gc_event("payments", action, {"payment": "PM00ABCD1234EF"}))
    assert event.action is expected
    assert event.reference == "PM00ABCD1234EF"
    assert event.event_type == f"payments.{action}"
    # Events carry only links: the amount comes from the payment (with_payment_details).
    assert event.amount is None
    assert event.currency is None
    assert event.method is None


def test_confirmed_and_paid_out_name_the_same_payment_in_one_delivery() -> None:
    body = body_of(
        gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}, id="EV0001"),
        gc_event(
            "payments", "paid_out", {"payment": "PM00ABCD1234EF", "payout": "PO00QRST5678"}, id="EV0002"
        ),
    )
    confirmed, paid_out = parse_gocardless(body, sign(body), [SECRET])
    assert (confirmed.event_id, paid_out.event_id) == ("EV0001", "EV0002")
    assert confirmed.action is paid_out.action is EventAction.SUCCEEDED
    assert confirmed.reference == paid_out.reference == "PM00ABCD1234EF"


def test_failed_payment_carries_the_cause() -> None:
    details = {
        "origin": "bank",
        "cause": "insufficient_funds",
        "description": "The customer's account had insufficient funds to make this payment.",
        "scheme": "sepa_core",
        "reason_code": "AM04",
        "will_attempt_retry": False,
    }
    event = parse_one(gc_event("payments", "failed", {"payment": "PM00ABCD1234EF"}, details=details))
    assert event.action is EventAction.FAILED
    assert event.failure_reason == "insufficient_funds"
    assert event.occurred_at == datetime(2024, 6, 3, 7, 41, 22, 153000, tzinfo=UTC)


def test_failure_without_cause_uses_the_description() -> None:
    details = {"origin": "bank", "description": "Refer to payer."}
    event = parse_one(gc_event("payments", "failed", {"payment": "PM00ABCD1234EF"}, details=details))
    assert event.failure_reason == "Refer to payer."


def test_chargeback_is_its_own_movement_against_the_payment() -> None:
    event = parse_one(gc_event("payments", "charged_back", {"payment": "PM00ABCD1234EF"}))
    assert event.action is EventAction.CHARGED_BACK
    assert event.reference == "PM00ABCD1234EF:chargeback"
    assert event.original_reference == "PM00ABCD1234EF"
    assert event.failure_reason == "payment_charged_back"


def test_chargeback_settled_is_only_acknowledged() -> None:
    event = parse_one(gc_event("payments", "chargeback_settled", {"payment": "PM00ABCD1234EF"}))
    assert event.action is EventAction.IGNORED


@pytest.mark.parametrize("action", ["cancelled", "failed", "expired"])
def test_mandate_ending(action: str) -> None:
    details = {"origin": "bank", "cause": "bank_account_closed", "description": "The account was closed."}
    event = parse_one(gc_event("mandates", action, {"mandate": "MD000AMA19XGEC"}, details=details))
    assert event.action is EventAction.MANDATE_ENDED
    assert event.reference == "MD000AMA19XGEC"
    assert event.failure_reason == "bank_account_closed"


@pytest.mark.parametrize("action", ["created", "active", "submitted", "transferred", "reinstated"])
def test_other_mandate_events_are_ignored(action: str) -> None:
    event = parse_one(gc_event("mandates", action, {"mandate": "MD000AMA19XGEC"}))
    assert event.action is EventAction.IGNORED
    assert event.reference is None


def test_payout_paid() -> None:
    event = parse_one(gc_event("payouts", "paid", {"payout": "PO00QRST5678"}))
    assert event.action is EventAction.PAYOUT
    assert event.reference == "PO00QRST5678"
    assert event.amount is None


@pytest.mark.parametrize(
    ("resource_type", "action"),
    [
        ("refunds", "created"),
        ("subscriptions", "created"),
        ("payments", "resubmission_requested"),
        ("payments", "chargeback_cancelled"),
    ],
)
def test_everything_else_is_ignored(resource_type: str, action: str) -> None:
    event = parse_one(gc_event(resource_type, action, {"refund": "RF00AAAA1111"}))
    assert event.action is EventAction.IGNORED
    assert event.reference is None


def test_targets_come_from_the_event_and_resource_metadata() -> None:
    event = parse_one(
        gc_event(
            "payments",
            "confirmed",
            {"payment": "PM00ABCD1234EF"},
            metadata={"invoice_number": "RE-2024-0042"},
            resource_metadata={"cashline_installment": INSTALLMENT, "cashline_plan": PLAN, "attempt": "2"},
        )
    )
    assert event.targets.installment_id == INSTALLMENT
    assert event.targets.plan_id == PLAN
    assert event.targets.invoice_number == "RE-2024-0042"


def test_several_events_keep_their_order() -> None:
    body = body_of(
        gc_event("payments", "submitted", {"payment": "PM001"}, id="EV1"),
        gc_event("mandates", "cancelled", {"mandate": "MD001"}, id="EV2"),
        gc_event("payouts", "paid", {"payout": "PO001"}, id="EV3"),
    )
    events = parse_gocardless(body, sign(body), [SECRET])
    assert [(e.event_id, e.action) for e in events] == [
        ("EV1", EventAction.PENDING),
        ("EV2", EventAction.MANDATE_ENDED),
        ("EV3", EventAction.PAYOUT),
    ]


# --- the payment behind an event -----------------------------------------------------------------


def payment_attributes(**changes: Any) -> dict[str, Any]:
    return {
        "id": "PM00ABCD1234EF",
        "created_at": "2024-05-29T12:00:03.512Z",
        "charge_date": "2024-06-03",
        "amount": 12500,
        "amount_refunded": 0,
        "description": "Installment 2 of 6",
        "currency": "EUR",
        "status": "confirmed",
        "reference": None,
        "metadata": {"cashline_installment": INSTALLMENT, "cashline_plan": PLAN, "attempt": "1"},
        "links": {"mandate": "MD000AMA19XGEC", "creditor": "CR00005PHMD1E6"},
        "retry_if_possible": False,
        "scheme": "sepa_core",
    } | changes


def gc_payment(**changes: Any) -> GoCardlessPayment:
    attributes = payment_attributes(**changes)
    return GoCardlessPayment(
        amount=attributes["amount"],
        currency=attributes["currency"],
        charge_date=date.fromisoformat(attributes["charge_date"]),
        scheme=attributes["scheme"],
        metadata=attributes["metadata"],
        mandate_id=attributes["links"]["mandate"],
        status=attributes["status"],
        id=attributes["id"],
    )


def test_with_payment_details_fills_in_amount_currency_date_method_and_targets() -> None:
    event = parse_one(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    filled = with_payment_details(event, gc_payment())
    assert filled.amount == 12500
    assert filled.currency == "EUR"
    assert filled.value_date == date(2024, 6, 3)
    assert filled.method is PaymentMethod.SEPA_DEBIT
    assert filled.targets.installment_id == INSTALLMENT
    assert filled.targets.plan_id == PLAN
    # Everything else is the event's own.
    assert filled.model_dump(
        exclude={"amount", "currency", "value_date", "method", "targets"}
    ) == event.model_dump(exclude={"amount", "currency", "value_date", "method", "targets"})
    assert event.amount is None  # the original is left as it was


@pytest.mark.parametrize(
    ("scheme", "method"),
    [
        ("sepa_core", PaymentMethod.SEPA_DEBIT),
        ("sepa_cor1", PaymentMethod.SEPA_DEBIT),
        ("bacs", PaymentMethod.BACS_DEBIT),
        ("ach", PaymentMethod.ACH_DEBIT),
        ("becs", PaymentMethod.BECS_DEBIT),
        ("autogiro", PaymentMethod.AUTOGIRO),
        ("becs_nz", PaymentMethod.OTHER),
        ("pad", PaymentMethod.OTHER),
        ("betalingsservice", PaymentMethod.OTHER),
        ("faster_payments", PaymentMethod.OTHER),
    ],
)
def test_scheme_to_method(scheme: str, method: PaymentMethod) -> None:
    event = parse_one(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    assert with_payment_details(event, gc_payment(scheme=scheme)).method is method


def test_payment_metadata_wins_over_the_event_and_keeps_what_it_lacks() -> None:
    event = parse_one(
        gc_event(
            "payments",
            "confirmed",
            {"payment": "PM00ABCD1234EF"},
            resource_metadata={"cashline_installment": new_id("installment"), "cashline_invoice": INVOICE},
        )
    )
    filled = with_payment_details(event, gc_payment())
    assert filled.targets.installment_id == INSTALLMENT
    assert filled.targets.invoice_id == INVOICE


def test_chargeback_is_filled_in_from_the_payment_it_takes_back() -> None:
    event = parse_one(gc_event("payments", "charged_back", {"payment": "PM00ABCD1234EF"}))
    filled = with_payment_details(event, gc_payment(status="charged_back"))
    assert (filled.reference, filled.amount) == ("PM00ABCD1234EF:chargeback", 12500)


def test_another_payment_is_refused() -> None:
    event = parse_one(gc_event("payments", "confirmed", {"payment": "PM00ABCD1234EF"}))
    with pytest.raises(ValueError, match="not the one"):
        with_payment_details(event, gc_payment(id="PM00OTHER00000"))


def test_events_about_no_payment_are_refused() -> None:
    event = parse_one(gc_event("payouts", "paid", {"payout": "PO00QRST5678"}))
    with pytest.raises(ValueError, match="not about a payment"):
        with_payment_details(event, gc_payment())


@pytest.mark.parametrize("amount", [125.0, True, -1, None])
def test_payment_amount_must_be_integer_minor_units(amount: Any) -> None:
    with pytest.raises(ValueError):
        gc_payment(amount=amount)


class FakePayments:
    def __init__(self, attributes: dict[str, Any] | None) -> None:
        self.attributes = attributes
        self.max_network_retries = 3
        self.asked: list[str] = []

    def get(self, identity: str) -> Payment:
        self.asked.append(identity)
        return Payment(self.attributes, None)


class FakeClient:
    made: ClassVar[list[dict[str, Any]]] = []
    service: ClassVar[FakePayments] = FakePayments(payment_attributes())

    def __init__(self, **kwargs: Any) -> None:
        FakeClient.made.append(kwargs)

    @property
    def payments(self) -> FakePayments:
        return FakeClient.service


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.made = []
    FakeClient.service = FakePayments(payment_attributes())
    monkeypatch.setattr(gocardless_pro, "Client", FakeClient)
    return FakeClient


def test_fetch_payment_against_a_base_url(fake_client: type[FakeClient]) -> None:
    payment = fetch_gocardless_payment(
        "token-1", "PM00ABCD1234EF", base_url="http://127.0.0.1:4010", timeout_s=5
    )
    assert fake_client.made == [
        {"access_token": "token-1", "base_url": "http://127.0.0.1:4010", "timeout": 5}
    ]
    assert fake_client.service.asked == ["PM00ABCD1234EF"]
    # One attempt: the caller retries, within its own time budget.
    assert fake_client.service.max_network_retries == 1
    assert payment == gc_payment()


def test_fetch_payment_from_an_environment(fake_client: type[FakeClient]) -> None:
    fetch_gocardless_payment("token-1", "PM00ABCD1234EF", base_url=None, environment="sandbox")
    assert fake_client.made == [{"access_token": "token-1", "environment": "sandbox", "timeout": 10}]


def test_fetch_payment_reads_a_sparse_answer(fake_client: type[FakeClient]) -> None:
    fake_client.service = FakePayments(
        payment_attributes(charge_date=None, scheme=None, metadata=None, links={}, currency="gbp")
    )
    payment = fetch_gocardless_payment("token-1", "PM00ABCD1234EF", base_url=None)
    assert payment.currency == "GBP"
    assert (payment.charge_date, payment.scheme, payment.metadata, payment.mandate_id) == (
        None,
        None,
        {},
        None,
    )


@pytest.mark.parametrize("amount", ["12500", 125.0, None])
def test_fetch_payment_refuses_an_answer_without_integer_amount(
    fake_client: type[FakeClient], amount: Any
) -> None:
    fake_client.service = FakePayments(payment_attributes(amount=amount))
    with pytest.raises(ValueError, match="amount"):
        fetch_gocardless_payment("token-1", "PM00ABCD1234EF", base_url=None)


@pytest.mark.parametrize("payment_id", ["", "../mandates/MD1", "PM00abc", "MD000AMA19XGEC"])
def test_fetch_payment_refuses_what_is_no_payment_id(fake_client: type[FakeClient], payment_id: str) -> None:
    with pytest.raises(ValueError, match="payment id"):
        fetch_gocardless_payment("token-1", payment_id, base_url=None)
    assert fake_client.made == []
