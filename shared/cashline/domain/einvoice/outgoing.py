"""An invoice Cashline issues, as its e-invoice builders (`ubl_out`, `cii_out`) write it: one
syntax-neutral shape, made from a stored invoice by `outgoing_invoice`.

Amounts are integer minor units of `currency`; rates are basis points (1900 = 19 %); BT numbers are
EN 16931-1 business terms. Credit notes keep positive amounts (as Cashline stores them); the
document kind says which way the money goes.

Where the numbers come from, in order:
- an issued subscription invoice (services/billing/drafts.py): `body.details["lines"]` with each
  line's `tax_category_code`, `tax_rate_basis_points`, `exemption_reason_code` and service dates,
  the VAT breakdown from the stored `body.taxes` (which name their `category_code`), the legal
  `tax_notes` (BT-22), `seller_vat_id`, `buyer_vat_id` and `credit_applied`. A `details["taxes"]`
  list (category, rate, taxable, tax, exemption reason and code) is taken as it is when present;
  the exemption reason text (BT-120) is otherwise the category's usual one ("Reverse charge",
  "Export outside the EU", ...), the full legal wording being in the notes;
- a plain invoice made through the API: its stored lines (`tax_rate` in percent) and tax breakdown.
  A rate above 0 is category S (standard), a 0 % line is Z (zero rated). An invoice stated by its
  amount alone (no lines) becomes one line of its subtotal; without tax that line is E (exempt),
  since Cashline does not know the reason, and the note says so.

Category O is all or nothing in EN 16931: builders write `einvoice_parties(doc)` (no VAT ids BT-31,
BT-48: BR-O-02; the tax number BT-32 stays) or raise `NotAnEInvoiceError` (O beside another, BR-O-11).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from cashline.domain.invoices import DocumentKind, Invoice, InvoiceBody
from cashline.domain.money import currency_exponent

# Codes of UNCL 5305 that carry no VAT and need an exemption reason (BR-AE-10, BR-E-10, BR-G-10, ...).
ZERO_CATEGORIES = frozenset({"AE", "E", "G", "K", "O", "Z"})
NOT_SUBJECT_TO_VAT = "O"
_DEFAULT_REASONS = {
    "AE": ("VATEX-EU-AE", "Reverse charge"),
    "G": ("VATEX-EU-G", "Export outside the EU"),
    "K": ("VATEX-EU-IC", "Intra-Community supply"),
    "O": ("VATEX-EU-O", "Not subject to VAT"),
    "E": (None, "Exempt from VAT"),
}


@dataclass(frozen=True, slots=True)
class OutParty:
    """Seller (BG-4) or buyer (BG-7)."""

    name: str
    vat_id: str | None
    street: str | None
    city: str | None
    postal_code: str | None
    country: str | None  # ISO 3166-1 alpha-2
    email: str | None  # contact e-mail and electronic address (scheme EM)
    phone: str | None = None
    tax_number: str | None = None  # BT-32, the seller's tax registration (Steuernummer), scheme FC


class NotAnEInvoiceError(ValueError):
    """The invoice cannot be a valid EN 16931 e-invoice; `rule` names the rule it would break."""

    def __init__(self, message: str, *, rule: str):
        super().__init__(message)
        self.message = message
        self.rule = rule


@dataclass(frozen=True, slots=True)
class OutLine:
    line_id: str
    description: str
    quantity: Decimal  # negative for a credit line (EN 16931 forbids a negative price, BR-27)
    unit_price: Decimal  # net, major units, >= 0
    net_amount: int  # BT-131, signed
    category_code: str
    rate_basis_points: int
    service_start: date | None  # BT-134
    service_end: date | None  # BT-135, inclusive (Cashline's service_end is exclusive)


@dataclass(frozen=True, slots=True)
class OutTax:
    category_code: str
    rate_basis_points: int
    taxable: int
    tax: int
    exemption_reason: str | None
    exemption_reason_code: str | None


@dataclass(frozen=True, slots=True)
class OutgoingInvoice:
    kind: Literal["invoice", "credit_note"]
    number: str  # BT-1
    issue_date: date
    due_date: date
    currency: str
    seller: OutParty
    buyer: OutParty
    buyer_reference: str  # BT-10 (XRechnung: mandatory; a Leitweg-ID for German public buyers)
    lines: tuple[OutLine, ...]
    taxes: tuple[OutTax, ...]
    line_total: int  # BT-106 = BT-109 (no document allowances or charges)
    tax_total: int  # BT-110
    total: int  # BT-112
    prepaid: int  # BT-113: credit applied and payments made before it was sent
    notes: tuple[str, ...]  # BT-22: legal notes (reverse charge, export)
    iban: str | None  # BT-84
    bic: str | None  # BT-86
    payment_terms: str  # BT-20
    period_start: date | None  # BG-14
    period_end: date | None  # inclusive

    @property
    def amount_due(self) -> int:
        """BT-115 = BT-112 - BT-113 (BR-CO-16; no rounding amount)."""
        return self.total - self.prepaid


def einvoice_parties(doc: OutgoingInvoice) -> OutgoingInvoice:
    """`doc` as an e-invoice may state it: unchanged without category O, all-O without the VAT ids;
    NotAnEInvoiceError (BR-O-11) for O beside another category (a consumer outside the EU buying a
    digital service, O, and a course, S)."""
    categories = {line.category_code for line in doc.lines} | {tax.category_code for tax in doc.taxes}
    if NOT_SUBJECT_TO_VAT not in categories:
        return doc
    others = sorted(categories - {NOT_SUBJECT_TO_VAT})
    if others:
        raise NotAnEInvoiceError(
            f"invoice {doc.number} mixes VAT category O (not subject to VAT) with {', '.join(others)}: "
            "EN 16931 allows no other category beside O (BR-O-11), so it has no valid e-invoice",
            rule="BR-O-11",
        )
    return replace(doc, seller=replace(doc.seller, vat_id=None), buyer=replace(doc.buyer, vat_id=None))


def amount_text(minor: int, currency: str) -> str:
    """Minor units as the decimal an e-invoice writes: 3685 EUR -> "36.85", 500 JPY -> "500"."""
    exponent = currency_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def percent_text(rate_basis_points: int) -> str:
    """1900 -> "19.00", 550 -> "5.50"."""
    return f"{Decimal(rate_basis_points).scaleb(-2):.2f}"


def quantity_text(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f") if quantity != quantity.to_integral() else str(int(quantity))


def price_text(price: Decimal) -> str:
    return format(price.normalize(), "f")


def outgoing_invoice(
    invoice: Invoice,
    body: InvoiceBody | None,
    *,
    seller: OutParty,
    buyer: OutParty,
    buyer_reference: str,
    iban: str | None,
    bic: str | None,
    payment_terms: str,
) -> OutgoingInvoice:
    """The e-invoice shape of a stored invoice (see the module docstring for the sources)."""
    details: Mapping[str, Any] = (body.details if body else None) or {}
    lines = _lines(invoice, body, details)
    taxes = _taxes(invoice, body, details, lines)
    notes = [str(note) for note in details.get("tax_notes") or () if note]
    for tax in taxes:
        if tax.category_code == "E" and tax.exemption_reason and tax.exemption_reason not in notes:
            notes.append(tax.exemption_reason)
    starts = [line.service_start for line in lines if line.service_start]
    ends = [line.service_end for line in lines if line.service_end]
    seller_vat = details.get("seller_vat_id") or seller.vat_id
    buyer_vat = details.get("buyer_vat_id") or buyer.vat_id
    return OutgoingInvoice(
        kind="credit_note" if invoice.document_kind is DocumentKind.CREDIT_NOTE else "invoice",
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        seller=_with_vat(seller, seller_vat),
        buyer=_with_vat(buyer, buyer_vat),
        buyer_reference=buyer_reference,
        lines=lines,
        taxes=taxes,
        line_total=invoice.subtotal,
        tax_total=invoice.tax,
        total=invoice.amount_due,
        prepaid=prepaid_of(invoice, details),
        notes=tuple(notes),
        iban=iban,
        bic=bic,
        payment_terms=payment_terms,
        period_start=min(starts) if starts else None,
        period_end=max(ends) if ends else None,
    )


def prepaid_of(invoice: Invoice, details: Mapping[str, Any]) -> int:
    """BT-113 of an invoice: what was paid before it went out, the credit balance the engine applied
    (`details["credit_applied"]`, also in `amount_paid`) included; never more than its total. A credit
    note states its whole amount (0)."""
    if invoice.document_kind is DocumentKind.CREDIT_NOTE:
        return 0
    prepaid = max(invoice.amount_paid, int(details.get("credit_applied") or 0))
    return max(0, min(prepaid, invoice.amount_due))


def _with_vat(party: OutParty, vat_id: Any) -> OutParty:
    if not vat_id or vat_id == party.vat_id:
        return party
    return OutParty(
        name=party.name,
        vat_id=str(vat_id),
        street=party.street,
        city=party.city,
        postal_code=party.postal_code,
        country=party.country,
        email=party.email,
        phone=party.phone,
        tax_number=party.tax_number,
    )


def _lines(invoice: Invoice, body: InvoiceBody | None, details: Mapping[str, Any]) -> tuple[OutLine, ...]:
    exponent = currency_exponent(invoice.currency)
    detailed: Sequence[Mapping[str, Any]] = details.get("lines") or ()
    if detailed:
        return tuple(_detailed_line(index, line, exponent) for index, line in enumerate(detailed))
    stored = body.lines if body else []
    if stored:
        return tuple(_stored_line(index, line, exponent) for index, line in enumerate(stored))
    category = "S" if invoice.tax else "E"
    rate = _rate_of_header(invoice)
    return (
        _line(
            "1", invoice.description or invoice.number, Decimal(1), invoice.subtotal, category, rate, exponent
        ),
    )


def _rate_of_header(invoice: Invoice) -> int:
    if not invoice.tax or not invoice.subtotal:
        return 0
    return int((Decimal(invoice.tax) * 10000 / Decimal(invoice.subtotal)).to_integral_value())


def _detailed_line(index: int, line: Mapping[str, Any], exponent: int) -> OutLine:
    start, end = line.get("service_start"), line.get("service_end")
    # The engine names them tax_category_code / tax_rate_basis_points; the short names are accepted too.
    built = _line(
        str(index + 1),
        str(line.get("description") or ""),
        Decimal(str(line.get("quantity") or 1)),
        int(line["net_amount"]),
        str(line.get("tax_category_code") or line.get("category_code") or "S"),
        int(line.get("tax_rate_basis_points") or line.get("rate_basis_points") or 0),
        exponent,
    )
    return OutLine(
        line_id=built.line_id,
        description=built.description,
        quantity=built.quantity,
        unit_price=built.unit_price,
        net_amount=built.net_amount,
        category_code=built.category_code,
        rate_basis_points=built.rate_basis_points,
        service_start=date.fromisoformat(str(start)) if start else None,
        service_end=_inclusive_end(start, end),
    )


def _inclusive_end(start: Any, end: Any) -> date | None:
    """Cashline's service_end is exclusive; BT-135 is the last day of the period."""
    if not end:
        return None
    last = date.fromisoformat(str(end)) - timedelta(days=1)
    first = date.fromisoformat(str(start)) if start else last
    return max(first, last)


