"""A processor's word on a financing installment's debit (the metadata Cashline set on the debit
names it): paid, or failed, also after it had been paid (a late failure or chargeback).

The installment is settled first, on its own version (the same write the debit sweep makes), then the
payment is recorded with the event's claim. A redelivery after a crash in between finds the
installment settled and records only the payment; the debit sweep's poll reaches the same state, so
the webhook and the sweep may race and one of them wins, never both.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from cashline.dal.financing_repository import FinancingRepository, installment_day
from cashline.dal.payment_repository import PaymentWrites
from cashline.domain.plans import Installment, InstallmentStatus, PlanStatus
from cashline.errors import NotFoundError
from cashline.ids import is_id_of
from cashline.observability import logger
from cashline.schemas.payment_events import PaymentEvent
from cashline.services.debits import complete_if_repaid, record_outcome, settle_outcome
from cashline.services.payments.context import Context, add_alert

plans = FinancingRepository()
WAITING = frozenset({InstallmentStatus.PROCESSING, InstallmentStatus.RETRYING, InstallmentStatus.SCHEDULED})


def _installment(ctx: Context, event: PaymentEvent) -> Installment | None:
    plan_id, installment_id = event.targets.plan_id or "", event.targets.installment_id or ""
    if not (is_id_of("plan", plan_id) and is_id_of("installment", installment_id)):
        return None
    try:
        _, installments = plans.get_plan(ctx.tenant_id, plan_id)
    except NotFoundError:
        return None
    return next((i for i in installments if i.installment_id == installment_id), None)


def installment_paid(ctx: Context, event: PaymentEvent) -> Installment | None:
    """Settle the installment a succeeded debit names; None when the event names none Cashline has."""
    installment = _installment(ctx, event)
    if installment is None:
        logger.warning("payment names an unknown installment", event_id=event.event_id)
        return None
    if installment.status not in WAITING:
        return installment  # settled by the debit sweep, or an earlier delivery of this event
    paid = replace(
        installment,
        status=InstallmentStatus.PAID,
        processor=event.source.value,
        processor_reference=event.reference,
        paid_at=ctx.now,
        failure_reason=None,
        phase="start",
    )
    record_outcome(
        ctx.tenant_id,
        paid,
        retry_instant=None,
        paid_delta=installment.amount,
        days=[installment_day(ctx.tenant_id, installment, -1)],
        plan_status=None,
        now=ctx.now,
    )
    complete_if_repaid(ctx.tenant_id, installment.plan_id, ctx.now)
    return paid


def installment_failed(ctx: Context, event: PaymentEvent, writes: PaymentWrites) -> None:
    """A failed debit goes the way the sweep sends it (a retry, or arrears); a failure after it was
    paid takes the amount back from the plan and puts it in arrears. Both raise an alert."""
    # Deferred: the processor SDKs (stripe, gocardless_pro) behind DebitResult are not for cold start.
    from cashline.adapters.processors import DebitResult

    installment = _installment(ctx, event)
    if installment is None:
        return
    detail = {
        "plan_id": installment.plan_id,
        "installment_id": installment.installment_id,
        "amount": installment.amount,
        "currency": installment.currency,
        "reason": event.failure_reason,
        "source": event.source.value,
    }
    if installment.status in WAITING:
        processor: Literal["stripe", "gocardless"] = (
            "gocardless" if event.source.value == "gocardless" else "stripe"
        )
        failed = DebitResult(processor, event.reference or "", "failed", event.failure_reason or "failed")
        settle_outcome(ctx.tenant_id, installment, failed, ctx.now)
        return  # the sweep's own failure path raised the alert
    elif installment.status is InstallmentStatus.PAID:
        reopened = replace(
            installment,
            status=InstallmentStatus.FAILED,
            failure_reason=event.failure_reason or "late failure",
        )
        record_outcome(
            ctx.tenant_id,
            reopened,
            retry_instant=None,
            paid_delta=-installment.amount,
            days=[installment_day(ctx.tenant_id, installment, 1)],
            plan_status=PlanStatus.IN_ARREARS,
            now=ctx.now,
        )
    else:
        return
    add_alert(writes, ctx, "debit.failed", detail)
