"""PayPal webhooks: verify a delivery the way PayPal documents self-verification, then translate the
event into a `PaymentEvent`.

PayPal signs `transmission_id|transmission_time|webhook_id|crc32(body)` with the private key of a
certificate it names in `PAYPAL-CERT-URL`. Verifying offline (instead of calling PayPal's
verify-webhook-signature API) needs no OAuth token and no network call per delivery: only the
certificate, fetched once per URL from a PayPal host and cached.

Both resource generations arrive on the same endpoint: v2 (Orders/Payments v2: `amount.value`,
`custom_id`, `links[rel=up]`) and v1 (REST Payments v1: `amount.total`, `capture_id`/`sale_id`), so
every reader below accepts both shapes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import ValidationError

from cashline.adapters.webhooks import MalformedEventError, SignatureError
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency
from cashline.domain.payments import PaymentMethod, PaymentSource
from cashline.ids import is_id_of
from cashline.schemas.common import MAX_MINOR_UNITS
from cashline.schemas.payment_events import EventAction, Payer, PaymentEvent, Targets

__all__ = [
    "DEFAULT_ALLOWED_CERT_HOSTS",
    "CertificateFetcher",
    "CertificateUnavailableError",
    "HttpsCertificateFetcher",
    "LocalCertificateFetcher",
    "parse_paypal",
    "verify_paypal_signature",
]

# PayPal's live and sandbox API hosts. The certificate URL comes from the (unauthenticated) request
# headers: fetching from any other host would let anyone sign with a certificate of their own.
DEFAULT_ALLOWED_CERT_HOSTS: tuple[str, ...] = (
    "api.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.paypal.com",
    "api-m.sandbox.paypal.com",
)

SUPPORTED_AUTH_ALGO = "SHA256withRSA"
_TRANSMISSION_ID = "paypal-transmission-id"
_TRANSMISSION_TIME = "paypal-transmission-time"
_TRANSMISSION_SIG = "paypal-transmission-sig"
_CERT_URL = "paypal-cert-url"
_AUTH_ALGO = "paypal-auth-algo"
_REQUIRED_HEADERS = (_TRANSMISSION_ID, _TRANSMISSION_TIME, _TRANSMISSION_SIG, _CERT_URL, _AUTH_ALGO)

# A PayPal signing certificate (with its chain) is a few KiB; anything far larger is not one, and
# reading it unbounded would let a slow or huge answer tie up the webhook function.
_MAX_CERTIFICATE_BYTES = 64 * 1024
_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


class CertificateUnavailableError(SignatureError):
    """The certificate could not be fetched (network, HTTP status). A SignatureError, so the delivery
    is refused either way, but a caller may answer 503 instead of 400: PayPal retries undelivered
    webhooks, and the next attempt may find the certificate."""


class CertificateFetcher(Protocol):
    def __call__(self, url: str) -> bytes:
        """The PEM certificate(s) at `url`; raises SignatureError when it will not or cannot."""
        ...


def _download(url: str, timeout_s: float) -> bytes:
    try:
        # No redirects: a redirect could lead off the allowed hosts after the URL check passed.
        with requests.get(url, timeout=timeout_s, allow_redirects=False, stream=True) as response:
            if response.status_code != 200:
                raise CertificateUnavailableError(f"certificate URL answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=8192):
                body += chunk
                if len(body) > _MAX_CERTIFICATE_BYTES:
                    raise SignatureError("certificate URL answered more than a certificate's size")
            return bytes(body)
    except requests.RequestException as exc:
        raise CertificateUnavailableError(f"certificate fetch failed: {type(exc).__name__}") from exc


class HttpsCertificateFetcher:
    """Fetches PayPal's signing certificates over HTTPS from PayPal's own hosts only, and caches them.

    The cache lives on the instance: keep one fetcher per process (module level in the handler) so a
    warm Lambda reuses certificates. Entries are keyed by URL; PayPal publishes a rotated certificate
    under a new URL, and expiry is checked at every use, so entries never need to be invalidated.
    """

    def __init__(
        self,
        allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_CERT_HOSTS,
        *,
        timeout_s: float = 5.0,
        max_cached: int = 32,
        download: Callable[[str, float], bytes] = _download,
    ) -> None:
        self._allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self._timeout_s = timeout_s
        self._max_cached = max_cached
        self._download = download
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str) -> None:
        """Raise SignatureError unless `url` is plain https on an allowed host."""
        # Backslashes and whitespace are parsed differently by different URL parsers; a URL that
        # needs them is not one PayPal sends.
        if not url.isascii() or any(char in url for char in "\\ \t\r\n"):
            raise SignatureError("certificate URL contains characters PayPal never uses")
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError as exc:
            raise SignatureError("certificate URL has an invalid port") from exc
        if parts.scheme != "https":
            raise SignatureError("certificate URL is not https")
        if parts.username is not None or parts.password is not None or port not in (None, 443):
            raise SignatureError("certificate URL carries credentials or a port")
        if (parts.hostname or "").lower() not in self._allowed_hosts:
            raise SignatureError(f"certificate URL host {parts.hostname!r} is not a PayPal host")

    def __call__(self, url: str) -> bytes:
        # The host check comes before the cache, so a cached entry can never bypass it.
        self.check_url(url)
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None:
            return cached
        pem = self._download(url, self._timeout_s)
        # Only something shaped like a certificate is cached: an error page must not stick.
        if _PEM_MARKER not in pem:
            raise SignatureError("certificate URL did not answer a PEM certificate")
        with self._lock:
            while len(self._cache) >= self._max_cached:
                # Dicts keep insertion order: this drops the oldest entry.
                del self._cache[next(iter(self._cache))]
            self._cache[url] = pem
        return pem


class LocalCertificateFetcher:
    """Certificates from a fixed mapping url -> PEM bytes (tests, the local cloud): no network."""

    def __init__(self, certificates: Mapping[str, bytes]) -> None:
        self._certificates = dict(certificates)

    def __call__(self, url: str) -> bytes:
        try:
            return self._certificates[url]
        except KeyError:
            raise SignatureError(f"no local certificate for {url!r}") from None


# --- signature ------------------------------------------------------------------------------------


def _parse_timestamp(value: str) -> datetime:
    """ISO 8601 as PayPal writes it ("2015-02-17T18:51:33Z", sometimes with milliseconds)."""
    parsed = datetime.fromisoformat(value)
    # PayPal always writes UTC; a timestamp without an offset is read as UTC rather than local time.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _load_certificate(pem: bytes, now: datetime) -> rsa.RSAPublicKey:
    try:
        # The PEM may hold the chain after the signing certificate; the first one is the signer.
        certificate = x509.load_pem_x509_certificates(pem)[0]
    except (ValueError, IndexError) as exc:
        raise SignatureError("certificate is not a readable PEM certificate") from exc
    if now < certificate.not_valid_before_utc:
        raise SignatureError("certificate is not valid yet")
    if now > certificate.not_valid_after_utc:
        raise SignatureError("certificate has expired")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("certificate key is not RSA, as SHA256withRSA needs")
    return key


def _required_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in _REQUIRED_HEADERS if not lowered.get(name)]
    if missing:
        raise SignatureError(f"missing PayPal header(s): {', '.join(missing)}")
    return lowered


def verify_paypal_signature(
    raw_body: bytes,
    headers: Mapping[str, str],
    webhook_ids: Sequence[str],
    *,
    fetch_certificate: CertificateFetcher,
    now: datetime,
    tolerance_s: int = 300,
) -> None:
    """Raise SignatureError unless PayPal signed `raw_body` for one of `webhook_ids`.

    `raw_body` must be the bytes as received: the CRC32 is over them, not over re-serialized JSON.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    values = _required_headers(headers)
    if values[_AUTH_ALGO].lower() != SUPPORTED_AUTH_ALGO.lower():
        raise SignatureError(f"unsupported PayPal auth algo {values[_AUTH_ALGO]!r}")
    try:
        transmitted_at = _parse_timestamp(values[_TRANSMISSION_TIME])
    except ValueError as exc:
        raise SignatureError("unreadable PAYPAL-TRANSMISSION-TIME") from exc
    # The signature does not expire by itself; the time window bounds how long a captured delivery
    # can be replayed (duplicates within it are caught by event_id dedupe downstream).
    if abs((now - transmitted_at).total_seconds()) > tolerance_s:
        raise SignatureError("PAYPAL-TRANSMISSION-TIME is outside the tolerance window")
    if not webhook_ids:
        raise SignatureError("no PayPal webhook id configured for this connection")
    try:
        signature = base64.b64decode(values[_TRANSMISSION_SIG], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("PAYPAL-TRANSMISSION-SIG is not base64") from exc
    key = _load_certificate(fetch_certificate(values[_CERT_URL]), now)
    crc = zlib.crc32(raw_body)  # unsigned in Python 3, as PayPal's decimal rendering expects
    prefix = f"{values[_TRANSMISSION_ID]}|{values[_TRANSMISSION_TIME]}"
    # Several ids: after a webhook is re-created in PayPal, deliveries signed for the previous id
    # can still be in flight (retries), so both are accepted for a while.
    for webhook_id in webhook_ids:
        message = f"{prefix}|{webhook_id}|{crc}".encode()
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return
    raise SignatureError("PayPal signature does not match the body and webhook id(s)")


# --- JSON readers ---------------------------------------------------------------------------------

JsonObject = dict[str, Any]

# Digits, one optional point, optional leading minus (v1 refunds): no exponent, spaces or NaN, which
# Decimal() would otherwise accept. 16 + 12 digits stay within the exact context below.
_AMOUNT = re.compile(r"-?(\d{1,16})(?:\.(\d{1,12}))?")
_EXACT = Context(prec=40, traps=[Inexact, InvalidOperation])


def _object(value: object, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise MalformedEventError(f"{what} is not a JSON object")
    return value


def _text(obj: JsonObject, key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"{key} is missing or not a string")
    return value


def _optional_text(obj: JsonObject, *keys: str) -> str | None:
    """The first of `keys` holding a non-empty string."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _timestamp(obj: JsonObject, key: str) -> datetime:
    try:
        return _parse_timestamp(_text(obj, key))
    except ValueError as exc:
        raise MalformedEventError(f"{key} is not an ISO 8601 timestamp") from exc


def _minor_units(value: object, currency: object) -> tuple[int, str]:
    """A PayPal decimal string as exact minor units of `currency`, sign dropped.

    The sign is dropped because v1 refunds report "-0.15"; the action says which way money moved.
    Trailing zeros beyond the exponent ("7.470" USD) are exact and accepted; a digit that is not
    ("7.471" USD, "100.5" JPY) cannot be represented and makes the event malformed, never rounded.
    """
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise MalformedEventError(f"amount {value!r} is not a decimal string")
    if not isinstance(currency, str):
        raise MalformedEventError("amount has no currency")
    try:
        code = normalize_currency(currency)
    except CurrencyError as exc:
        raise MalformedEventError(str(exc)) from exc
    exponent = currency_exponent(code)
    scaled = abs(Decimal(value)).scaleb(exponent, context=_EXACT)
    if scaled != scaled.to_integral_value():
        raise MalformedEventError(f"amount {value!r} has more decimals than {code} allows ({exponent})")
    minor = int(scaled)
    if minor > MAX_MINOR_UNITS:
        raise MalformedEventError(f"amount {value!r} is out of range")
    return minor, code


def _money(amount: object) -> tuple[int, str]:
    """v2 `{currency_code, value}` or v1 `{total, currency}`."""
    obj = _object(amount, "amount")
    if "value" in obj:
        return _minor_units(obj.get("value"), obj.get("currency_code"))
    return _minor_units(obj.get("total"), obj.get("currency"))


def _link_id(resource: JsonObject, *rels: str) -> str | None:
    """The last path segment of the first link with one of `rels` (the linked resource's id)."""
    links = resource.get("links")
    if not isinstance(links, list):
        return None
    for rel in rels:
        for link in links:
            if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
                segment = urlsplit(link["href"]).path.rstrip("/").rsplit("/", 1)[-1]
                if segment:
                    return segment
    return None


# custom_id carries whichever Cashline id the integration put there; the prefix says which target.
_CUSTOM_ID_TARGETS = {
    "invoice": "invoice_id",
    "installment": "installment_id",
    "plan": "plan_id",
    "counterparty": "counterparty_id",
}
_MAX_INVOICE_NUMBER = 100  # Targets.invoice_number's limit; PayPal allows 127


def _targets(resource: JsonObject) -> Targets:
    fields: dict[str, str] = {}
    custom = _optional_text(resource, "custom_id", "custom")  # v2, v1
    if custom is not None:
        for kind, field in _CUSTOM_ID_TARGETS.items():
            if is_id_of(kind, custom):
                fields[field] = custom
    invoice = _optional_text(resource, "invoice_id", "invoice_number")  # v2, v1
    if invoice is not None and is_id_of("invoice", invoice):
        # custom_id is the machine-set field, so when both name an invoice it wins.
        fields.setdefault("invoice_id", invoice)
    elif invoice is not None and len(invoice) <= _MAX_INVOICE_NUMBER:
        # A target is only a hint for matching: one too long to store is dropped, not an error.
        fields["invoice_number"] = invoice
    return Targets(**fields)


def _payer(resource: JsonObject) -> Payer:
    supplementary = resource.get("supplementary_data")
    candidates = [resource.get("payer")]
    if isinstance(supplementary, dict):
        candidates.append(supplementary.get("payer"))
    for candidate in candidates:
        if isinstance(candidate, dict):
            return _payer_from(candidate)
    return Payer()


def _payer_from(payer: JsonObject) -> Payer:
    # v1 nests the details in payer_info; v2 has them on the payer itself.
    info = payer.get("payer_info")
    details: JsonObject = info if isinstance(info, dict) else payer
    name = details.get("name")
    full_name: str | None
    if isinstance(name, dict):  # v2: {given_name, surname} or {full_name}
        parts = [_optional_text(name, "given_name"), _optional_text(name, "surname")]
        full_name = _optional_text(name, "full_name") or " ".join(p for p in parts if p) or None
    else:  # v1: first_name, last_name
        parts = [_optional_text(details, "first_name"), _optional_text(details, "last_name")]
        full_name = " ".join(p for p in parts if p) or None
    return Payer(
        name=full_name,
        email=_optional_text(details, "email_address", "email"),
        reference=_optional_text(details, "payer_id"),
    )


# --- event mapping --------------------------------------------------------------------------------


class _Envelope:
    __slots__ = ("event_id", "event_type", "occurred_at", "resource")

    def __init__(self, body: JsonObject) -> None:
        self.event_id = _text(body, "id")
        self.event_type = _text(body, "event_type")
        self.occurred_at = _timestamp(body, "create_time")
        self.resource = body.get("resource")

    def event(self, action: EventAction, **fields: Any) -> PaymentEvent:
        return PaymentEvent(
            source=PaymentSource.PAYPAL,
            event_id=self.event_id,
            event_type=self.event_type,
            occurred_at=self.occurred_at,
            action=action,
            **fields,
        )


def _value_date(envelope: _Envelope, resource: JsonObject) -> date:
    # The capture's own creation is when the money moved; the event can be sent (or resent) later.
    if isinstance(resource.get("create_time"), str):
        return _timestamp(resource, "create_time").date()
    return envelope.occurred_at.date()


def _status_reason(resource: JsonObject) -> str | None:
    details = resource.get("status_details")
    reason = _optional_text(details, "reason") if isinstance(details, dict) else None
    return reason or _optional_text(resource, "reason_code")


def _payment(action: EventAction) -> Callable[[_Envelope, JsonObject], PaymentEvent]:
    """A capture (v2) or sale (v1) event about the payment itself: completed, pending, denied."""

    def build(envelope: _Envelope, resource: JsonObject) -> PaymentEvent:
        amount, currency = _money(resource.get("amount"))
        # Why a capture is pending or denied (v2 status_details.reason, v1 reason_code).
        reason = None if action is EventAction.SUCCEEDED else _status_reason(resource)
        return envelope.event(
            action,
            reference=_text(resource, "id"),
            amount=amount,
            currency=currency,
            method=PaymentMethod.PAYPAL,
            value_date=_value_date(envelope, resource) if action is EventAction.SUCCEEDED else None,
            payer=_payer(resource),
            remittance_reference=_optional_text(
                resource, "invoice_id", "invoice_number", "soft_descriptor", "description"
            ),
            targets=_targets(resource),
            failure_reason=reason,
        )

    return build


def _refund(envelope: _Envelope, resource: JsonObject) -> PaymentEvent:
    """The resource is the refund, not the capture: its amount is this refund's alone."""
    refund_id = _text(resource, "id")
    # v2 links the refund to its capture with rel "up"; v1 names it in capture_id/sale_id (and links
    # it with rel "capture"/"sale").
    original = (
        _link_id(resource, "up")
        or _optional_text(resource, "capture_id", "sale_id")
        or _link_id(resource, "capture", "sale")
    )
    if original is None:
        raise MalformedEventError("refund does not name the capture it refunds")
    amount, currency = _money(resource.get("amount"))
    return envelope.event(
        EventAction.REFUNDED,
        reference=refund_id,
        resource_id=refund_id,
        original_reference=original,
        amount=amount,
        currency=currency,
        amount_is_cumulative=False,
        method=PaymentMethod.PAYPAL,
        value_date=_value_date(envelope, resource),
        remittance_reference=_optional_text(resource, "invoice_id", "invoice_number", "note_to_payer"),
    )


def _reversal(envelope: _Envelope, resource: JsonObject) -> PaymentEvent:
    """A reversal arrives as the capture itself: no separate id, so the reference is derived."""
    capture_id = _text(resource, "id")
    amount, currency = _money(resource.get("amount"))
    return envelope.event(
        EventAction.CHARGED_BACK,
        reference=f"{capture_id}:reversal",
        original_reference=capture_id,
        resource_id=capture_id,
        amount=amount,
        currency=currency,
        method=PaymentMethod.PAYPAL,
        # The resource's create_time is the original capture's; the reversal is the event itself.
        value_date=envelope.occurred_at.date(),
        failure_reason=_status_reason(resource),
    )


def _dispute(envelope: _Envelope, resource: JsonObject) -> PaymentEvent:
    """An alert: no money moves until the dispute is decided (then a reversal follows)."""
    dispute_id = _text(resource, "dispute_id")
    transactions = resource.get("disputed_transactions")
    first = transactions[0] if isinstance(transactions, list) and transactions else None
    original = _optional_text(first, "seller_transaction_id") if isinstance(first, dict) else None
    amount: int | None = None
    currency: str | None = None
    if resource.get("dispute_amount") is not None:
        amount, currency = _money(resource["dispute_amount"])
    return envelope.event(
        EventAction.DISPUTE_OPENED,
        reference=dispute_id,
        resource_id=dispute_id,
        original_reference=original,
        amount=amount,
        currency=currency,
        method=PaymentMethod.PAYPAL,
        failure_reason=_optional_text(resource, "reason"),
    )


_BUILDERS: dict[str, Callable[[_Envelope, JsonObject], PaymentEvent]] = {
    "PAYMENT.CAPTURE.COMPLETED": _payment(EventAction.SUCCEEDED),
    "PAYMENT.SALE.COMPLETED": _payment(EventAction.SUCCEEDED),
    "PAYMENT.CAPTURE.PENDING": _payment(EventAction.PENDING),
    "PAYMENT.SALE.PENDING": _payment(EventAction.PENDING),
    "PAYMENT.CAPTURE.DENIED": _payment(EventAction.FAILED),
    "PAYMENT.SALE.DENIED": _payment(EventAction.FAILED),
    "PAYMENT.CAPTURE.REFUNDED": _refund,
    "PAYMENT.SALE.REFUNDED": _refund,
    "PAYMENT.CAPTURE.REVERSED": _reversal,
    "PAYMENT.SALE.REVERSED": _reversal,
    "CUSTOMER.DISPUTE.CREATED": _dispute,
}


def _translate(body: JsonObject) -> PaymentEvent:
    envelope = _Envelope(body)
    builder = _BUILDERS.get(envelope.event_type)
    if builder is None:
        return envelope.event(EventAction.IGNORED)
    return builder(envelope, _object(envelope.resource, "resource"))


def parse_paypal(
    raw_body: bytes,
    headers: Mapping[str, str],
    webhook_ids: Sequence[str],
    *,
    fetch_certificate: CertificateFetcher,
    now: datetime,
    tolerance_s: int = 300,
) -> PaymentEvent:
    """Verify a PayPal delivery and translate its event.

    Raises SignatureError (not from PayPal, for any of `webhook_ids`) before reading the body, and
    MalformedEventError when the signed body is not an event this adapter can read.
    """
    verify_paypal_signature(
        raw_body,
        headers,
        webhook_ids,
        fetch_certificate=fetch_certificate,
        now=now,
        tolerance_s=tolerance_s,
    )
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEventError("body is not JSON") from exc
    try:
        return _translate(_object(body, "body"))
    except ValidationError as exc:
        # A field PayPal filled beyond what the contract stores (an over-long id, say).
        raise MalformedEventError(f"event does not fit the payment event contract: {exc}") from exc
