"""Stripe's and GoCardless's payment APIs, stood in on 127.0.0.1 for local runs and tests.

Just enough of each API for cashline.adapters.processors, driven through the official SDKs: creating
and fetching a Stripe PaymentIntent and a GoCardless payment. What matters most is copied with care:
each processor's idempotency (Stripe replays the saved answer, 500s and declines included, refuses a
key reused with other parameters and answers 409 while a request with the key is still running;
GoCardless answers a repeated key with 409 idempotent_creation_conflict naming the payment, which the
SDK then fetches) and each one's error bodies, which the SDKs turn into their exceptions.

A test, or `POST /_standin/outcomes`, queues what the next requests meet:
  succeed               Stripe `succeeded`; GoCardless `pending_submission` (set_status moves it on)
  pending               Stripe `processing`; GoCardless as succeed
  succeed_slowly        as succeed, after `slow_s` with the key in flight (concurrency tests)
  fail                  Stripe 402 card_declined (a PaymentIntent is still created, as Stripe does);
                        GoCardless 422 validation_failed
  timeout               hangs `hang_s` BEFORE creating anything, then drops the connection
  timeout_after_create  creates the payment (and saves the key), then hangs and drops the connection
  error                 500 (Stripe saves it under the key, as Stripe does)
With nothing queued, a request succeeds.

Payouts (for services.payments.payouts): a test adds one with `add_stripe_payout` (its balance
transactions, listed by `GET /v1/balance_transactions?payout=`, 100 a page at most) or
`add_gocardless_payout` (`GET /payouts/{id}` and its items by `GET /payout_items?payout=`);
`fail_payout_reads(processor, n)` answers the next n payout reads with a 500.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self, cast, get_args
from urllib.parse import parse_qsl, urlsplit

Processor = Literal["stripe", "gocardless"]
Outcome = Literal["succeed", "pending", "succeed_slowly", "fail", "timeout", "timeout_after_create", "error"]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
PROCESSORS: frozenset[str] = frozenset(get_args(Processor))

STRIPE_STATUSES = frozenset(
    {
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
        "processing",
        "requires_capture",
        "canceled",
        "succeeded",
    }
)
GOCARDLESS_STATUSES = frozenset(
    {
        "pending_customer_approval",
        "pending_submission",
        "submitted",
        "confirmed",
        "paid_out",
        "cancelled",
        "customer_approval_denied",
        "failed",
        "charged_back",
    }
)
GOCARDLESS_CURRENCIES = frozenset({"AUD", "CAD", "DKK", "EUR", "GBP", "NZD", "SEK", "USD"})

_STRIPE_INTENT = re.compile(r"^/v1/payment_intents/([A-Za-z0-9_]+)$")
_GOCARDLESS_PAYMENT = re.compile(r"^/payments/([A-Za-z0-9]+)$")
_GOCARDLESS_PAYOUT = re.compile(r"^/payouts/([A-Za-z0-9]+)$")


@dataclass(frozen=True, slots=True)
class CreatedPayment:
    """One object the processor created: what the adapter sent, as the processor received it."""

    processor: Processor
    reference: str
    idempotency_key: str | None
    amount: int
    currency: str  # as sent, not normalised: tests check the adapter's casing
    description: str | None
    metadata: dict[str, str]
    params: dict[str, Any]


@dataclass(slots=True)
class Reply:
    status: int
    body: dict[str, Any] | None  # None: no answer at all, the connection is dropped
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Saved:
    """Stripe's idempotency record: the first request's parameters and the answer it got."""

    params: dict[str, Any]
    reply: Reply


def _stripe_error(status: int, error_type: str, message: str, **extra: Any) -> Reply:
    return Reply(status, {"error": {"type": error_type, "message": message, **extra}})


def _gocardless_error(status: int, error_type: str, message: str, errors: list[dict[str, Any]]) -> Reply:
    # The SDK formats every entry of `errors` with its `message` (and, for validation_failed, its
    # `field` and `request_pointer`), so each carries them.
    body = {
        "type": error_type,
        "code": status,
        "message": message,
        "errors": errors,
        "documentation_url": f"https://developer.gocardless.com/api-reference#{error_type}",
        "request_id": secrets.token_hex(8),
    }
    return Reply(status, {"error": body})


def _gocardless_invalid(field_name: str, message: str) -> Reply:
    pointer = "/payments/" + field_name.replace("[", "/").replace("]", "")
    errors = [{"field": field_name, "message": message, "request_pointer": pointer}]
    return _gocardless_error(422, "validation_failed", "Validation failed", errors)


def decode_form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding back into a dict: `metadata[installment_id]=x` -> {"metadata": {...}}."""
    result: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", name) or [name]
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and str(number) == str(value) else None


