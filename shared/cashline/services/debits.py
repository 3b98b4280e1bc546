"""The scheduled side of financing: supplier payouts and installment debits (their reminders:
services/debit_reminders.py).

Every sweep reads only what is due from the `due` index (services/sweeps.py). A debit moves from
`scheduled` (or `retrying`) to `processing` with one conditional write, so two sweeps, or one run
twice, start it once. The processor's idempotency key is the installment id plus the attempt
number: a retry after a timeout reuses it (the processor answers with the debit it may have made),
a retry after a definite failure is a new attempt with a new key.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cashline.adapters.mailer import Mailer
from cashline.dal.alert_repository import Alert, stage_alert
from cashline.dal.daily_totals import DayDelta
from cashline.dal.financing_repository import (
    DEBIT_JOB,
    OUTCOME_CONFLICT,
    PAYOUT_JOB,
    FinancingRepository,
    installment_day,
)
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.invoices import InvoiceEvent, InvoiceStatus
from cashline.domain.plans import (
    FinancingSettings,
    Installment,
    InstallmentStatus,
    PayoutStatus,
    PlanStatus,
    retry_delay_days,
)
from cashline.errors import ConflictError
from cashline.ids import new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.plan_changes import change_plan
from cashline.services.processor_clients import processor_from_settings
from cashline.services.sweeps import SweepResult, sweep

if TYPE_CHECKING:
    # The processor SDKs are imported when a debit is made, not at cold start: the API function
    # registers this module too (Chalice keeps every handler on one app) and never debits.
    from cashline.adapters.processors import DebitAccount, DebitProcessor
    from cashline.config import DebitSettings, MailSettings, StageSettings
    from cashline.services.processor_clients import Outcome


DEBIT_SCHEDULE = "installment_debits"
PAYOUT_SCHEDULE = "financing_payouts"
# An unknown outcome (timeout, processor down) is asked again soon with the same key.
UNKNOWN_OUTCOME_RETRY = timedelta(minutes=30)
# A debit the processor accepted but has not settled (GoCardless) is looked at again in an hour.
POLL_AFTER = timedelta(hours=1)

plans = FinancingRepository()
invoices = InvoiceRepository()
# A financed bill Cashline may still pay: not void, written off or paid by someone else meanwhile.
PAYABLE_BY_FINANCING = frozenset(
    {InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE, InvoiceStatus.DISPUTED}
)


class DebitRuntime:
    """What the debit sweep needs from configuration, built once per invocation."""

    def __init__(self, settings: DebitSettings):
        self.settings = settings

    def processor(self, account: DebitAccount) -> DebitProcessor:
        return processor_from_settings(
            account,
            self.settings,
            stripe_api_key=self.settings.stripe_api_key.get_secret_value(),
            gocardless_token=self.settings.gocardless_access_token.get_secret_value(),
        )


def run_payouts(*, tick_at: datetime, worker: str) -> SweepResult:
    """Pay the supplier on the payout date: the financed bill becomes paid (by Cashline)."""

    def pay_out(item: CashlineItem) -> bool:
        plan = plans.due_plan(item)
        if plan is None:
            return False
        if plan.payout_status is not PayoutStatus.SCHEDULED or plan.status is not PlanStatus.ACTIVE:
            return False
        bill = invoices.get_header(plan.tenant_id, plan.invoice_id)
        if bill.status not in PAYABLE_BY_FINANCING or bill.financing_plan_id != plan.plan_id:
            logger.warning(
                "payout skipped: the bill is not payable any more",
                plan_id=plan.plan_id,
                invoice_id=bill.invoice_id,
                status=bill.status.value,
            )
            return False
        paid = replace(plan, payout_status=PayoutStatus.PAID, updated_at=tick_at)
        settled = replace(bill, amount_paid=bill.amount_due, status=InvoiceStatus.PAID, updated_at=tick_at)
        event = InvoiceEvent(
            event_id=new_id("event"),
            invoice_id=bill.invoice_id,
            at=tick_at,
            actor="system:financing",
            action="paid_by_financing",
            changes={
                "status": [bill.status.value, "paid"],
                "amount_paid": [bill.amount_paid, bill.amount_due],
            },
            note=f"paid to the supplier by Cashline under plan {plan.plan_id}",
        )
        # The plan (on the version read from the index) and the bill change together, or neither does.
        change_plan(plan, paid, [], days=[], invoice_change=(bill, settled, event), now=tick_at)
        metrics.add_metric(name="FinancingPayout", unit=MetricUnit.Count, value=1)
        return True

    return sweep(
        schedule=PAYOUT_SCHEDULE,
        job=PAYOUT_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=pay_out,
    )


def run_debits(*, tick_at: datetime, worker: str, runtime: DebitRuntime) -> SweepResult:
    settings_cache: dict[str, FinancingSettings] = {}

    def debit(item: CashlineItem) -> bool:
        due = plans.due_installment(item)
        if due is None:
            return False
        tenant_id, installment = due
        claimed = plans.claim(tenant_id, installment, tick_at)
        if claimed is None:
            return False  # another sweep has it
        settings = settings_cache.get(tenant_id) or plans.settings(tenant_id)
        settings_cache[tenant_id] = settings
        installment = claimed
        outcome = _ask_processor(installment, tenant_id, settings, runtime)
        _settle(tenant_id, installment, outcome, settings, tick_at)
        return True

    return sweep(
        schedule=DEBIT_SCHEDULE,
        job=DEBIT_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=debit,
    )


def _ask_processor(
    installment: Installment, tenant_id: str, settings: FinancingSettings, runtime: DebitRuntime
) -> Outcome:
    # defer the processor SDKs (stripe, gocardless_pro: ~100 ms) to the first debit
    from cashline.adapters.processors import (
        DebitAccount,
        DebitRefusedError,
        DebitTimeoutError,
        ProcessorUnavailableError,
    )

    method = settings.debit
    account = DebitAccount(
        processor="gocardless" if method.processor == "gocardless" else "stripe",
        customer_id=method.customer_id,
        payment_method_id=method.payment_method_id,
        mandate_id=method.mandate_id,
    )
    processor = runtime.processor(account)
    try:
        if installment.phase == "poll" and installment.processor_reference:
            return processor.fetch_status(installment.processor_reference)
        return processor.start_debit(
            idempotency_key=f"{installment.installment_id}-{installment.attempt}",
            amount=installment.amount,
            currency=installment.currency,
            description=f"Cashline financing installment {installment.sequence}",
            account=account,
            # GoCardless allows three metadata keys: the installment id finds the tenant and plan.
            metadata={
                "cashline_installment": installment.installment_id,
                "cashline_plan": installment.plan_id,
                "attempt": str(installment.attempt),
            },
        )
    except (DebitRefusedError, DebitTimeoutError, ProcessorUnavailableError) as outcome:
        return outcome


def settle_outcome(tenant_id: str, installment: Installment, outcome: Outcome, now: datetime) -> None:
    """A processor's answer that came by webhook, recorded the way the sweep records its own."""
    _settle(tenant_id, installment, outcome, plans.settings(tenant_id), now)


