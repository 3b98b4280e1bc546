"""EN 16931 e-invoice parsing against the real sample corpus, plus hostile and corrupted inputs.

The corpus sits beside the checkout (`../shared/corpus/einvoice`), in development and in CI, and is
read in place: samples are never copied into the project.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from cashline.domain.einvoice import (
    AllowanceCharge,
    EInvoice,
    EInvoiceError,
    TaxSubtotal,
    check_totals,
    parse_einvoice,
)
from cashline.domain.einvoice.rules import expected_vat
from cashline.domain.einvoice.safe_xml import MAX_XML_BYTES, to_minor

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "einvoice"
SAMPLES = sorted(
    p for folder in ("ubl", "cii", "facturx") for p in (CORPUS / folder).glob("*") if p.is_file()
)


def sample(relative: str) -> bytes:
    return (CORPUS / relative).read_bytes()


def parse(relative: str) -> EInvoice:
    return parse_einvoice(sample(relative))


def mutate(relative: str, old: bytes, new: bytes) -> bytes:
    """The sample with exactly one occurrence of `old` replaced, so a test cannot silently miss."""
    data = sample(relative)
    assert data.count(old) == 1, f"{old!r} occurs {data.count(old)} times in {relative}"
    return data.replace(old, new)


def rules_of(invoice: EInvoice) -> set[str]:
    return {violation.rule for violation in check_totals(invoice)}


def pdf_with_attachments(files: dict[str, bytes]) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    for name, content in files.items():
        writer.add_attachment(name, content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the whole corpus -------------------------------------------------------------------------


def test_corpus_is_present_so_the_parametrized_tests_are_not_silently_empty() -> None:
    assert CORPUS.is_dir(), f"e-invoice corpus missing at {CORPUS}"
    for folder in ("ubl", "cii", "facturx"):
        assert list((CORPUS / folder).glob("*")), f"no samples in {folder}/"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_sample_parses_and_its_totals_add_up(path: Path) -> None:
    invoice = parse_einvoice(path.read_bytes())

    assert invoice.number
    assert isinstance(invoice.issue_date, date)
    assert len(invoice.currency) == 3
    assert invoice.seller.name
    assert invoice.buyer.name
    assert invoice.syntax == ("ubl" if path.parent.name == "ubl" else "cii")
    assert invoice.container == ("pdf" if path.suffix == ".pdf" else "xml")
    assert invoice.tax_subtotals
    # No sample in the corpus breaks an arithmetic rule, so no exceptions are listed here.
    assert check_totals(invoice) == []


def test_the_corpus_has_a_multi_rate_document() -> None:
    for relative in ("ubl/EN16931_Rabatte.ubl.xml", "cii/EN16931_Rabatte.cii.xml"):
        invoice = parse(relative)
        rates = {sub.rate for sub in invoice.tax_subtotals}
        assert len(invoice.tax_subtotals) >= 2
        assert rates == {Decimal("7"), Decimal("19")}


# --- exact values -----------------------------------------------------------------------------


def test_ubl_allowance_example_exact_values() -> None:
    invoice = parse("ubl/peppol-Allowance-example.xml")

    assert invoice.syntax == "ubl"
    assert invoice.document_type == "invoice"
    assert invoice.type_code == "380"
    assert invoice.number == "Snippet1"
    assert invoice.issue_date == date(2017, 11, 13)
    assert invoice.due_date == date(2017, 12, 1)
    assert invoice.currency == "EUR"
    assert invoice.profile == "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    assert invoice.seller.name == "SupplierOfficialName Ltd"  # BT-27 legal name, not the trading name
    assert invoice.seller.tax_id == "GB1232434"
    assert invoice.seller.legal_id == "GB983294"
    assert invoice.seller.country == "GB"
    assert invoice.buyer.name == "Buyer Official Name"
    assert invoice.buyer.email == "lj@buyer.se"
    assert invoice.buyer.postal_code == "456 34"
    assert invoice.creditor_iban == "IBAN32423940"
    assert invoice.payment_reference == "Snippet1"
    assert invoice.payment_terms == "Payment within 10 days, 2% discount"
    assert invoice.buyer_reference == "0150abc"
    assert invoice.notes == ["Please note we have a new phone number: 22 22 22 22"]

    totals = invoice.totals
    assert (totals.line_total, totals.allowance_total, totals.charge_total) == (590000, 20000, 20000)
    assert (totals.tax_exclusive, totals.tax_inclusive) == (590000, 712500)
    # The document has a second TaxTotal of 9324.00 SEK (tax currency); BT-110 is the EUR one.
    assert totals.tax_total == 122500
    assert (totals.prepaid, totals.rounding, totals.amount_due) == (100000, 0, 612500)

    # Only the two document-level allowance/charges: the line-level ones are inside BT-131.
    assert invoice.allowances_charges == [
        AllowanceCharge(
            is_charge=True, amount=20000, reason="Cleaning", tax_category="S", tax_rate=Decimal(25)
        ),
        AllowanceCharge(
            is_charge=False, amount=20000, reason="Discount", tax_category="S", tax_rate=Decimal(25)
        ),
    ]
    assert invoice.tax_subtotals == [
        TaxSubtotal(category="S", rate=Decimal(25), taxable_amount=490000, tax_amount=122500),
        TaxSubtotal(
            category="E",
            rate=Decimal(0),
            taxable_amount=100000,
            tax_amount=0,
            exemption_reason="Reason for tax exempt",
        ),
    ]
    assert [line.net_amount for line in invoice.lines] == [400000, 100000, 90000]
    first = invoice.lines[0]
    assert (first.line_id, first.description, first.unit_code) == ("1", "item name", "C62")
    assert (first.quantity, first.unit_price) == (Decimal(10), Decimal(410))
    assert (first.tax_category, first.tax_rate) == ("S", Decimal("25.0"))
    assert invoice.lines[1].tax_category == "E"


def test_cii_rabatte_exact_values() -> None:
    invoice = parse("cii/EN16931_Rabatte.cii.xml")

    assert invoice.syntax == "cii"
    assert invoice.container == "xml"
    assert invoice.profile == "urn:cen.eu:en16931:2017"
    assert (invoice.number, invoice.type_code, invoice.document_type) == ("471102", "380", "invoice")
    assert invoice.issue_date == date(2018, 6, 5)
    assert invoice.seller.name == "Lieferant GmbH"
    assert invoice.seller.tax_id == "DE123456789"  # VAT id (VA) preferred over the tax number (FC)
    assert invoice.seller.street == "Lieferantenstraße 20"
    assert invoice.buyer.name == "Kunden AG Mitte"
    assert invoice.order_reference == "2013-471331"
    assert invoice.payment_terms is not None and invoice.payment_terms.startswith(
        "Zahlbar innerhalb 30 Tagen"
    )
    # Notes are trimmed of the indentation and blank lines around them.
    assert invoice.notes[:2] == [
        "Rechnung gemäß Bestellung Nr. 2018-471331 vom 01.03.2018.",
        "Es bestehen Rabatt- und Bonusvereinbarungen.",
    ]

    totals = invoice.totals
    assert (totals.line_total, totals.charge_total, totals.allowance_total) == (20270, 580, 1473)
    assert (totals.tax_exclusive, totals.tax_total, totals.tax_inclusive) == (19377, 2130, 21507)
    assert (totals.prepaid, totals.rounding, totals.amount_due) == (5000, 0, 16507)

    assert invoice.tax_subtotals == [
        TaxSubtotal(category="S", rate=Decimal("7.00"), taxable_amount=12937, tax_amount=906),
        TaxSubtotal(category="S", rate=Decimal("19.00"), taxable_amount=6440, tax_amount=1224),
    ]
    assert [(ac.is_charge, ac.amount, ac.reason, ac.tax_rate) for ac in invoice.allowances_charges] == [
        (False, 100, "Sondernachlass", Decimal("19.00")),
        (False, 1373, "Sondernachlass", Decimal("7.00")),
        (True, 580, "Versandkosten", Decimal("7.00")),
    ]
    assert [line.net_amount for line in invoice.lines] == [1000, 2750, 10980, 5540]
    first = invoice.lines[0]
    assert first.description == "Kunstrasen grün 3m breit"
    assert (first.quantity, first.unit_code) == (Decimal("3.0000"), "MTK")
    assert first.unit_price == Decimal("3.3333")  # BT-146 keeps all four written decimals
    assert invoice.lines[2].description == "Mineralwasser Medium 12 x 1,0l PET"


def test_ubl_rabatte_matches_the_cii_version_of_the_same_invoice() -> None:
    ubl, cii = parse("ubl/EN16931_Rabatte.ubl.xml"), parse("cii/EN16931_Rabatte.cii.xml")
    assert ubl.totals == cii.totals
    assert [line.net_amount for line in ubl.lines] == [line.net_amount for line in cii.lines]
    assert [(ac.is_charge, ac.amount) for ac in ubl.allowances_charges] == [
        (ac.is_charge, ac.amount) for ac in cii.allowances_charges
    ]


def test_xrechnung_cii_iban_buyer_reference_and_emails() -> None:
    invoice = parse("cii/XRECHNUNG_Einfach.cii.xml")
    assert invoice.profile == "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    assert invoice.creditor_iban == "DE02120300000000202051"
    assert invoice.buyer_reference == "04011000-12345-34"
    assert invoice.seller.email == "Max@Mustermann.de"  # contact e-mail
    assert invoice.buyer.email == "info@kunde.de"  # electronic address with schemeID EM


def test_iban_and_due_date() -> None:
    ubl = parse("ubl/EN16931_Physiotherapeut.ubl.xml")
    assert ubl.creditor_iban == "DE02120300000000202051"
    assert ubl.due_date == date(2018, 11, 21)

    cii = parse("cii/EN16931_Innergemeinschaftliche_Lieferungen.cii.xml")
    assert cii.creditor_iban == "DE1212344321987600"
    assert cii.due_date == date(2018, 11, 30)


# --- credit notes, negative amounts, categories without a rate -----------------------------------


def test_ubl_credit_note_root() -> None:
    invoice = parse("ubl/peppol-base-creditnote-correction.xml")
    assert invoice.document_type == "credit_note"
    assert invoice.type_code == "381"
    # CreditNoteLine / CreditedQuantity, including a negative line inside the credit note.
    assert [(line.quantity, line.net_amount) for line in invoice.lines] == [
        (Decimal(7), 280000),
        (Decimal(-3), -150000),
    ]
    assert invoice.totals.amount_due == 165625
    assert check_totals(invoice) == []


def test_gutschrift_with_type_389_is_a_self_billed_invoice_not_a_credit_note() -> None:
    # German "Gutschrift" is self-billing (UNTDID 1001 code 389), which EN 16931 treats as an invoice.
    for relative in ("ubl/EN16931_Gutschrift.ubl.xml", "cii/EN16931_Gutschrift.cii.xml"):
        invoice = parse(relative)
        assert (invoice.type_code, invoice.document_type) == ("389", "invoice")


def test_negative_invoice_amounts_are_allowed() -> None:
    invoice = parse("ubl/peppol-base-negative-inv-correction.xml")
    assert invoice.document_type == "invoice"
    assert invoice.totals.amount_due == -165625
    assert invoice.totals.charge_total == -2500
    assert check_totals(invoice) == []


def test_outside_scope_category_has_no_rate() -> None:
    invoice = parse("ubl/peppol-vat-category-O.xml")
    assert invoice.currency == "SEK"
    assert (invoice.lines[0].tax_category, invoice.lines[0].tax_rate) == ("O", None)
    assert invoice.tax_subtotals == [
        TaxSubtotal(
            category="O",
            rate=None,
            taxable_amount=320000,
            tax_amount=0,
            exemption_reason="Not subject to VAT",
        )
    ]


def test_currency_exponent_comes_from_iso_data() -> None:
    data = sample("ubl/peppol-vat-category-O.xml").replace(b"SEK", b"JPY")
    invoice = parse_einvoice(data)
    assert invoice.currency == "JPY"
    assert invoice.totals.amount_due == 3200  # "3200.00" JPY: the trailing zeros are not yen fractions


# --- Factur-X / ZUGFeRD ---------------------------------------------------------------------------


def test_facturx_pdf_basic_wl() -> None:
    invoice = parse("facturx/Facture_FR_BASICWL.pdf")
    assert (invoice.container, invoice.syntax) == ("pdf", "cii")
    assert invoice.profile == "urn:factur-x.eu:1p0:basicwl"
    assert invoice.number == "FA-2017-0010"
    assert invoice.creditor_iban == "FR2012421242124212421242124"
    assert invoice.due_date == date(2017, 12, 13)
    assert invoice.payment_reference == "FA-2017-0010"
    # BASIC WL carries no lines by design; BR-CO-10 is then skipped rather than failed.
    assert invoice.lines == []
    assert (invoice.totals.prepaid, invoice.totals.amount_due) == (20100, 47015)
    assert check_totals(invoice) == []


def test_facturx_credit_note_by_type_code_381() -> None:
    invoice = parse("facturx/Avoir_FR_type381_BASIC.pdf")
    assert (invoice.container, invoice.document_type, invoice.type_code) == ("pdf", "credit_note", "381")
    assert invoice.due_date == date(2017, 11, 16)


def test_zugferd_pdf_from_mustang() -> None:
    invoice = parse("facturx/MustangGnuaccountingBeispielRE-20201121_508.pdf")
    assert invoice.number == "RE-20201121/508"
    assert invoice.creditor_iban == "DE88200800000970375700"
    assert invoice.due_date == date(2020, 12, 12)
    assert invoice.payment_terms == "Zahlbar ohne Abzug bis 12.12.2020"
    assert invoice.totals.amount_due == 57104


@pytest.mark.parametrize(
    "name", ["ZUGFeRD-invoice.xml", "zugferd-invoice.xml", "XRECHNUNG.XML", "rechnung.xml"]
)
def test_embedded_xml_names_match_case_insensitively_or_as_the_single_xml(name: str) -> None:
    pdf = pdf_with_attachments({"terms.txt": b"not xml", name: sample("cii/EN16931_Einfach.cii.xml")})
    invoice = parse_einvoice(pdf)
    assert (invoice.container, invoice.number) == ("pdf", "471102")


def test_embedded_ubl_in_a_pdf_is_read_as_ubl() -> None:
    invoice = parse_einvoice(pdf_with_attachments({"xrechnung.xml": sample("ubl/EN16931_Einfach.ubl.xml")}))
    assert (invoice.container, invoice.syntax) == ("pdf", "ubl")


def test_pdf_without_attachment_is_refused() -> None:
    with pytest.raises(EInvoiceError, match="PDF has no embedded Factur-X/ZUGFeRD XML"):
        parse_einvoice(pdf_with_attachments({}))


def test_pdf_with_two_unknown_xml_files_is_refused_rather_than_guessed() -> None:
    xml = sample("cii/EN16931_Einfach.cii.xml")
    with pytest.raises(EInvoiceError, match="no embedded"):
        parse_einvoice(pdf_with_attachments({"a.xml": xml, "b.xml": xml}))


def test_pdf_with_a_non_invoice_xml_is_refused_naming_the_root() -> None:
    with pytest.raises(EInvoiceError, match="Catalogue"):
        parse_einvoice(pdf_with_attachments({"factur-x.xml": b"<Catalogue/>"}))


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-",
        b"%PDF-1.4\n" + b"\x00garbage" * 100,
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Names 2 0 R >> endobj trailer << /Root 1 0 R >>",
    ],
)
def test_broken_pdfs_raise_einvoice_error(data: bytes) -> None:
    with pytest.raises(EInvoiceError):
        parse_einvoice(data)


def test_truncated_corpus_pdf_raises_einvoice_error() -> None:
    data = sample("facturx/Facture_FR_BASICWL.pdf")
    with pytest.raises(EInvoiceError):
        parse_einvoice(data[: len(data) // 2])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from([b"%PDF-1.7\n", b"<", b"<?xml version='1.0'?><Invoice>"]), body=st.binary())
def test_arbitrary_bytes_never_raise_anything_but_einvoice_error(prefix: bytes, body: bytes) -> None:
    with pytest.raises(EInvoiceError):
        parse_einvoice(prefix + body)


# --- hostile and non-invoice input ------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol4;</Invoice>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&e;</Invoice>"""

DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ELEMENT Invoice ANY>]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice SYSTEM "http://attacker.example/invoice.dtd">
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, XXE, DTD_ONLY, EXTERNAL_DTD], ids=["bomb", "xxe", "dtd", "ext"]
)
def test_xml_with_a_dtd_is_refused(data: bytes) -> None:
    with pytest.raises(EInvoiceError, match="DTD/entities is refused"):
        parse_einvoice(data)


def test_dtd_inside_a_pdf_attachment_is_refused_too() -> None:
    with pytest.raises(EInvoiceError, match="DTD/entities is refused"):
        parse_einvoice(pdf_with_attachments({"factur-x.xml": XXE}))


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64,
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64,
        b"",
        b"PK\x03\x04 a zip",
        b"Invoice 471102, total 529.87 EUR",
    ],
    ids=["exe", "elf", "empty", "zip", "text"],
)
def test_non_invoice_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(EInvoiceError, match="not an e-invoice: expected XML or a Factur-X PDF"):
        parse_einvoice(data)


def test_bom_and_leading_whitespace_are_accepted() -> None:
    invoice = parse_einvoice(b"\xef\xbb\xbf \n" + sample("ubl/EN16931_Einfach.ubl.xml"))
    assert invoice.number == "471102"


def test_malformed_xml_is_refused() -> None:
    with pytest.raises(EInvoiceError, match="not well-formed XML"):
        parse_einvoice(b"<Invoice><cbc:ID>1</Invoice>")


