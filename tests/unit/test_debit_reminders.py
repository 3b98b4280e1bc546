"""The debit reminder e-mail (services/debit_reminders.py), rendered on its own: the day and the
amounts in the tenant's locale, one line per installment, totals per currency. No storage, no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cashline.domain.access import Tenant
from cashline.domain.plans import DebitMethod, FinancingSettings, Installment, InstallmentStatus
from cashline.services.debit_reminders import reminder_email

NOW = datetime(2025, 4, 28, 7, 0, tzinfo=UTC)


def tenant(country: str) -> Tenant:
    return Tenant(
        tenant_id="ten_1",
        name="Muster GmbH",
        country=country,
        base_currency="EUR",
        timezone="Europe/Berlin",
        created_at=NOW,
        updated_at=NOW,
        version=1,
    )


def installment(sequence: int, amount: int, currency: str = "EUR") -> Installment:
    return Installment(
        installment_id=f"installment_{sequence}",
        plan_id="plan_1",
        sequence=sequence,
        kind="scheduled",
        due_date=date(2025, 5, 1),
        amount=amount,
        currency=currency,
        status=InstallmentStatus.SCHEDULED,
    )


SETTINGS = FinancingSettings(
    reminder_email="finance@muster.example",
    debit=DebitMethod(processor="gocardless", mandate_id="MD000123"),
)


def test_a_german_tenant_is_reminded_in_its_locale_of_each_installment_and_the_total() -> None:
    # Given two installments due on one day
    due = [installment(1, 51_000), installment(2, 1_050)]

    # When the reminder is written
    email = reminder_email(tenant("DE"), SETTINGS, due, NOW)

    # Then it goes to finance, names the day, the account, each installment and the total
    assert (email.to, email.tenant_id, email.sent_at) == ("finance@muster.example", "ten_1", NOW)
    assert email.subject == "Cashline debits on 1. Mai 2025: 520,50\xa0€"
    assert "from MD000123:" in email.text
    assert "- plan plan_1, installment 1: 510,00\xa0€" in email.text
    assert "- plan plan_1, installment 2: 10,50\xa0€" in email.text


def test_amounts_in_several_currencies_are_totalled_per_currency_in_their_own_exponent() -> None:
    # Given installments in yen (no minor unit) and euro, for a tenant without a known locale
    due = [installment(1, 5_000, "JPY"), installment(2, 2_500)]

    email = reminder_email(tenant("US"), SETTINGS, due, NOW)

    assert email.subject == "Cashline debits on May 1, 2025: €25.00, ¥5,000"
