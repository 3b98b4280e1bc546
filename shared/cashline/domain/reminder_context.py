"""What a reminder template is rendered with: plain values only, and the figures formatted for a locale.

The context (see ``reminder_context``)::

    creditor      name, email, phone (or None), iban (or None, grouped in fours)
    debtor        name, language
    invoice       number, issue_date, due_date (ISO), currency, amount_due, amount_paid,
                  amount_outstanding (minor units), days_past_due (negative before the due date)
    late_charges  None, or interest, compensation, total (minor units), days, rate_text
    total_due     amount_outstanding plus the late charges, minor units
    step          number, channel, pay_by (ISO date or None)
    promise       None, or date (ISO) and amount (minor units or None): a promise to pay not kept

A template may be a tenant's, rendered in a sandbox, so the context never holds domain objects,
dates or Decimals: dates travel as ISO strings and money as int minor units. Nothing here imports
Jinja2 (``reminder_templates`` renders).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_percent

from cashline.domain.late_charges import LateCharges
from cashline.domain.money import normalize_currency
from cashline.domain.money_text import parse_locale, plain_spaces
from cashline.domain.reminder_texts import rate_words


def reminder_context(
    *,
    locale: str,
    creditor_name: str,
    creditor_email: str,
    debtor_name: str,
    debtor_language: str,
    invoice_number: str,
    issue_date: date,
    due_date: date,
    currency: str,
    amount_due: int,
    amount_outstanding: int,
    days_past_due: int,
    step_number: int,
    channel: str,
    creditor_phone: str | None = None,
    creditor_iban: str | None = None,
    late_charges: LateCharges | None = None,
    pay_by: date | None = None,
    promise_date: date | None = None,
    promise_amount: int | None = None,
) -> dict[str, Any]:
    """The documented context, as plain dicts, str, int and None only.

    ``locale`` is only used for the interest rate text (the one value that is prose, not a number).
    """
    currency = normalize_currency(currency)
    charges: dict[str, Any] | None = None
    if late_charges is not None:
        charges = {
            "interest": late_charges.interest,
            "compensation": late_charges.compensation,
            "total": late_charges.total,
            "days": late_charges.days_late,
            "rate_text": rate_text(late_charges, locale),
        }
    promise = None
    if promise_date is not None:
        promise = {"date": promise_date.isoformat(), "amount": promise_amount}
    return {
        "creditor": {
            "name": creditor_name,
            "email": creditor_email,
            "phone": creditor_phone or None,
            "iban": format_iban(creditor_iban) if creditor_iban else None,
        },
        "debtor": {"name": debtor_name, "language": debtor_language},
        "invoice": {
            "number": invoice_number,
            "issue_date": issue_date.isoformat(),
            "due_date": due_date.isoformat(),
            "currency": currency,
            "amount_due": amount_due,
            "amount_paid": max(amount_due - amount_outstanding, 0),
            "amount_outstanding": amount_outstanding,
            "days_past_due": days_past_due,
        },
        "late_charges": charges,
        "total_due": amount_outstanding + (late_charges.total if late_charges else 0),
        "step": {
            "number": step_number,
            "channel": channel,
            "pay_by": pay_by.isoformat() if pay_by else None,
        },
        "promise": promise,
    }


def sample_context(*, full: bool = True, locale: str = "en_GB") -> dict[str, Any]:
    """A typical invoice: with every optional part (``full``) or with none of them."""
    charges = LateCharges(
        days_late=30,
        interest=1015,
        compensation=4000,
        rate_periods=[(date(2025, 8, 1), date(2025, 8, 30), 1015)],
    )
    return reminder_context(
        locale=locale,
        creditor_name="Müller & Söhne GmbH",
        creditor_email="buchhaltung@mueller-soehne.example",
        creditor_phone="+49 30 1234567" if full else None,
        creditor_iban="DE89370400440532013000" if full else None,
        debtor_name="Beispiel Handels AG",
        debtor_language="de",
        invoice_number="RE-2025-0042",
        issue_date=date(2025, 7, 1),
        due_date=date(2025, 7, 31),
        currency="EUR",
        amount_due=150_000 if full else 123_456,
        amount_outstanding=123_456,
        days_past_due=30,
        late_charges=charges if full else None,
        step_number=2,
        channel="email",
        pay_by=date(2025, 9, 10) if full else None,
        promise_date=date(2025, 8, 20) if full else None,
        promise_amount=123_456 if full else None,
    )


def rate_text(charges: LateCharges, locale: str) -> str:
    """'10.15% p.a.', or each period with its dates when the rate changed while the invoice was late.

    The wording is the language's (``[rate]`` in its texts file: '10,15 % par an'), English's for a
    language without texts; the figures are the locale's.
    """
    loc = parse_locale(locale)
    words = rate_words(loc.language)
    parts = [
        words.per_annum.format(percent=format_basis_points(rate, loc)) for _, _, rate in charges.rate_periods
    ]
    if len(parts) == 1:
        return parts[0]
    return ", ".join(
        words.period.format(
            rate=part, start=format_day(start, "medium", loc), end=format_day(end, "medium", loc)
        )
        for part, (start, end, _) in zip(parts, charges.rate_periods, strict=True)
    )


def format_iban(iban: str) -> str:
    """Groups of four, the way an IBAN is printed on paper."""
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def format_day(value: object, format: str, loc: Locale) -> str:
    """A date (or ISO date string) as ``loc`` writes it: ``format`` short, medium, long, full or CLDR."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return str(format_date(day, format=format, locale=loc))


def format_basis_points(basis_points: object, loc: Locale) -> str:
    """Basis points as a percentage: 1015 is "10.15%" in en, "10,15 %" in de."""
    if isinstance(basis_points, bool) or not isinstance(basis_points, int):
        raise TypeError(f"percent expects basis points as an int, got {type(basis_points).__name__}")
    fraction = Decimal(basis_points) / Decimal(10_000)
    return plain_spaces(format_percent(fraction, locale=loc, decimal_quantization=False))