def _settle(
    tenant_id: str, installment: Installment, outcome: Outcome, settings: FinancingSettings, now: datetime
) -> None:
    """Record what the processor said; schedule the next look or attempt when there is one."""
    # defer the processor SDKs (stripe, gocardless_pro: ~100 ms): a webhook's outcome comes here too
    from cashline.adapters.processors import (
        DebitRefusedError,
        DebitResult,
        DebitTimeoutError,
        ProcessorUnavailableError,
    )

    base = replace(installment, status=InstallmentStatus.PROCESSING)  # the claim's version, as read back
    if isinstance(outcome, DebitResult) and outcome.status == "succeeded":
        paid = replace(
            base,
            status=InstallmentStatus.PAID,
            processor=outcome.processor,
            processor_reference=outcome.reference,
            paid_at=now,
            failure_reason=None,
        )
        _record(
            tenant_id,
            paid,
            None,
            paid_delta=installment.amount,
            days=[installment_day(tenant_id, installment, -1)],
            now=now,
        )
        metrics.add_metric(name="InstallmentPaid", unit=MetricUnit.Count, value=1)
        return
    if isinstance(outcome, DebitResult) and outcome.status == "pending":
        waiting = replace(
            base, phase="poll", processor=outcome.processor, processor_reference=outcome.reference
        )
        _record(tenant_id, waiting, now + POLL_AFTER, now=now)
        return
    if isinstance(outcome, (DebitTimeoutError, ProcessorUnavailableError)):
        # Same attempt, same key: the processor answers with the debit it may have made.
        unknown = replace(
            base,
            status=InstallmentStatus.RETRYING,
            failure_reason=type(outcome).__name__,
            next_attempt_at=now + UNKNOWN_OUTCOME_RETRY,
        )
        _record(tenant_id, unknown, now + UNKNOWN_OUTCOME_RETRY, now=now)
        return
    reason = (
        outcome.reason if isinstance(outcome, DebitRefusedError) else (outcome.failure_reason or "failed")
    )
    delay = retry_delay_days(settings, installment.attempt)
    if delay is None:
        failed = replace(base, status=InstallmentStatus.FAILED, failure_reason=reason, phase="start")
        alert = _failure_alert(tenant_id, installment, reason, final=True, now=now)
        _record(tenant_id, failed, None, plan_status=PlanStatus.IN_ARREARS, now=now, alert=alert)
        metrics.add_metric(name="InstallmentFailed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "installment failed for good; plan in arrears",
            tenant_id=tenant_id,
            installment_id=installment.installment_id,
            reason=reason,
        )
        return
    retry_at = now + timedelta(days=delay)
    retrying = replace(
        base,
        status=InstallmentStatus.RETRYING,
        attempt=installment.attempt + 1,
        phase="start",
        failure_reason=reason,
        next_attempt_at=retry_at,
        processor_reference=None,
    )
    alert = _failure_alert(tenant_id, installment, reason, final=False, now=now)
    _record(tenant_id, retrying, retry_at, now=now, alert=alert)


