"""Charge attempts of subscription invoices: keys, the due index, the claim and the outcomes.

Item: pk `T#<t>#INV#<inv>`, sk `INV#TRY#<attempt, 3 digits>`, in the invoice's own partition, so
every attempt of an invoice is one Query. The key sorts after the invoice's audit trail
(`INV#EVT#...`) and before its work items (`JOB#...`) and collection run (`MSG#`, `PROM#`, `RUN`), so
neither the invoice's read (`INV` .. `INV#EVT#`) nor the run's (`sk >= "MSG#"`) meets an attempt, in
a process that has not imported this record class either. An attempt waiting for its moment (or for
the end of a sweep's lease) is on the `due` index under `DUE#invoice_charge#<shard>`; a finished one
has left it.
Versioned: the claim (scheduled -> processing) and every outcome are conditional on the version read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.transactions import TransactWrite

from cashline.dal.due import due_keys, lease
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.table import CashlineItem
from cashline.domain.billing.charges import ChargeAttempt, ChargeStatus
from cashline.domain.billing.subscriptions import PaymentMethod

CHARGE_JOB = "invoice_charge"
CHARGE_SK_PREFIX = "INV#TRY#"
# A claimed attempt stays on the due index this long: if the sweep dies after asking the processor
# but before recording the answer, a later sweep takes it again and asks with the same key.
CLAIM_LEASE = timedelta(minutes=15)
CHARGE_CONFLICT = "the charge attempt changed meanwhile"


def invoice_partition(tenant_id: str, invoice_id: str) -> str:
    """The invoice's own item collection (dal/invoice_records.py): its reads filter by record kind."""
    return invoice_pk(tenant_id, invoice_id)


def charge_sk(attempt: int) -> str:
    return f"{CHARGE_SK_PREFIX}{attempt:03d}"


class ChargeAttemptRecord(CashlineItem, discriminator="charge_attempt"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    subscription_id = UnicodeAttribute()
    charge_id = UnicodeAttribute()
    attempt = NumberAttribute()
    origin = UnicodeAttribute()
    retry_round = NumberAttribute(null=True)
    status = UnicodeAttribute()
    processor = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)
    payment_method_id = UnicodeAttribute(null=True)
    mandate_id = UnicodeAttribute(null=True)
    currency = UnicodeAttribute()
    amount = NumberAttribute(null=True)
    due_at = UTCDateTimeAttribute()
    phase = UnicodeAttribute(default="start")
    processor_reference = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    first_failed_at = UTCDateTimeAttribute(null=True)


def to_attempt(record: ChargeAttemptRecord) -> ChargeAttempt:
    processor: Literal["stripe", "gocardless"] = (
        "gocardless" if record.processor == "gocardless" else "stripe"
    )
    return ChargeAttempt(
        tenant_id=record.tenant_id,
        invoice_id=record.invoice_id,
        subscription_id=record.subscription_id,
        charge_id=record.charge_id,
        attempt=int(record.attempt),
        origin="campaign" if record.origin == "campaign" else "schedule",
        retry_round=None if record.retry_round is None else int(record.retry_round),
        status=ChargeStatus(record.status),
        payment_method=PaymentMethod(
            processor=processor,
            customer_id=record.customer_id,
            payment_method_id=record.payment_method_id,
            mandate_id=record.mandate_id,
        ),
        currency=record.currency,
        amount=None if record.amount is None else int(record.amount),
        due_at=record.due_at,
        phase="poll" if record.phase == "poll" else "start",
        processor_reference=record.processor_reference,
        failure_reason=record.failure_reason,
        first_failed_at=record.first_failed_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 0),
    )