def _stored_line(index: int, line: Mapping[str, Any], exponent: int) -> OutLine:
    rate_bp = _basis_points(line.get("tax_rate") or "0")
    return _line(
        str(index + 1),
        str(line.get("description") or ""),
        Decimal(str(line.get("quantity") or 1)),
        int(line["net_amount"]),
        "S" if rate_bp else "Z",
        rate_bp,
        exponent,
    )


def _line(
    line_id: str,
    description: str,
    quantity: Decimal,
    net_amount: int,
    category: str,
    rate_bp: int,
    exponent: int,
) -> OutLine:
    """The unit price is the line's net over its quantity (so quantity x price = BT-131 to the cent;
    a tiered or prorated line has no single list price). A negative line keeps a positive price
    and a negative quantity (BR-27: an item price is never negative)."""
    if quantity == 0:
        quantity = Decimal(1)
    quantity = abs(quantity) * (-1 if net_amount < 0 else 1)
    price = (Decimal(abs(net_amount)).scaleb(-exponent) / abs(quantity)).quantize(Decimal("0.000001"))
    return OutLine(
        line_id=line_id,
        description=description or "-",
        quantity=quantity,
        unit_price=price,
        net_amount=net_amount,
        category_code=category,
        rate_basis_points=0 if category in ZERO_CATEGORIES else rate_bp,
        service_start=None,
        service_end=None,
    )


