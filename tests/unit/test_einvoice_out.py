"""The e-invoices Cashline issues (XRechnung UBL, Factur-X CII and PDF) read back by Cashline's own
importer: no EN 16931 rule violated, and the number, dates, parties, VAT ids, tax categories and
amounts read back equal the invoice's."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from cashline.adapters.invoice_documents import Letterhead, facturx_pdf, invoice_document_pdf
from cashline.domain.billing.catalog import TaxBehavior, TaxCategory
from cashline.domain.billing.invoice_amounts import stored_amounts
from cashline.domain.billing.invoice_plan import PlannedLine
from cashline.domain.billing.tax import BuyerTax, SellerTax, tax_lines
from cashline.domain.einvoice import EInvoice, check_totals, parse_einvoice
from cashline.domain.einvoice.cii_out import cii_xml
from cashline.domain.einvoice.outgoing import NotAnEInvoiceError, OutgoingInvoice, OutParty, outgoing_invoice
from cashline.domain.einvoice.ubl_out import ubl_xml
from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceBody, InvoiceStatus

NOW = datetime(2027, 1, 16, 9, tzinfo=UTC)
SELLER = OutParty(
    name="Cashline Demo GmbH",
    vat_id="DE136695976",
    street="Hauptstr. 1",
    city="Berlin",
    postal_code="10115",
    country="DE",
    email="billing@demo.example",
    phone="+49 30 1234567",
    tax_number="30/123/45678",
)
SELLER_TAX_NUMBER = "30/123/45678"
BUYER_DE = OutParty("Kunde GmbH", None, "Weg 2", "München", "80331", "DE", "ap@kunde.example")
BUYER_FR = OutParty(
    "Client SARL", "FR40303265045", "1 rue de la Paix", "Paris", "75002", "FR", "ap@client.example"
)
BUYER_US = OutParty("Customer Inc.", None, "1 Main St", "Springfield", "62701", "US", "ap@customer.example")
REVERSE_CHARGE = "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)"


def _invoice(
    *,
    subtotal: int,
    tax: int,
    kind: DocumentKind = DocumentKind.INVOICE,
    paid: int = 0,
    number: str = "2027-000001",
) -> Invoice:
    return Invoice(
        tenant_id="t_1",
        invoice_id="inv_1",
        direction=Direction.RECEIVABLE,
        document_kind=kind,
        number=number,
        counterparty_id="cp_1",
        counterparty_name="Kunde GmbH",
        segment=None,
        issue_date=date(2027, 1, 16),
        due_date=date(2027, 1, 30),
        currency="EUR",
        subtotal=subtotal,
        tax=tax,
        amount_due=subtotal + tax,
        amount_paid=paid,
        status=InvoiceStatus.OPEN,
        status_before_dispute=None,
        description=None,
        source="subscription",
        metadata={"subscription_id": "sub_1"},
        created_at=NOW,
        updated_at=NOW,
        version=2,
    )


def _line(
    description: str, net: int, category: str = "S", rate: int = 1900, quantity: int = 1
) -> dict[str, Any]:
    return {
        "description": description,
        "quantity": quantity,
        "unit_amount": net // quantity,
        "net_amount": net,
        "rate_basis_points": rate,
        "category_code": category,
        "service_start": "2027-01-16",
        "service_end": "2027-02-01",
    }


def _tax(
    category: str, rate: int, taxable: int, tax: int, reason: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "rate_basis_points": rate,
        "category_code": category,
        "taxable": taxable,
        "tax": tax,
        "exemption_reason": reason,
        "exemption_reason_code": code,
    }


def _doc(
    invoice: Invoice,
    details: dict[str, Any] | None,
    *,
    buyer: OutParty = BUYER_DE,
    body: InvoiceBody | None = None,
) -> OutgoingInvoice:
    return outgoing_invoice(
        invoice,
        body or InvoiceBody(lines=[], taxes=[], details=details),
        seller=SELLER,
        buyer=buyer,
        buyer_reference="04011000-12345-67",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        payment_terms="Payable by 2027-01-30 without deduction.",
    )


def _facturx(doc: OutgoingInvoice) -> bytes:
    letterhead = Letterhead(creditor={"name": SELLER.name}, debtor={"name": doc.buyer.name})
    pdf = invoice_document_pdf(doc, letterhead, locale="de_DE")
    return facturx_pdf(pdf, cii_xml(doc), doc=doc, seller_name=SELLER.name, locale="de_DE")


BUILDERS: dict[str, Callable[[OutgoingInvoice], bytes]] = {
    "ubl": ubl_xml,
    "cii": cii_xml,
    "facturx": _facturx,
}


def _read_back(doc: OutgoingInvoice, syntax: str) -> EInvoice:
    read = parse_einvoice(BUILDERS[syntax](doc))
    assert check_totals(read) == []
    assert read.number == doc.number
    assert read.issue_date == doc.issue_date
    assert read.currency == doc.currency
    assert read.document_type == doc.kind
    # Category O (not subject to VAT) names no VAT identifier (BR-O-02); the tax number BT-32 stays.
    outside_vat = any(tax.category_code == "O" for tax in doc.taxes)
    seller_vat = None if outside_vat else "DE136695976"
    assert (read.seller.name, read.seller.vat_id, read.seller.tax_id, read.seller.country) == (
        "Cashline Demo GmbH",
        seller_vat,
        seller_vat or SELLER_TAX_NUMBER,
        "DE",
    )
    buyer_vat = None if outside_vat else doc.buyer.vat_id
    assert (read.buyer.name, read.buyer.vat_id, read.buyer.tax_id, read.buyer.country) == (
        doc.buyer.name,
        buyer_vat,
        buyer_vat,
        doc.buyer.country,
    )
    assert read.buyer_reference == "04011000-12345-67"
    assert read.creditor_iban == "DE89370400440532013000"
    t = read.totals
    assert (t.line_total, t.tax_exclusive, t.tax_total, t.tax_inclusive) == (
        doc.line_total,
        doc.line_total,
        doc.tax_total,
        doc.total,
    )
    assert (t.prepaid, t.amount_due) == (doc.prepaid, doc.amount_due)
    assert [line.net_amount for line in read.lines] == [line.net_amount for line in doc.lines]
    assert [(s.category, s.taxable_amount, s.tax_amount) for s in read.tax_subtotals] == [
        (tax.category_code, tax.taxable, tax.tax) for tax in doc.taxes
    ]
    return read


SYNTAXES = pytest.mark.parametrize("syntax", ["ubl", "cii", "facturx"])


@SYNTAXES
def test_domestic_19_percent_with_the_proration_worked_example(syntax: str) -> None:
    # Given the issue's worked example: credit 15.48, charge 46.45, net 30.97, VAT 19 % 5.88
    invoice = _invoice(subtotal=3097, tax=588)
    details = {
        "lines": [_line("Unused time on Basic", -1548), _line("Remaining time on Pro", 4645)],
        "taxes": [_tax("S", 1900, 3097, 588)],
        "tax_notes": [],
    }
    # When it is written and read back
    read = _read_back(_doc(invoice, details), syntax)
    # Then the total is 36.85, the credit line is negative with a positive price, the rate 19 %
    assert read.totals.amount_due == 3685
    assert read.due_date == date(2027, 1, 30)
    assert [(line.quantity, line.unit_price) for line in read.lines] == [
        (Decimal(-1), Decimal("15.48")),
        (Decimal(1), Decimal("46.45")),
    ]
    assert {line.tax_category for line in read.lines} == {"S"}
    assert read.tax_subtotals[0].rate == Decimal("19.00")


@SYNTAXES
def test_reverse_charge_is_category_ae_with_the_legal_note_and_both_vat_ids(syntax: str) -> None:
    invoice = _invoice(subtotal=9000, tax=0)
    details = {
        "lines": [_line("Pro plan", 9000, "AE", 0)],
        "taxes": [_tax("AE", 0, 9000, 0, REVERSE_CHARGE, "VATEX-EU-AE")],
        "tax_notes": [REVERSE_CHARGE],
        "buyer_vat_id": "FR40303265045",
    }
    read = _read_back(_doc(invoice, details, buyer=BUYER_FR), syntax)
    assert read.lines[0].tax_category == "AE"
    assert read.tax_subtotals[0].category == "AE"
    assert read.tax_subtotals[0].exemption_reason == REVERSE_CHARGE
    assert REVERSE_CHARGE in read.notes
    assert read.buyer.tax_id == "FR40303265045"


@SYNTAXES
def test_export_outside_the_eu_is_category_g(syntax: str) -> None:
    invoice = _invoice(subtotal=9000, tax=0)
    details = {
        "lines": [_line("Pro plan", 9000, "G", 0)],
        "taxes": [_tax("G", 0, 9000, 0, "Export outside the EU", "VATEX-EU-G")],
        "tax_notes": ["Export outside the EU"],
    }
    read = _read_back(_doc(invoice, details, buyer=BUYER_US), syntax)
    assert read.tax_subtotals[0].category == "G"
    assert read.tax_subtotals[0].exemption_reason == "Export outside the EU"
    assert read.totals.amount_due == 9000


@SYNTAXES
def test_mixed_rates_give_one_breakdown_per_rate(syntax: str) -> None:
    # 3 seats at 10.00 (19 %) and an e-book at 12.34 (7 %)
    invoice = _invoice(subtotal=4234, tax=570 + 86)
    details = {
        "lines": [_line("Seats", 3000, quantity=3), _line("E-book", 1234, "S", 700)],
        "taxes": [_tax("S", 700, 1234, 86), _tax("S", 1900, 3000, 570)],
    }
    read = _read_back(_doc(invoice, details), syntax)
    assert sorted(s.rate for s in read.tax_subtotals if s.rate is not None) == [
        Decimal("7.00"),
        Decimal("19.00"),
    ]
    assert read.lines[0].quantity == 3
    assert read.lines[0].unit_price == Decimal("10")


@SYNTAXES
def test_a_credit_note_keeps_positive_amounts(syntax: str) -> None:
    invoice = _invoice(subtotal=1548, tax=294, kind=DocumentKind.CREDIT_NOTE, number="2027-000002")
    details = {
        "lines": [_line("Credit for unused time on Basic", 1548)],
        "taxes": [_tax("S", 1900, 1548, 294)],
    }
    read = _read_back(_doc(invoice, details), syntax)
    assert read.document_type == "credit_note"
    assert read.type_code == "381"
    assert read.totals.amount_due == 1842


@SYNTAXES
def test_applied_credit_is_the_prepaid_amount(syntax: str) -> None:
    # 90.00 + 17.10 VAT, 20.00 of the customer's credit applied: 87.10 to pay
    invoice = _invoice(subtotal=9000, tax=1710, paid=2000)
    details = {"lines": [_line("Pro plan", 9000)], "taxes": [_tax("S", 1900, 9000, 1710)]}
    read = _read_back(_doc(invoice, details), syntax)
    assert (read.totals.tax_inclusive, read.totals.prepaid, read.totals.amount_due) == (10710, 2000, 8710)


@SYNTAXES
def test_a_plain_api_invoice_without_details(syntax: str) -> None:
    # Lines as the API stores them: rates in percent, a 0 % line is zero rated
    invoice = _invoice(subtotal=15000, tax=1900)
    body = InvoiceBody(
        lines=[
            {
                "description": "Consulting",
                "quantity": "2",
                "unit_amount": 5000,
                "tax_rate": "19",
                "net_amount": 10000,
            },
            {
                "description": "Book",
                "quantity": "1",
                "unit_amount": 5000,
                "tax_rate": "0",
                "net_amount": 5000,
            },
        ],
        taxes=[
            {"rate": "0", "taxable_amount": 5000, "tax_amount": 0},
            {"rate": "19", "taxable_amount": 10000, "tax_amount": 1900},
        ],
        details=None,
    )
    read = _read_back(_doc(invoice, None, body=body), syntax)
    assert [line.tax_category for line in read.lines] == ["S", "Z"]


@SYNTAXES
def test_an_amount_only_invoice_is_one_exempt_line(syntax: str) -> None:
    invoice = _invoice(subtotal=5000, tax=0)
    read = _read_back(_doc(invoice, None, body=InvoiceBody(lines=[], taxes=[], details=None)), syntax)
    assert [(line.description, line.tax_category) for line in read.lines] == [("2027-000001", "E")]


def test_the_xrechnung_document_names_its_specification() -> None:
    invoice = _invoice(subtotal=9000, tax=1710)
    details = {"lines": [_line("Pro plan", 9000)], "taxes": [_tax("S", 1900, 9000, 1710)]}
    read = parse_einvoice(ubl_xml(_doc(invoice, details)))
    assert read.profile == "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    assert read.profile_name == "xrechnung"
    assert read.seller.email == "billing@demo.example"
    assert read.payment_terms == "Payable by 2027-01-30 without deduction."


def test_the_pdf_shows_the_tax_rows_notes_and_service_period_in_the_customers_language() -> None:
    invoice = _invoice(subtotal=9000, tax=0)
    details = {
        "lines": [_line("Pro plan", 9000, "AE", 0)],
        "taxes": [_tax("AE", 0, 9000, 0, REVERSE_CHARGE, "VATEX-EU-AE")],
        "tax_notes": [REVERSE_CHARGE],
    }
    doc = _doc(invoice, details, buyer=BUYER_FR)
    pdf = invoice_document_pdf(
        doc, Letterhead(creditor={"name": SELLER.name}, debtor={"name": "Client"}), locale="de_DE"
    )
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Rechnung 2027-000001" in text
    assert "Leistungszeitraum" in text
    assert "USt. 0 % (AE)" in text
    assert "Reverse charge" in text
    assert "90,00" in text


def test_a_logo_is_drawn_in_the_letterhead() -> None:
    from PIL import Image

    logo = io.BytesIO()
    Image.new("RGB", (300, 100), (20, 80, 160)).save(logo, format="PNG")
    invoice = _invoice(subtotal=9000, tax=1710)
    doc = _doc(invoice, {"lines": [_line("Pro plan", 9000)], "taxes": [_tax("S", 1900, 9000, 1710)]})
    plain = invoice_document_pdf(doc, Letterhead(creditor={"name": "A"}, debtor={"name": "B"}), locale="en")
    with_logo = invoice_document_pdf(
        doc, Letterhead(creditor={"name": "A"}, debtor={"name": "B"}, logo=logo.getvalue()), locale="en"
    )
    [page] = PdfReader(io.BytesIO(with_logo)).pages
    assert len(page.images) == 1
    assert len(PdfReader(io.BytesIO(plain)).pages[0].images) == 0


# --- the billing engine's own output: B's tax_lines, D1's stored lines and details ----------------------


def _engine_invoice(
    planned: list[tuple[str, int, TaxCategory, TaxBehavior]], buyer: BuyerTax, *, credit: int = 0
) -> tuple[Invoice, InvoiceBody]:
    """What the engine stores for these lines (domain/billing/invoice_amounts.py, used by
    services/billing/drafts.py and credit.py)."""
    lines = [
        PlannedLine(
            description=description,
            quantity=1,
            unit_amount=amount,
            amount=amount,
            item_id="si_1",
            price_id="prc_1",
            tax_category=category,
            tax_behavior=behavior,
            service_start=date(2027, 1, 16),
            service_end=date(2027, 2, 1),
            kind="proration",
        )
        for description, amount, category, behavior in planned
    ]
    seller = SellerTax(country="DE", vat_id="DE136695976", oss=False)
    taxed = tax_lines(lines, seller, buyer, on=date(2027, 1, 16))
    stored = stored_amounts(
        taxed, seller_vat_id=seller.vat_id, buyer_vat_id=buyer.vat_id, credit_applied=credit
    )
    stated = stored.stated
    invoice = _invoice(subtotal=stated.subtotal, tax=stated.tax, paid=credit)
    return invoice, InvoiceBody(lines=stated.lines, taxes=stated.taxes, details=stored.details)


DOMESTIC = BuyerTax(country="DE", vat_id=None, vat_id_valid=False, is_business=True)
EU_BUSINESS = BuyerTax(country="FR", vat_id="FR40303265045", vat_id_valid=True, is_business=True)
ABROAD = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=True)
ABROAD_CONSUMER = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=False)
EXCL = TaxBehavior.EXCLUSIVE


@SYNTAXES
def test_the_engines_worked_example_reads_back_as_issued(syntax: str) -> None:
    invoice, body = _engine_invoice(
        [("Unused Basic", -1548, TaxCategory.STANDARD, EXCL), ("Pro", 4645, TaxCategory.STANDARD, EXCL)],
        DOMESTIC,
    )
    read = _read_back(_doc(invoice, None, body=body), syntax)
    assert (read.totals.tax_exclusive, read.totals.tax_total, read.totals.amount_due) == (3097, 588, 3685)


@SYNTAXES
def test_the_engines_reverse_charge_carries_its_vatex_code_and_note(syntax: str) -> None:
    invoice, body = _engine_invoice([("Pro", 9000, TaxCategory.STANDARD, EXCL)], EU_BUSINESS, credit=500)
    read = _read_back(_doc(invoice, None, body=body, buyer=BUYER_FR), syntax)
    assert [(s.category, s.tax_amount) for s in read.tax_subtotals] == [("AE", 0)]
    assert read.buyer.tax_id == "FR40303265045"
    assert any("Reverse charge" in note for note in read.notes)
    assert (read.totals.prepaid, read.totals.amount_due) == (500, 8500)
    if syntax == "ubl":
        assert b"VATEX-EU-AE" in ubl_xml(_doc(invoice, None, body=body, buyer=BUYER_FR))


@SYNTAXES
def test_the_engines_export_and_mixed_rates(syntax: str) -> None:
    # A service to a business outside the EU: not subject to VAT (O, Art. 44), no export of goods (G).
    export, export_body = _engine_invoice([("Pro", 9000, TaxCategory.STANDARD, EXCL)], ABROAD)
    outside = _read_back(_doc(export, None, body=export_body, buyer=BUYER_US), syntax)
    assert [(s.category, s.rate, s.tax_amount) for s in outside.tax_subtotals] == [("O", None, 0)]
    assert any("Art. 44" in note for note in outside.notes)
    mixed, mixed_body = _engine_invoice(
        [
            ("Pro", 9000, TaxCategory.STANDARD, EXCL),
            ("E-book", 1234, TaxCategory.REDUCED, EXCL),
            ("Inclusive add-on", 1190, TaxCategory.STANDARD, TaxBehavior.INCLUSIVE),
        ],
        DOMESTIC,
    )
    read = _read_back(_doc(mixed, None, body=mixed_body), syntax)
    assert sorted(str(s.rate) for s in read.tax_subtotals) == ["19.00", "7.00"]


# --- category O: not subject to VAT (EN 16931 BR-O-01..14) -------------------------------------------

# A business outside the EU whose record carries a tax id of its own country: not a VAT identifier
# EN 16931 may show on an O invoice (BT-48), so it is left out as the seller's VAT id is.
BUYER_US_WITH_ID = OutParty(
    "Customer Inc.", "US12-3456789", "1 Main St", "Springfield", "62701", "US", "ap@customer.example"
)


@SYNTAXES
def test_an_all_o_b2b_invoice_outside_the_eu_reads_back_without_vat_ids_or_rates(syntax: str) -> None:
    # Every product category to a business outside the EU is O (exempt too), so the invoice is all O.
    invoice, body = _engine_invoice(
        [
            ("Pro", 9000, TaxCategory.STANDARD, EXCL),
            ("Course", 2500, TaxCategory.EXEMPT, EXCL),
            ("Hosting", 1190, TaxCategory.DIGITAL_SERVICE, TaxBehavior.INCLUSIVE),
        ],
        ABROAD,
        credit=500,
    )
    doc = _doc(invoice, None, body=body, buyer=BUYER_US_WITH_ID)

    read = _read_back(doc, syntax)

    assert {line.tax_category for line in read.lines} == {"O"}
    assert {line.tax_rate for line in read.lines} == {None}
    assert [(s.category, s.rate, s.taxable_amount, s.tax_amount) for s in read.tax_subtotals] == [
        ("O", None, 12690, 0)
    ]
    assert read.tax_subtotals[0].exemption_reason
    assert read.tax_representative_vat_id is None
    assert any("Art. 44" in note for note in read.notes)
    assert (read.totals.tax_total, read.totals.prepaid, read.totals.amount_due) == (0, 500, 12190)
    if syntax != "facturx":
        xml = BUILDERS[syntax](doc)
        assert b"DE136695976" not in xml and b"US12-3456789" not in xml
        assert b"VATEX-EU-O" in xml


@SYNTAXES
def test_o_mixed_with_another_category_is_refused_as_an_einvoice(syntax: str) -> None:
    # A consumer outside the EU: the digital service is O (Art. 58), the other service S (Art. 45).
    invoice, body = _engine_invoice(
        [
            ("Streaming", 1000, TaxCategory.DIGITAL_SERVICE, EXCL),
            ("Workshop", 5000, TaxCategory.STANDARD, EXCL),
        ],
        ABROAD_CONSUMER,
    )
    doc = _doc(invoice, None, body=body, buyer=BUYER_US)
    assert sorted(tax.category_code for tax in doc.taxes) == ["O", "S"]

    with pytest.raises(NotAnEInvoiceError) as refused:
        BUILDERS[syntax](doc)

    assert refused.value.rule == "BR-O-11"
    assert "BR-O-11" in refused.value.message and "S" in refused.value.message


def test_the_pdf_of_an_o_invoice_still_shows_the_sellers_vat_id() -> None:
    invoice, body = _engine_invoice([("Pro", 9000, TaxCategory.STANDARD, EXCL)], ABROAD)
    doc = _doc(invoice, None, body=body, buyer=BUYER_US)
    # the e-invoice rule is the builders': the shape the PDF is made from keeps the VAT id
    assert doc.seller.vat_id == "DE136695976"
    pdf = invoice_document_pdf(
        doc, Letterhead(creditor={"name": SELLER.name}, debtor={"name": "x"}), locale="en"
    )
    assert pdf.startswith(b"%PDF")
