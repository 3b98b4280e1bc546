"""The e-mail an alert sends to a tenant's finance contacts: a subject and a plain-text body.

An alert's detail is the same dict the event bus and the webhook carry (machine-readable: money as
integer minor units, dates as ISO strings). People read the e-mail, so here every amount is written
the way reminders write it (``money_text.format_minor_units``: the currency's exponent from Babel,
the locale's separators and symbol) and every field gets a label instead of its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from cashline.domain.money_text import format_minor_units

FALLBACK_LOCALE = "en"

SUBJECTS = {
    "invoice.overdue": "Invoice {number} is overdue",
    "debit.failed": "A debit failed",
    "payment.disputed": "A payment was disputed or charged back",
    "payment.received_large": "Payment received: {amount}",
    "mandate.ended": "A Direct Debit mandate ended",
}

# The order fields are listed in, with their labels; a field not named here comes after them,
# labelled from its key ("original_reference" -> "Original reference").
LABELS = {
    "number": "Invoice",
    "counterparty_name": "Counterparty",
    "direction": "Direction",
    "due_date": "Due date",
    "amount_outstanding": "Amount outstanding",
    "amount": "Amount",
    "reason": "Reason",
    "final": "Final attempt",
    "attempt": "Attempt",
    "source": "Source",
    "kind": "Kind",
    "event_type": "Event",
    "reference": "Reference",
    "original_reference": "Original reference",
    "invoice_ids": "Invoices",
    "invoice_id": "Invoice id",
    "payment_id": "Payment id",
    "plan_id": "Plan id",
    "installment_id": "Installment id",
    "counterparty_id": "Counterparty id",
}
# Money fields are integer minor units in the detail's `currency`; the currency is then part of
# each amount and not listed on its own.
MONEY_FIELDS = frozenset({"amount", "amount_outstanding", "amount_due", "amount_paid"})
DATE_FIELDS = frozenset({"due_date", "value_date", "issue_date"})


@dataclass(frozen=True, slots=True)
class AlertEmail:
    subject: str
    text: str


def alert_locale(country: str | None) -> str:
    """The e-mail is in English; its numbers and dates follow the tenant's country (`en_DE` writes
    "1.175,59 €", `en_GB` "€1,175.59"). A country Babel has no English locale for gets plain `en`."""
    if not country:
        return FALLBACK_LOCALE
    try:
        return str(Locale.parse(f"en_{country.upper()}"))
    except (UnknownLocaleError, ValueError):
        return FALLBACK_LOCALE


def render_alert_email(alert_type: str, detail: Mapping[str, object], locale: str) -> AlertEmail:
    """Subject and text of one alert's e-mail, with every amount formatted for `locale`."""
    shown = {key: _value(key, value, detail, locale) for key, value in detail.items() if value is not None}
    money_shown = any(key in MONEY_FIELDS for key in shown)
    if money_shown and _currency(detail) is not None:
        shown.pop("currency", None)
    subject = SUBJECTS.get(alert_type, alert_type).format_map(_Defaulting(shown))
    order = {key: i for i, key in enumerate(LABELS)}
    keys = sorted(shown, key=lambda k: (order.get(k, len(order)), k))
    lines = [f"Cashline alert: {subject}", ""]
    lines += [f"{LABELS.get(key) or key.replace('_', ' ').capitalize()}: {shown[key]}" for key in keys]
    lines += ["", f"Alert type: {alert_type}"]
    return AlertEmail(subject=subject, text="\n".join(lines))


def _currency(detail: Mapping[str, object]) -> str | None:
    currency = detail.get("currency")
    return currency if isinstance(currency, str) and currency else None


def _value(key: str, value: object, detail: Mapping[str, object], locale: str) -> str:
    if key in MONEY_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        currency = _currency(detail)
        if currency is not None:
            try:
                return format_minor_units(value, currency, locale)
            except ValueError:
                pass  # not an ISO currency: the raw figure, said to be minor units, rather than no e-mail
        return f"{value} (minor units{f' of {currency}' if currency else ''})"
    if key in DATE_FIELDS and isinstance(value, str):
        try:
            return str(format_date(date.fromisoformat(value), format="medium", locale=locale))
        except ValueError:
            return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


class _Defaulting(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"
