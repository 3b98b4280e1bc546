"""Alert e-mails are read by people: amounts formatted like reminders (the locale's symbol and
separators, the currency's own exponent), labelled fields, never `amount_outstanding: 117559`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from cashline.adapters.mailer import Email
from cashline.dal.alert_repository import Alert
from cashline.dal.payment_settings import PaymentSettings
from cashline.domain.alert_messages import SUBJECTS, alert_locale, render_alert_email
from cashline.errors import NotFoundError
from cashline.services import alerts

NOW = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)

# One alert of each type, with the detail its producer writes (services/invoices.py, payments.py, debits.py).
SAMPLES: dict[str, dict[str, object]] = {
    "invoice.overdue": {
        "invoice_id": "inv_1",
        "number": "R-1001",
        "direction": "receivable",
        "counterparty_id": "cp_1",
        "counterparty_name": "Nordwind AG",
        "due_date": "2027-03-01",
        "amount_outstanding": 117559,
        "currency": "EUR",
    },
    "debit.failed": {
        "plan_id": "plan_1",
        "installment_id": "inst_1",
        "attempt": 2,
        "amount": 117559,
        "currency": "EUR",
        "reason": "insufficient_funds",
        "final": False,
    },
    "payment.disputed": {
        "payment_id": "pay_1",
        "source": "stripe",
        "kind": "payment",
        "amount": 117559,
        "currency": "EUR",
        "counterparty_id": None,
        "invoice_ids": ["inv_1"],
        "reason": "fraudulent",
    },
    "payment.received_large": {
        "payment_id": "pay_2",
        "source": "manual",
        "kind": "payment",
        "amount": 117559,
        "currency": "EUR",
        "counterparty_id": "cp_1",
        "invoice_ids": ["inv_1", "inv_2"],
    },
    "mandate.ended": {
        "source": "gocardless",
        "event_type": "mandates.cancelled",
        "reference": "MD123",
        "original_reference": None,
        "amount": 117559,
        "currency": "EUR",
        "reason": "bank_account_closed",
    },
}


def test_every_alert_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(SUBJECTS)


@pytest.mark.parametrize("alert_type", sorted(SAMPLES))
def test_every_alert_e_mail_formats_its_amounts_for_the_tenants_locale(alert_type: str) -> None:
    email = render_alert_email(alert_type, SAMPLES[alert_type], "en_DE")

    assert "1.175,59 €" in email.text  # German separators, the euro's two decimals
    assert "117559" not in email.text and "117559" not in email.subject
    assert "amount_outstanding" not in email.text and "currency:" not in email.text.lower()
    assert email.text.startswith(f"Cashline alert: {email.subject}")


def test_the_overdue_alert_reads_as_sentences_with_labels_and_a_formatted_date() -> None:
    email = render_alert_email("invoice.overdue", SAMPLES["invoice.overdue"], "en_GB")

    assert email.subject == "Invoice R-1001 is overdue"
    lines = email.text.splitlines()
    assert "Amount outstanding: €1,175.59" in lines
    assert "Counterparty: Nordwind AG" in lines
    assert "Due date: 1 Mar 2027" in lines
    assert lines[-1] == "Alert type: invoice.overdue"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (120000, "JPY", "en_GB", "JP¥120,000"),  # yen have no minor unit: never divided by 100
        (1234, "BHD", "en_GB", "BHD1.234"),  # three decimals
        (117559, "CHF", "en_CH", "CHF 1\u2019175.59"),  # Swiss grouping apostrophe
    ],
)
def test_the_currency_exponent_comes_from_babel(
    amount: int, currency: str, locale: str, expected: str
) -> None:
    email = render_alert_email("payment.received_large", {"amount": amount, "currency": currency}, locale)

    assert email.subject == f"Payment received: {expected}"
    assert f"Amount: {expected}" in email.text.splitlines()


def test_an_amount_without_a_usable_currency_says_it_is_in_minor_units() -> None:
    email = render_alert_email("debit.failed", {"amount": 500, "currency": "XX1"}, "en")

    assert "Amount: 500 (minor units of XX1)" in email.text.splitlines()


def test_a_disputed_payment_without_an_amount_leaves_the_amount_out() -> None:
    detail = {**SAMPLES["payment.disputed"], "amount": None, "currency": None}

    email = render_alert_email("payment.disputed", detail, "en")

    assert not any(line.startswith("Amount") for line in email.text.splitlines())


@pytest.mark.parametrize(
    ("country", "locale"), [("DE", "en_DE"), ("ch", "en_CH"), ("GB", "en_GB"), ("XX", "en"), (None, "en")]
)
def test_the_locale_follows_the_tenants_country(country: str | None, locale: str) -> None:
    assert alert_locale(country) == locale


@dataclass
class FakeMailer:
    sent: list[Email] = field(default_factory=list)

    def send(self, email: Email) -> None:
        self.sent.append(email)


@dataclass
class FakeTenants:
    country: str | None

    def get(self, tenant_id: str) -> Any:
        if self.country is None:
            raise NotFoundError("tenant not found")
        return type("Tenant", (), {"country": self.country})()


def _alert(alert_type: str) -> Alert:
    return Alert(
        tenant_id="ten_1", alert_id="alert_1", alert_type=alert_type, detail=SAMPLES[alert_type], at=NOW
    )


def test_the_e_mail_sent_to_each_finance_contact_has_formatted_money(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts, "tenants", FakeTenants("DE"))
    mailer = FakeMailer()
    settings = PaymentSettings(finance_emails=("cfo@example.com", "ar@example.com"))

    outcome = alerts._email(_alert("invoice.overdue"), settings, mailer, NOW)  # type: ignore[arg-type]

    assert outcome == "sent"
    assert [m.to for m in mailer.sent] == ["cfo@example.com", "ar@example.com"]
    for message in mailer.sent:
        assert message.subject == "Invoice R-1001 is overdue"
        assert "Amount outstanding: 1.175,59 €" in message.text.splitlines()
        assert "117559" not in message.text
        assert message.sent_at == NOW


def test_an_alert_of_a_tenant_that_is_gone_still_goes_out_in_plain_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(alerts, "tenants", FakeTenants(None))
    mailer = FakeMailer()

    alerts._email(
        _alert("payment.received_large"),
        PaymentSettings(finance_emails=("cfo@example.com",)),
        mailer,  # type: ignore[arg-type]
        NOW,
    )

    assert mailer.sent[0].subject == "Payment received: €1,175.59"
