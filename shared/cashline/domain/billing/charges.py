"""Charging a subscription invoice to the customer's saved payment method: one attempt at a time,
and when the next one is due after a failure. Plain Python: no storage, no clock reads.

An attempt is numbered per invoice (1, 2, ...); the processor's idempotency key is
`<invoice id>-<attempt>`, so asking again after a timeout (same attempt) can never charge twice, and
a retry after a definite failure (a new attempt) is a new charge.

Retry schedule: the tenant's `retry_days` count from the FIRST failure, not from the one before.
With (1, 3, 5, 7) and a first charge failing on 1 March at 10:00: retries on 2 March 10:00
(+1 day), 4 March (+3), 6 March (+5) and 8 March (+7); if that one fails too, the last failure
decides (cancel the subscription or leave the invoice unpaid for collection). An extra attempt
asked for by a collection campaign (`retry_payment`) does not move that schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from cashline.domain.billing.subscriptions import PaymentMethod

ChargeOrigin = Literal["schedule", "campaign"]
ChargePhase = Literal["start", "poll"]


class ChargeStatus(StrEnum):
    SCHEDULED = "scheduled"  # waits for its moment on the due index
    PROCESSING = "processing"  # claimed by a sweep; the processor is (or was) asked
    SUCCEEDED = "succeeded"  # the processor took the money; the payment arrives by webhook
    FAILED = "failed"  # refused (declined, no mandate, no processor connection)
    CANCELED = "canceled"  # the invoice was settled another way before it ran: nothing charged


# Attempts that may still charge: a payment made another way cancels them.
PENDING = frozenset({ChargeStatus.SCHEDULED, ChargeStatus.PROCESSING})
# Why an attempt failed without asking a processor.
NO_PROCESSOR_CONNECTION = "no_processor_connection"
NO_PAYMENT_METHOD = "no_payment_method"
# Why an attempt was cancelled without charging.
INVOICE_SETTLED = "invoice_settled"


@dataclass(frozen=True, slots=True)
class ChargeAttempt:
    """One try at charging an invoice's outstanding amount."""

    tenant_id: str
    invoice_id: str
    subscription_id: str
    charge_id: str  # chg_...
    attempt: int  # 1, 2, ... per invoice
    origin: ChargeOrigin
    # The schedule's round: 0 the first charge, 1..len(retry_days) its retries; None for a campaign's.
    retry_round: int | None
    status: ChargeStatus
    payment_method: PaymentMethod
    currency: str
    amount: int | None  # minor units; fixed when the attempt is first claimed (same key, same amount)
    due_at: datetime  # when it runs (or ran)
    phase: ChargePhase = "start"  # start: ask for the charge; poll: ask how a pending one went
    processor_reference: str | None = None
    failure_reason: str | None = None
    first_failed_at: datetime | None = None  # the schedule's first failure (retries count from it)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def idempotency_key(self) -> str:
        """The processor's idempotency key: the same for every ask of this attempt."""
        return f"{self.invoice_id}-{self.attempt}"


def next_retry_at(
    retry_days: tuple[int, ...], first_failed_at: datetime, retry_round: int
) -> datetime | None:
    """When the schedule tries again after round `retry_round` failed; None after the last round.

    Round 0 is the first charge. retry_days=(1, 3, 5, 7), first failure at 2027-03-01T10:00Z:
    after round 0 -> 03-02T10:00, round 1 -> 03-04, round 2 -> 03-06, round 3 -> 03-08, round 4 -> None.
    """
    if retry_round < 0 or retry_round >= len(retry_days):
        return None
    return first_failed_at + timedelta(days=retry_days[retry_round])


def is_last_round(retry_days: tuple[int, ...], retry_round: int | None) -> bool:
    """Whether a failure of this round ends the schedule (a campaign's extra attempt never does)."""
    return retry_round is not None and retry_round >= len(retry_days)
