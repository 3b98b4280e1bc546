"""Debiting a business's account through a payment processor: Stripe (cards) or GoCardless (Direct Debit).

Both go through the processor's official SDK, pointed at the real API in AWS and at the local stand-in
(localcloud.processor_standin) locally and in tests, so the code that moves money is the same in both.

Each SDK's own network retries are switched off: a debit either answers, fails definitely
(DebitRefusedError), or leaves its outcome unknown (DebitTimeoutError), and the caller decides when to
try again, always with the same idempotency key, so the processor never debits twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

import gocardless_pro  # type: ignore[import-untyped]  # no type information: its objects are Any here
import requests
import stripe
from gocardless_pro import errors as gc_errors
from urllib3.exceptions import NewConnectionError

ProcessorName = Literal["stripe", "gocardless"]
DebitStatus = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class DebitAccount:
    """Where a business is debited: a saved card at Stripe, or a Direct Debit mandate at GoCardless."""

    processor: ProcessorName
    customer_id: str | None = None
    payment_method_id: str | None = None
    mandate_id: str | None = None


@dataclass(frozen=True, slots=True)
class DebitResult:
    processor: ProcessorName
    reference: str
    status: DebitStatus
    failure_reason: str | None = None


class DebitError(Exception):
    """Base of what a debit can end in besides a DebitResult."""


class DebitTimeoutError(DebitError):
    """No (usable) answer: the processor may or may not have taken the debit.

    Retrying with the SAME idempotency key is safe: the processor answers with the debit the first
    request made, if it made one, and makes it otherwise. A new key could debit twice.
    """


class DebitRefusedError(DebitError):
    """The processor refused the request itself (card declined, mandate invalid, bad request): no money moves.

    Stripe still creates a PaymentIntent for a declined card; `reference` names it when it is known.
    """

    def __init__(self, reason: str, *, reference: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.reference = reference


class ProcessorUnavailableError(DebitError):
    """The processor could not be reached or failed (5xx, connection refused, rate limited): retry later.

    Stripe saves a 500 under its idempotency key and replays it for 24 hours, so a retry with the same
    key answers 500 again; GoCardless saves only created payments, so a retry there goes through.
    """


class IdempotencyKeyReusedError(DebitError):
    """The idempotency key was already used for a different request (Stripe compares the parameters).

    A caller bug, and not a refusal: the first request made with this key may well have debited.
    """


class DebitProcessor(Protocol):
    def start_debit(
        self,
        *,
        idempotency_key: str,
        amount: int,
        currency: str,
        description: str,
        account: DebitAccount,
        metadata: dict[str, str],
    ) -> DebitResult: ...

    def fetch_status(self, reference: str) -> DebitResult: ...


def _never_sent(exc: BaseException | None) -> bool:
    """True when the request certainly never reached the processor: no connection was ever made.

    Anything else (a read timeout, a connection dropped after the request went out) leaves the outcome
    unknown. requests reports a refused connection as ConnectionError(MaxRetryError(NewConnectionError)).
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        return isinstance(getattr(exc.args[0], "reason", None), NewConnectionError)
    return False


def _network_error(exc: BaseException | None) -> DebitError:
    if _never_sent(exc):
        return ProcessorUnavailableError(f"could not connect to the processor: {exc}")
    return DebitTimeoutError(f"no answer from the processor, outcome unknown: {exc}")


def _check_amount(amount: int) -> None:
    # bool is an int to Python; True would debit one cent.
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive integer in minor units, not {amount!r}")


# --- Stripe ---------------------------------------------------------------------------------------

_STRIPE_STATUS: dict[str, DebitStatus] = {
    "succeeded": "succeeded",
    "processing": "pending",
    "requires_capture": "pending",
    # Off-session confirmation answers a card that needs authentication with an error, not this
    # status; should it appear, the customer can still complete it, so it is not a failure yet.
    "requires_action": "pending",
    "requires_confirmation": "pending",
    "requires_payment_method": "failed",
    "canceled": "failed",
}