def _failure_alert(
    tenant_id: str, installment: Installment, reason: str, *, final: bool, now: datetime
) -> Alert:
    """A refused debit is news for finance (fund the account, fix the mandate): an alert written with
    the outcome, so it goes out exactly when the failure is recorded."""
    return Alert(
        tenant_id=tenant_id,
        alert_id=new_id("alert"),
        alert_type="debit.failed",
        detail={
            "plan_id": installment.plan_id,
            "installment_id": installment.installment_id,
            "attempt": installment.attempt,
            "amount": installment.amount,
            "currency": installment.currency,
            "reason": reason,
            "final": final,
        },
        at=now,
    )


def _alert_stage(alert: Alert | None) -> Stage | None:
    return None if alert is None else (lambda write: stage_alert(write, alert))


def _record(
    tenant_id: str,
    installment: Installment,
    retry_at: datetime | None,
    *,
    now: datetime,
    paid_delta: int = 0,
    days: list[DayDelta] | None = None,
    plan_status: PlanStatus | None = None,
    alert: Alert | None = None,
) -> None:
    record_outcome(
        tenant_id,
        installment,
        retry_instant=retry_at,
        paid_delta=paid_delta,
        days=days or [],
        plan_status=plan_status,
        now=now,
        alert=alert,
    )
    if paid_delta:
        complete_if_repaid(tenant_id, installment.plan_id, now)


def record_outcome(
    tenant_id: str,
    installment: Installment,
    *,
    retry_instant: datetime | None,
    paid_delta: int,
    days: list[DayDelta],
    plan_status: PlanStatus | None,
    now: datetime,
    alert: Alert | None = None,
) -> None:
    """A debit's outcome (from the sweep or a processor's webhook): the installment's new state, the
    plan's paid amount and status, the day totals and the alert, if any, in one transaction on the
    plan as it is now. `retry_instant`: when the installment is due again (a retry, a poll), or None."""
    plan = plans.plan_header(tenant_id, installment.plan_id)
    UnitOfWork(OUTCOME_CONFLICT).add(
        lambda write: plans.stage_outcome(
            write,
            plan,
            installment,
            retry_instant=retry_instant,
            paid_delta=paid_delta,
            days=days,
            plan_status=plan_status,
            now=now,
        )
    ).add(_alert_stage(alert)).commit()


def complete_if_repaid(tenant_id: str, plan_id: str, now: datetime) -> None:
    """A plan whose installments are all paid (or cancelled) is completed; a concurrent debit that
    completed it first is fine."""
    plan, installments = plans.get_plan(tenant_id, plan_id)
    open_left = [
        i for i in installments if i.status not in {InstallmentStatus.PAID, InstallmentStatus.CANCELLED}
    ]
    if not open_left and plan.status is not PlanStatus.COMPLETED:
        try:
            plans.save_plan(
                plan, replace(plan, status=PlanStatus.COMPLETED, updated_at=now), payout_instant=None
            )
        except ConflictError:
            logger.info("plan completed by a concurrent debit", plan_id=plan_id)


def mailer_for(settings: MailSettings, stage: StageSettings, endpoint: str | None) -> Mailer:
    return Mailer(
        sender=settings.mail_from,
        region=stage.region,
        endpoint=endpoint,
        outbox=Path(settings.outbox_dir) if settings.outbox_dir else None,
    )
