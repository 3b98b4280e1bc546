"""The "not in bank" check items: one per payment a processor reported paid to the business's bank
that no bank line has shown yet, on the `due` index until the bank shows it or it is flagged.

Key `T#<t>#PAYCHK#<pay>` / `PAYCHK`, versioned; `due` `DUE#payout_bank_check#<shard>` at the first
instant the payment may be flagged (domain.bank.bank_checks.bank_check_due_at). A separate item, not
due attributes on the payment: a payment is rewritten whole on every change
(`PaymentRepository.stage`), which would drop them.

- `stage_bank_check`: written with the payment, in its transaction (services.payments.received);
- `stage_bank_check_done`: closed in the transaction that matches a bank line to the payment;
- `StoredBankChecks`: what the sweep reads and writes (services.bank.discrepancy_checks'
  `BankCheckStore`): flagging puts the discrepancy and closes the item on the version read, in one
  transaction, so a payment is flagged once however many sweeps run.

Items are closed (`state` done, flagged or dropped, out of the `due` index), never deleted: only the
API function may delete items (tests/integration/test_package.py), and the sweeps that end a check
(BankMatch, PayoutBankCheck) write with UpdateItem alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.transactions import TransactWrite

from cashline.dal.bank_outcomes import StoredDiscrepancy
from cashline.dal.bank_repository import BankRepository, bank
from cashline.dal.due import due_keys, query_due
from cashline.dal.errors import storage_errors
from cashline.dal.payment_repository import PaymentRepository
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.bank_checks import BankCheck
from cashline.domain.payments import Payment
from cashline.errors import NotFoundError

NOT_IN_BANK_JOB = "payout_bank_check"
BANK_CHECK_SK = "PAYCHK"
CONFLICT_MESSAGE = "the payment's bank check changed meanwhile (matched or flagged)"


def bank_check_pk(tenant_id: str, payment_id: str) -> str:
    return f"T#{tenant_id}#PAYCHK#{payment_id}"


class BankCheckRecord(CashlineItem, discriminator="payment_bank_check"):
    """A payment waiting for its bank line; its only change is its due instant (postponed)."""

    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    state = UnicodeAttribute(null=True)  # waiting | done | flagged | dropped (absent: waiting)


class BankCheckUpsert(CashlineItem, discriminator="payment_bank_check_upsert"):
    """The attributes of a BankCheckRecord item written without its version condition, so creating
    the check is "put unless one is waiting already" (every value `if_not_exists`). Only ever used to
    update a BankCheckRecord item: it writes that record's `kind`, never its own."""

    version = NumberAttribute(null=True)
    tenant_id = UnicodeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)


def _upsert_actions(tenant_id: str, payment_id: str, now: datetime) -> list[Any]:
    """What makes the item a well-formed BankCheckRecord whether or not it existed."""
    r = BankCheckUpsert
    return [
        r.kind.set(r.kind | BankCheckRecord),
        r.version.set(r.version | 1),
        r.tenant_id.set(r.tenant_id | tenant_id),
        r.payment_id.set(r.payment_id | payment_id),
        r.created_at.set(r.created_at | now),
        r.updated_at.set(now),
    ]


def stage_bank_check(
    write: TransactWrite, tenant_id: str, payment_id: str, due_at: datetime, now: datetime
) -> None:
    """Create the payment's check, due at `due_at`, unless one is waiting already.

    A put "if absent" that never fails the payment's transaction: a payment that succeeded, failed
    and succeeded again under the same reference (Stripe keeps the PaymentIntent) may still have the
    check of its first success, which stays as it is (the sweep re-reads the payment and postpones
    the check if its new value date asks for it).
    """
    r = BankCheckUpsert
    due_pk, due_sk = due_keys(NOT_IN_BANK_JOB, due_at, tenant_id, payment_id)
    item = BankCheckUpsert(pk=bank_check_pk(tenant_id, payment_id), sk=BANK_CHECK_SK)
    # A closed check (done: a bank line showed the payout, then a person unmatched it) waits again.
    write.update(
        item,
        actions=[
            *_upsert_actions(tenant_id, payment_id, now),
            r.due_pk.set(r.due_pk | due_pk),
            r.due_sk.set(r.due_sk | due_sk),
            r.state.set("waiting"),
        ],
    )