def _stripe_problem(params: dict[str, Any]) -> Reply | None:
    """A 400 for parameters Stripe would refuse before running the endpoint (nothing is saved then)."""
    if _positive_int(params.get("amount")) is None:
        return _stripe_error(
            400, "invalid_request_error", "Invalid integer", code="parameter_invalid_integer", param="amount"
        )
    currency = params.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        return _stripe_error(
            400, "invalid_request_error", "Invalid currency", code="parameter_missing", param="currency"
        )
    if params.get("confirm") == "true" and not params.get("payment_method"):
        return _stripe_error(
            400,
            "invalid_request_error",
            "You must provide a payment method to confirm this PaymentIntent.",
            code="parameter_missing",
            param="payment_method",
        )
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 50 or any(len(v) > 500 for v in metadata.values()):
        return _stripe_error(
            400, "invalid_request_error", "Invalid metadata", code="parameter_invalid", param="metadata"
        )
    return None


def _gocardless_problem(params: Any) -> Reply | None:
    """A 422 for a payment GoCardless would refuse (it then creates nothing and saves no key)."""
    if not isinstance(params, dict):
        return _gocardless_invalid("payments", "must be an object")
    amount = params.get("amount")
    if not isinstance(amount, int) or _positive_int(amount) is None:
        return _gocardless_invalid("amount", "must be a positive integer")
    if params.get("currency") not in GOCARDLESS_CURRENCIES:
        return _gocardless_invalid("currency", "must be one of " + ", ".join(sorted(GOCARDLESS_CURRENCIES)))
    links = params.get("links")
    if not isinstance(links, dict) or not links.get("mandate"):
        return _gocardless_invalid("links[mandate]", "can't be blank")
    metadata = params.get("metadata") or {}
    # GoCardless allows at most 3 metadata keys, names up to 50 characters, values up to 500.
    if (
        not isinstance(metadata, dict)
        or len(metadata) > 3
        or any(len(k) > 50 or not isinstance(v, str) or len(v) > 500 for k, v in metadata.items())
    ):
        return _gocardless_invalid("metadata", "is invalid (at most 3 string keys)")
    return None


