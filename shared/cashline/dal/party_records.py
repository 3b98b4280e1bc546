"""Records of counterparties, their running totals, and uniqueness markers.

Keys (docs/data-model.md): a counterparty is the item collection `T#<tenant>#CP#<id>` (profile
`CP`, one totals item per direction and currency `TOT#<direction>#<currency>`); uniqueness markers
are items `T#<tenant>#UNIQ#<scope>#<value>` whose conditional put makes a value unique per tenant.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from cashline.dal.table import CashlineItem

PROFILE_SK = "CP"
TOTALS_SK_PREFIX = "TOT#"
UNIQUE_SK = "UNIQ"


def counterparty_pk(tenant_id: str, counterparty_id: str) -> str:
    return f"T#{tenant_id}#CP#{counterparty_id}"


def unique_pk(tenant_id: str, scope: str, value: str) -> str:
    return f"T#{tenant_id}#UNIQ#{scope}#{value}"


class CounterpartyRecord(CashlineItem, discriminator="counterparty"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    address = JSONAttribute(null=True)
    country = UnicodeAttribute(null=True)
    preferred_language = UnicodeAttribute(null=True)
    segment = UnicodeAttribute(null=True)
    tax_id = UnicodeAttribute(null=True)
    iban = UnicodeAttribute(null=True)
    external_reference = UnicodeAttribute(null=True)
    metadata = JSONAttribute(null=True)


class CounterpartyTotalsRecord(CashlineItem, discriminator="counterparty_totals"):
    """Running sums, changed only with ADD in the same transaction as the invoice change."""

    direction = UnicodeAttribute()
    currency = UnicodeAttribute()
    billed = NumberAttribute(default=0)
    paid = NumberAttribute(default=0)
    outstanding = NumberAttribute(default=0)
    overdue = NumberAttribute(default=0)
    open_count = NumberAttribute(default=0)
    credit = NumberAttribute(default=0)


class UniqueRecord(CashlineItem, discriminator="unique"):
    """Claims a value (an invoice number per counterparty, a document hash, a tax id) for one id."""

    target_id = UnicodeAttribute()
