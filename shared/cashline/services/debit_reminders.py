"""The debit reminders: one e-mail per tenant and debit day, a few days before, with the amount, the
date and the account, so the account is funded when the installments are debited (services/debits.py).
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date
from babel.numbers import format_currency

from cashline.adapters.mailer import Email, Mailer
from cashline.dal.financing_repository import REMINDER_JOB, FinancingRepository
from cashline.dal.table import CashlineItem
from cashline.domain.access import Tenant
from cashline.domain.money import currency_exponent
from cashline.domain.plans import FinancingSettings, Installment, InstallmentStatus
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

REMINDER_SCHEDULE = "debit_reminders"

plans = FinancingRepository()


def run_reminders(*, tick_at: datetime, worker: str, mailer: Mailer) -> SweepResult:
    """One e-mail per tenant and debit day, a few days before: the amount, the date and the account."""

    def remind(item: CashlineItem) -> bool:
        reminder = plans.due_reminder(item)
        if reminder is None or reminder.sent:
            return False
        tenant = tenants.get(reminder.tenant_id)
        settings = plans.settings(reminder.tenant_id)
        due = [
            i
            for i in plans.installments_due(reminder.tenant_id, reminder.day, reminder.day)
            if i.status in {InstallmentStatus.SCHEDULED, InstallmentStatus.RETRYING}
        ]
        if not due or not settings.reminder_email:
            return plans.reminder_sent(reminder, tick_at) and False
        if not plans.reminder_sent(reminder, tick_at):
            return False  # another run sends it
        mailer.send(reminder_email(tenant, settings, due, tick_at))
        return True

    return sweep(
        schedule=REMINDER_SCHEDULE,
        job=REMINDER_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=remind,
    )


def reminder_email(
    tenant: Tenant, settings: FinancingSettings, due: list[Installment], now: datetime
) -> Email:
    locale = {"DE": "de_DE", "AT": "de_AT", "CH": "de_CH", "FR": "fr_FR", "GB": "en_GB"}.get(
        tenant.country, "en"
    )
    day = format_date(due[0].due_date, format="long", locale=locale)
    total_by_currency: dict[str, int] = {}
    for installment in due:
        total_by_currency[installment.currency] = (
            total_by_currency.get(installment.currency, 0) + installment.amount
        )
    amounts = ", ".join(
        format_currency(amount / 10 ** currency_exponent(currency), currency, locale=locale)  # display only
        for currency, amount in sorted(total_by_currency.items())
    )
    method = settings.debit
    account = method.mandate_id or method.payment_method_id or "your saved payment method"
    lines = [f"Hello {tenant.name},", "", f"on {day} Cashline will debit {amounts} from {account}:", ""]
    lines += [
        f"- plan {i.plan_id}, installment {i.sequence}: "
        f"{format_currency(i.amount / 10 ** currency_exponent(i.currency), i.currency, locale=locale)}"
        for i in due
    ]
    lines += ["", "Please make sure the account is funded. Cashline"]
    return Email(
        to=settings.reminder_email or "",
        subject=f"Cashline debits on {day}: {amounts}",
        text="\n".join(lines),
        sent_at=now,
        tenant_id=tenant.tenant_id,
    )
