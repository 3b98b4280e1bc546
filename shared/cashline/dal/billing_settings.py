"""A tenant's billing settings: one versioned item `T#<t>` / `BILLSET`.

`registered_country` and `vat_id` left empty mean "the tenant's own" (its country and tax id): they
are filled in by cashline.services.billing.settings when read, so a tenant that corrects its profile
needs no second change here.

The seller details its invoices print (`invoice_details`) are one JSON attribute; the logo's bytes
are in the documents bucket, and this item names the one current version by its SHA-256
(`logo_*`), so a PDF never shows a half-replaced logo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import DoesNotExist

from cashline.dal.errors import storage_errors
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.billing.numbering import DEFAULT_PATTERN
from cashline.errors import ConflictError

BILLING_SETTINGS_SK = "BILLSET"

AfterLastFailure = Literal["cancel", "leave_unpaid"]


@dataclass(frozen=True, slots=True)
class InvoiceDetails:
    """Who the tenant's invoices say they are from (§ 14 (4) UStG: full name and address, tax number
    or VAT id; § 35a GmbHG / § 37a HGB: register court and number, managing directors). Checked by
    services.billing.settings; empty fields fall back to the collection creditor details there."""

    legal_name: str | None = None
    address_lines: tuple[str, ...] = ()  # street and number, c/o, building: before postcode and city
    postcode: str | None = None
    city: str | None = None
    country: str | None = None  # ISO alpha-2; None: the registered country
    email: str | None = None
    phone: str | None = None
    iban: str | None = None  # compact, schwifty-checked
    bic: str | None = None
    tax_number: str | None = None  # the Steuernummer, printed beside the VAT id
    commercial_register: str | None = None  # e.g. "Amtsgericht Charlottenburg, HRB 123456 B"
    managing_directors: str | None = None  # e.g. "Erika Mustermann, Max Mustermann"

    @property
    def has_address(self) -> bool:
        return bool(self.address_lines or self.postcode or self.city)


@dataclass(frozen=True, slots=True)
class StoredLogo:
    """The current logo: its bytes are at services.billing.settings.logo_key(tenant, sha256)."""

    content_type: str  # image/png or image/jpeg
    size_bytes: int
    sha256: str  # hex


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """How a tenant bills: where it is registered for VAT, numbering, drafts, due days, retries."""

    registered_country: str | None = None  # ISO alpha-2; None: the tenant's country
    vat_id: str | None = None  # None: the tenant's tax id
    oss: bool = False  # registered for the EU One-Stop-Shop: EU consumers pay their own country's VAT
    number_pattern: str = DEFAULT_PATTERN
    auto_finalise_hours: int = 0  # 0: finalise on issue; else drafts wait this long for review
    days_until_due: int = 14  # send_invoice subscriptions that state none
    retry_days: tuple[int, ...] = (1, 3, 5, 7)  # days after the first failed charge, ascending
    after_last_failure: AfterLastFailure = "leave_unpaid"
    vies_check: bool = False  # confirm EU VAT ids with VIES as well as by checksum
    invoice_details: InvoiceDetails = InvoiceDetails()
    logo: StoredLogo | None = None  # set and removed by its own endpoints, kept by PUT
    version: int = 0  # 0: never saved


class BillingSettingsRecord(CashlineItem, discriminator="billing_settings"):
    version = VersionAttribute()
    registered_country = UnicodeAttribute(null=True)
    vat_id = UnicodeAttribute(null=True)
    oss = BooleanAttribute(default=False)
    number_pattern = UnicodeAttribute()
    auto_finalise_hours = NumberAttribute()
    days_until_due = NumberAttribute()
    retry_days = ListAttribute(of=NumberAttribute, null=True)  # read back as numbers
    after_last_failure = UnicodeAttribute()
    vies_check = BooleanAttribute(default=False)
    invoice_details = JSONAttribute(null=True)
    logo_content_type = UnicodeAttribute(null=True)
    logo_size_bytes = NumberAttribute(null=True)
    logo_sha256 = UnicodeAttribute(null=True)


def _details_json(details: InvoiceDetails) -> dict[str, Any] | None:
    """The set fields only (None when there are none), address lines as a list."""
    values = {name: getattr(details, name) for name in InvoiceDetails.__dataclass_fields__}
    values["address_lines"] = list(details.address_lines)
    kept = {name: value for name, value in values.items() if value}
    return kept or None


def _details(stored: Any) -> InvoiceDetails:
    values = dict(stored or {})
    known = {name: values[name] for name in InvoiceDetails.__dataclass_fields__ if name in values}
    known["address_lines"] = tuple(str(line) for line in known.get("address_lines") or ())
    return InvoiceDetails(**known)


def _logo(record: BillingSettingsRecord) -> StoredLogo | None:
    if not record.logo_sha256 or not record.logo_content_type:
        return None
    return StoredLogo(record.logo_content_type, int(record.logo_size_bytes or 0), record.logo_sha256)


def _after_last_failure(value: str) -> AfterLastFailure:
    return "cancel" if value == "cancel" else "leave_unpaid"


def _settings(record: BillingSettingsRecord) -> BillingSettings:
    return BillingSettings(
        registered_country=record.registered_country,
        vat_id=record.vat_id,
        oss=bool(record.oss),
        number_pattern=record.number_pattern,
        auto_finalise_hours=int(record.auto_finalise_hours),
        days_until_due=int(record.days_until_due),
        retry_days=tuple(int(cast(Any, day)) for day in record.retry_days or ()),
        after_last_failure=_after_last_failure(record.after_last_failure),
        vies_check=bool(record.vies_check),
        invoice_details=_details(record.invoice_details),
        logo=_logo(record),
        version=int(record.version or 0),
    )


def stored_billing_settings(tenant_id: str) -> BillingSettings | None:
    """The settings as saved (empty country and VAT id not filled in), None when never saved."""
    try:
        record = BillingSettingsRecord.get(tenant_pk(tenant_id), BILLING_SETTINGS_SK, consistent_read=True)
    except DoesNotExist:
        return None
    return _settings(record)


def save_billing_settings(tenant_id: str, settings: BillingSettings, now: datetime) -> BillingSettings:
    """Replace the settings if they are still at `settings.version` (0: none saved yet); ConflictError
    field "version" when someone else changed them in between."""
    record = BillingSettingsRecord(
        pk=tenant_pk(tenant_id),
        sk=BILLING_SETTINGS_SK,
        registered_country=settings.registered_country,
        vat_id=settings.vat_id,
        oss=settings.oss,
        number_pattern=settings.number_pattern,
        auto_finalise_hours=settings.auto_finalise_hours,
        days_until_due=settings.days_until_due,
        retry_days=list(settings.retry_days) or None,
        after_last_failure=settings.after_last_failure,
        vies_check=settings.vies_check,
        invoice_details=_details_json(settings.invoice_details),
        logo_content_type=settings.logo.content_type if settings.logo else None,
        logo_size_bytes=settings.logo.size_bytes if settings.logo else None,
        logo_sha256=settings.logo.sha256 if settings.logo else None,
        created_at=now,
        updated_at=now,
    )
    if settings.version:  # version 0 is the first save: PynamoDB then requires that none exists
        record.version = settings.version
    try:
        with storage_errors("billing settings were changed by someone else; read them again"):
            record.save()
    except ConflictError as exc:
        raise ConflictError(exc.message, field="version") from exc
    return _settings(record)
