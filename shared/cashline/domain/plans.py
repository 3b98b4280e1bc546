"""Financing plans and installments as Cashline tracks them, and the debit state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class PlanStatus(StrEnum):
    ACTIVE = "active"  # payout scheduled or made, installments running
    IN_ARREARS = "in_arrears"  # an installment failed after its last retry
    COMPLETED = "completed"  # everything repaid
    CANCELLED = "cancelled"  # cancelled before the payout


class PayoutStatus(StrEnum):
    SCHEDULED = "scheduled"
    PAID = "paid"
    CANCELLED = "cancelled"


class InstallmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    RETRYING = "retrying"
    CANCELLED = "cancelled"


OPEN_INSTALLMENT = frozenset(
    {InstallmentStatus.SCHEDULED, InstallmentStatus.RETRYING, InstallmentStatus.PROCESSING}
)
DEFAULT_RETRY_AFTER_DAYS = (3, 5, 7)


@dataclass(frozen=True, slots=True)
class DebitMethod:
    processor: str | None  # stripe | gocardless
    customer_id: str | None = None
    payment_method_id: str | None = None
    mandate_id: str | None = None

    def missing(self) -> str | None:
        """The field a debit still needs, or None when the method is complete."""
        if self.processor == "stripe":
            return None if self.customer_id and self.payment_method_id else "payment_method_id"
        if self.processor == "gocardless":
            return None if self.mandate_id else "mandate_id"
        return "processor"


@dataclass(frozen=True, slots=True)
class FinancingSettings:
    monthly_rate_bp: int = 150
    fixed_fee: int = 0
    max_installments: int = 12
    retry_after_days: tuple[int, ...] = DEFAULT_RETRY_AFTER_DAYS
    reminder_days_before: int = 3
    reminder_email: str | None = None
    bank_country: str | None = None
    debit: DebitMethod = field(default_factory=lambda: DebitMethod(processor=None))
    version: int = 0


@dataclass(frozen=True, slots=True)
class Installment:
    installment_id: str
    plan_id: str
    sequence: int
    kind: str  # scheduled | early_repayment
    due_date: date
    amount: int
    currency: str
    status: InstallmentStatus
    attempt: int = 1
    phase: str = "start"
    processor: str | None = None
    processor_reference: str | None = None
    failure_reason: str | None = None
    next_attempt_at: datetime | None = None
    paid_at: datetime | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    tenant_id: str
    plan_id: str
    invoice_id: str
    supplier_name: str
    currency: str
    principal: int
    fee: int
    total: int
    paid_amount: int
    payout_date: date
    payout_status: PayoutStatus
    status: PlanStatus
    installments_count: int
    pricing: dict[str, int]
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    version: int = 0


def retry_delay_days(settings: FinancingSettings, failed_attempt: int) -> int | None:
    """Days until the next attempt after attempt `failed_attempt` failed; None when none is left."""
    if failed_attempt - 1 < len(settings.retry_after_days):
        return settings.retry_after_days[failed_attempt - 1]
    return None
