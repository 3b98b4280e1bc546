"""Which CLDR locale a text is formatted in: one rule for reminders, statements and alerts."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

FALLBACK_LOCALE = "en"


def locale_for(language: str, country: str | None) -> str:
    """The locale for `language` written to someone in `country`: `de` + `CH` is `de_CH`.

    CLDR has no locale for many pairs (`en_JP`, `de_FR`): then the language alone, so a statement to
    an English-speaking customer in Japan is formatted in `en`, never refused. An unknown language
    gives `en`.
    """
    language = (language or "").replace("-", "_").split("_")[0].lower() or FALLBACK_LOCALE
    for candidate in (f"{language}_{country.upper()}" if country else None, language):
        if candidate is None:
            continue
        try:
            return str(Locale.parse(candidate))
        except (UnknownLocaleError, ValueError):
            continue
    return FALLBACK_LOCALE
