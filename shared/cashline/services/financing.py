"""Financing: a payable bill is paid to the supplier on a chosen date and repaid in installments.

Quotes have no side effects. A plan is created in one transaction with its installments, their
reminders, the bill marked as financed (its due amount leaves "what falls due" and the installments
enter it), and an audit event on the bill.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cashline.dal.financing_repository import FinancingRepository, installment_day
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.pagination import Page
from cashline.dal.transactions import UnitOfWork
from cashline.domain.access import Tenant
from cashline.domain.financing import (
    BankCalendar,
    FinancingError,
    Pricing,
    Schedule,
    ScheduledInstallment,
    bank_calendar,
    build_schedule,
    early_repayment,
)
from cashline.domain.invoices import (
    AWAITING_PAYMENT,
    Direction,
    InvoiceEvent,
    InvoiceStatus,
    overdue_instant_of,
    settled_status,
)
from cashline.domain.plans import (
    FinancingSettings,
    Installment,
    InstallmentStatus,
    PayoutStatus,
    Plan,
    PlanStatus,
)
from cashline.errors import ConflictError, NotFoundError, UnprocessableError, ValidationError
from cashline.ids import is_id_of, new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.plan_changes import bill_stage, change_plan
from cashline.services.tenancy import tenants

plans = FinancingRepository()
invoices = InvoiceRepository()

# Debits are asked for early on their day, reminders go out in the morning, both in the tenant's zone.
DEBIT_TIME = time(6, 0)
REMINDER_TIME = time(9, 0)


@dataclass(frozen=True, slots=True)
class PlanRequest:
    payout_date: date
    installments: int
    first_debit_date: date | None = None


def pricing_of(settings: FinancingSettings) -> Pricing:
    return Pricing(
        monthly_rate_bp=settings.monthly_rate_bp,
        fixed_fee=settings.fixed_fee,
        max_installments=settings.max_installments,
    )


def calendar_for(tenant: Tenant, settings: FinancingSettings, currency: str) -> BankCalendar:
    return bank_calendar(settings.bank_country or tenant.country, currency)


def _at(day: date, at: time, tenant: Tenant) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tenant.timezone))


def quote(tenant_id: str, *, principal: int, currency: str, request: PlanRequest, now: datetime) -> Schedule:
    """The plan a financing request would get, computed and not stored."""
    return _schedule(tenants.get(tenant_id), plans.settings(tenant_id), principal, currency, request, now)


def _schedule(
    tenant: Tenant,
    settings: FinancingSettings,
    principal: int,
    currency: str,
    request: PlanRequest,
    now: datetime,
) -> Schedule:
    local_today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    if request.payout_date < local_today:
        raise ValidationError("payout_date is in the past", field="payout_date")
    try:
        return build_schedule(
            principal=principal,
            currency=currency,
            payout_date=request.payout_date,
            installments=request.installments,
            pricing=pricing_of(settings),
            calendar=calendar_for(tenant, settings, currency),
            first_debit_date=request.first_debit_date,
        )
    except FinancingError as exc:
        raise ValidationError(str(exc), field=exc.field) from exc


def _installment(plan_id: str, item: ScheduledInstallment, currency: str) -> Installment:
    return Installment(
        installment_id=new_id("installment"),
        plan_id=plan_id,
        sequence=item.sequence,
        kind="scheduled",
        due_date=item.due_date,
        amount=item.amount,
        currency=currency,
        status=InstallmentStatus.SCHEDULED,
    )


def finance_invoice(
    tenant_id: str, invoice_id: str, request: PlanRequest, *, actor: str, now: datetime
) -> Plan:
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    tenant = tenants.get(tenant_id)
    settings = plans.settings(tenant_id)
    missing = settings.debit.missing()
    if missing:
        raise UnprocessableError(
            "set up how installments are debited first (PUT /v1/financing/settings)", field=f"debit.{missing}"
        )
    bill = invoices.get_header(tenant_id, invoice_id)
    if bill.direction is not Direction.PAYABLE or bill.status not in AWAITING_PAYMENT | {
        InvoiceStatus.OVERDUE
    }:
        raise ConflictError("only an open payable bill can be financed", field="invoice_id")
    if bill.financing_plan_id:
        raise ConflictError(
            "this bill is financed already",
            field="invoice_id",
            details={"existing_id": bill.financing_plan_id},
        )
    schedule = _schedule(tenant, settings, bill.amount_outstanding, bill.currency, request, now)
    plan_id = new_id("plan")
    plan = Plan(
        tenant_id=tenant_id,
        plan_id=plan_id,
        invoice_id=invoice_id,
        supplier_name=bill.counterparty_name,
        currency=bill.currency,
        principal=schedule.principal,
        fee=schedule.fee,
        total=schedule.total,
        paid_amount=0,
        payout_date=schedule.payout_date,
        payout_status=PayoutStatus.SCHEDULED,
        status=PlanStatus.ACTIVE,
        installments_count=len(schedule.installments),
        pricing={"monthly_rate_bp": settings.monthly_rate_bp, "fixed_fee": settings.fixed_fee},
        created_at=now,
        updated_at=now,
    )
    installments = [_installment(plan_id, item, bill.currency) for item in schedule.installments]
    financed = replace(bill, financing_plan_id=plan_id, updated_at=now)
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=invoice_id,
        at=now,
        actor=actor,
        action="financed",
        changes={"financing_plan_id": [None, plan_id]},
        note=f"{len(installments)} installments, fee {schedule.fee}, payout {schedule.payout_date}",
    )
    reminders = {
        i.due_date: _at(i.due_date - timedelta(days=settings.reminder_days_before), REMINDER_TIME, tenant)
        for i in installments
    }
    # The plan, its installments and reminders, the bill now financed and the day totals moved from
    # the bill to the installments: one transaction (at most 1 + 12 + 12 + 3 + 13 items).
    UnitOfWork("the invoice changed or is financed already; read it again").add(
        lambda write: plans.stage_new_plan(
            write,
            plan,
            installments,
            payout_instant=_at(schedule.payout_date, DEBIT_TIME, tenant),
            debit_instants={i.sequence: _at(i.due_date, DEBIT_TIME, tenant) for i in installments},
            reminders=reminders,
        )
    ).add(
        bill_stage(
            (bill, financed, event),
            overdue_instant=None,
            days=[installment_day(tenant_id, i, 1) for i in installments],
        )
    ).commit()
    metrics.add_metric(name="FinancingPlanCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "financing plan created",
        tenant_id=tenant_id,
        plan_id=plan_id,
        invoice_id=invoice_id,
        principal=plan.principal,
        fee=plan.fee,
    )
    return plan


def settings(tenant_id: str) -> FinancingSettings:
    return plans.settings(tenant_id)


def get_plan(tenant_id: str, plan_id: str) -> tuple[Plan, list[Installment]]:
    if not is_id_of("plan", plan_id):
        raise NotFoundError("financing plan not found", field="plan_id")
    return plans.get_plan(tenant_id, plan_id)


def list_plans(tenant_id: str, *, limit: int, starting_after: str | None) -> Page[Plan]:
    return plans.list_plans(tenant_id, limit=limit, starting_after=starting_after)


def cancel_plan(tenant_id: str, plan_id: str, *, actor: str, now: datetime) -> tuple[Plan, list[Installment]]:
    """Before the payout only: the installments are cancelled and the bill is the business's again."""
    plan, installments = get_plan(tenant_id, plan_id)
    if plan.payout_status is not PayoutStatus.SCHEDULED or plan.status is not PlanStatus.ACTIVE:
        raise ConflictError("a plan can be cancelled only before its payout", field="plan_id")
    cancelled = replace(
        plan,
        status=PlanStatus.CANCELLED,
        payout_status=PayoutStatus.CANCELLED,
        cancelled_at=now,
        updated_at=now,
    )
    changes = [
        (replace(i, status=InstallmentStatus.CANCELLED), None)
        for i in installments
        if i.status is InstallmentStatus.SCHEDULED
    ]
    bill = invoices.get_header(tenant_id, plan.invoice_id)
    tenant = tenants.get(tenant_id)
    # The bill is the business's again: its state follows its date, and the overdue check sees it again.
    status = bill.status
    if status in AWAITING_PAYMENT | {InvoiceStatus.OVERDUE}:
        today = now.astimezone(ZoneInfo(tenant.timezone)).date()
        status = settled_status(bill.amount_due, bill.amount_paid, bill.due_date, today)
    released = replace(bill, financing_plan_id=None, status=status, updated_at=now)
    event_changes: dict[str, list[object]] = {"financing_plan_id": [plan_id, None]}
    if status is not bill.status:
        event_changes["status"] = [bill.status.value, status.value]
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=bill.invoice_id,
        at=now,
        actor=actor,
        action="financing_cancelled",
        changes=event_changes,
    )
    change_plan(
        plan,
        cancelled,
        changes,
        days=[installment_day(tenant_id, i, -1) for i, _ in changes],
        invoice_change=(bill, released, event),
        overdue_instant=overdue_instant_of(tenant, released),
        now=now,
    )
    return get_plan(tenant_id, plan_id)


