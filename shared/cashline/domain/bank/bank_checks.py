"""Which payments the "not in bank" check watches, and from when: money a processor reported paid out
to the business's bank, waiting for a bank line to show it.

Here, not in services.bank.discrepancy_checks, because both sides need it: the payment services write
the check when they record such a payment (services.payments.received), and the bank services read
and flag it (services.bank.bank_check_sweep); services.bank imports services.payments, so the rules
both share live below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from cashline.domain.invoices import Direction
from cashline.domain.payments import Payment, PaymentKind, PaymentMethod, PaymentSource, PaymentStatus

PROCESSORS = frozenset({PaymentSource.STRIPE, PaymentSource.GOCARDLESS, PaymentSource.PAYPAL})


@dataclass(frozen=True, slots=True)
class BankCheck:
    """One payment waiting for the bank to show it: what the due item names."""

    tenant_id: str
    payment_id: str
    version: int = 0  # of the check item as read: flagging, postponing or dropping is on this version


def needs_bank_check(payment: Payment) -> bool:
    """Whether a processor reported this money paid to the business's bank: a succeeded payout, or a
    succeeded processor payment received by bank transfer (settled straight to the account)."""
    if payment.status is not PaymentStatus.SUCCEEDED or payment.source not in PROCESSORS:
        return False
    if payment.kind is PaymentKind.PAYOUT:
        return True
    return (
        payment.kind is PaymentKind.PAYMENT
        and payment.method is PaymentMethod.BANK_TRANSFER
        and payment.direction is Direction.RECEIVABLE
    )


def bank_check_due_at(payment: Payment, *, days: int) -> datetime:
    """The first instant a payment may be flagged: 00:00 UTC of the day after `value_date + days`.

    Example: value date 2026-12-01, 5 days: due at 2026-12-07T00:00Z (the bank had until the 6th).
    The check itself compares business days in the tenant's time zone, so a due item read a few
    hours early for a tenant west of UTC is postponed by a day, never flagged early.
    """
    first_day = payment.value_date + timedelta(days=days + 1)
    return datetime.combine(first_day, time.min, tzinfo=UTC)
