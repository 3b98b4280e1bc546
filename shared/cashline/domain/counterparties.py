"""Counterparty rules: the checks on contact and bank data, without storage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from babel import Locale, UnknownLocaleError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,24}$")


class CounterpartyRuleError(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def normalize_iban(value: str) -> str:
    """A valid IBAN in its compact form (checksum, length and country format checked by schwifty)."""
    # Deferred: schwifty loads its bank registry, which only this check needs.
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise CounterpartyRuleError(f"not a valid IBAN: {exc}", "iban") from exc


def check_email(value: str, field: str = "email") -> str:
    if not _EMAIL.match(value):
        raise CounterpartyRuleError("not an e-mail address", field)
    return value.strip()


def check_phone(value: str) -> str:
    if not _PHONE.match(value.strip()):
        raise CounterpartyRuleError("not a phone number (digits, spaces, +, -, parentheses)", "phone")
    return value.strip()


def normalize_language(value: str) -> str:
    """A language Babel (CLDR) knows, as a locale id: `de`, `en_GB`, `fr_CH`."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError) as exc:
        raise CounterpartyRuleError(f"unknown language {value!r}", "preferred_language") from exc


def normalize_country(value: str, field: str = "country") -> str:
    upper = value.strip().upper()
    if len(upper) != 2 or not upper.isalpha():
        raise CounterpartyRuleError("country must be an ISO 3166-1 alpha-2 code", field)
    return upper


def normalize_tax_id(value: str) -> str:
    """Tax ids compare without spaces, dots and dashes, upper-cased (DE 123.456.789 == DE123456789)."""
    return re.sub(r"[\s.\-]", "", value).upper()


def normalize_segment(value: str) -> str:
    return value.strip().lower()


@dataclass(frozen=True, slots=True)
class Counterparty:
    tenant_id: str
    counterparty_id: str
    name: str
    email: str | None
    phone: str | None
    address: dict[str, str] | None
    country: str | None
    preferred_language: str | None
    segment: str | None
    tax_id: str | None
    iban: str | None
    external_reference: str | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class CounterpartyTotals:
    direction: str
    currency: str
    billed: int
    paid: int
    outstanding: int
    overdue: int
    open_count: int
    # Money the counterparty paid beyond what it owed, not yet applied to an invoice.
    credit: int = 0


def address_lines(counterparty: Counterparty, *, with_country: bool = True) -> list[str]:
    """The postal address as printed: street lines, postal code and city, and the country when asked."""
    address = counterparty.address or {}
    city = " ".join(x for x in (address.get("postal_code"), address.get("city")) if x)
    country = (address.get("country") or counterparty.country) if with_country else None
    return [x for x in (address.get("line1"), address.get("line2"), city, country) if x]