def _stripe_result(intent: stripe.PaymentIntent) -> DebitResult:
    status = _STRIPE_STATUS.get(intent.status, "pending")
    reason: str | None = None
    if status == "failed":
        # Stripe always sends these (null when unset), but the SDK raises AttributeError for a field
        # that is missing altogether; a failed debit must not become a crash over its reason.
        error: stripe.PaymentIntent.LastPaymentError | None = getattr(intent, "last_payment_error", None)
        if error is not None:
            reason = error.decline_code or error.code or error.message
        reason = reason or getattr(intent, "cancellation_reason", None) or intent.status
    return DebitResult(processor="stripe", reference=intent.id, status=status, failure_reason=reason)


def _stripe_refusal(exc: stripe.CardError | stripe.InvalidRequestError) -> DebitRefusedError:
    error = exc.error
    reason = (error.decline_code if error else None) or exc.code or exc.user_message or "refused"
    intent = error.payment_intent if error else None
    return DebitRefusedError(reason, reference=intent.id if intent else None)


def _stripe_error(exc: stripe.StripeError) -> Exception:
    """The debit outcome a Stripe SDK error means; the error itself when it is a configuration problem."""
    if isinstance(exc, stripe.CardError | stripe.InvalidRequestError):
        return _stripe_refusal(exc)
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyKeyReusedError(exc.user_message or str(exc))
    if isinstance(exc, stripe.RateLimitError):
        return ProcessorUnavailableError(f"rate limited by Stripe: {exc.user_message}")
    if isinstance(exc, stripe.APIConnectionError):
        # The SDK raises it `from` the requests exception, which tells a timeout from a refusal.
        return _network_error(exc.__cause__)
    if isinstance(exc, stripe.APIError):
        if (exc.http_status or 0) >= 500:
            return ProcessorUnavailableError(f"Stripe failed ({exc.http_status}): {exc.user_message}")
        # 409: another request with this key is still running; or an answer that was no JSON.
        return DebitTimeoutError(f"Stripe answered {exc.http_status}, outcome unknown: {exc.user_message}")
    return exc  # authentication or permission: configuration, not an outcome of this debit


class StripeDebits:
    """Off-session card debits through Stripe PaymentIntents, created and confirmed in one request."""

    def __init__(self, api_key: str, *, api_base: str | None = None, timeout_s: float = 10):
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.RequestsClient(timeout=timeout_s),
            max_network_retries=0,
        )

    def start_debit(
        self,
        *,
        idempotency_key: str,
        amount: int,
        currency: str,
        description: str,
        account: DebitAccount,
        metadata: dict[str, str],
    ) -> DebitResult:
        if account.processor != "stripe":
            raise ValueError(f"a {account.processor} account cannot be debited through Stripe")
        _check_amount(amount)
        if not account.customer_id or not account.payment_method_id:
            raise DebitRefusedError("no saved Stripe customer and payment method for this account")
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount,
                    "currency": currency.lower(),
                    "customer": account.customer_id,
                    "payment_method": account.payment_method_id,
                    "off_session": True,
                    "confirm": True,
                    "description": description,
                    "metadata": dict(metadata),
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _stripe_error(exc) from exc
        return _stripe_result(intent)

    def fetch_status(self, reference: str) -> DebitResult:
        try:
            intent = self._client.v1.payment_intents.retrieve(reference)
        except stripe.StripeError as exc:
            raise _stripe_error(exc) from exc
        return _stripe_result(intent)


# --- GoCardless -----------------------------------------------------------------------------------

_GOCARDLESS_STATUS: dict[str, DebitStatus] = {
    "pending_customer_approval": "pending",
    "pending_submission": "pending",
    "submitted": "pending",
    "confirmed": "succeeded",
    "paid_out": "succeeded",
    "failed": "failed",
    "cancelled": "failed",
    "charged_back": "failed",
    "customer_approval_denied": "failed",
}


def _gc_result(payment: Any) -> DebitResult:
    status_name = str(payment.status)
    status = _GOCARDLESS_STATUS.get(status_name, "pending")
    # The reason for a failure is on the payment's events, not the payment; the status says enough here.
    reason = status_name if status == "failed" else None
    return DebitResult(
        processor="gocardless", reference=str(payment.id), status=status, failure_reason=reason
    )