def test_oversize_xml_is_refused_before_parsing() -> None:
    with pytest.raises(EInvoiceError, match="more than 10 MB once decompressed"):
        parse_einvoice(b"<a>" + b" " * MAX_XML_BYTES + b"</a>")


@pytest.mark.parametrize(
    ("data", "root"),
    [
        (b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>', "Order"),
        (b"<html><body>invoice</body></html>", "html"),
        (
            b'<CrossIndustryDocument xmlns="urn:ferd:CrossIndustryDocument:invoice:1p0"/>',
            "CrossIndustryDocument",
        ),
    ],
)
def test_unsupported_root_elements_are_named(data: bytes, root: str) -> None:
    with pytest.raises(EInvoiceError, match=f"root element {root}"):
        parse_einvoice(data)


# --- missing mandatory data and malformed amounts ----------------------------------------------------

EINFACH_UBL = "ubl/EN16931_Einfach.ubl.xml"
EINFACH_CII = "cii/EN16931_Einfach.cii.xml"


@pytest.mark.parametrize(
    ("relative", "old", "new", "field"),
    [
        (EINFACH_UBL, b"<cbc:ID>471102</cbc:ID>", b"<cbc:ID>  </cbc:ID>", "number"),
        (EINFACH_UBL, b"<cbc:IssueDate>2018-03-05</cbc:IssueDate>", b"", "issue_date"),
        (
            EINFACH_UBL,
            b"<cbc:IssueDate>2018-03-05</cbc:IssueDate>",
            b"<cbc:IssueDate>5.3.2018</cbc:IssueDate>",
            "issue_date",
        ),
        (EINFACH_UBL, b"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>", b"", "currency"),
        (
            EINFACH_UBL,
            b"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            b"<cbc:DocumentCurrencyCode>EURO</cbc:DocumentCurrencyCode>",
            "currency",
        ),
        (
            EINFACH_UBL,
            b'<cbc:PayableAmount currencyID="EUR">529.87</cbc:PayableAmount>',
            b"",
            "totals.amount_due",
        ),
        (EINFACH_CII, b"<ram:ID>471102</ram:ID>", b"", "number"),
        (EINFACH_CII, b"<ram:Name>Lieferant GmbH</ram:Name>", b"", "seller.name"),
        (EINFACH_CII, b"<ram:Name>Kunden AG Mitte</ram:Name>", b"<ram:Name/>", "buyer.name"),
        (
            EINFACH_CII,
            b"19.00</ram:RateApplicablePercent>\n      </ram:ApplicableTradeTax>\n      <ram:Spec",
            b"1E+999999</ram:RateApplicablePercent></ram:ApplicableTradeTax><ram:Spec",
            "tax_subtotals[1].rate",
        ),
        (
            EINFACH_CII,
            b'<ram:IssueDateTime>\n      <udt:DateTimeString format="102">20180305',
            b'<ram:IssueDateTime><udt:DateTimeString format="102">20181305',
            "issue_date",
        ),
        (
            EINFACH_CII,
            b'<ram:IssueDateTime>\n      <udt:DateTimeString format="102">',
            b'<ram:IssueDateTime><udt:DateTimeString format="610">',
            "issue_date",
        ),
        (EINFACH_CII, b"<ram:DuePayableAmount>529.87</ram:DuePayableAmount>", b"", "totals.amount_due"),
    ],
)
def test_missing_or_invalid_mandatory_data_names_the_field(
    relative: str, old: bytes, new: bytes, field: str
) -> None:
    with pytest.raises(EInvoiceError) as caught:
        parse_einvoice(mutate(relative, old, new))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("name", "field"), [(b"Lieferant GmbH", "seller.name"), (b"Kunden AG Mitte", "buyer.name")]
)
def test_missing_party_names_are_reported(name: bytes, field: str) -> None:
    # Blank both BT-27 (RegistrationName) and the BT-28 trading-name fallback.
    data = sample(EINFACH_UBL).replace(b">" + name + b"<", b"><")
    with pytest.raises(EInvoiceError) as caught:
        parse_einvoice(data)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            b'<cbc:PayableAmount currencyID="EUR">529.87</cbc:PayableAmount>',
            b'<cbc:PayableAmount currencyID="EUR">529.875</cbc:PayableAmount>',
            "totals.amount_due",
        ),
        (
            b'<cbc:LineExtensionAmount currencyID="EUR">198</cbc:LineExtensionAmount>',
            b'<cbc:LineExtensionAmount currencyID="EUR">198.001</cbc:LineExtensionAmount>',
            "lines[0].net_amount",
        ),
        (
            b'<cbc:LineExtensionAmount currencyID="EUR">198</cbc:LineExtensionAmount>',
            b'<cbc:LineExtensionAmount currencyID="EUR">1.98e2x</cbc:LineExtensionAmount>',
            "lines[0].net_amount",
        ),
    ],
)
def test_amounts_finer_than_the_currency_or_not_numbers_are_refused(
    old: bytes, new: bytes, field: str
) -> None:
    with pytest.raises(EInvoiceError) as caught:
        parse_einvoice(mutate(EINFACH_UBL, old, new))
    assert caught.value.field == field
    assert field in str(caught.value)


