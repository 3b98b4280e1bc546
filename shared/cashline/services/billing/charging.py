"""Charging `charge_automatically` subscription invoices to the customer's saved payment method
(a Stripe payment method on a Stripe customer, or a GoCardless mandate), retrying per the tenant's
billing settings, and the extra attempt a collection campaign's `retry_payment` step asks for.

Exactly once, as for installment debits (services/debits.py): an attempt moves scheduled ->
processing in one conditional write (dal.due.lease on its version); the processor's idempotency key
is `<invoice id>-<attempt>`, so an unknown outcome (timeout, processor down) is asked again later
with the same key, and only a definite failure makes a new attempt with a new key. An attempt only
charges when, after its claim, no other attempt of the invoice is in flight or has succeeded, and a
campaign's extra attempt moves the version of a scheduled one in the transaction that creates it:
of the two, one charges.

The money itself arrives by the processor's webhook (metadata `cashline_invoice`) and is applied to
the invoice by the existing payment path (services/payments); this module never records a payment.
A succeeded attempt returns the subscription to `active`; a failed one makes it `past_due` (or
`incomplete` when its first invoice never got paid) and schedules the next try (domain.billing.charges).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cashline.dal.billing_charges import CHARGE_JOB as CHARGE_JOB  # the contract's home
from cashline.dal.billing_charges import CLAIM_LEASE
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.billing.charges import (
    INVOICE_SETTLED,
    NO_PAYMENT_METHOD,
    ChargeAttempt,
    ChargeStatus,
)
from cashline.domain.billing.subscriptions import PaymentMethod
from cashline.domain.invoices import Invoice, InvoiceStatus
from cashline.errors import ConflictError, NotFoundError
from cashline.ids import new_id
from cashline.services.billing.charge_outcomes import ChargeOutcome as ChargeOutcome  # the contract's home
from cashline.services.billing.charge_outcomes import (
    charges,
    invoices,
    settle,
    subscriptions,
    write_attempt,
)
from cashline.services.billing.charge_processor import ChargeRuntime as ChargeRuntime  # the contract's home
from cashline.services.billing.charge_processor import ask_charge, ask_status
from cashline.services.sweeps import SweepResult, sweep

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

CHARGE_SCHEDULE = "invoice_charges"
# A scheduled attempt that meets another one in flight waits this long and looks again.
IN_FLIGHT_WAIT = timedelta(minutes=30)
# Invoices a charge may still pay (not a draft, not paid, void, written off or disputed).
CHARGEABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})


def stage_first_charge(
    write: TransactWrite, invoice: Invoice, payment_method: PaymentMethod, now: datetime
) -> None:
    """The invoice's first charge attempt, due at `now`: staged by finalisation (D2) in the
    transaction that opens a `charge_automatically` invoice, so an invoice is charged iff it is final.
    The amount is the invoice's outstanding amount when the attempt runs."""
    attempt = ChargeAttempt(
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.invoice_id,
        subscription_id=invoice.metadata.get("subscription_id", ""),
        charge_id=new_id("charge_attempt"),
        attempt=1,
        origin="schedule",
        retry_round=0,
        status=ChargeStatus.SCHEDULED,
        payment_method=payment_method,
        currency=invoice.currency,
        amount=None,
        due_at=now,
        created_at=now,
        updated_at=now,
    )
    charges.stage_new(write, attempt, due_at=now, now=now)


def run_invoice_charges(*, tick_at: datetime, worker: str, runtime: ChargeRuntime) -> SweepResult:
    """One tick: every charge attempt due at `tick_at` (first charges, retries, polls, unknown
    outcomes asked again), each taken by one sweep only."""

    def handle(item: CashlineItem) -> bool:
        attempt = charges.due_attempt(item)
        if attempt is None:
            return False
        return run_attempt(attempt, runtime, now=tick_at).status != "skipped"

    return sweep(schedule=CHARGE_SCHEDULE, job=CHARGE_JOB, tick_at=tick_at, worker=worker, handle=handle)


