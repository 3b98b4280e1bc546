"""Financing plans in DynamoDB: settings, plans, installments (on the `due` index while a debit is
pending) and reminders. Changes that span other entities (the financed bill, the day totals, an
alert) are `stage_*` functions a service composes into one dal.transactions.UnitOfWork."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from cashline.dal.daily_totals import DayDelta, apply_in
from cashline.dal.due import due_keys, lease
from cashline.dal.errors import storage_errors
from cashline.dal.financing_records import (
    INSTALLMENT_SK_PREFIX,
    PLAN_SK,
    REMINDER_SK,
    SETTINGS_SK,
    FinancingSettingsRecord,
    InstallmentRecord,
    PlanRecord,
    ReminderRecord,
    plan_pk,
    reminder_pk,
)
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.plans import (
    DebitMethod,
    FinancingSettings,
    Installment,
    InstallmentStatus,
    PayoutStatus,
    Plan,
    PlanStatus,
)
from cashline.errors import ConflictError, NotFoundError

DEBIT_JOB = "installment_debit"
CLAIM_LEASE = timedelta(minutes=30)
PAYOUT_JOB = "financing_payout"
REMINDER_JOB = "debit_reminder"
PLAN_CONFLICT = "financing plan was changed by someone else; read it again"
OUTCOME_CONFLICT = "installment or plan changed at the same time"


def plans_partition(tenant_id: str) -> str:
    """gsi1: a tenant's plans."""
    return f"T#{tenant_id}#FIN"


def installments_by_due_partition(tenant_id: str) -> str:
    """gsi1: every installment of a tenant by due date (the "payments of a week" list, the reminders)."""
    return f"T#{tenant_id}#INSDUE"


def _installment_sk(installment: Installment) -> str:
    return f"{INSTALLMENT_SK_PREFIX}{installment.sequence:02d}"


def _settings(record: FinancingSettingsRecord) -> FinancingSettings:
    return FinancingSettings(
        monthly_rate_bp=int(record.monthly_rate_bp),
        fixed_fee=int(record.fixed_fee),
        max_installments=int(record.max_installments),
        retry_after_days=tuple(record.retry_after_days),
        reminder_days_before=int(record.reminder_days_before),
        reminder_email=record.reminder_email,
        bank_country=record.bank_country,
        debit=DebitMethod(
            processor=record.processor,
            customer_id=record.customer_id,
            payment_method_id=record.payment_method_id,
            mandate_id=record.mandate_id,
        ),
        version=int(record.version or 0),
    )


def to_plan(record: PlanRecord) -> Plan:
    return Plan(
        tenant_id=record.tenant_id,
        plan_id=record.plan_id,
        invoice_id=record.invoice_id,
        supplier_name=record.supplier_name,
        currency=record.currency,
        principal=int(record.principal),
        fee=int(record.fee),
        total=int(record.total),
        paid_amount=int(record.paid_amount),
        payout_date=date.fromisoformat(record.payout_date),
        payout_status=PayoutStatus(record.payout_status),
        status=PlanStatus(record.status),
        installments_count=int(record.installments_count),
        pricing=record.pricing,
        created_at=record.created_at,
        updated_at=record.updated_at,
        cancelled_at=record.cancelled_at,
        version=int(record.version or 0),
    )


def to_installment(record: InstallmentRecord) -> Installment:
    return Installment(
        installment_id=record.installment_id,
        plan_id=record.plan_id,
        sequence=int(record.sequence),
        kind=record.installment_kind,
        due_date=date.fromisoformat(record.due_date),
        amount=int(record.amount),
        currency=record.currency,
        status=InstallmentStatus(record.status),
        attempt=int(record.attempt),
        phase=record.phase,
        processor=record.processor,
        processor_reference=record.processor_reference,
        failure_reason=record.failure_reason,
        next_attempt_at=record.next_attempt_at,
        paid_at=record.paid_at,
        version=int(record.version or 0),
    )


