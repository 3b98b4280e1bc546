"""GoCardless webhooks: check the Webhook-Signature header with the official SDK, then translate each of the
delivery's events into a `PaymentEvent`.

GoCardless events carry only links (PM..., MD..., PO...), never an amount: processing fetches the payment
(`fetch_gocardless_payment`) and fills the event in (`with_payment_details`) before applying it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import gocardless_pro  # type: ignore[import-untyped]  # no type information: its objects are Any here
from gocardless_pro import errors as gc_errors
from gocardless_pro import webhooks as gc_webhooks
from pydantic import ValidationError

from cashline.adapters.webhooks import MalformedEventError, SignatureError
from cashline.adapters.webhooks.stripe_events import (
    clip,
    targets_from_metadata,
    text_field,
    validation_message,
)
from cashline.domain.money import CurrencyError, normalize_currency
from cashline.domain.payments import PaymentMethod, PaymentSource
from cashline.schemas.common import MAX_MINOR_UNITS
from cashline.schemas.payment_events import EventAction, PaymentEvent

Fields = dict[str, Any]

# --- the events -----------------------------------------------------------------------------------

_PAYMENT_ACTIONS: dict[str, EventAction] = {
    "created": EventAction.PENDING,
    "customer_approval_granted": EventAction.PENDING,
    "submitted": EventAction.PENDING,
    # confirmed: collected from the payer; paid_out: passed on to the business. Both name the same payment,
    # which processing applies once.
    "confirmed": EventAction.SUCCEEDED,
    "paid_out": EventAction.SUCCEEDED,
    "failed": EventAction.FAILED,  # also after confirmed or paid_out: a late failure
    "late_failure_settled": EventAction.FAILED,  # the late failure taken back out of a payout
    "customer_approval_denied": EventAction.FAILED,  # final: the payment will never be collected
    "cancelled": EventAction.CANCELLED,
    "charged_back": EventAction.CHARGED_BACK,
    # The chargeback already counted when it was reported; this only says it was taken from a payout.
    "chargeback_settled": EventAction.IGNORED,
    # chargeback_cancelled (the payer's bank withdrew its chargeback; the money returns) stays unmapped
    # for now: processing fetches no amount for CHARGEBACK_REVERSED, and a reversal without one fails.
}

_MANDATE_ENDING_ACTIONS = frozenset({"cancelled", "failed", "expired"})

# Actions whose `details` explain something that went wrong.
_WITH_REASON = frozenset(
    {EventAction.FAILED, EventAction.CANCELLED, EventAction.CHARGED_BACK, EventAction.MANDATE_ENDED}
)


def _link(links: Mapping[str, Any], key: str) -> str:
    value = text_field(links, key)
    if not value:
        raise MalformedEventError(f"links.{key} is missing")
    return value


def _payment_fields(action: EventAction, links: Mapping[str, Any]) -> Fields:
    payment = _link(links, "payment")
    if action is EventAction.CHARGED_BACK:
        # A chargeback is its own money movement, apart from the payment it takes back; GoCardless gives it
        # no id, and a payment is charged back at most once.
        return {"action": action, "reference": f"{payment}:chargeback", "original_reference": payment}
    return {"action": action, "reference": payment}


def _fields(resource_type: str | None, action: str | None, links: Mapping[str, Any]) -> Fields:
    if resource_type == "payments" and action in _PAYMENT_ACTIONS:
        mapped = _PAYMENT_ACTIONS[action]
        if mapped is EventAction.IGNORED:
            return {"action": mapped, "reference": _link(links, "payment")}
        return _payment_fields(mapped, links)
    if resource_type == "mandates" and action in _MANDATE_ENDING_ACTIONS:
        return {"action": EventAction.MANDATE_ENDED, "reference": _link(links, "mandate")}
    if resource_type == "payouts" and action == "paid":
        # The amount is on the payout (payouts.get), not the event; processing asks for it if it needs it.
        return {
            "action": EventAction.PAYOUT,
            "reference": _link(links, "payout"),
            "method": PaymentMethod.BANK_TRANSFER,
        }
    return {"action": EventAction.IGNORED}


def _occurred_at(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedEventError(f"created_at {value!r} is not an ISO 8601 timestamp") from exc
    if moment.tzinfo is None:
        raise MalformedEventError(f"created_at {value!r} has no time zone")
    return moment


def _metadata(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # `metadata` is what the API caller passed with the request that caused the event (only for origin
    # api); `resource_metadata`, in newer deliveries, is the resource's own, e.g. the payment's
    # cashline_installment. The resource's own wins.
    merged: dict[str, Any] = {}
    for key in ("metadata", "resource_metadata"):
        value = attributes.get(key)
        if isinstance(value, Mapping):
            merged.update(value)
    return merged


def _to_event(attributes: object) -> PaymentEvent:
    if not isinstance(attributes, Mapping):
        raise MalformedEventError("an event is not a JSON object")
    event_id = text_field(attributes, "id")
    if not event_id:
        raise MalformedEventError("an event has no id")
    resource_type = text_field(attributes, "resource_type")
    action = text_field(attributes, "action")
    links = attributes.get("links") or {}
    details = attributes.get("details") or {}
    if not isinstance(links, Mapping) or not isinstance(details, Mapping):
        raise MalformedEventError(f"event {event_id}: links or details is not an object")
    fields = _fields(resource_type, action, links)
    if fields["action"] in _WITH_REASON:
        fields["failure_reason"] = clip(
            text_field(details, "cause") or text_field(details, "description"), 500
        )
    try:
        return PaymentEvent(
            source=PaymentSource.GOCARDLESS,
            event_id=event_id,
            event_type=f"{resource_type}.{action}",
            occurred_at=_occurred_at(text_field(attributes, "created_at") or ""),
            targets=targets_from_metadata(_metadata(attributes)),
            **fields,
        )
    except ValidationError as exc:
        raise MalformedEventError(f"event {event_id}: {validation_message(exc)}") from exc


# --- verifying and parsing ------------------------------------------------------------------------


def _verified_events(raw_body: bytes, header: str, secret: str) -> list[Any] | None:
    """The SDK's events when `secret` signed the body; None when it did not."""
    try:
        return list(gc_webhooks.parse(raw_body, secret, header))
    except gc_errors.InvalidSignatureError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        # parse() checks the signature first, so anything else is a signed body that is no event list.
        raise MalformedEventError(f"body is not a GoCardless event list: {exc!r}") from exc


