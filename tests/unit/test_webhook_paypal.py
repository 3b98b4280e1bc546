"""PayPal webhooks: signature self-verification exactly as PayPal signs, and the event mapping of the
real sample bodies in shared/corpus (used byte for byte: the CRC32 is over the raw body)."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from cashline.adapters.webhooks import MalformedEventError, SignatureError
from cashline.adapters.webhooks.paypal_events import (
    CertificateUnavailableError,
    HttpsCertificateFetcher,
    LocalCertificateFetcher,
    parse_paypal,
)
from cashline.domain.payments import PaymentMethod, PaymentSource
from cashline.ids import new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webhooks" / "paypal"
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
WEBHOOK_ID = "8PT597110X687430LKGECATA"
PREVIOUS_WEBHOOK_ID = "1JE4291016473214C"
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey, *, not_before: datetime, not_after: datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _key()


@pytest.fixture(scope="module")
def fetcher(key: rsa.RSAPrivateKey) -> LocalCertificateFetcher:
    pem = _certificate(key, not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=300))
    return LocalCertificateFetcher({CERT_URL: pem})


def sign(
    body: bytes,
    key: rsa.RSAPrivateKey,
    *,
    webhook_id: str = WEBHOOK_ID,
    transmitted_at: datetime = NOW,
    cert_url: str = CERT_URL,
) -> dict[str, str]:
    """Headers as PayPal sends them, signed the way PayPal documents."""
    transmission_id = "69cd13f0-d67a-11e5-baa3-778b53f4ae55"
    transmission_time = transmitted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


def parse(
    body: bytes,
    headers: Mapping[str, str],
    fetcher: LocalCertificateFetcher | HttpsCertificateFetcher,
    webhook_ids: tuple[str, ...] = (WEBHOOK_ID,),
) -> PaymentEvent:
    return parse_paypal(body, headers, webhook_ids, fetch_certificate=fetcher, now=NOW)


def corpus(name: str) -> bytes:
    return (CORPUS / f"{name}.json").read_bytes()


def signed_parse(body: bytes, key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> PaymentEvent:
    return parse(body, sign(body, key), fetcher)


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=1).encode()


def v2_event(event_type: str, resource: dict[str, Any]) -> bytes:
    return encode(
        {
            "id": "WH-58D329510W468432D-8HN650336L201105X",
            "event_version": "1.0",
            "create_time": "2026-03-02T11:58:40.123Z",
            "resource_type": "capture",
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": "synthetic v2 event",
            "resource": resource,
        }
    )


def v2_capture(**overrides: Any) -> dict[str, Any]:
    capture: dict[str, Any] = {
        "id": "2GG279541U471931P",
        "status": "COMPLETED",
        "amount": {"currency_code": "EUR", "value": "1234.50"},
        "final_capture": True,
        "create_time": "2026-03-01T23:58:00Z",
        "update_time": "2026-03-01T23:58:00Z",
        "links": [
            {"href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "self"},
            {"href": "https://api.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "up"},
        ],
    }
    capture.update(overrides)
    return capture


# --- the real sample bodies -----------------------------------------------------------------------


def test_capture_completed_v1_body(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    event = signed_parse(corpus("payment.capture.completed"), key, fetcher)
    assert event.source is PaymentSource.PAYPAL
    assert event.event_id == "WH-7Y7254563A4550640-11V2185806837105M"
    assert event.event_type == "PAYMENT.CAPTURE.COMPLETED"
    assert event.occurred_at == datetime(2015, 2, 17, 18, 51, 33, tzinfo=UTC)
    assert event.action is EventAction.SUCCEEDED
    assert event.reference == "42311647XV020574X"
    assert (event.amount, event.currency) == (747, "USD")
    assert event.method is PaymentMethod.PAYPAL
    assert event.value_date == date(2015, 2, 17)
    assert event.targets.model_dump(exclude_none=True) == {}
    assert event.payer.model_dump(exclude_none=True) == {}


def test_sale_completed_v1_body(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    # An eCheck sale: "completed" with a clearing_time a week later; it still counts as received.
    event = signed_parse(corpus("payment.sale.completed"), key, fetcher)
    assert event.action is EventAction.SUCCEEDED
    assert event.reference == "80021663DE681814L"
    assert (event.amount, event.currency) == (48, "USD")
    assert event.value_date == date(2014, 10, 23)


def test_capture_denied_v1_body(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    event = signed_parse(corpus("payment.capture.denied"), key, fetcher)
    assert event.action is EventAction.FAILED
    assert event.reference == "1YH34677BD7819356"
    assert (event.amount, event.currency) == (50, "EUR")
    assert event.value_date is None


def test_capture_refunded_v1_body_has_a_negative_total(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    event = signed_parse(corpus("payment.capture.refunded"), key, fetcher)
    assert event.action is EventAction.REFUNDED
    assert event.reference == event.resource_id == "8VC964970N548345V"
    assert event.original_reference == "5LK72275CG489890D"
    assert (event.amount, event.currency) == (15, "USD")  # "-0.15" in the body
    assert event.amount_is_cumulative is False


def test_dispute_created_body(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    event = signed_parse(corpus("customer.dispute.created"), key, fetcher)
    assert event.action is EventAction.DISPUTE_OPENED
    assert event.reference == "PP-000-001-341-393"
    assert event.original_reference == "45V487086B989905H"
    assert (event.amount, event.currency) == (1156, "USD")
    assert event.failure_reason == "UNAUTHORIZED"


def test_invoice_paid_is_ignored(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    event = signed_parse(corpus("invoicing.invoice.paid"), key, fetcher)
    assert event.action is EventAction.IGNORED
    assert event.event_id == "WH-0T490472X6099635W-7LJ29748BW389372K"
    assert event.reference is None
    assert event.amount is None


def test_corpus_bodies_are_used_byte_for_byte() -> None:
    # The samples are tab-indented; re-serializing them would change the CRC32 and break signing.
    raw = corpus("payment.capture.completed")
    assert b"\t" in raw
    assert zlib.crc32(raw) != zlib.crc32(json.dumps(json.loads(raw)).encode())


# --- v2 bodies ------------------------------------------------------------------------------------


def test_v2_capture_completed_maps_targets_and_payer(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    installment = new_id("installment")
    resource = v2_capture(
        custom_id=installment,
        invoice_id="2026-0042",
        payer={
            "name": {"given_name": "Ada", "surname": "Lovelace"},
            "email_address": "ada@example.com",
            "payer_id": "QYR5Z8XDVJNXQ",
        },
    )
    event = signed_parse(v2_event("PAYMENT.CAPTURE.COMPLETED", resource), key, fetcher)
    assert event.action is EventAction.SUCCEEDED
    assert event.reference == "2GG279541U471931P"
    assert (event.amount, event.currency) == (123450, "EUR")
    assert event.occurred_at == datetime(2026, 3, 2, 11, 58, 40, 123000, tzinfo=UTC)
    assert event.value_date == date(2026, 3, 1)  # the capture's own day, not the event's
    assert event.targets.installment_id == installment
    assert event.targets.invoice_number == "2026-0042"
    assert event.targets.invoice_id is None
    assert event.remittance_reference == "2026-0042"
    assert event.payer.name == "Ada Lovelace"
    assert event.payer.email == "ada@example.com"
    assert event.payer.reference == "QYR5Z8XDVJNXQ"


def test_v2_cashline_invoice_id_goes_to_invoice_id(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    invoice, counterparty = new_id("invoice"), new_id("counterparty")
    resource = v2_capture(custom_id=counterparty, invoice_id=invoice, soft_descriptor="PAYPAL *ACME")
    event = signed_parse(v2_event("PAYMENT.CAPTURE.COMPLETED", resource), key, fetcher)
    assert event.targets.invoice_id == invoice
    assert event.targets.counterparty_id == counterparty
    assert event.targets.invoice_number is None
    assert event.remittance_reference == invoice


def test_v2_remittance_falls_back_to_soft_descriptor(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    resource = v2_capture(soft_descriptor="PAYPAL *ACME", custom_id="shop-order-17")
    event = signed_parse(v2_event("PAYMENT.CAPTURE.COMPLETED", resource), key, fetcher)
    assert event.remittance_reference == "PAYPAL *ACME"
    assert event.targets.model_dump(exclude_none=True) == {}  # not a Cashline id: no target


def test_v2_capture_pending(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    resource = v2_capture(status="PENDING", status_details={"reason": "PENDING_REVIEW"})
    event = signed_parse(v2_event("PAYMENT.CAPTURE.PENDING", resource), key, fetcher)
    assert event.action is EventAction.PENDING
    assert event.reference == "2GG279541U471931P"
    assert event.failure_reason == "PENDING_REVIEW"
    assert event.value_date is None


def test_v2_refund_names_its_capture_through_the_up_link(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    refund = {
        "id": "1JU08902781691411",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "10.99"},
        "create_time": "2026-03-02T11:58:30Z",
        "links": [
            {"href": "https://api.paypal.com/v2/payments/refunds/1JU08902781691411", "rel": "self"},
            {"href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "up"},
        ],
    }
    event = signed_parse(v2_event("PAYMENT.CAPTURE.REFUNDED", refund), key, fetcher)
    assert event.action is EventAction.REFUNDED
    assert event.reference == event.resource_id == "1JU08902781691411"
    assert event.original_reference == "2GG279541U471931P"
    assert (event.amount, event.currency) == (1099, "USD")
    assert event.amount_is_cumulative is False


def test_v1_sale_refund_names_its_sale(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    refund = {"id": "0P209507D6694645N", "amount": {"total": "-2.34", "currency": "USD"}, "sale_id": "S1"}
    event = signed_parse(v2_event("PAYMENT.SALE.REFUNDED", refund), key, fetcher)
    assert (event.reference, event.original_reference, event.amount) == ("0P209507D6694645N", "S1", 234)


def test_refund_without_its_capture_is_malformed(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    refund = {"id": "1JU08902781691411", "amount": {"currency_code": "USD", "value": "1.00"}}
    with pytest.raises(MalformedEventError, match="capture"):
        signed_parse(v2_event("PAYMENT.CAPTURE.REFUNDED", refund), key, fetcher)


def test_v2_capture_reversed_is_a_chargeback(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    resource = v2_capture(
        status="REVERSED",
        amount={"currency_code": "EUR", "value": "-1234.50"},
        status_details={"reason": "BUYER_COMPLAINT"},
    )
    event = signed_parse(v2_event("PAYMENT.CAPTURE.REVERSED", resource), key, fetcher)
    assert event.action is EventAction.CHARGED_BACK
    assert event.reference == "2GG279541U471931P:reversal"
    assert event.original_reference == "2GG279541U471931P"
    assert (event.amount, event.currency) == (123450, "EUR")


def test_jpy_has_no_minor_digits(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    resource = v2_capture(amount={"currency_code": "JPY", "value": "15000"})
    event = signed_parse(v2_event("PAYMENT.CAPTURE.COMPLETED", resource), key, fetcher)
    assert (event.amount, event.currency) == (15000, "JPY")


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [("7.470", "USD", 747), ("15000.00", "JPY", 15000), ("0.005", "BHD", 5), ("0.01", "EUR", 1)],
)
def test_exact_amounts_with_trailing_zeros_are_accepted(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher, value: str, currency: str, expected: int
) -> None:
    resource = v2_capture(amount={"currency_code": currency, "value": value})
    event = signed_parse(v2_event("PAYMENT.CAPTURE.COMPLETED", resource), key, fetcher)
    assert event.amount == expected


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        ("7.471", "USD"),  # more decimals than USD has
        ("100.5", "JPY"),  # JPY has none
        ("1e3", "USD"),  # exponent notation is not how PayPal writes amounts
        ("NaN", "USD"),
        (" 1.00", "USD"),
        ("1,000.00", "USD"),
        ("10000000000000000", "USD"),  # beyond any invoice
        ("1.00", "EURO"),
    ],
)
def test_unrepresentable_amounts_are_malformed(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher, value: str, currency: str
) -> None:
    resource = v2_capture(amount={"currency_code": currency, "value": value})
    with pytest.raises(MalformedEventError):
        signed_parse(v2_event("PAYMENT.CAPTURE.COMPLETED", resource), key, fetcher)


def test_number_amounts_are_malformed_never_floats(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    resource = v2_capture(amount={"currency_code": "USD", "value": 7.47})
    with pytest.raises(MalformedEventError, match="decimal string"):
        signed_parse(v2_event("PAYMENT.CAPTURE.COMPLETED", resource), key, fetcher)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED"}', b"\xff\xfe\x00"],
)
def test_signed_but_unreadable_bodies_are_malformed(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher, body: bytes
) -> None:
    with pytest.raises(MalformedEventError):
        signed_parse(body, key, fetcher)


def test_known_event_without_resource_is_malformed(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    body = encode(
        {"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "create_time": "2026-03-02T11:00:00Z"}
    )
    with pytest.raises(MalformedEventError, match="resource"):
        signed_parse(body, key, fetcher)


# --- signatures -----------------------------------------------------------------------------------


def test_header_names_are_case_insensitive(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    body = corpus("payment.capture.completed")
    headers = {name.lower(): value for name, value in sign(body, key).items()}
    assert parse(body, headers, fetcher).action is EventAction.SUCCEEDED


def test_tampered_body_is_refused(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    body = corpus("payment.capture.completed")
    headers = sign(body, key)
    tampered = body.replace(b'"7.47"', b'"9.47"')
    assert tampered != body
    with pytest.raises(SignatureError, match="does not match"):
        parse(tampered, headers, fetcher)


def test_wrong_webhook_id_is_refused(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    body = corpus("payment.capture.completed")
    with pytest.raises(SignatureError, match="does not match"):
        parse(body, sign(body, key, webhook_id="SOMEONE-ELSES-WEBHOOK"), fetcher)


def test_rotated_webhook_id_is_accepted(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    body = corpus("payment.capture.completed")
    headers = sign(body, key, webhook_id=PREVIOUS_WEBHOOK_ID)
    event = parse(body, headers, fetcher, webhook_ids=(WEBHOOK_ID, PREVIOUS_WEBHOOK_ID))
    assert event.action is EventAction.SUCCEEDED


def test_no_configured_webhook_id_is_refused(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    body = corpus("payment.capture.completed")
    with pytest.raises(SignatureError, match="webhook id"):
        parse(body, sign(body, key), fetcher, webhook_ids=())


def test_signature_by_another_key_is_refused(fetcher: LocalCertificateFetcher) -> None:
    body = corpus("payment.capture.completed")
    with pytest.raises(SignatureError, match="does not match"):
        parse(body, sign(body, _key()), fetcher)


@pytest.mark.parametrize("skew", [timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=2)])
def test_transmission_time_outside_tolerance_is_refused(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher, skew: timedelta
) -> None:
    body = corpus("payment.capture.completed")
    with pytest.raises(SignatureError, match="tolerance"):
        parse(body, sign(body, key, transmitted_at=NOW - skew), fetcher)


def test_transmission_time_within_tolerance_is_accepted(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher
) -> None:
    body = corpus("payment.capture.completed")
    headers = sign(body, key, transmitted_at=NOW - timedelta(seconds=299))
    assert parse(body, headers, fetcher).action is EventAction.SUCCEEDED


@pytest.mark.parametrize(
    "header",
    [
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-TRANSMISSION-SIG",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    ],
)
def test_missing_header_is_refused(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher, header: str
) -> None:
    body = corpus("payment.capture.completed")
    headers = sign(body, key)
    del headers[header]
    with pytest.raises(SignatureError, match=header.lower()):
        parse(body, headers, fetcher)


def test_unsupported_algo_is_refused(key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher) -> None:
    body = corpus("payment.capture.completed")
    headers = sign(body, key) | {"PAYPAL-AUTH-ALGO": "SHA1withRSA"}
    with pytest.raises(SignatureError, match="auth algo"):
        parse(body, headers, fetcher)


@pytest.mark.parametrize("value", ["not base64!", "yesterday"])
def test_unreadable_signature_or_time_is_refused(
    key: rsa.RSAPrivateKey, fetcher: LocalCertificateFetcher, value: str
) -> None:
    body = corpus("payment.capture.completed")
    for header in ("PAYPAL-TRANSMISSION-SIG", "PAYPAL-TRANSMISSION-TIME"):
        with pytest.raises(SignatureError):
            parse(body, sign(body, key) | {header: value}, fetcher)


@pytest.mark.parametrize(
    ("not_before", "not_after", "message"),
    [
        (NOW - timedelta(days=400), NOW - timedelta(days=1), "expired"),
        (NOW + timedelta(days=1), NOW + timedelta(days=400), "not valid yet"),
    ],
)
def test_certificate_outside_its_validity_is_refused(
    key: rsa.RSAPrivateKey, not_before: datetime, not_after: datetime, message: str
) -> None:
    body = corpus("payment.capture.completed")
    fetcher = LocalCertificateFetcher(
        {CERT_URL: _certificate(key, not_before=not_before, not_after=not_after)}
    )
    with pytest.raises(SignatureError, match=message):
        parse(body, sign(body, key), fetcher)


def test_unknown_local_certificate_and_garbage_pem_are_refused(key: rsa.RSAPrivateKey) -> None:
    body = corpus("payment.capture.completed")
    with pytest.raises(SignatureError, match="no local certificate"):
        parse(body, sign(body, key), LocalCertificateFetcher({}))
    with pytest.raises(SignatureError, match="PEM"):
        parse(body, sign(body, key), LocalCertificateFetcher({CERT_URL: b"hello"}))


def _no_download(url: str, timeout_s: float) -> bytes:
    raise AssertionError(f"must not fetch {url}")


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://evil.example.com/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",  # not https
        "https://api.paypal.com.evil.example.com/cert",
        "https://api.paypal.com@evil.example.com/cert",  # credentials trick: the host is evil
        "https://api.paypal.com:8443/cert",
        "https://evil.example.com\\@api.paypal.com/cert",
        "file:///etc/passwd",
        "https://paypal.com/cert",
    ],
)
def test_https_fetcher_refuses_certificates_off_paypal_hosts(key: rsa.RSAPrivateKey, cert_url: str) -> None:
    body = corpus("payment.capture.completed")
    fetcher = HttpsCertificateFetcher(download=_no_download)
    with pytest.raises(SignatureError, match="certificate URL"):
        parse(body, sign(body, key, cert_url=cert_url), fetcher)


def test_https_fetcher_refuses_without_touching_the_network(key: rsa.RSAPrivateKey) -> None:
    # The real downloader: sockets are blocked in unit tests, so reaching it would fail differently.
    body = corpus("payment.capture.completed")
    headers = sign(body, key, cert_url="https://attacker.example/cert.pem")
    with pytest.raises(SignatureError, match="not a PayPal host"):
        parse(body, headers, HttpsCertificateFetcher())


def test_https_fetcher_downloads_once_and_caches(key: rsa.RSAPrivateKey) -> None:
    pem = _certificate(key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=1))
    fetched: list[tuple[str, float]] = []

    def download(url: str, timeout_s: float) -> bytes:
        fetched.append((url, timeout_s))
        return pem

    fetcher = HttpsCertificateFetcher(download=download)
    body = corpus("payment.sale.completed")
    for _ in range(3):
        assert parse(body, sign(body, key), fetcher).action is EventAction.SUCCEEDED
    assert fetched == [(CERT_URL, 5.0)]


def test_https_fetcher_cache_is_bounded() -> None:
    fetched: list[str] = []

    def download(url: str, timeout_s: float) -> bytes:
        fetched.append(url)
        return b"-----BEGIN CERTIFICATE-----\n" + url.encode()

    fetcher = HttpsCertificateFetcher(download=download, max_cached=2)
    urls = [f"https://api-m.paypal.com/v1/notifications/certs/CERT-{n}" for n in range(3)]
    for url in urls:
        fetcher(url)
    fetcher(urls[2])  # cached
    fetcher(urls[0])  # evicted as the oldest: fetched again
    assert fetched == [*urls, urls[0]]


def test_https_fetcher_does_not_cache_a_non_certificate_answer() -> None:
    answers = [b"<html>maintenance</html>", b"-----BEGIN CERTIFICATE-----\nx"]

    def download(url: str, timeout_s: float) -> bytes:
        return answers.pop(0)

    fetcher = HttpsCertificateFetcher(download=download)
    url = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1"
    with pytest.raises(SignatureError, match="PEM"):
        fetcher(url)
    assert fetcher(url).startswith(b"-----BEGIN CERTIFICATE-----")


def test_unreachable_certificate_is_a_signature_error_callers_can_tell_apart() -> None:
    def download(url: str, timeout_s: float) -> bytes:
        raise CertificateUnavailableError("certificate fetch failed: ConnectTimeout")

    fetcher = HttpsCertificateFetcher(download=download)
    with pytest.raises(SignatureError) as raised:
        fetcher("https://api.paypal.com/v1/notifications/certs/CERT-1")
    assert isinstance(raised.value, CertificateUnavailableError)
