"""Read and replace a tenant's billing settings (GET/PUT /v1/billing-settings), its invoice logo
(PUT/DELETE /v1/billing-settings/logo), and the seller its invoices name (`invoice_seller`).

The logo: a PNG or JPEG, its type read from its bytes (and agreeing with the declared Content-Type),
at most LOGO_MAX_BYTES and LOGO_MAX_PIXELS a side. Stored content-addressed at
`branding/<tenant>/logo/<sha256>`; the settings name the current one by that hash. Replacing it
writes the new object first, then the settings (versioned), then deletes the previous object: a
delivery that read the settings a moment before the swap finds the old object gone and reads the
settings again (`read_logo`), so a PDF shows the one current logo or, at worst, the one before.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cashline.adapters.documents import DocumentStore
from cashline.dal.billing_settings import BillingSettings as BillingSettings  # the contract's home
from cashline.dal.billing_settings import (
    InvoiceDetails,
    StoredLogo,
    save_billing_settings,
    stored_billing_settings,
)
from cashline.domain.access import Tenant
from cashline.domain.billing.tax import rate_table
from cashline.domain.counterparties import (
    CounterpartyRuleError,
    check_email,
    check_phone,
    normalize_iban,
    normalize_tax_id,
)
from cashline.domain.filetypes import sniff
from cashline.errors import (
    ConflictError,
    PayloadTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from cashline.observability import logger
from cashline.services.billing.tax import eu_vat_id
from cashline.services.tenancy import tenants

LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_PIXELS = 2000  # width and height each; the PDF prints it at most 50 x 14 mm
LOGO_CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}  # what sniff() names -> MIME type
_SAVE_ATTEMPTS = 3  # a logo swap re-reads the settings when a concurrent save moved their version


def with_tenant_defaults(settings: BillingSettings, tenant: Tenant) -> BillingSettings:
    """`settings` with an empty registered country or VAT id taken from the tenant's profile."""
    return replace(
        settings,
        registered_country=settings.registered_country or tenant.country,
        vat_id=settings.vat_id or tenant.tax_id,
    )


def get_billing_settings(tenant_id: str) -> BillingSettings:
    """The tenant's billing settings, defaults where never saved, country and VAT id filled in from
    the tenant when left empty."""
    return with_tenant_defaults(
        stored_billing_settings(tenant_id) or BillingSettings(), tenants.get(tenant_id)
    )


def _checked_vat_id(vat_id: str, country: str) -> str:
    """The VAT id in its compact form; an EU one (by the registered country or its own prefix) must
    pass python-stdnum's format and checksum check and belong to the registered country."""
    compact = normalize_tax_id(vat_id)
    if rate_table().is_eu(country):
        checked = eu_vat_id(compact, country)
        if checked is None:
            raise ValidationError(f"vat_id: not a valid VAT id of {country}", field="vat_id")
        return checked
    if compact[:2].isalpha() and rate_table().is_eu(compact[:2].replace("EL", "GR")):
        raise ValidationError(
            f"vat_id: an EU VAT id, but the tenant is registered in {country}", field="vat_id"
        )
    return compact


def _bic(value: str) -> str:
    # defer: schwifty loads its bank registry, which only this check needs
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    try:
        return str(BIC("".join(value.split()).upper()).compact)
    except SchwiftyException as exc:
        raise CounterpartyRuleError(f"not a valid BIC: {exc}", "bic") from exc


def checked_invoice_details(details: InvoiceDetails) -> InvoiceDetails:
    """The one place invoice details are checked (the schema checks only lengths and shapes): the
    IBAN (schwifty: checksum, length, country format) and BIC (schwifty) compact, e-mail and phone,
    and an address either complete (street, postcode and city) or absent. A ValidationError names
    `invoice_details.<field>`."""
    checks: dict[str, Callable[[str], str]] = {
        "iban": normalize_iban,
        "bic": _bic,
        "email": check_email,
        "phone": check_phone,
    }
    checked: dict[str, Any] = {}
    for name, check in checks.items():
        value = getattr(details, name)
        try:
            checked[name] = check(value) if value else None
        except CounterpartyRuleError as exc:
            raise ValidationError(f"invoice_details.{name}: {exc}", field=f"invoice_details.{name}") from exc
    if details.has_address:
        for name in ("address_lines", "postcode", "city"):
            if not getattr(details, name):
                raise ValidationError(
                    f"invoice_details.{name}: an address needs street, postcode and city",
                    field=f"invoice_details.{name}",
                )
    return replace(details, **checked)


