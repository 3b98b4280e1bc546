"""What Cashline reads out of an EN 16931 e-invoice (UBL 2.1 or UN/CEFACT CII), syntax-neutral.

Amounts are integer minor units of `currency` (EN 16931 amounts have at most two decimals; the
currency's exponent from ISO data decides the conversion). Quantities, unit prices and rates
keep the document's decimals as `Decimal`. BT numbers refer to EN 16931-1 business terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from cashline.domain.einvoice.profiles import ProfileName, profile_name


class EInvoiceError(ValueError):
    """The file is not a readable, safe, supported e-invoice. `field` names what is missing or wrong."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class EInvoiceTooLargeError(EInvoiceError):
    """The file, or what it decompresses to, is beyond the decompressed-byte budget."""

    def __init__(self, message: str, *, limit: int):
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class RuleViolation:
    rule: str  # e.g. "BR-CO-15"
    message: str


@dataclass(frozen=True, slots=True)
class Party:
    name: str  # BT-27 / BT-44
    tax_id: str | None = None  # VAT identifier BT-31 / BT-48 (or tax registration BT-32)
    legal_id: str | None = None  # BT-30 / BT-47
    email: str | None = None  # BT-43 / BT-58 (contact e-mail) or electronic address BT-34/BT-49 if e-mail
    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, BT-40 / BT-55
    vat_id: str | None = None  # the VAT identifier alone (BT-31 / BT-48), never a tax number: BR-O-02


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    line_id: str  # BT-126
    description: str  # BT-153 item name (or BT-154 description)
    quantity: Decimal  # BT-129
    unit_code: str | None  # BT-130
    unit_price: Decimal  # BT-146 net price, in major units as written
    net_amount: int  # BT-131, minor units
    tax_category: str  # BT-151 (S, Z, E, AE, K, G, O, L, M)
    tax_rate: Decimal | None  # BT-152, percent


@dataclass(frozen=True, slots=True)
class AllowanceCharge:
    is_charge: bool
    amount: int  # BT-92 / BT-99, minor units
    reason: str | None
    tax_category: str | None
    tax_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class TaxSubtotal:
    category: str  # BT-118
    rate: Decimal | None  # BT-119
    taxable_amount: int  # BT-116
    tax_amount: int  # BT-117
    exemption_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ThirdPartyPayment:
    """XRechnung extension BG-DEX-09: an amount the seller collects on behalf of a third party."""

    type: str  # BT-DEX-001
    amount: int  # BT-DEX-002, minor units; it adds to the amount due
    description: str | None  # BT-DEX-003


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    line_total: int | None  # BT-106 (None only in Factur-X MINIMUM, which has no line total)
    allowance_total: int  # BT-107 (0 when absent)
    charge_total: int  # BT-108 (0 when absent)
    tax_exclusive: int  # BT-109
    tax_total: int  # BT-110 (in the document currency)
    tax_inclusive: int  # BT-112
    prepaid: int  # BT-113 (0 when absent)
    rounding: int  # BT-114 (0 when absent)
    amount_due: int  # BT-115
    third_party: int = 0  # sum of BT-DEX-002 (XRechnung extension only): part of BT-115


@dataclass(frozen=True, slots=True)
class EInvoice:
    syntax: Literal["ubl", "cii"]
    container: Literal["xml", "pdf"]  # pdf: Factur-X / ZUGFeRD with the XML embedded
    profile: (
        str | None
    )  # BT-24 specification identifier (CustomizationID / GuidelineSpecifiedDocumentContextParameter)
    document_type: Literal["invoice", "credit_note"]
    type_code: str  # BT-3 (380 invoice, 381 credit note, 384 corrective, 389 self-billed, 326 partial, ...)
    number: str  # BT-1
    issue_date: date  # BT-2
    due_date: date | None  # BT-9
    currency: str  # BT-5
    seller: Party
    buyer: Party
    lines: list[InvoiceLine]
    allowances_charges: list[AllowanceCharge]
    tax_subtotals: list[TaxSubtotal]
    totals: DocumentTotals
    payment_terms: str | None = None  # BT-20
    creditor_iban: str | None = None  # BT-84 (first credit-transfer account)
    payment_reference: str | None = None  # BT-83 remittance information
    buyer_reference: str | None = None  # BT-10
    order_reference: str | None = None  # BT-13
    notes: list[str] = field(default_factory=list)  # BT-22
    third_party_payments: list[ThirdPartyPayment] = field(default_factory=list)  # BG-DEX-09
    tax_representative_vat_id: str | None = None  # BT-63 (BR-O-02)

    @property
    def profile_name(self) -> ProfileName:
        """The profile BT-24 claims: "minimum", "basic_wl", "en16931", "xrechnung", ..."""
        return profile_name(self.profile)