def stage_bank_check_done(write: TransactWrite, tenant_id: str, payment_id: str, now: datetime) -> None:
    """Close the payment's check: a bank line showed the money (the payout proposal applied,
    automatically or by a person). No condition: absent (never watched) or closed already is fine."""
    r = BankCheckUpsert
    item = BankCheckUpsert(pk=bank_check_pk(tenant_id, payment_id), sk=BANK_CHECK_SK)
    write.update(
        item,
        actions=[
            *_upsert_actions(tenant_id, payment_id, now),
            r.state.set("done"),
            r.due_pk.remove(),
            r.due_sk.remove(),
        ],
    )


def _versioned(check: BankCheck) -> BankCheckRecord:
    record = BankCheckRecord(pk=bank_check_pk(check.tenant_id, check.payment_id), sk=BANK_CHECK_SK)
    record.version = check.version
    return record


def due_bank_checks(now: datetime) -> Iterator[BankCheck]:
    """The checks of every tenant due at `now` (dal.due.query_due: one Query per shard, only what is
    still waiting)."""
    for item in query_due(NOT_IN_BANK_JOB, now=now):
        check = due_bank_check(item)
        if check is not None:
            yield check


def due_bank_check(item: CashlineItem) -> BankCheck | None:
    """A due item (as services.sweeps.sweep hands it over) as the check it is, or None."""
    if not isinstance(item, BankCheckRecord):
        return None
    return BankCheck(tenant_id=item.tenant_id, payment_id=item.payment_id, version=int(item.version or 0))


class StoredBankChecks:
    """The check's reads and writes in DynamoDB (services.bank.discrepancy_checks.BankCheckStore).

    `business_day(tenant_id, now)`: the tenant's day at `now`, given by the service (the tenant's
    time zone is the services' to read: the dal imports no service).
    """

    def __init__(
        self,
        business_day: Callable[[str, datetime], date],
        *,
        payments: PaymentRepository | None = None,
        reconciliation: BankRepository = bank,
    ) -> None:
        self._business_day = business_day
        self._payments = payments or PaymentRepository()
        self._reconciliation = reconciliation

    def payment(self, tenant_id: str, payment_id: str) -> Payment | None:
        try:
            return self._payments.get(tenant_id, payment_id)
        except NotFoundError:
            return None

    def not_in_bank_days(self, tenant_id: str) -> int:
        return self._reconciliation.get_settings(tenant_id).not_in_bank_days

    def today(self, tenant_id: str, now: datetime) -> date:
        return self._business_day(tenant_id, now)

    def flag(self, check: BankCheck, discrepancy: StoredDiscrepancy) -> None:
        """The discrepancy and the check closed on the version read, in one transaction:
        ConflictError (nothing written) when the check changed or is gone."""
        work = UnitOfWork(CONFLICT_MESSAGE)
        work.add(lambda write: self._reconciliation.stage_discrepancy(write, discrepancy))
        work.add(
            lambda write: write.update(
                _versioned(check), actions=_closing("flagged", discrepancy.at), condition=_waiting()
            )
        )
        work.commit()

    def postpone(self, check: BankCheck, due_at: datetime) -> None:
        r = BankCheckRecord
        due_pk, due_sk = due_keys(NOT_IN_BANK_JOB, due_at, check.tenant_id, check.payment_id)
        with storage_errors(CONFLICT_MESSAGE):
            _versioned(check).update(
                actions=[r.due_pk.set(due_pk), r.due_sk.set(due_sk)],
                condition=r.pk.exists(),
            )

    def drop(self, check: BankCheck, now: datetime) -> None:
        with storage_errors(CONFLICT_MESSAGE):
            _versioned(check).update(actions=_closing("dropped", now), condition=_waiting())


def _closing(state: str, now: datetime) -> list[Any]:
    r = BankCheckRecord
    return [r.state.set(state), r.due_pk.remove(), r.due_sk.remove(), r.updated_at.set(now)]


def _waiting() -> Any:
    # Still on the due index: not closed by a bank line or another sweep meanwhile.
    return BankCheckRecord.pk.exists() & BankCheckRecord.due_pk.exists()