def replace_billing_settings(tenant_id: str, settings: BillingSettings, *, now: datetime) -> BillingSettings:
    """Save `settings` (shape checked by schemas.billing_settings) over the version it was read at,
    the VAT id checked against the registered country (400 field "vat_id") and the invoice details
    by `checked_invoice_details`; the logo stays as it is (it has its own endpoints). ConflictError
    field "version" when someone changed them in between. Returns them as read back."""
    tenant = tenants.get(tenant_id)
    if settings.vat_id:
        country = settings.registered_country or tenant.country
        settings = replace(settings, vat_id=_checked_vat_id(settings.vat_id, country))
    settings = replace(settings, invoice_details=checked_invoice_details(settings.invoice_details))
    stored = stored_billing_settings(tenant_id)
    # The logo of the version being replaced: when that version is stale the save fails anyway.
    settings = replace(settings, logo=stored.logo if stored else None)
    save_billing_settings(tenant_id, settings, now)
    return with_tenant_defaults(stored_billing_settings(tenant_id) or settings, tenant)


# --------------------------------------------------------------------------------------------------
# The logo


def logo_key(tenant_id: str, sha256: str) -> str:
    """Where a logo's bytes are in the documents bucket (InvoiceDelivery may read branding/*)."""
    return f"branding/{tenant_id}/logo/{sha256}"


def checked_logo(data: bytes, content_type: str) -> StoredLogo:
    """What a logo upload is, or the error naming `logo`: 413 beyond LOGO_MAX_BYTES, 415 unless the
    bytes are a PNG or JPEG of the declared type, 422 when it is larger than LOGO_MAX_PIXELS a side
    or cannot be read."""
    if not data:
        raise UnprocessableError("logo: send the PNG or JPEG image as the body", field="logo")
    if len(data) > LOGO_MAX_BYTES:
        raise PayloadTooLargeError(f"logo: at most {LOGO_MAX_BYTES // 1024} KiB", field="logo")
    kind = sniff(data[:512])
    if kind not in LOGO_CONTENT_TYPES:
        raise UnsupportedMediaTypeError("logo: only PNG or JPEG images", field="logo")
    if LOGO_CONTENT_TYPES[kind] != content_type:
        raise UnsupportedMediaTypeError(
            f"logo: the bytes are {LOGO_CONTENT_TYPES[kind]}, but Content-Type says {content_type}",
            field="logo",
        )
    _check_pixels(data)
    return StoredLogo(content_type, len(data), hashlib.sha256(data).hexdigest())


def _check_pixels(data: bytes) -> None:
    # defer: Pillow (fpdf2's dependency) only for a logo upload, never at the API's cold start
    from PIL import Image, UnidentifiedImageError

    too_large = f"logo: at most {LOGO_MAX_PIXELS} x {LOGO_MAX_PIXELS} pixels"
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size  # from the header: nothing is decoded yet
            if width > LOGO_MAX_PIXELS or height > LOGO_MAX_PIXELS:
                raise UnprocessableError(f"{too_large}, not {width} x {height}", field="logo")
            # Decoded only once its size is known to be small: a broken file is refused now, not
            # when an invoice is rendered with it.
            image.load()
    except Image.DecompressionBombError as exc:  # a header claiming billions of pixels: refused at open
        raise UnprocessableError(too_large, field="logo") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnprocessableError("logo: the image cannot be read", field="logo") from exc


def replace_logo(
    tenant_id: str, data: bytes, *, content_type: str, documents: DocumentStore, now: datetime
) -> BillingSettings:
    """Store `data` as the tenant's logo (checked by `checked_logo`) and name it in the settings;
    the previous logo's object is deleted once the settings name the new one."""
    tenant = tenants.get(tenant_id)
    logo = checked_logo(data, content_type)
    key = logo_key(tenant_id, logo.sha256)
    documents.put(key, data, content_type=logo.content_type)
    try:
        previous, saved = _swap_logo(tenant_id, logo, now)
    except Exception:
        current = stored_billing_settings(tenant_id)
        if not (current and current.logo and current.logo.sha256 == logo.sha256):
            documents.delete(key)  # named by no settings: nobody would ever read it
        raise
    if previous and previous.sha256 != logo.sha256:
        documents.delete(logo_key(tenant_id, previous.sha256))
    return with_tenant_defaults(saved, tenant)


def delete_logo(tenant_id: str, *, documents: DocumentStore, now: datetime) -> BillingSettings:
    """Invoices go out without a logo from now on; without one, nothing changes."""
    tenant = tenants.get(tenant_id)
    stored = stored_billing_settings(tenant_id)
    if stored is None or stored.logo is None:
        return with_tenant_defaults(stored or BillingSettings(), tenant)
    previous, saved = _swap_logo(tenant_id, None, now)
    if previous:
        documents.delete(logo_key(tenant_id, previous.sha256))
    return with_tenant_defaults(saved, tenant)