class ProcessorStandIn:
    """Both processors' APIs on one local port, in a daemon thread, with their state in memory."""

    def __init__(self, *, hang_s: float = 2.0, slow_s: float = 0.3, host: str = "127.0.0.1", port: int = 0):
        # hang_s must outlast the client's timeout; slow_s must be long enough for two requests to meet.
        self.hang_s = hang_s
        self.slow_s = slow_s
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self.reset()

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Self:
        self._stopping.clear()
        self._server = _Server(self._address, _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="processors"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes any request hanging for a "timeout"
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the processor stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stripe_base(self) -> str:
        return self.url

    @property
    def gocardless_base(self) -> str:
        # The GoCardless SDK joins "/payments" onto its base URL, so this must be the server's root.
        return self.url

    # --- test control -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every payment, key and queued outcome."""
        with self._cond:
            self._outcomes: dict[str, deque[Outcome]] = {name: deque() for name in PROCESSORS}
            self._objects: dict[str, dict[str, Any]] = {}
            self._created: list[CreatedPayment] = []
            self._stripe_saved: dict[str, _Saved] = {}
            self._gocardless_keys: dict[str, str] = {}
            self._in_flight: set[tuple[str, str]] = set()
            self._payouts: dict[str, dict[str, Any]] = {}  # GoCardless payouts by id
            self._payout_items: dict[str, list[dict[str, Any]]] = {}  # both processors', by payout id
            self._payout_failures: dict[str, int] = dict.fromkeys(PROCESSORS, 0)

    def add_stripe_payout(self, payout_id: str, transactions: list[dict[str, Any]]) -> None:
        """A Stripe payout's balance transactions (each with type, amount, fee, source; ids added)."""
        listed = [
            {"id": f"txn_{payout_id}_{n}", "object": "balance_transaction", **t}
            for n, t in enumerate(transactions)
        ]
        with self._cond:
            self._payout_items[payout_id] = listed

    def add_gocardless_payout(self, payout: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """A GoCardless payout (id, amount, deducted_fees, currency, arrival_date, ...) and its items."""
        with self._cond:
            self._payouts[str(payout["id"])] = dict(payout)
            self._payout_items[str(payout["id"])] = [dict(item) for item in items]

    def fail_payout_reads(self, processor: Processor, times: int) -> None:
        """The next `times` payout reads at this processor answer 500 (the processor is down)."""
        with self._cond:
            self._payout_failures[processor] += times

    def script(self, processor: Processor, *outcomes: Outcome) -> None:
        """Queue what the next requests that reach this processor's endpoint meet, in order."""
        if processor not in PROCESSORS:
            raise ValueError(f"unknown processor {processor!r}")
        unknown = [outcome for outcome in outcomes if outcome not in OUTCOMES]
        if unknown:
            raise ValueError(f"unknown outcomes {unknown}; known: {sorted(OUTCOMES)}")
        with self._cond:
            self._outcomes[processor].extend(outcomes)

    def set_status(self, reference: str, status: str) -> None:
        """Move a payment on, as the processor does days later (GoCardless `confirmed`, `failed`, ...)."""
        with self._cond:
            payment = self._objects.get(reference)
            if payment is None:
                raise KeyError(reference)
            allowed = STRIPE_STATUSES if reference.startswith("pi_") else GOCARDLESS_STATUSES
            if status not in allowed:
                raise ValueError(f"{status!r} is not a status of {reference}; known: {sorted(allowed)}")
            payment["status"] = status

    def status_of(self, reference: str) -> str:
        with self._cond:
            return str(self._objects[reference]["status"])

    @property
    def created(self) -> list[CreatedPayment]:
        """Every payment created so far, in order (a declined Stripe PaymentIntent included)."""
        with self._cond:
            return list(self._created)

    def created_with_key(self, idempotency_key: str) -> list[CreatedPayment]:
        return [payment for payment in self.created if payment.idempotency_key == idempotency_key]

    # --- the APIs ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """One request, answered as the processor would; `headers` have lower-case names."""
        route = urlsplit(path).path
        if route.startswith("/_standin/"):
            return self._control(method, route, body)
        if not headers.get("authorization"):
            if route.startswith("/v1/"):
                return _stripe_error(401, "invalid_request_error", "You did not provide an API key.")
            return _gocardless_error(
                401,
                "invalid_api_usage",
                "Unauthorized",
                [{"reason": "unauthorized", "message": "Unauthorized"}],
            )
        key = headers.get("idempotency-key")
        if method == "POST" and route == "/v1/payment_intents":
            return self._stripe_create(key, decode_form(body))
        if method == "POST" and route == "/payments":
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return _gocardless_error(400, "invalid_api_usage", "Invalid JSON", [])
            return self._gocardless_create(
                key, payload.get("payments") if isinstance(payload, dict) else None
            )
        if method == "GET" and (match := _STRIPE_INTENT.match(route)):
            return self._fetch(match.group(1), "stripe")
        if method == "GET" and (match := _GOCARDLESS_PAYMENT.match(route)):
            return self._fetch(match.group(1), "gocardless")
        if method == "GET" and route in ("/v1/balance_transactions", "/payout_items"):
            return self._payout_listing(route, dict(parse_qsl(urlsplit(path).query)))
        if method == "GET" and (match := _GOCARDLESS_PAYOUT.match(route)):
            return self._gocardless_payout(match.group(1))
        return Reply(
            404, {"error": {"type": "invalid_request_error", "message": f"no route {method} {route}"}}
        )

    def _next_outcome(self, processor: Processor) -> Outcome:
        queue = self._outcomes[processor]
        return queue.popleft() if queue else "succeed"

    def _fetch(self, reference: str, processor: Processor) -> Reply:
        with self._cond:
            payment = self._objects.get(reference)
            found = copy.deepcopy(payment) if payment is not None else None
        if processor == "stripe":
            if found is None:
                return _stripe_error(
                    404,
                    "invalid_request_error",
                    f"No such payment_intent: '{reference}'",
                    code="resource_missing",
                    param="intent",
                )
            return Reply(200, found, {"Request-Id": "req_" + secrets.token_hex(7)})
        if found is None:
            return _gocardless_error(
                404,
                "invalid_api_usage",
                "Resource not found",
                [{"reason": "resource_not_found", "message": "Resource not found"}],
            )
        return Reply(200, {"payments": found})

    def _payout_down(self, processor: Processor) -> Reply | None:
        with self._cond:
            if self._payout_failures[processor] <= 0:
                return None
            self._payout_failures[processor] -= 1
        if processor == "stripe":
            return _stripe_error(500, "api_error", "An unknown error occurred")
        return _gocardless_error(
            500,
            "gocardless",
            "Internal server error",
            [{"reason": "internal_server_error", "message": "oops"}],
        )

    def _gocardless_payout(self, payout_id: str) -> Reply:
        if (down := self._payout_down("gocardless")) is not None:
            return down
        with self._cond:
            payout = copy.deepcopy(self._payouts.get(payout_id))
        if payout is None:
            return _gocardless_error(
                404,
                "invalid_api_usage",
                "Resource not found",
                [{"reason": "resource_not_found", "message": "Resource not found"}],
            )
        return Reply(200, {"payouts": payout})

    def _payout_listing(self, route: str, query: dict[str, str]) -> Reply:
        """One page of a payout's items: Stripe's list object (starting_after an id) or GoCardless's
        cursor page (after an index: payout items have no ids)."""
        stripe = route.startswith("/v1/")
        if (down := self._payout_down("stripe" if stripe else "gocardless")) is not None:
            return down
        with self._cond:
            items = copy.deepcopy(self._payout_items.get(query.get("payout", ""), []))
        limit = min(int(query.get("limit") or 10), 100 if stripe else 500)
        if stripe:
            after = query.get("starting_after")
            start = next((n + 1 for n, t in enumerate(items) if t["id"] == after), 0) if after else 0
            page = items[start : start + limit]
            more = start + limit < len(items)
            return Reply(200, {"object": "list", "url": route, "has_more": more, "data": page})
        start = int(query.get("after") or 0)
        page = items[start : start + limit]
        after_cursor = str(start + limit) if start + limit < len(items) else None
        meta = {"cursors": {"before": None, "after": after_cursor}, "limit": limit}
        return Reply(200, {"payout_items": page, "meta": meta})

    def _hang(self) -> Reply:
        """The client gives up waiting; the connection is then dropped without an answer."""
        self._stopping.wait(self.hang_s)
        return Reply(0, None)

    def _record(
        self, processor: Processor, key: str | None, obj: dict[str, Any], params: dict[str, Any]
    ) -> None:
        """Keep a new payment; called with the lock held."""
        self._objects[obj["id"]] = obj
        metadata = params.get("metadata") or {}
        self._created.append(
            CreatedPayment(
                processor=processor,
                reference=obj["id"],
                idempotency_key=key,
                amount=int(params["amount"]),
                currency=str(params["currency"]),
                description=params.get("description"),
                metadata={str(k): str(v) for k, v in metadata.items()},
                params=copy.deepcopy(params),
            )
        )

    # --- Stripe -----------------------------------------------------------------------------------

    def _stripe_create(self, key: str | None, params: dict[str, Any]) -> Reply:
        with self._cond:
            saved = self._stripe_saved.get(key) if key else None
            if saved is not None:
                if saved.params != params:
                    return _stripe_error(
                        400,
                        "idempotency_error",
                        f"Keys for idempotent requests can only be used with the same parameters they "
                        f"were first used with. Try using a key other than '{key}' if you meant to "
                        f"execute a different request.",
                    )
                replay = copy.deepcopy(saved.reply)
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            if key and ("stripe", key) in self._in_flight:
                reply = _stripe_error(
                    409,
                    "idempotency_error",
                    f"There is currently another in-progress request using this Idempotent Key "
                    f"(that probably means you submitted twice, and the other request is still going "
                    f"through): {key}. Please try again later.",
                )
                reply.headers["Stripe-Should-Retry"] = "true"
                return reply
            problem = _stripe_problem(params)
            if problem is not None:
                return problem
            outcome = self._next_outcome("stripe")
            if key:
                self._in_flight.add(("stripe", key))
        try:
            reply = self._stripe_run(outcome, key, params)
        finally:
            with self._cond:
                self._in_flight.discard(("stripe", key or ""))
        return self._hang() if outcome in ("timeout", "timeout_after_create") else reply

    def _stripe_run(self, outcome: Outcome, key: str | None, params: dict[str, Any]) -> Reply:
        """Runs the endpoint (key in flight) and saves its answer under the key, as Stripe does."""
        if outcome == "timeout":
            return Reply(0, None)  # lost before Stripe ran anything: nothing created, nothing saved
        if outcome == "succeed_slowly":
            self._stopping.wait(self.slow_s)
        headers = {"Request-Id": "req_" + secrets.token_hex(7)}
        with self._cond:
            if outcome == "error":
                reply = _stripe_error(500, "api_error", "An unknown error occurred")
                reply.headers.update(headers)
            else:
                intent = _stripe_intent(params, outcome)
                self._record("stripe", key, intent, params)
                if outcome == "fail":
                    error = dict(intent["last_payment_error"], payment_intent=copy.deepcopy(intent))
                    reply = Reply(402, {"error": error}, headers)
                else:
                    reply = Reply(200, copy.deepcopy(intent), headers)
            if key:
                self._stripe_saved[key] = _Saved(copy.deepcopy(params), copy.deepcopy(reply))
        return reply

    # --- GoCardless -------------------------------------------------------------------------------

    def _gocardless_create(self, key: str | None, params: Any) -> Reply:
        with self._cond:
            if key:
                # A request with the same key still running: wait for it, then answer as for a repeat.
                self._cond.wait_for(
                    lambda: ("gocardless", key) not in self._in_flight, timeout=self.hang_s + self.slow_s
                )
                existing = self._gocardless_keys.get(key)
                if existing is not None:
                    return _gocardless_conflict(existing)
            problem = _gocardless_problem(params)
            if problem is not None:
                return problem
            outcome = self._next_outcome("gocardless")
            if key:
                self._in_flight.add(("gocardless", key))
        try:
            reply = self._gocardless_run(outcome, key, params)
        finally:
            with self._cond:
                self._in_flight.discard(("gocardless", key or ""))
                self._cond.notify_all()
        return self._hang() if outcome in ("timeout", "timeout_after_create") else reply

    def _gocardless_run(self, outcome: Outcome, key: str | None, params: dict[str, Any]) -> Reply:
        if outcome == "timeout":
            return Reply(0, None)
        if outcome == "fail":
            return _gocardless_invalid("links[mandate]", "is not active")
        if outcome == "error":
            return _gocardless_error(
                500, "gocardless", "Uh-oh!", [{"reason": "internal_server_error", "message": "Uh-oh!"}]
            )
        if outcome == "succeed_slowly":
            self._stopping.wait(self.slow_s)
        with self._cond:
            payment = _gocardless_payment(params)
            self._record("gocardless", key, payment, params)
            if key:
                self._gocardless_keys[key] = payment["id"]
            return Reply(201, {"payments": copy.deepcopy(payment)})

    # --- the control endpoint ---------------------------------------------------------------------

    def _control(self, method: str, route: str, body: bytes) -> Reply:
        """Lets the local runner and e2e tests drive the stand-in over HTTP."""
        try:
            request = json.loads(body or b"{}")
            if method == "POST" and route == "/_standin/outcomes":
                self.script(request["processor"], *request["outcomes"])
            elif method == "POST" and route == "/_standin/status":
                self.set_status(str(request["reference"]), str(request["status"]))
            elif method == "POST" and route == "/_standin/reset":
                self.reset()
            elif method == "GET" and route == "/_standin/created":
                return Reply(200, {"created": [_created_json(payment) for payment in self.created]})
            else:
                return Reply(404, {"error": f"no control route {method} {route}"})
        except (ValueError, KeyError, TypeError) as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(200, {"ok": True})


def _created_json(payment: CreatedPayment) -> dict[str, Any]:
    return {
        "processor": payment.processor,
        "reference": payment.reference,
        "idempotency_key": payment.idempotency_key,
        "amount": payment.amount,
        "currency": payment.currency,
        "description": payment.description,
        "metadata": payment.metadata,
    }


def _stripe_intent(params: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    amount = int(params["amount"])
    status = {"fail": "requires_payment_method", "pending": "processing"}.get(outcome, "succeeded")
    declined = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "param": None,
    }
    return {
        "id": "pi_" + secrets.token_hex(12),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": int(time.time()),
        "currency": str(params["currency"]).lower(),
        "customer": params.get("customer"),
        "description": params.get("description"),
        "last_payment_error": declined if outcome == "fail" else None,
        "latest_charge": "ch_" + secrets.token_hex(12),
        "livemode": False,
        "metadata": dict(params.get("metadata") or {}),
        "payment_method": params.get("payment_method"),
        "status": status,
    }


def _gocardless_payment(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "PM" + secrets.token_hex(6).upper(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "charge_date": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 3 * 86400)),
        "amount": params["amount"],
        "amount_refunded": 0,
        "currency": params["currency"],
        "description": params.get("description"),
        "metadata": dict(params.get("metadata") or {}),
        "reference": None,
        "retry_if_possible": False,
        # GoCardless picks the scheme from the mandate; the stand-in's mandates are all SEPA Core.
        "scheme": "sepa_core" if params["currency"] == "EUR" else "bacs",
        "status": "pending_submission",
        "links": {"mandate": params["links"]["mandate"], "creditor": "CR000STANDIN"},
    }


def _gocardless_conflict(existing: str) -> Reply:
    errors = [
        {
            "reason": "idempotent_creation_conflict",
            "message": "A resource has already been created with this idempotency key",
            "links": {"conflicting_resource_id": existing},
        }
    ]
    return _gocardless_error(
        409, "invalid_state", "A resource has already been created with this idempotency key", errors
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a request hanging for a "timeout" must not hold up stop()

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], standin: ProcessorStandIn
    ):
        super().__init__(address, handler)
        self.standin = standin


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        standin = cast(_Server, self.server).standin
        reply = standin.handle(method, self.path, headers, body)
        if reply.body is None:
            self.close_connection = True  # the "timeout": the client has long given up
            return
        data = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first

    def log_message(self, format: str, *args: Any) -> None:
        return  # tests and the local runner say what matters themselves