def _record(attempt: ChargeAttempt, due_at: datetime | None, now: datetime) -> ChargeAttemptRecord:
    """The whole item; on the due index at `due_at` (None: off it, nothing left to do)."""
    method = attempt.payment_method
    record = ChargeAttemptRecord(
        pk=invoice_partition(attempt.tenant_id, attempt.invoice_id),
        sk=charge_sk(attempt.attempt),
        tenant_id=attempt.tenant_id,
        invoice_id=attempt.invoice_id,
        subscription_id=attempt.subscription_id,
        charge_id=attempt.charge_id,
        attempt=attempt.attempt,
        origin=attempt.origin,
        retry_round=attempt.retry_round,
        status=attempt.status.value,
        processor=method.processor,
        customer_id=method.customer_id,
        payment_method_id=method.payment_method_id,
        mandate_id=method.mandate_id,
        currency=attempt.currency,
        amount=attempt.amount,
        due_at=attempt.due_at,
        phase=attempt.phase,
        processor_reference=attempt.processor_reference,
        failure_reason=attempt.failure_reason,
        first_failed_at=attempt.first_failed_at,
        created_at=attempt.created_at or now,
        updated_at=now,
    )
    if due_at is not None:
        record.due_pk, record.due_sk = due_keys(CHARGE_JOB, due_at, attempt.tenant_id, attempt.charge_id)
    return record


class ChargeRepository:
    @staticmethod
    def stage_new(write: TransactWrite, attempt: ChargeAttempt, *, due_at: datetime, now: datetime) -> None:
        """A new attempt, due at `due_at`; conditional on its number being free, so two writers that
        both thought of attempt n write it once (the other's transaction fails: ConflictError)."""
        write.save(
            _record(attempt, due_at, now),
            condition=ChargeAttemptRecord.pk.does_not_exist(),
        )

    @staticmethod
    def stage_outcome(
        write: TransactWrite,
        claimed: ChargeAttempt,
        after: ChargeAttempt,
        *,
        due_at: datetime | None,
        now: datetime,
    ) -> None:
        """The attempt's new state, on the version of `claimed` (as the claim left it); on the due
        index again at `due_at` (a poll, an unknown outcome asked again), or off it."""
        record = _record(after, due_at, now)
        record.version = claimed.version
        write.save(record)

    @staticmethod
    def stage_touch(write: TransactWrite, attempt: ChargeAttempt, now: datetime) -> None:
        """Move a scheduled attempt's version on, nothing else: a sweep that read the old version
        cannot claim it any more, and this transaction fails if a sweep claimed it first."""
        record = ChargeAttemptRecord(
            pk=invoice_partition(attempt.tenant_id, attempt.invoice_id), sk=charge_sk(attempt.attempt)
        )
        record.version = attempt.version
        write.update(record, actions=[ChargeAttemptRecord.updated_at.set(now)])

    @staticmethod
    def attempts_of(tenant_id: str, invoice_id: str) -> list[ChargeAttempt]:
        """Every attempt of one invoice, in order: one consistent Query of the invoice's partition."""
        results = ChargeAttemptRecord.query(
            invoice_partition(tenant_id, invoice_id),
            ChargeAttemptRecord.sk.startswith(CHARGE_SK_PREFIX),
            consistent_read=True,
        )
        found = [to_attempt(r) for r in results if isinstance(r, ChargeAttemptRecord)]
        return sorted(found, key=lambda a: a.attempt)

    @staticmethod
    def due_attempt(item: CashlineItem) -> ChargeAttempt | None:
        return to_attempt(item) if isinstance(item, ChargeAttemptRecord) else None

    @staticmethod
    def claim(attempt: ChargeAttempt, *, amount: int, now: datetime) -> ChargeAttempt | None:
        """Take a due attempt for this sweep: scheduled (or processing whose lease ran out) ->
        processing with its amount fixed, in one conditional write on the version read (dal.due.lease).
        Of two sweeps, or one run twice, exactly one gets it; None for the other."""
        record = ChargeAttemptRecord(
            pk=invoice_partition(attempt.tenant_id, attempt.invoice_id), sk=charge_sk(attempt.attempt)
        )
        record.version = attempt.version or None
        taken = lease(
            record,
            job=CHARGE_JOB,
            tenant_id=attempt.tenant_id,
            entity_id=attempt.charge_id,
            until=now + CLAIM_LEASE,
            now=now,
            also=[
                ChargeAttemptRecord.status.set(ChargeStatus.PROCESSING.value),
                ChargeAttemptRecord.amount.set(amount),
            ],
        )
        return to_attempt(record) if taken else None  # the update read the whole item back
