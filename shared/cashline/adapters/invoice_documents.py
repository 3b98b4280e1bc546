"""The files an issued invoice goes out as: its PDF (fpdf2, in the customer's language) and, where
the customer asks for one, a Factur-X PDF (the same PDF with the CII XML embedded).

Dates and amounts are formatted by Babel for the customer's locale; the printed labels exist in
English and German (as the letters' do) and fall back to English.

Factur-X: the `factur-x` library attaches the XML as `factur-x.xml` (relationship /Data), writes the
XMP metadata naming the profile, and checks the XML against the Factur-X EN 16931 schema first. The
PDF uses the core font Helvetica, which is not embedded (see pdf_documents), so the result is not a
validated PDF/A-3b; readers and Cashline's own importer take the embedded XML regardless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from cashline.adapters.pdf_documents import invoice_pdf
from cashline.domain.einvoice.outgoing import OutgoingInvoice, OutLine
from cashline.domain.invoice_texts import invoice_texts
from cashline.domain.money import currency_exponent


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who the PDF is from and to, as pdf_documents reads parties (name, address lines, contact, bank)."""

    creditor: Mapping[str, Any]
    debtor: Mapping[str, Any]
    logo: bytes | None = None


def invoice_document_pdf(doc: OutgoingInvoice, letterhead: Letterhead, *, locale: str) -> bytes:
    """The invoice (or credit note) as a PDF: lines with their service period, net, one VAT row per
    rate and category, the total, what was already paid, the amount due, and the legal tax notes."""
    labels = _labels(locale)
    lines = [_line_texts(line, doc.currency, locale, labels) for line in doc.lines]
    notes = "\n".join([*doc.notes, doc.payment_terms])
    return invoice_pdf(
        creditor=letterhead.creditor,
        debtor=letterhead.debtor,
        number=doc.number,
        issue_date_text=date_text(doc.issue_date, locale),
        due_date_text=date_text(doc.due_date, locale),
        lines=lines,
        totals=_totals(doc, locale, labels),
        notes=notes,
        language=locale,
        logo=letterhead.logo,
        title=labels["credit_note" if doc.kind == "credit_note" else "invoice"],
    )


def legal_notice(
    locale: str, *, tax_number: str | None, commercial_register: str | None, managing_directors: str | None
) -> str:
    """The footer line German business letters and invoices carry (§ 14 UStG, § 35a GmbHG):
    "Steuernummer 27/123/45678 · Amtsgericht Charlottenburg, HRB 123456 B · Geschäftsführung:
    Erika Mustermann"; "" when none is set. The register text is printed as the tenant wrote it."""
    labels = _labels(locale)
    parts = [
        f"{labels['tax_number']} {tax_number}" if tax_number else "",
        commercial_register or "",
        f"{labels['managing_directors']}: {managing_directors}" if managing_directors else "",
    ]
    return " · ".join(part for part in parts if part)


def facturx_pdf(pdf: bytes, cii_xml: bytes, *, doc: OutgoingInvoice, seller_name: str, locale: str) -> bytes:
    """`pdf` with `cii_xml` embedded as a Factur-X EN 16931 invoice (the XML is schema-checked)."""
    # defer: factur-x pulls lxml, and only a Factur-X delivery needs it (it ships no type information)
    from facturx import generate_from_binary  # type: ignore[import-untyped]

    metadata = {
        "author": seller_name,
        "keywords": "Factur-X",
        "title": f"{seller_name}: {doc.number}",
        "subject": f"Factur-X {doc.kind.replace('_', ' ')} {doc.number}",
    }
    return bytes(
        generate_from_binary(
            pdf,
            cii_xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=True,
            pdf_metadata=metadata,
            lang=locale.replace("_", "-"),
        )
    )


def _labels(locale: str) -> Mapping[str, str]:
    return invoice_texts("pdf", locale)


def date_text(day: date, locale: str) -> str:
    """A date in the customer's notation: 2027-03-29, "de" -> "29.03.2027"."""
    return format_date(day, format="medium", locale=locale)


def money_text(minor: int, currency: str, locale: str) -> str:
    """Minor units in the customer's notation: 3685 EUR, "de" -> "36,85 €"."""
    return format_currency(Decimal(minor).scaleb(-currency_exponent(currency)), currency, locale=locale)


def _line_texts(line: OutLine, currency: str, locale: str, labels: Mapping[str, str]) -> dict[str, str]:
    description = line.description
    if line.service_start and line.service_end:
        period = (
            f"{format_date(line.service_start, format='short', locale=locale)} - "
            f"{format_date(line.service_end, format='short', locale=locale)}"
        )
        description = f"{description}\n{labels['period']}: {period}"
    # Every decimal of a unit price shown (a usage price may be 0.0123), never fewer than the currency's.
    price = format_currency(line.unit_price, currency, locale=locale, decimal_quantization=False)
    return {
        "description": description,
        "quantity": format_decimal(line.quantity, locale=locale),
        "unit_amount": price,
        "net": money_text(line.net_amount, currency, locale),
    }


def _totals(doc: OutgoingInvoice, locale: str, labels: Mapping[str, str]) -> list[tuple[str, str]]:
    rows = [(labels["net"], money_text(doc.line_total, doc.currency, locale))]
    for tax in doc.taxes:
        base = money_text(tax.taxable, doc.currency, locale)
        if tax.rate_basis_points:
            rate = format_decimal(Decimal(tax.rate_basis_points).scaleb(-2), locale=locale)
            label = labels["vat"].format(rate=rate, base=base)
        else:
            label = labels["vat_zero"].format(category=tax.category_code, base=base)
        rows.append((label, money_text(tax.tax, doc.currency, locale)))
    rows.append((labels["total"], money_text(doc.total, doc.currency, locale)))
    if doc.prepaid:
        rows.append((labels["prepaid"], money_text(-doc.prepaid, doc.currency, locale)))
        rows.append((labels["due"], money_text(doc.amount_due, doc.currency, locale)))
    return rows
