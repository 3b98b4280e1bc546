"""The daily "not in bank" check: money a processor reported paid out to the business's bank that no
bank line has shown after the tenant's `not_in_bank_days` is flagged once, as a NOT_IN_BANK
discrepancy naming the payment.

Which payments: a succeeded payout of Stripe, GoCardless or PayPal, and a succeeded processor payment
settled straight to the bank (method bank transfer). Not refunds, chargebacks or fees, and not what
Cashline recorded itself (by hand, from the bank): nobody promised the bank would show those.

How the check learns that a bank line matched the payment (to be wired by the lead; the storage is
not in this module): a small item per payment awaiting its bank line, `T#<t>#PAYCHK#<pay>` / `PAYCHK`,
versioned, on the `due` index as `DUE#payout_bank_check#<shard>` at `bank_check_due_at(payment,
days)`. It is written in the transaction that first records the payment as succeeded when
`needs_bank_check(payment)` (`PaymentWrites.also`), and deleted in the transaction that matches a
bank line to the payment (the payout proposal applied, automatically or by a person). A separate item
rather than due attributes on the payment itself, because a payment is rewritten whole on every
change (`PaymentRepository.stage` saves the full record), which would drop the due keys. The sweep
(`dal.due.query_due(NOT_IN_BANK_JOB, now=)`) hands each due item to `check_not_in_bank`.

Exactly once: flagging deletes the check item on the version read in the same transaction as it puts
the discrepancy, so of two sweeps (or one run twice) one writes and the other gets a ConflictError
and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from cashline.dal.bank_checks import NOT_IN_BANK_JOB as NOT_IN_BANK_JOB
from cashline.dal.bank_outcomes import StoredDiscrepancy
from cashline.domain.bank.bank_checks import BankCheck as BankCheck
from cashline.domain.bank.bank_checks import bank_check_due_at as bank_check_due_at
from cashline.domain.bank.bank_checks import needs_bank_check as needs_bank_check
from cashline.domain.bank.line_flags import not_in_bank
from cashline.domain.bank.reconciliation import KnownPayment
from cashline.domain.payments import Payment
from cashline.ids import new_id


class BankCheckStore(Protocol):
    """What the check reads and writes (keyed reads only; dal.bank_checks.StoredBankChecks)."""

    def payment(self, tenant_id: str, payment_id: str) -> Payment | None: ...

    def not_in_bank_days(self, tenant_id: str) -> int:
        """The tenant's `not_in_bank_days` reconciliation setting (default 5)."""
        ...

    def today(self, tenant_id: str, now: datetime) -> date:
        """The tenant's business day at `now` (its time zone: `tenancy.today_for`)."""
        ...

    def flag(self, check: BankCheck, discrepancy: StoredDiscrepancy) -> None:
        """In one transaction: put the discrepancy and delete the check item on `check.version`;
        ConflictError (nothing written) when it changed or is gone (matched or flagged meanwhile)."""
        ...

    def postpone(self, check: BankCheck, due_at: datetime) -> None:
        """Move the check item's due instant (the tenant gave itself more days since it was due)."""
        ...

    def drop(self, check: BankCheck, now: datetime) -> None:
        """Delete the check item: the payment no longer promises money (failed, reversed, gone)."""
        ...


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    action: str  # flagged | postponed | dropped
    discrepancy: StoredDiscrepancy | None = None


def as_known_payment(payment: Payment) -> KnownPayment:
    """A payment as the reconciliation rules read it."""
    return KnownPayment(
        payment_id=payment.id,
        kind=payment.kind.value,
        source=payment.source.value,
        amount=payment.amount,
        currency=payment.currency,
        value_date=payment.value_date,
        reference=payment.source_reference or "",
        counterparty_id=payment.counterparty_id,
    )


def check_not_in_bank(
    check: BankCheck,
    *,
    store: BankCheckStore,
    now: datetime,
    new_discrepancy_id: Callable[[], str] = lambda: new_id("bank_discrepancy"),
) -> CheckOutcome:
    """Decide one due check: flag the payment NOT_IN_BANK (once), postpone the check when the tenant's
    days have not passed yet, or drop it when the payment no longer promises money in the bank.

    A ConflictError from `store.flag` means another sweep flagged it or a bank line matched it
    meanwhile: the sweep skips the item (services.sweeps).
    """
    payment = store.payment(check.tenant_id, check.payment_id)
    if payment is None or not needs_bank_check(payment):
        store.drop(check, now)
        return CheckOutcome("dropped")
    days = store.not_in_bank_days(check.tenant_id)
    flags = not_in_bank([as_known_payment(payment)], today=store.today(check.tenant_id, now), days=days)
    if not flags:
        # Not yet: the setting grew since the item was written, or the tenant's day is behind UTC.
        store.postpone(check, max(bank_check_due_at(payment, days=days), now + timedelta(hours=1)))
        return CheckOutcome("postponed")
    discrepancy = StoredDiscrepancy(
        discrepancy_id=new_discrepancy_id(),
        tenant_id=check.tenant_id,
        bank_account_id=None,  # no bank line: the money never reached any account
        bank_transaction_id=None,
        payment_id=payment.id,
        discrepancy=flags[0],
        status="open",
        at=now,
    )
    store.flag(check, discrepancy)
    return CheckOutcome("flagged", discrepancy)