def test_three_decimals_with_trailing_zero_are_still_whole_cents() -> None:
    data = mutate(
        EINFACH_UBL,
        b'<cbc:PayableAmount currencyID="EUR">529.87</cbc:PayableAmount>',
        b'<cbc:PayableAmount currencyID="EUR">  529.870 </cbc:PayableAmount>',
    )
    assert parse_einvoice(data).totals.amount_due == 52987


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("4900.0", "EUR", 490000),
        ("-1500", "EUR", -150000),
        ("0.00", "EUR", 0),
        ("12", "JPY", 12),
        ("1.234", "BHD", 1234),
    ],
)
def test_to_minor_examples(text: str, currency: str, minor: int) -> None:
    assert to_minor(text, currency, "amount") == minor


@pytest.mark.parametrize("text", ["NaN", "Infinity", "1E+40", "0.001", "1,50", ""])
def test_to_minor_refuses(text: str) -> None:
    with pytest.raises(EInvoiceError):
        to_minor(text, "EUR", "amount")


@given(minor=st.integers(min_value=-(10**15), max_value=10**15), extra_zeros=st.integers(0, 3))
def test_to_minor_round_trips_written_cents(minor: int, extra_zeros: int) -> None:
    written = str(Decimal(minor).scaleb(-2)) + "0" * extra_zeros  # e.g. "-12.30", "-12.3000"
    assert to_minor(written, "EUR", "amount") == minor


