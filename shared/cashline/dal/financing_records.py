"""Records of financing: a tenant's settings, a plan and its installments, debit reminders.

Keys (docs/data-model.md): settings `T#<tenant>` / `FINSET`; a plan is the item collection
`T#<tenant>#FIN#<plan>` (header `PLAN`, installments `INS#<nn>`); a reminder is
`T#<tenant>#REM#<day>` / `REM`, one per tenant and debit day, so several debits on one day make one
e-mail.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from cashline.dal.table import CashlineItem

SETTINGS_SK = "FINSET"
PLAN_SK = "PLAN"
INSTALLMENT_SK_PREFIX = "INS#"
REMINDER_SK = "REM"


def plan_pk(tenant_id: str, plan_id: str) -> str:
    return f"T#{tenant_id}#FIN#{plan_id}"


def reminder_pk(tenant_id: str, day: str) -> str:
    return f"T#{tenant_id}#REM#{day}"


class FinancingSettingsRecord(CashlineItem, discriminator="financing_settings"):
    version = VersionAttribute()
    monthly_rate_bp = NumberAttribute()
    fixed_fee = NumberAttribute()
    max_installments = NumberAttribute()
    retry_after_days = JSONAttribute()
    reminder_days_before = NumberAttribute()
    reminder_email = UnicodeAttribute(null=True)
    bank_country = UnicodeAttribute(null=True)
    processor = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    payment_method_id = UnicodeAttribute(null=True)
    mandate_id = UnicodeAttribute(null=True)


class PlanRecord(CashlineItem, discriminator="financing_plan"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    plan_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    supplier_name = UnicodeAttribute()
    currency = UnicodeAttribute()
    principal = NumberAttribute()
    fee = NumberAttribute()
    total = NumberAttribute()
    paid_amount = NumberAttribute(default=0)
    payout_date = UnicodeAttribute()
    payout_status = UnicodeAttribute()
    status = UnicodeAttribute()
    installments_count = NumberAttribute()
    pricing = JSONAttribute()
    cancelled_at = UTCDateTimeAttribute(null=True)


class InstallmentRecord(CashlineItem, discriminator="installment"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    plan_id = UnicodeAttribute()
    installment_id = UnicodeAttribute()
    sequence = NumberAttribute()
    installment_kind = UnicodeAttribute()  # scheduled | early_repayment
    due_date = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    attempt = NumberAttribute(default=1)
    phase = UnicodeAttribute(default="start")  # start: ask for the debit; poll: ask how it went
    processor = UnicodeAttribute(null=True)
    processor_reference = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    next_attempt_at = UTCDateTimeAttribute(null=True)
    paid_at = UTCDateTimeAttribute(null=True)


class ReminderRecord(CashlineItem, discriminator="debit_reminder"):
    tenant_id = UnicodeAttribute()
    day = UnicodeAttribute()
    sent = BooleanAttribute(default=False)