def parse_gocardless(
    raw_body: bytes, signature_header: str | None, secrets: Sequence[str]
) -> list[PaymentEvent]:
    """Verify one GoCardless webhook delivery and translate its events, in the order they came.

    `secrets` are the endpoint's secrets, current first (a rotated, previous one after it). Raises
    SignatureError when no secret signed the body, MalformedEventError when one did but the body is not
    readable as events, ValueError when no secret is configured.
    """
    header = (signature_header or "").strip()
    if not header:
        raise SignatureError("missing Webhook-Signature header")
    if not header.isascii():
        # The SDK compares with hmac.compare_digest, which raises TypeError on non-ASCII text.
        raise SignatureError("Webhook-Signature is not a hex digest")
    usable = [secret for secret in secrets if secret and secret.strip()]
    if not usable:
        raise ValueError("no GoCardless webhook secret is configured")
    for secret in usable:
        events = _verified_events(raw_body, header, secret)
        if events is not None:
            return [_to_event(getattr(event, "attributes", None)) for event in events]
    raise SignatureError(f"Webhook-Signature matches none of the {len(usable)} secret(s)")


# --- the payment behind an event ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoCardlessPayment:
    """What processing needs of a GoCardless payment that the events leave out."""

    amount: int  # minor units (pence, cents): GoCardless's currencies all have ISO exponent 2
    currency: str
    charge_date: date | None  # the day the payer's account is debited
    scheme: str | None  # sepa_core, bacs, ach, ...
    metadata: dict[str, str]
    mandate_id: str | None
    status: str | None
    id: str | None = None  # PM...: lets with_payment_details check it is given the event's own payment

    def __post_init__(self) -> None:
        # bool is an int to Python; True would be one cent.
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_MINOR_UNITS:
            raise ValueError(f"payment amount must be non-negative integer minor units, not {amount!r}")
        object.__setattr__(self, "currency", normalize_currency(self.currency))


_PAYMENT_ID = re.compile(r"PM[0-9A-Z]+")