def plan_record(plan: Plan, payout_instant: datetime | None) -> PlanRecord:
    record = PlanRecord(
        pk=plan_pk(plan.tenant_id, plan.plan_id),
        sk=PLAN_SK,
        tenant_id=plan.tenant_id,
        plan_id=plan.plan_id,
        invoice_id=plan.invoice_id,
        supplier_name=plan.supplier_name,
        currency=plan.currency,
        principal=plan.principal,
        fee=plan.fee,
        total=plan.total,
        paid_amount=plan.paid_amount,
        payout_date=plan.payout_date.isoformat(),
        payout_status=plan.payout_status.value,
        status=plan.status.value,
        installments_count=plan.installments_count,
        pricing=plan.pricing,
        cancelled_at=plan.cancelled_at,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        gsi1pk=plans_partition(plan.tenant_id),
        gsi1sk=plan.plan_id,
    )
    if payout_instant is not None:
        record.due_pk, record.due_sk = due_keys(PAYOUT_JOB, payout_instant, plan.tenant_id, plan.plan_id)
    return record


def installment_record(
    tenant_id: str, installment: Installment, debit_instant: datetime | None, now: datetime
) -> InstallmentRecord:
    record = InstallmentRecord(
        pk=plan_pk(tenant_id, installment.plan_id),
        sk=_installment_sk(installment),
        tenant_id=tenant_id,
        plan_id=installment.plan_id,
        installment_id=installment.installment_id,
        sequence=installment.sequence,
        installment_kind=installment.kind,
        due_date=installment.due_date.isoformat(),
        amount=installment.amount,
        currency=installment.currency,
        status=installment.status.value,
        attempt=installment.attempt,
        phase=installment.phase,
        processor=installment.processor,
        processor_reference=installment.processor_reference,
        failure_reason=installment.failure_reason,
        next_attempt_at=installment.next_attempt_at,
        paid_at=installment.paid_at,
        created_at=now,
        updated_at=now,
        gsi1pk=installments_by_due_partition(tenant_id),
        gsi1sk=f"{installment.due_date.isoformat()}#{installment.installment_id}",
    )
    if debit_instant is not None:
        record.due_pk, record.due_sk = due_keys(
            DEBIT_JOB, debit_instant, tenant_id, installment.installment_id
        )
    return record


def installment_day(tenant_id: str, installment: Installment, sign: int) -> DayDelta:
    return DayDelta(
        tenant_id,
        "payable",
        installment.due_date,
        installment.currency,
        "installments",
        sign * installment.amount,
        sign,
    )


@dataclass(frozen=True, slots=True)
class DebitDayReminder:
    """One e-mail to a tenant a few days before a day with debits (whatever number of them)."""

    tenant_id: str
    day: date
    sent: bool