# --- arithmetic rules ---------------------------------------------------------------------------------


def test_changed_payable_amount_breaks_br_co_16() -> None:
    data = mutate(
        "ubl/peppol-base-example.xml",
        b'<cbc:PayableAmount currencyID="EUR">1656.25</cbc:PayableAmount>',
        b'<cbc:PayableAmount currencyID="EUR">1656.26</cbc:PayableAmount>',
    )
    violations = check_totals(parse_einvoice(data))
    assert [v.rule for v in violations] == ["BR-CO-16"]
    assert "1656.26" in violations[0].message and "1656.25" in violations[0].message


def test_changed_total_with_vat_breaks_br_co_15_and_16() -> None:
    data = mutate(
        "ubl/peppol-base-example.xml",
        b'<cbc:TaxInclusiveAmount currencyID="EUR">1656.25</cbc:TaxInclusiveAmount>',
        b'<cbc:TaxInclusiveAmount currencyID="EUR">1600.00</cbc:TaxInclusiveAmount>',
    )
    assert rules_of(parse_einvoice(data)) == {"BR-CO-15", "BR-CO-16"}


def test_changed_line_net_amount_breaks_br_co_10() -> None:
    data = mutate(
        EINFACH_UBL,
        b'<cbc:LineExtensionAmount currencyID="EUR">198</cbc:LineExtensionAmount>',
        b'<cbc:LineExtensionAmount currencyID="EUR">189</cbc:LineExtensionAmount>',
    )
    assert rules_of(parse_einvoice(data)) == {"BR-CO-10"}