def _payment_from(attributes: Mapping[str, Any]) -> GoCardlessPayment:
    links = attributes.get("links") or {}
    metadata = attributes.get("metadata") or {}
    charge_date = attributes.get("charge_date")
    amount = attributes.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"GoCardless answered a payment without an integer amount: {amount!r}")
    try:
        return GoCardlessPayment(
            amount=amount,
            currency=str(attributes.get("currency") or ""),
            charge_date=date.fromisoformat(charge_date) if isinstance(charge_date, str) else None,
            scheme=attributes.get("scheme") if isinstance(attributes.get("scheme"), str) else None,
            metadata={k: v for k, v in metadata.items() if isinstance(k, str) and isinstance(v, str)},
            mandate_id=links.get("mandate") if isinstance(links.get("mandate"), str) else None,
            status=attributes.get("status") if isinstance(attributes.get("status"), str) else None,
            id=attributes.get("id") if isinstance(attributes.get("id"), str) else None,
        )
    except (CurrencyError, AttributeError) as exc:
        raise ValueError(f"GoCardless answered an unreadable payment: {exc}") from exc


def fetch_gocardless_payment(
    access_token: str,
    payment_id: str,
    *,
    base_url: str | None,
    environment: str = "live",
    timeout_s: float = 10,
) -> GoCardlessPayment:
    """The payment `payment_id` as GoCardless has it now.

    SDK and network errors (gocardless_pro.errors.*, requests exceptions) propagate: whether to retry is
    the caller's call. ValueError for an id that is no payment id or an answer that is no payment.
    """
    if not _PAYMENT_ID.fullmatch(payment_id):
        raise ValueError(f"{payment_id!r} is not a GoCardless payment id")
    # As in adapters/processors.py: the SDK takes either an environment or the server's root URL (the
    # local stand-in's, in tests and locally).
    if base_url:
        client = gocardless_pro.Client(access_token=access_token, base_url=base_url, timeout=timeout_s)
    else:
        client = gocardless_pro.Client(access_token=access_token, environment=environment, timeout=timeout_s)
    # `client.payments` builds a new service each time, set to 3 attempts; one keeps the call within
    # timeout_s, inside the webhook's time budget. A failed fetch is retried by the caller (GoCardless
    # redelivers a webhook that was not answered 2xx).
    payments = client.payments
    payments.max_network_retries = 1
    payment = payments.get(payment_id)
    attributes = getattr(payment, "attributes", None)
    if not isinstance(attributes, Mapping):
        raise ValueError(f"GoCardless answered no payment for {payment_id}")
    return _payment_from(attributes)


_SCHEME_METHODS: dict[str, PaymentMethod] = {
    "sepa_core": PaymentMethod.SEPA_DEBIT,
    "sepa_cor1": PaymentMethod.SEPA_DEBIT,
    "bacs": PaymentMethod.BACS_DEBIT,
    "ach": PaymentMethod.ACH_DEBIT,
    "becs": PaymentMethod.BECS_DEBIT,
    "autogiro": PaymentMethod.AUTOGIRO,
}


def with_payment_details(event: PaymentEvent, payment: GoCardlessPayment) -> PaymentEvent:
    """`event` with what its payment says: amount, currency, value date, method and targets.

    The payment's own metadata (what Cashline set when it created the debit) wins over the event's.
    """
    if event.action in (EventAction.PAYOUT, EventAction.MANDATE_ENDED, EventAction.IGNORED):
        raise ValueError(f"a {event.action} event is not about a payment")
    own_payment = event.original_reference or event.reference
    if payment.id is not None and payment.id != own_payment:
        raise ValueError(f"payment {payment.id} is not the one event {event.event_id} is about")
    from_payment = targets_from_metadata(payment.metadata).model_dump(exclude_none=True)
    update: Fields = {
        "amount": payment.amount,
        "currency": payment.currency,
        "value_date": payment.charge_date,
        "method": _SCHEME_METHODS.get(payment.scheme, PaymentMethod.OTHER) if payment.scheme else None,
        "targets": event.targets.model_copy(update=from_payment),
    }
    # model_copy(update=...) skips validation (it would keep a negative amount or "eur"); validating the
    # merged fields keeps the event as strict as the one the adapter built.
    return PaymentEvent.model_validate(event.model_dump() | update)


__all__ = ["GoCardlessPayment", "fetch_gocardless_payment", "parse_gocardless", "with_payment_details"]