def _taxes(
    invoice: Invoice, body: InvoiceBody | None, details: Mapping[str, Any], lines: Sequence[OutLine]
) -> tuple[OutTax, ...]:
    """The VAT breakdown: as the details state it, else the stored breakdown when it names categories
    (the billing engine's), else grouped from the lines with the stored tax per rate (API invoices)."""
    detailed: Sequence[Mapping[str, Any]] = details.get("taxes") or ()
    if detailed:
        return tuple(_tax(tax) for tax in detailed)
    stored = body.taxes if body else []
    reason_codes = {
        str(line.get("tax_category_code")): line.get("exemption_reason_code")
        for line in details.get("lines") or ()
        if line.get("exemption_reason_code")
    }
    if stored and all(t.get("category_code") for t in stored):
        return tuple(
            _tax(
                {
                    "category_code": t["category_code"],
                    "rate_basis_points": _basis_points(t["rate"]),
                    "taxable": t["taxable_amount"],
                    "tax": t["tax_amount"],
                    "exemption_reason_code": reason_codes.get(str(t["category_code"])),
                }
            )
            for t in stored
        )
    return _grouped_taxes(invoice, stored, lines)


def _grouped_taxes(
    invoice: Invoice, stored: Sequence[Mapping[str, Any]], lines: Sequence[OutLine]
) -> tuple[OutTax, ...]:
    tax_by_rate = {_basis_points(t["rate"]): int(t["tax_amount"]) for t in stored}
    grouped: dict[tuple[str, int], int] = {}
    for line in lines:
        key = (line.category_code, line.rate_basis_points)
        grouped[key] = grouped.get(key, 0) + line.net_amount
    if len(grouped) == 1 and not tax_by_rate:
        tax_by_rate = {next(iter(grouped))[1]: invoice.tax}  # an amount-only invoice states its tax once
    return tuple(
        _tax(
            {
                "category_code": category,
                "rate_basis_points": rate,
                "taxable": taxable,
                "tax": tax_by_rate.get(rate, 0) if category not in ZERO_CATEGORIES else 0,
            }
        )
        for (category, rate), taxable in sorted(grouped.items())
    )


def _basis_points(percent: Any) -> int:
    """A rate as stored ("19", "7.7") in basis points (1900, 770)."""
    return int((Decimal(str(percent)) * 100).to_integral_value())


def _tax(tax: Mapping[str, Any]) -> OutTax:
    category = str(tax.get("category_code") or "S")
    default_code, default_reason = _DEFAULT_REASONS.get(category, (None, None))
    return OutTax(
        category_code=category,
        rate_basis_points=int(tax.get("rate_basis_points") or 0),
        taxable=int(tax["taxable"]),
        tax=int(tax["tax"]),
        exemption_reason=tax.get("exemption_reason") or default_reason,
        exemption_reason_code=tax.get("exemption_reason_code") or default_code,
    )