def test_changed_cii_line_total_breaks_br_co_10() -> None:
    data = mutate(
        EINFACH_CII,
        b"<ram:LineTotalAmount>198.00</ram:LineTotalAmount>",
        b"<ram:LineTotalAmount>198.10</ram:LineTotalAmount>",
    )
    assert rules_of(parse_einvoice(data)) == {"BR-CO-10"}  # fmt: skip


def test_missing_document_allowances_break_br_co_11_and_12() -> None:
    invoice = parse("cii/EN16931_Rabatte.cii.xml")
    assert rules_of(dataclasses.replace(invoice, allowances_charges=[])) == {"BR-CO-11", "BR-CO-12"}


def test_wrong_totals_break_br_co_13_and_14() -> None:
    invoice = parse("ubl/EN16931_Rabatte.ubl.xml")
    totals = dataclasses.replace(invoice.totals, charge_total=invoice.totals.charge_total + 1)
    assert rules_of(dataclasses.replace(invoice, totals=totals)) == {"BR-CO-12", "BR-CO-13"}
    totals = dataclasses.replace(invoice.totals, tax_total=invoice.totals.tax_total + 1)
    assert "BR-CO-14" in rules_of(dataclasses.replace(invoice, totals=totals))


def test_category_vat_allows_one_minor_unit_of_rounding_but_not_two() -> None:
    invoice = parse(EINFACH_UBL)
    seven_percent = next(sub for sub in invoice.tax_subtotals if sub.rate == Decimal(7))
    assert seven_percent.tax_amount == expected_vat(seven_percent.taxable_amount, Decimal(7)) == 1925

    def with_vat(tax_amount: int) -> EInvoice:
        subtotals = [
            dataclasses.replace(sub, tax_amount=tax_amount) if sub is seven_percent else sub
            for sub in invoice.tax_subtotals
        ]
        # Keep BT-110 and BT-112 consistent so only the per-category rule can fire.
        delta = tax_amount - seven_percent.tax_amount
        totals = dataclasses.replace(
            invoice.totals,
            tax_total=invoice.totals.tax_total + delta,
            tax_inclusive=invoice.totals.tax_inclusive + delta,
            amount_due=invoice.totals.amount_due + delta,
        )
        return dataclasses.replace(invoice, tax_subtotals=subtotals, totals=totals)

    assert check_totals(with_vat(1926)) == []
    assert rules_of(with_vat(1927)) == {"BR-CO-17"}


def test_expected_vat_rounds_half_up_away_from_zero() -> None:
    assert expected_vat(2048, Decimal(20)) == 410  # 409.6
    assert expected_vat(1050, Decimal("5.0")) == 53  # 52.5 -> 53
    assert expected_vat(-1050, Decimal("5.0")) == -53
    assert expected_vat(12345, Decimal(0)) == 0