def repay_early(tenant_id: str, plan_id: str, *, now: datetime) -> tuple[Plan, list[Installment]]:
    """Replace the open installments with one debit today of what settles the plan, the fee
    recalculated for the months used (domain.financing.early_repayment)."""
    plan, installments = get_plan(tenant_id, plan_id)
    if plan.status is not PlanStatus.ACTIVE or plan.payout_status is not PayoutStatus.PAID:
        raise ConflictError("early repayment needs an active plan whose payout was made", field="plan_id")
    if any(i.status is InstallmentStatus.PROCESSING for i in installments):
        raise ConflictError("a debit is in progress; try again when it has settled", field="plan_id")
    tenant = tenants.get(tenant_id)
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    settings = plans.settings(tenant_id)
    schedule = Schedule(
        currency=plan.currency,
        principal=plan.principal,
        fee=plan.fee,
        total=plan.total,
        payout_date=plan.payout_date,
        term_months=plan.installments_count,
        installments=[
            ScheduledInstallment(i.sequence, i.due_date, i.due_date, i.amount)
            for i in installments
            if i.kind == "scheduled"
        ],
    )
    pricing = Pricing(
        monthly_rate_bp=plan.pricing["monthly_rate_bp"],
        fixed_fee=plan.pricing["fixed_fee"],
        max_installments=max(plan.installments_count, 1),
    )
    paid = {i.sequence for i in installments if i.status is InstallmentStatus.PAID}
    try:
        settlement = early_repayment(schedule, paid_sequences=paid, on=today, pricing=pricing)
    except FinancingError as exc:
        raise ConflictError(str(exc), field="plan_id") from exc
    open_ones = [
        i for i in installments if i.status in {InstallmentStatus.SCHEDULED, InstallmentStatus.RETRYING}
    ]
    changes: list[tuple[Installment, datetime | None]] = [
        (replace(i, status=InstallmentStatus.CANCELLED), None) for i in open_ones
    ]
    days = [installment_day(tenant_id, i, -1) for i in open_ones]
    if settlement.amount_due:
        due = calendar_for(tenant, settings, plan.currency).next_business_day(today)
        final = Installment(
            installment_id=new_id("installment"),
            plan_id=plan_id,
            sequence=max(i.sequence for i in installments) + 1,
            kind="early_repayment",
            due_date=due,
            amount=settlement.amount_due,
            currency=plan.currency,
            status=InstallmentStatus.SCHEDULED,
        )
        changes.append((final, max(now, _at(due, DEBIT_TIME, tenant))))
        days.append(installment_day(tenant_id, final, 1))
    repaid = replace(
        plan,
        fee=settlement.recalculated_fee,
        total=plan.principal + settlement.recalculated_fee,
        updated_at=now,
    )
    change_plan(plan, repaid, changes, days=days, invoice_change=None, now=now)
    return get_plan(tenant_id, plan_id)


def update_settings(tenant_id: str, settings: FinancingSettings, *, now: datetime) -> FinancingSettings:
    try:
        Pricing(
            monthly_rate_bp=settings.monthly_rate_bp,
            fixed_fee=settings.fixed_fee,
            max_installments=settings.max_installments,
        )
    except FinancingError as exc:
        raise ValidationError(str(exc), field=exc.field) from exc
    return plans.save_settings(tenant_id, settings, now)