class FinancingRepository:
    """Due items come from the sweep (services.sweeps) as they are stored; `due_*` turns one into
    what it is, or None when it is something else."""

    @staticmethod
    def due_plan(item: CashlineItem) -> Plan | None:
        return to_plan(item) if isinstance(item, PlanRecord) else None

    @staticmethod
    def due_installment(item: CashlineItem) -> tuple[str, Installment] | None:
        """The tenant and the installment (an installment does not name its tenant)."""
        return (item.tenant_id, to_installment(item)) if isinstance(item, InstallmentRecord) else None

    @staticmethod
    def due_reminder(item: CashlineItem) -> DebitDayReminder | None:
        if not isinstance(item, ReminderRecord):
            return None
        return DebitDayReminder(item.tenant_id, date.fromisoformat(item.day), bool(item.sent))

    def settings(self, tenant_id: str) -> FinancingSettings:
        try:
            return _settings(
                FinancingSettingsRecord.get(tenant_pk(tenant_id), SETTINGS_SK, consistent_read=True)
            )
        except DoesNotExist:
            return FinancingSettings()

    def save_settings(self, tenant_id: str, settings: FinancingSettings, now: datetime) -> FinancingSettings:
        record = FinancingSettingsRecord(
            pk=tenant_pk(tenant_id),
            sk=SETTINGS_SK,
            monthly_rate_bp=settings.monthly_rate_bp,
            fixed_fee=settings.fixed_fee,
            max_installments=settings.max_installments,
            retry_after_days=list(settings.retry_after_days),
            reminder_days_before=settings.reminder_days_before,
            reminder_email=settings.reminder_email,
            bank_country=settings.bank_country,
            processor=settings.debit.processor,
            customer_id=settings.debit.customer_id,
            payment_method_id=settings.debit.payment_method_id,
            mandate_id=settings.debit.mandate_id,
            created_at=now,
            updated_at=now,
        )
        if settings.version:  # version 0 is the first save: PynamoDB then requires that none exists
            record.version = settings.version
        with storage_errors("financing settings were changed by someone else; read them again"):
            record.save()
        return _settings(record)

    def stage_new_plan(
        self,
        write: TransactWrite,
        plan: Plan,
        installments: list[Installment],
        *,
        payout_instant: datetime,
        debit_instants: dict[int, datetime],
        reminders: dict[date, datetime],
    ) -> None:
        """A new plan, its installments (each on the `due` index at its debit instant) and the
        tenant's reminder of each debit day: at most 1 + 12 + 12 items. The day totals move with the
        bill's change (the caller stages it): a transaction may touch a day item only once."""
        t = plan.tenant_id
        write.save(plan_record(plan, payout_instant), condition=PlanRecord.pk.does_not_exist())
        for installment in installments:
            write.save(
                installment_record(t, installment, debit_instants[installment.sequence], plan.created_at)
            )
        for day, at in reminders.items():
            self._upsert_reminder(write, t, day, at, plan.created_at)

    @staticmethod
    def _upsert_reminder(
        write: TransactWrite, tenant_id: str, day: date, at: datetime, now: datetime
    ) -> None:
        pk_value, sk_value = due_keys(REMINDER_JOB, at, tenant_id, day.isoformat())
        r = ReminderRecord
        write.update(
            ReminderRecord(pk=reminder_pk(tenant_id, day.isoformat()), sk=REMINDER_SK),
            actions=[
                r.kind.set(r.kind | ReminderRecord),
                r.tenant_id.set(tenant_id),
                r.day.set(day.isoformat()),
                r.sent.set(r.sent | False),
                r.created_at.set(r.created_at | now),
                r.updated_at.set(now),
                r.due_pk.set(r.due_pk | pk_value),
                r.due_sk.set(r.due_sk | sk_value),
            ],
        )

    def get_plan(self, tenant_id: str, plan_id: str) -> tuple[Plan, list[Installment]]:
        plan: Plan | None = None
        installments: list[Installment] = []
        for item in CashlineItem.query(plan_pk(tenant_id, plan_id), consistent_read=True):
            if isinstance(item, PlanRecord):
                plan = to_plan(item)
            elif isinstance(item, InstallmentRecord):
                installments.append(to_installment(item))
        if plan is None:
            raise NotFoundError("financing plan not found", field="plan_id")
        return plan, sorted(installments, key=lambda i: i.sequence)

    def list_plans(self, tenant_id: str, *, limit: int, starting_after: str | None) -> Page[Plan]:
        partition = plans_partition(tenant_id)
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = PlanRecord.gsi1.query(
            partition, limit=limit, page_size=limit, last_evaluated_key=start, scan_index_forward=False
        )
        items = [to_plan(item) for item in results if isinstance(item, PlanRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def installments_due(self, tenant_id: str, first: date, last: date) -> list[Installment]:
        """A tenant's installments due between two days (inclusive), by due date: one Query."""
        results = InstallmentRecord.gsi1.query(
            installments_by_due_partition(tenant_id),
            InstallmentRecord.gsi1sk.between(first.isoformat(), last.isoformat() + "#~"),
        )
        return [to_installment(item) for item in results if isinstance(item, InstallmentRecord)]

    def claim(self, tenant_id: str, installment: Installment, now: datetime) -> Installment | None:
        """Take a due installment for this sweep (dal.due.lease, on the version read): of two sweeps,
        or one run twice, exactly one gets it. None when someone else took or changed it.

        The claim is a lease: the installment stays on the `due` index, CLAIM_LEASE later. If this
        sweep dies after asking the processor but before recording the answer, a later sweep takes it
        again and asks with the same idempotency key, so the debit is recorded, never made twice."""
        record = InstallmentRecord(
            pk=plan_pk(tenant_id, installment.plan_id), sk=_installment_sk(installment)
        )
        record.version = installment.version or None
        taken = lease(
            record,
            job=DEBIT_JOB,
            tenant_id=tenant_id,
            entity_id=installment.installment_id,
            until=now + CLAIM_LEASE,
            now=now,
            also=[InstallmentRecord.status.set(InstallmentStatus.PROCESSING.value)],
        )
        return to_installment(record) if taken else None  # the update read the whole item back

    def plan_header(self, tenant_id: str, plan_id: str) -> Plan:
        """The plan alone (no installments), read consistently: the version a change is written on."""
        try:
            return to_plan(PlanRecord.get(plan_pk(tenant_id, plan_id), PLAN_SK, consistent_read=True))
        except DoesNotExist as exc:
            raise NotFoundError("financing plan not found", field="plan_id") from exc

    @staticmethod
    def stage_outcome(
        write: TransactWrite,
        plan: Plan,
        installment: Installment,
        *,
        retry_instant: datetime | None,
        paid_delta: int,
        days: list[DayDelta],
        plan_status: PlanStatus | None,
        now: datetime,
    ) -> None:
        """A debit's outcome: the installment's new state (on its version), the plan's paid amount and
        status (on the version of `plan`), and the day totals.

        Written on the plan's version: two installments of one plan settled at the same moment
        conflict, and the loser is taken again when its claim lease ends (the processor then answers
        with the same debit), so nothing is lost or counted twice."""
        record = installment_record(plan.tenant_id, installment, retry_instant, now)
        record.version = installment.version
        header = PlanRecord(pk=plan_pk(plan.tenant_id, plan.plan_id), sk=PLAN_SK)
        header.version = plan.version or None
        actions: list[Action] = [PlanRecord.updated_at.set(now)]
        if paid_delta:
            actions.append(PlanRecord.paid_amount.add(paid_delta))
        if plan_status is not None:
            actions.append(PlanRecord.status.set(plan_status.value))
        write.save(record)
        write.update(header, actions=actions)  # conditioned on the version read
        apply_in(write, days, now)

    def save_plan(self, before: Plan, after: Plan, *, payout_instant: datetime | None) -> Plan:
        record = plan_record(after, payout_instant)
        record.version = before.version
        with storage_errors(PLAN_CONFLICT):
            record.save()
        return to_plan(record)

    @staticmethod
    def stage_plan_change(
        write: TransactWrite,
        before: Plan,
        after: Plan,
        changes: Sequence[tuple[Installment, datetime | None]],
        now: datetime,
    ) -> None:
        """The plan (on the version of `before`) and the installments cancelled or added with it
        (cancel before payout, early repayment, payout), each with its next debit instant or None."""
        t = after.tenant_id
        record = plan_record(after, None)
        record.version = before.version
        write.save(record)
        for installment, debit_instant in changes:
            item = installment_record(t, installment, debit_instant, now)
            if installment.version:  # an existing installment: written on the version read
                item.version = installment.version
            write.save(item)

    def reminder_sent(self, reminder: DebitDayReminder, now: datetime) -> bool:
        """Mark a reminder sent once: False when another run marked it first."""
        record = ReminderRecord(pk=reminder_pk(reminder.tenant_id, reminder.day.isoformat()), sk=REMINDER_SK)
        try:
            with storage_errors("reminder already sent"):
                record.update(
                    actions=[
                        ReminderRecord.sent.set(True),
                        ReminderRecord.updated_at.set(now),
                        ReminderRecord.due_pk.remove(),
                        ReminderRecord.due_sk.remove(),
                    ],
                    condition=ReminderRecord.sent == False,  # noqa: E712  (a DynamoDB condition, not a test)
                )
        except ConflictError:
            return False
        return True