def run_attempt(attempt: ChargeAttempt, runtime: ChargeRuntime, *, now: datetime) -> ChargeOutcome:
    """Claim one due attempt and run it (or cancel or defer it); `skipped` when another sweep has it."""
    invoice = invoices.get_header(attempt.tenant_id, attempt.invoice_id)
    amount = attempt.amount if attempt.amount is not None else invoice.amount_outstanding
    claimed = charges.claim(attempt, amount=amount, now=now)
    if claimed is None:
        return ChargeOutcome("skipped", attempt.attempt, "claimed by another sweep")
    if claimed.phase == "poll" and claimed.processor_reference:
        # A charge the processor took and has not settled: ask how it went, never charge again.
        return settle(claimed, ask_status(claimed, runtime, now), now)
    others = [
        a for a in charges.attempts_of(claimed.tenant_id, claimed.invoice_id) if a.attempt != claimed.attempt
    ]
    if (
        invoice.status not in CHARGEABLE
        or amount <= 0
        or any(a.status is ChargeStatus.SUCCEEDED for a in others)
    ):
        # Paid another way (a bank transfer, by hand, an earlier charge on its way): nothing to charge.
        write_attempt(
            claimed, replace(claimed, status=ChargeStatus.CANCELED, failure_reason=INVOICE_SETTLED), None, now
        )
        return ChargeOutcome("canceled", claimed.attempt, INVOICE_SETTLED)
    if any(a.status is ChargeStatus.PROCESSING for a in others):
        # Another attempt (a campaign's retry) is with the processor: look again once it is done.
        # Never asked, so its amount is taken afresh when it runs.
        waiting = replace(claimed, status=ChargeStatus.SCHEDULED, amount=None, due_at=now + IN_FLIGHT_WAIT)
        write_attempt(claimed, waiting, now + IN_FLIGHT_WAIT, now)
        return ChargeOutcome("deferred", claimed.attempt, "another attempt is in flight")
    return settle(claimed, ask_charge(claimed, runtime, now), now)


def retry_now(tenant_id: str, invoice_id: str, *, now: datetime, runtime: ChargeRuntime) -> ChargeOutcome:
    """An extra attempt, now, with its own key (a collection campaign's `retry_payment` step).

    `skipped` (nothing charged) when the invoice is settled, not a subscription's, has no saved
    payment method, or a charge of it is in flight or has succeeded (its payment is on the way).
    The attempt is written `processing` and on the due index a lease later before the processor is
    asked: if the caller dies in between, the charge sweep asks again with the same key.
    """
    invoice = invoices.get_header(tenant_id, invoice_id)
    if invoice.status not in CHARGEABLE or invoice.amount_outstanding <= 0:
        return ChargeOutcome("skipped", None, INVOICE_SETTLED)
    subscription_id = invoice.metadata.get("subscription_id")
    if not subscription_id:
        return ChargeOutcome("skipped", None, "not a subscription invoice")
    try:
        method = subscriptions.get(tenant_id, subscription_id).payment_method
    except NotFoundError:
        return ChargeOutcome("skipped", None, "the invoice's subscription does not exist")
    if method is None:
        return ChargeOutcome("skipped", None, NO_PAYMENT_METHOD)
    attempts = charges.attempts_of(tenant_id, invoice_id)
    if any(a.status in {ChargeStatus.PROCESSING, ChargeStatus.SUCCEEDED} for a in attempts):
        return ChargeOutcome("skipped", None, "a charge of this invoice is in flight or succeeded")
    extra = ChargeAttempt(
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        subscription_id=subscription_id,
        charge_id=new_id("charge_attempt"),
        attempt=max((a.attempt for a in attempts), default=0) + 1,
        origin="campaign",
        retry_round=None,
        status=ChargeStatus.PROCESSING,
        payment_method=method,
        currency=invoice.currency,
        amount=invoice.amount_outstanding,
        due_at=now,
        first_failed_at=next((a.first_failed_at for a in attempts if a.first_failed_at), None),
        created_at=now,
        updated_at=now,
    )
    scheduled = [a for a in attempts if a.status is ChargeStatus.SCHEDULED]
    work = UnitOfWork("a charge of this invoice started meanwhile")
    work.add(lambda write: charges.stage_new(write, extra, due_at=now + CLAIM_LEASE, now=now))
    for waiting in scheduled:
        work.add(_touch_stage(waiting, now))
    try:
        work.commit()
    except ConflictError:
        return ChargeOutcome("skipped", None, "a charge of this invoice started meanwhile")
    written = replace(extra, version=1)
    return settle(written, ask_charge(written, runtime, now), now)


def _touch_stage(attempt: ChargeAttempt, now: datetime) -> Stage:
    return lambda write: charges.stage_touch(write, attempt, now)
