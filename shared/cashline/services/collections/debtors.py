"""Where a debtor is and what it reads: its time zone (reminders go out in its business hours) and
its language and locale (the text, dates and amounts of a reminder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import get_global

from cashline.domain.access import Tenant
from cashline.domain.counterparties import Counterparty
from cashline.domain.locales import locale_for

# Countries spanning several zones: the one most of their businesses keep (CLDR lists them unordered).
MAIN_ZONE = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "RU": "Europe/Moscow",
    "MX": "America/Mexico_City",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "NZ": "Pacific/Auckland",
}


def debtor_timezone(counterparty: Counterparty, tenant: Tenant) -> str:
    """The debtor's zone from its country: the tenant's own when it is in that country, else the
    country's main zone (CLDR's territory zones), else the tenant's."""
    country = (counterparty.country or "").upper()
    zones: Mapping[str, Any] = get_global("territory_zones")
    in_country = [str(z) for z in zones.get(country, [])]
    if not in_country:
        return tenant.timezone
    if tenant.timezone in in_country:
        return tenant.timezone
    return MAIN_ZONE.get(country, in_country[0])


def debtor_locale(counterparty: Counterparty, tenant: Tenant) -> tuple[str, str]:
    """(language, locale) the debtor is written to in: its preferred language, else its country's."""
    country = (counterparty.country or tenant.country or "").upper()
    language = (counterparty.preferred_language or "").split("-")[0].lower()
    if not language:
        try:
            language = Locale.parse(f"und_{country}").language if country else "en"
        except (UnknownLocaleError, ValueError):
            language = "en"
    return language, locale_for(language, country or None)
