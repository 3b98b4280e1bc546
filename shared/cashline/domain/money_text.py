"""Money as a person reads it: one formatter for reminders, alert e-mails and anything else.

Kept apart from the reminder templates so that code formatting an amount does not import Jinja2.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

from cashline.domain.money import currency_exponent, normalize_currency


@lru_cache(maxsize=64)
def parse_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"unknown locale {locale!r}") from exc


def plain_spaces(text: str) -> str:
    # CLDR puts no-break spaces in amounts and percentages ("1.234,56\xa0€"). They are not in the GSM
    # SMS alphabet (one would turn a message into UCS-2 and halve its length) and they surprise
    # anyone comparing text, so formatted figures carry ordinary spaces.
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def format_minor_units(amount: int, currency: str, locale: str | Locale) -> str:
    """Integer minor units as `locale` writes them: 117559 EUR in de_DE is "1.175,59 €".

    The currency's exponent comes from CLDR (0 for JPY, 3 for BHD); the Decimal is exact, no float.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"money expects integer minor units, got {type(amount).__name__}")
    code = normalize_currency(str(currency))
    loc = locale if isinstance(locale, Locale) else parse_locale(locale)
    value = Decimal(amount).scaleb(-currency_exponent(code))
    return plain_spaces(format_currency(value, code, locale=loc))
