"""Stripe webhooks: check the Stripe-Signature header with the official SDK, then translate the one event a
delivery holds into a `PaymentEvent`.

Stripe states amounts in its own minor units, which are not always ISO 4217's (ISK is two-decimal at
Stripe, zero-decimal in ISO): they are converted to Cashline's minor units (domain/money.py) here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import stripe
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from cashline.adapters.webhooks import MalformedEventError, SignatureError
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency
from cashline.domain.payments import PaymentMethod, PaymentSource
from cashline.ids import is_id_of
from cashline.schemas.common import MAX_MINOR_UNITS
from cashline.schemas.payment_events import EventAction, Payer, PaymentEvent, Targets

Fields = dict[str, Any]

# --- shared with the other adapters ---------------------------------------------------------------

# Metadata keys naming a Cashline record, in order of preference (the first present wins): Cashline sets
# cashline_installment and cashline_plan on its own debits (adapters/processors.py); businesses set the
# others on payments they create themselves.
_ID_TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "invoice_id": ("invoice", ("cashline_invoice", "invoice_id")),
    "installment_id": ("installment", ("cashline_installment",)),
    "plan_id": ("plan", ("cashline_plan",)),
    "counterparty_id": ("counterparty", ("cashline_counterparty",)),
}


def _max_length(field: FieldInfo) -> int:
    for constraint in field.metadata:
        limit = getattr(constraint, "max_length", None)
        if isinstance(limit, int):
            return limit
    raise LookupError("the field has no max_length")


# Read from the schema, so a limit changed there is the limit applied here.
_MAX_INVOICE_NUMBER = _max_length(Targets.model_fields["invoice_number"])


def targets_from_metadata(metadata: object) -> Targets:
    """What a processor's metadata says the money is for (Stripe and GoCardless use the same keys).

    Metadata is free-form and set by whoever created the payment, not only by Cashline. A value under an
    id key counts only when it is a Cashline id of that kind (a generic `invoice_id` may well be another
    system's); an invoice number too long to store is dropped, not cut, since a cut number could match
    another invoice. Targets are hints for matching: one odd value must not cost the whole payment.
    """
    if not isinstance(metadata, Mapping):
        return Targets()
    found: dict[str, str] = {}
    for field_name, (kind, keys) in _ID_TARGETS.items():
        for key in keys:
            value = metadata.get(key)
            if isinstance(value, str) and is_id_of(kind, value.strip()):
                found[field_name] = value.strip()
                break
    number = metadata.get("invoice_number")
    if isinstance(number, str) and number.strip() and len(number.strip()) <= _MAX_INVOICE_NUMBER:
        found["invoice_number"] = number.strip()
    return Targets(**found)


def validation_message(exc: ValidationError) -> str:
    """The first problem pydantic found, with the field it is in, for the log line."""
    error = exc.errors()[0]
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"


def clip(text: str | None, limit: int) -> str | None:
    """Free text (a description, a failure message) cut to what the event keeps; None stays None."""
    if text is None or not text.strip():
        return None
    return text.strip()[:limit]


# --- reading the payload --------------------------------------------------------------------------


def text_field(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MalformedEventError(f"{key} is {type(value).__name__}, not a string")


def _required_str(obj: Mapping[str, Any], key: str) -> str:
    value = text_field(obj, key)
    if not value:
        raise MalformedEventError(f"{key} is missing")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    # bool is an int to Python and 10.0 parses from JSON as a float: neither is an amount in minor units.
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise MalformedEventError(f"{key} is {type(value).__name__}, not an integer")


def _required_int(obj: Mapping[str, Any], key: str) -> int:
    value = _int(obj, key)
    if value is None:
        raise MalformedEventError(f"{key} is missing")
    return value


def _id(obj: Mapping[str, Any], key: str) -> str | None:
    """An expandable field: Stripe sends the id, or the whole object when the request expanded it."""
    value = obj.get(key)
    if isinstance(value, Mapping):
        return text_field(value, "id")
    return text_field(obj, key)


def _timestamp(value: int) -> datetime:
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedEventError(f"timestamp {value} is out of range") from exc


# Stripe's minor units (https://docs.stripe.com/currencies): these are zero- and three-decimal there;
# every other currency is two-decimal, including ISK, HUF and TWD, whatever ISO 4217 says.
_STRIPE_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def _stripe_exponent(currency: str) -> int:
    if currency in _STRIPE_ZERO_DECIMAL:
        return 0
    return 3 if currency in _STRIPE_THREE_DECIMAL else 2


def _money(obj: Mapping[str, Any], key: str, *, fallback: str | None = None) -> tuple[int, str]:
    """An amount in Cashline's minor units and its ISO code. Stripe's ISK 50000 is 500 krónur: 500 here."""
    amount = _int(obj, key)
    if amount is None and fallback is not None:
        amount = _int(obj, fallback)
    if amount is None:
        raise MalformedEventError(f"{key} is missing")
    try:
        currency = normalize_currency(_required_str(obj, "currency"))
        shift = currency_exponent(currency) - _stripe_exponent(currency)
    except CurrencyError as exc:
        raise MalformedEventError(str(exc)) from exc
    if shift >= 0:
        minor = amount * 10**shift
    else:
        minor, rest = divmod(amount, 10**-shift)
        if rest:
            # Never rounded: an amount Cashline cannot state exactly needs a person, not a guess.
            raise MalformedEventError(f"{amount} in Stripe's {currency} units is not a whole Cashline unit")
    if abs(minor) > MAX_MINOR_UNITS:
        raise MalformedEventError(f"{key} {amount} is beyond any real amount")
    return minor, currency


# --- the event types ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    id: str
    type: str
    occurred_at: datetime
    obj: dict[str, Any]  # data.object: the resource the event is about, as it was then


_METHODS: dict[str, PaymentMethod] = {
    "card": PaymentMethod.CARD,
    "sepa_debit": PaymentMethod.SEPA_DEBIT,
    "bacs_debit": PaymentMethod.BACS_DEBIT,
    "us_bank_account": PaymentMethod.ACH_DEBIT,
    "au_becs_debit": PaymentMethod.BECS_DEBIT,
    "paypal": PaymentMethod.PAYPAL,
}


def _intent_method(intent: Mapping[str, Any]) -> PaymentMethod | None:
    # The event does not say which method paid (the charge does); the first allowed type is exact for an
    # intent limited to one type, and Stripe lists card first when cards are allowed.
    types = intent.get("payment_method_types")
    if not isinstance(types, list) or not types or not isinstance(types[0], str):
        return None
    return _METHODS.get(types[0], PaymentMethod.OTHER)


def _intent(action: EventAction, event: _Event) -> Fields:
    intent = event.obj
    # amount_received is what was actually collected (less than amount after a partial capture).
    amount_key = "amount_received" if action is EventAction.SUCCEEDED else "amount"
    amount, currency = _money(intent, amount_key, fallback="amount")
    fields: Fields = {
        "action": action,
        "reference": _required_str(intent, "id"),
        "amount": amount,
        "currency": currency,
        "method": _intent_method(intent),
        "payer": Payer(reference=_id(intent, "customer"), email=_email(text_field(intent, "receipt_email"))),
        "remittance_reference": clip(text_field(intent, "description"), 500),
        "targets": targets_from_metadata(intent.get("metadata")),
    }
    if action is EventAction.SUCCEEDED:
        fields["value_date"] = event.occurred_at.date()
    if action is EventAction.FAILED:
        error = intent.get("last_payment_error")
        if isinstance(error, Mapping):
            fields["failure_reason"] = clip(text_field(error, "message") or text_field(error, "code"), 500)
    return fields


def _email(value: str | None) -> str | None:
    return value if value and len(value) <= 320 else None


def _charge_refunded(event: _Event) -> Fields:
    charge = event.obj
    charge_id = _required_str(charge, "id")
    # amount_refunded is the total refunded so far: a second partial refund sends the sum, not the part.
    amount, currency = _money(charge, "amount_refunded")
    return {
        "action": EventAction.REFUNDED,
        "reference": charge_id,
        "original_reference": _id(charge, "payment_intent") or charge_id,
        "amount": amount,
        "currency": currency,
        "amount_is_cumulative": True,
        "value_date": event.occurred_at.date(),
        "payer": Payer(reference=_id(charge, "customer")),
        "targets": targets_from_metadata(charge.get("metadata")),
    }


def _dispute(action: EventAction, event: _Event) -> Fields:
    dispute = event.obj
    dispute_id = _required_str(dispute, "id")
    amount, currency = _money(dispute, "amount")
    return {
        "action": action,
        # The dispute, not the payment, is the money movement: a payment can be disputed, won, disputed
        # again; each dispute is its own withdrawal.
        "reference": dispute_id,
        "resource_id": dispute_id,
        "original_reference": _id(dispute, "payment_intent") or _id(dispute, "charge"),
        "amount": amount,
        "currency": currency,
        "value_date": event.occurred_at.date(),
        "failure_reason": clip(text_field(dispute, "reason"), 500),
        "targets": targets_from_metadata(dispute.get("metadata")),
    }


def _dispute_created(event: _Event) -> Fields:
    # An inquiry (warning_* status, a retrieval request) withdraws nothing: only an alert. Should one
    # escalate, Stripe withdraws the money then, reporting it only as charge.dispute.funds_withdrawn.
    status = text_field(event.obj, "status") or ""
    inquiry = status.startswith("warning_")
    return _dispute(EventAction.DISPUTE_OPENED if inquiry else EventAction.CHARGED_BACK, event)


def _dispute_closed(event: _Event) -> Fields:
    if text_field(event.obj, "status") == "won":
        return _dispute(EventAction.CHARGEBACK_REVERSED, event)
    # Lost, accepted or an inquiry closed: the money already left when the dispute opened (or never did).
    return {"action": EventAction.IGNORED, "reference": _required_str(event.obj, "id")}


def _invoice_intent(invoice: Mapping[str, Any]) -> str | None:
    """The PaymentIntent that paid a Stripe Billing invoice, when the payload says.

    Before API version 2025-03-31.basil the invoice names it in `payment_intent`; since then only its
    `payments` list does, an includable field that is left out unless a request asks for it (webhook
    payloads do not).
    """
    intent = _id(invoice, "payment_intent")
    if intent:
        return intent
    payments = invoice.get("payments")
    rows = payments.get("data") if isinstance(payments, Mapping) else None
    found = {
        _id(row["payment"], "payment_intent")
        for row in rows or []
        if isinstance(row, Mapping)
        and row.get("status") == "paid"
        and isinstance(row.get("payment"), Mapping)
    } - {None}
    return found.pop() if len(found) == 1 else None


def _invoice_paid(event: _Event) -> Fields:
    invoice = event.obj
    invoice_id = _required_str(invoice, "id")
    amount, currency = _money(invoice, "amount_paid")
    intent = _invoice_intent(invoice)
    # Stripe also sends payment_intent.succeeded for the PaymentIntent that paid the invoice: naming the
    # same reference lets processing merge the two. Without that link (newer API versions leave it out)
    # an invoice-id reference would count the money twice, so the event is only acknowledged, unless
    # everything was paid outside Stripe, in which case no PaymentIntent event will come.
    # A zero invoice (a trial, one covered by credit notes) is "paid" without any money moving.
    off_stripe = _int(invoice, "amount_paid_off_stripe") or 0
    linkable = intent is not None or "payment_intent" in invoice or off_stripe >= amount
    if amount == 0 or not linkable:
        return {"action": EventAction.IGNORED, "reference": invoice_id, "resource_id": invoice_id}
    return {
        "action": EventAction.SUCCEEDED,
        "reference": intent or invoice_id,
        "resource_id": invoice_id,
        "amount": amount,
        "currency": currency,
        "value_date": event.occurred_at.date(),
        "payer": Payer(
            reference=_id(invoice, "customer"),
            email=_email(text_field(invoice, "customer_email")),
            name=clip(text_field(invoice, "customer_name"), 200),
        ),
        "remittance_reference": clip(text_field(invoice, "number"), 500),
        "targets": targets_from_metadata(invoice.get("metadata")),
    }


def _payout_paid(event: _Event) -> Fields:
    payout = event.obj
    amount, currency = _money(payout, "amount")
    arrival = _int(payout, "arrival_date")
    return {
        "action": EventAction.PAYOUT,
        "reference": _required_str(payout, "id"),
        "amount": amount,
        "currency": currency,
        # arrival_date is midnight UTC of the day the bank is expected to credit the payout.
        "value_date": _timestamp(arrival).date() if arrival is not None else event.occurred_at.date(),
        "method": PaymentMethod.BANK_TRANSFER,
    }


_MAPPERS: dict[str, Callable[[_Event], Fields]] = {
    "payment_intent.succeeded": partial(_intent, EventAction.SUCCEEDED),
    "payment_intent.processing": partial(_intent, EventAction.PENDING),
    "payment_intent.payment_failed": partial(_intent, EventAction.FAILED),
    "payment_intent.canceled": partial(_intent, EventAction.CANCELLED),
    "charge.refunded": _charge_refunded,
    # charge.dispute.funds_withdrawn / .funds_reinstated are left out on purpose: Stripe sends them along
    # with .created / .closed for the same dispute, and processing records one chargeback per reference.
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
    "invoice.paid": _invoice_paid,
    "payout.paid": _payout_paid,
}


def _ignored(event: _Event) -> Fields:
    return {"action": EventAction.IGNORED}


# --- verifying and parsing ------------------------------------------------------------------------


def _signed_at(signature_header: str) -> int:
    # The header's first `t=` (as the SDK reads it): the instant Stripe signed at, covered by the signature.
    for item in signature_header.split(","):
        name, _, value = item.partition("=")
        if name == "t":
            return int(value)
    raise SignatureError("Stripe-Signature has no timestamp")


def _verify(
    payload: str, signature_header: str | None, secrets: Sequence[str], tolerance_s: int, now: datetime
) -> None:
    if not signature_header or not signature_header.strip():
        raise SignatureError("missing Stripe-Signature header")
    usable = [secret for secret in secrets if secret and secret.strip()]
    if not usable:
        raise ValueError("no Stripe webhook signing secret is configured")
    # The SDK checks the signature before the timestamp and says which failed only in its message. Checking
    # the signature alone first (tolerance None) finds the secret that signed it; the second call with that
    # secret can then fail only on the timestamp, so the log says which without parsing SDK messages.
    signed_with: str | None = None
    reason = ""
    for secret in usable:
        try:
            stripe.WebhookSignature.verify_header(payload, signature_header, secret, tolerance=None)
        except stripe.SignatureVerificationError as exc:
            reason = str(exc)
            continue
        signed_with = secret
        break
    if signed_with is None:
        raise SignatureError(f"Stripe-Signature matches none of the {len(usable)} secret(s): {reason}")
    # The SDK would compare the timestamp with the wall clock; the caller's `now` is compared instead,
    # so a test (or a replay of stored deliveries) can say when "now" is.
    if _signed_at(signature_header) < now.timestamp() - tolerance_s:
        raise SignatureError(f"Stripe-Signature timestamp is more than {tolerance_s} s old")


def _read_event(payload: str) -> _Event:
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise MalformedEventError(f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("object") != "event":
        raise MalformedEventError("body is not a Stripe event")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEventError("event has no data.object")
    return _Event(
        id=_required_str(body, "id"),
        type=_required_str(body, "type"),
        occurred_at=_timestamp(_required_int(body, "created")),
        obj=obj,
    )


def parse_stripe(
    raw_body: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance_s: int = 300,
) -> PaymentEvent:
    """Verify one Stripe webhook delivery and translate its event.

    `secrets` are the endpoint's signing secrets, current first; during a rotation Stripe signs with both
    and sends one `v1=` signature per secret, and either matching is enough. Raises SignatureError when
    the delivery cannot be shown to come from Stripe within `tolerance_s` seconds before `now`,
    MalformedEventError when it does but is no event this can read, ValueError when no secret is
    configured.
    """
    if tolerance_s < 1:
        # The SDK skips the age check altogether for a tolerance of 0, which would accept replays forever.
        raise ValueError("tolerance_s must be at least 1 second")
    try:
        payload = raw_body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The SDK signs and verifies the body as text; it would crash on this, not refuse it.
        raise SignatureError("body is not UTF-8, so its signature cannot be checked") from exc
    _verify(payload, signature_header, secrets, tolerance_s, now)
    event = _read_event(payload)
    fields = _MAPPERS.get(event.type, _ignored)(event)
    try:
        return PaymentEvent(
            source=PaymentSource.STRIPE,
            event_id=event.id,
            event_type=event.type,
            occurred_at=event.occurred_at,
            **fields,
        )
    except ValidationError as exc:
        raise MalformedEventError(f"{event.type} {event.id}: {validation_message(exc)}") from exc


__all__ = ["clip", "parse_stripe", "targets_from_metadata", "validation_message"]