def _swap_logo(
    tenant_id: str, logo: StoredLogo | None, now: datetime
) -> tuple[StoredLogo | None, BillingSettings]:
    """(the logo named before, the settings now naming `logo`): read, change the logo alone, save on
    the version read; a concurrent save (another PUT) is read again, a few times."""
    for attempt in range(_SAVE_ATTEMPTS):
        stored = stored_billing_settings(tenant_id) or BillingSettings()
        try:
            return stored.logo, save_billing_settings(tenant_id, replace(stored, logo=logo), now)
        except ConflictError:
            if attempt == _SAVE_ATTEMPTS - 1:
                raise ConflictError(
                    "logo: the billing settings keep changing; send the logo again", field="logo"
                ) from None
    raise AssertionError("unreachable")


def read_logo(tenant_id: str, settings: BillingSettings, documents: DocumentStore) -> bytes | None:
    """The logo the settings name, None without one. Replaced meanwhile (its object deleted): the
    settings are read again for the current one."""
    logo = settings.logo
    for _ in range(2):
        if logo is None:
            return None
        try:
            data = documents.read(logo_key(tenant_id, logo.sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404", "NotFound"}:
                raise
            current = stored_billing_settings(tenant_id)
            logo = current.logo if current else None
            continue
        if hashlib.sha256(data).hexdigest() == logo.sha256:
            return data
        logger.warning("logo object differs from its hash; left out", tenant_id=tenant_id)
        return None
    return None


# --------------------------------------------------------------------------------------------------
# The seller an invoice names


@dataclass(frozen=True, slots=True)
class InvoiceSeller:
    """The seller as an issued invoice states it, on the PDF and in the e-invoice (BG-4)."""

    name: str
    street: str | None  # the address lines before postcode and city, joined by ", "
    postcode: str | None
    city: str | None
    country: str
    letter_address: tuple[str, ...]  # as printed under the name: street lines, "postcode city"
    email: str | None
    phone: str | None
    iban: str | None
    bic: str | None
    vat_id: str | None
    tax_number: str | None
    commercial_register: str | None
    managing_directors: str | None


def invoice_seller(tenant: Tenant, settings: BillingSettings, creditor: Mapping[str, Any]) -> InvoiceSeller:
    """The billing settings' invoice details; each one left empty is the collection creditor's
    (`creditor`: name, address lines, iban, bic, email, phone), then the tenant's name. The address
    is taken as a whole from one of them, never street from one and city from the other."""
    details = settings.invoice_details
    if details.has_address:
        street = ", ".join(details.address_lines) or None
        postcode, city = details.postcode, details.city
        letter = (*details.address_lines, " ".join(x for x in (postcode, city) if x))
    else:
        letter = tuple(_lines(creditor.get("address")))
        street, postcode, city = _split_address(letter)

    def text(key: str) -> str | None:
        return str(creditor[key]) if creditor.get(key) else None

    return InvoiceSeller(
        name=details.legal_name or text("name") or tenant.name,
        street=street,
        postcode=postcode,
        city=city,
        country=details.country or settings.registered_country or tenant.country,
        letter_address=letter,
        email=details.email or text("email"),
        phone=details.phone or text("phone"),
        iban=details.iban or _compact(text("iban")),
        bic=details.bic or _compact(text("bic")),
        vat_id=settings.vat_id or tenant.tax_id,
        tax_number=details.tax_number,
        commercial_register=details.commercial_register,
        managing_directors=details.managing_directors,
    )


def _lines(value: Any) -> list[str]:
    lines = value.splitlines() if isinstance(value, str) else list(value or [])
    return [str(x).strip() for x in lines if str(x).strip()]


def _split_address(lines: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """(street, postal code, city) from the creditor's free address lines, read as a letter shows
    them: the first line is the street, the last "<postal code> <city>" (["Hauptstr. 1",
    "10115 Berlin"]); a last line without a leading code is the city alone."""
    if not lines:
        return None, None, None
    street = lines[0] if len(lines) > 1 else None
    code, _, city = lines[-1].partition(" ")
    if city and any(ch.isdigit() for ch in code):
        return street, code, city
    return street, None, lines[-1]


def _compact(value: str | None) -> str | None:
    """An IBAN or BIC without the spaces it is often written with."""
    compact = "".join((value or "").split()).upper()
    return compact or None