def _gc_error(exc: Exception) -> Exception:
    """The debit outcome a GoCardless SDK (or requests) error means; the error itself otherwise."""
    if isinstance(exc, requests.exceptions.RequestException):
        return _network_error(exc)
    if isinstance(exc, gc_errors.ValidationFailedError | gc_errors.InvalidApiUsageError):
        return DebitRefusedError(str(exc) or exc.type)
    if isinstance(exc, gc_errors.InvalidStateError):
        # e.g. mandate_is_inactive. The idempotency conflict is a subclass of ApiError, not of
        # this, and the SDK resolves it itself by fetching the payment the key created.
        return DebitRefusedError(str(exc) or exc.type)
    if isinstance(exc, gc_errors.GoCardlessInternalError | gc_errors.RateLimitError):
        return ProcessorUnavailableError(f"GoCardless unavailable: {exc}")
    if isinstance(exc, gc_errors.MalformedResponseError):
        if (exc.status_code or 0) >= 500:
            return ProcessorUnavailableError(f"GoCardless failed ({exc.status_code})")
        return DebitTimeoutError(f"unreadable answer from GoCardless, outcome unknown: {exc}")
    return exc  # authentication, permissions: configuration, not an outcome of this debit


class GoCardlessDebits:
    """Direct Debit payments against a GoCardless mandate; they settle days later (fetch_status)."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str | None = None,
        environment: str = "live",
        timeout_s: float = 10,
    ):
        # The SDK takes either an environment ("live"/"sandbox") or a base URL, which must be the
        # server's root: it joins absolute paths ("/payments") onto it.
        if base_url:
            client = gocardless_pro.Client(access_token=access_token, base_url=base_url, timeout=timeout_s)
        else:
            client = gocardless_pro.Client(
                access_token=access_token, environment=environment, timeout=timeout_s
            )
        # `client.payments` builds a new service each time, set to retry timeouts 3 times, 0.5 s apart,
        # with the same key. One attempt here: a timeout is reported at once, within the caller's
        # time budget, and the caller retries with the same key as it does for Stripe.
        self._payments = client.payments
        self._payments.max_network_retries = 1

    def start_debit(
        self,
        *,
        idempotency_key: str,
        amount: int,
        currency: str,
        description: str,
        account: DebitAccount,
        metadata: dict[str, str],
    ) -> DebitResult:
        if account.processor != "gocardless":
            raise ValueError(f"a {account.processor} account cannot be debited through GoCardless")
        _check_amount(amount)
        if not account.mandate_id:
            raise DebitRefusedError("no GoCardless mandate for this account")
        params = {
            "amount": amount,
            "currency": currency.upper(),
            "links": {"mandate": account.mandate_id},
            "description": description,
            "metadata": dict(metadata),
        }
        try:
            # A repeated key answers 409 idempotent_creation_conflict naming the payment the key
            # created; the SDK then fetches and returns that payment (raise_on_idempotency_conflict
            # is left False), so a retry gets the original debit back, not an error.
            payment = self._payments.create(params=params, headers={"Idempotency-Key": idempotency_key})
        except (requests.exceptions.RequestException, gc_errors.GoCardlessProError) as exc:
            raise _gc_error(exc) from exc
        return _gc_result(payment)

    def fetch_status(self, reference: str) -> DebitResult:
        try:
            payment = self._payments.get(reference)
        except (requests.exceptions.RequestException, gc_errors.GoCardlessProError) as exc:
            raise _gc_error(exc) from exc
        return _gc_result(payment)


# --- choosing one ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _stripe(api_key: str, api_base: str | None, timeout_s: float) -> StripeDebits:
    # One client per process and configuration: its HTTP session keeps connections open between debits.
    return StripeDebits(api_key, api_base=api_base, timeout_s=timeout_s)


@lru_cache(maxsize=8)
def _gocardless(token: str, base_url: str | None, environment: str, timeout_s: float) -> GoCardlessDebits:
    return GoCardlessDebits(token, base_url=base_url, environment=environment, timeout_s=timeout_s)


def processor_for(
    account: DebitAccount,
    *,
    stripe_api_key: str,
    stripe_api_base: str | None,
    gocardless_token: str,
    gocardless_base_url: str | None,
    gocardless_environment: str = "live",
    timeout_s: float = 10,
) -> DebitProcessor:
    """The processor that debits this account, pointed at the stand-in when a base URL is given."""
    if account.processor == "stripe":
        return _stripe(stripe_api_key, stripe_api_base, timeout_s)
    if account.processor == "gocardless":
        return _gocardless(gocardless_token, gocardless_base_url, gocardless_environment, timeout_s)
    raise ValueError(f"unknown processor {account.processor!r}")
