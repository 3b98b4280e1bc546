"""E-invoice profiles the import refused (issue 11): XRechnung third-party payments, documents
without VAT, Factur-X MINIMUM and BASIC WL. Documents are built in code (tests/einvoice_files.py).

EN 16931 rules still hold for the profiles that must satisfy them (EN 16931, EXTENDED, XRechnung).
"""

from __future__ import annotations

import pytest

from cashline.domain.einvoice import EInvoiceError, check_totals, parse_einvoice, profile_name
from tests.einvoice_files import (
    FACTURX_BASIC_WL,
    FACTURX_EN16931,
    FACTURX_EXTENDED,
    FACTURX_MINIMUM,
    XRECHNUNG_CII,
    XRECHNUNG_EXTENSION,
    CiiTotals,
    attachment,
    basic_wl_invoice,
    cii_invoice,
    minimum_invoice,
    no_vat_invoice,
    pdf_with_attachments,
    ubl_third_party_invoice,
)


def rules_broken(data: bytes) -> list[str]:
    return [violation.rule for violation in check_totals(parse_einvoice(data))]


@pytest.mark.parametrize(
    ("specification_id", "name"),
    [
        ("urn:factur-x.eu:1p0:minimum", "minimum"),
        ("urn:factur-x.eu:1p0:basicwl", "basic_wl"),
        ("urn:zugferd.de:2p0:minimum", "minimum"),
        ("urn:zugferd.de:2p0:basicwl", "basic_wl"),
        ("urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic", "basic"),
        ("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended", "extended"),
        ("urn:cen.eu:en16931:2017", "en16931"),
        ("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0", "xrechnung"),
        ("urn:cen.eu:en16931:2017#compliant#urn:xoev-de:kosit:standard:xrechnung_2.3", "xrechnung"),
        (XRECHNUNG_EXTENSION, "xrechnung_extension"),
        (
            "urn:cen.eu:en16931:2017#compliant#urn:xoev-de:kosit:standard:xrechnung_2.3"
            "#conformant#urn:xoev-de:kosit:extension:xrechnung_2.3",
            "xrechnung_extension",
        ),
        ("urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0", "peppol"),
        (" URN:FACTUR-X.EU:1P0:MINIMUM ", "minimum"),
        (None, "unknown"),
        ("urn:example:something", "unknown"),
    ],
)
def test_the_profile_is_named_from_the_specification_identifier(
    specification_id: str | None, name: str
) -> None:
    assert profile_name(specification_id) == name


# --- Factur-X MINIMUM and BASIC WL: header totals, no lines ----------------------------------------


def test_a_minimum_invoice_is_read_with_its_header_totals_and_no_lines() -> None:
    document = parse_einvoice(minimum_invoice("MIN-1"))

    assert document.profile_name == "minimum"
    assert document.lines == []
    assert document.tax_subtotals == []
    assert document.totals.line_total is None  # MINIMUM has no BT-106
    assert (document.totals.tax_exclusive, document.totals.tax_total) == (10000, 1900)
    assert document.totals.amount_due == 11900
    assert check_totals(document) == []


def test_a_minimum_invoice_in_a_pdf_is_read_too() -> None:
    pdf = pdf_with_attachments([attachment("factur-x.xml", minimum_invoice("MIN-PDF"))])

    document = parse_einvoice(pdf)

    assert (document.container, document.profile_name, document.lines) == ("pdf", "minimum", [])


@pytest.mark.parametrize(
    ("totals", "rule"),
    [
        (CiiTotals(line_total=None, due="120.00"), "BR-CO-16"),
        (CiiTotals(line_total=None, grand_total="118.00", due="118.00"), "BR-CO-15"),
    ],
)
def test_a_minimum_invoice_whose_header_totals_do_not_add_up_is_still_refused(
    totals: CiiTotals, rule: str
) -> None:
    data = cii_invoice(
        number="MIN-BAD", profile=FACTURX_MINIMUM, totals=totals, line_amounts=(), vat_breakdown=()
    )

    assert rules_broken(data) == [rule]


def test_lines_in_a_minimum_or_basic_wl_file_are_not_read() -> None:
    # The profiles carry none; a file that has some anyway is imported by its header.
    for profile in (FACTURX_MINIMUM, FACTURX_BASIC_WL):
        data = cii_invoice(number="WL-LINES", profile=profile, line_amounts=("60.00", "40.00"))
        document = parse_einvoice(data)
        assert document.lines == []
        assert check_totals(document) == []


def test_a_basic_wl_invoice_is_read_without_lines_and_its_vat_breakdown_is_checked() -> None:
    document = parse_einvoice(basic_wl_invoice("WL-1"))

    assert document.profile_name == "basic_wl"
    assert document.lines == []
    assert document.totals.line_total == 10000
    assert document.totals.prepaid == 1900
    assert [(t.category, t.tax_amount) for t in document.tax_subtotals] == [("S", 1900)]
    assert check_totals(document) == []

    # BASIC WL carries BT-106 and the VAT breakdown, so BR-CO-13 and BR-CO-14 still apply
    wrong = cii_invoice(
        number="WL-2",
        profile=FACTURX_BASIC_WL,
        totals=CiiTotals(line_total="90.00"),
        line_amounts=(),
        vat_breakdown=(("S", "19", "100.00", "18.00"),),
    )
    assert rules_broken(wrong) == ["BR-CO-13", "BR-CO-14", "BR-CO-17"]


def test_a_basic_wl_invoice_without_a_line_total_is_a_missing_field() -> None:
    data = cii_invoice(
        number="WL-3", profile=FACTURX_BASIC_WL, totals=CiiTotals(line_total=None), line_amounts=()
    )

    with pytest.raises(EInvoiceError) as caught:
        parse_einvoice(data)

    assert caught.value.field == "totals.line_total"


@pytest.mark.parametrize("profile", [FACTURX_EN16931, FACTURX_EXTENDED, XRECHNUNG_CII, None])
def test_profiles_held_to_en16931_still_need_lines_that_add_up(profile: str | None) -> None:
    specification = profile or "urn:example:unknown"
    without_lines = cii_invoice(number="EN-0", profile=specification, line_amounts=())
    wrong_lines = cii_invoice(number="EN-1", profile=specification, line_amounts=("60.00", "30.00"))
    good = cii_invoice(number="EN-2", profile=specification, line_amounts=("60.00", "40.00"))

    assert rules_broken(without_lines)[:2] == ["BR-16", "BR-CO-10"]
    assert rules_broken(wrong_lines) == ["BR-CO-10"]
    assert rules_broken(good) == []


# --- documents without any VAT ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", [XRECHNUNG_CII, FACTURX_EN16931])
def test_a_cii_document_without_vat_is_read_with_a_vat_total_of_zero(profile: str) -> None:
    document = parse_einvoice(no_vat_invoice("NOVAT-1", profile=profile))

    assert document.tax_subtotals == []
    assert document.totals.tax_total == 0
    assert document.totals.tax_inclusive == document.totals.tax_exclusive == 10000
    # Read, but not a valid EN 16931 invoice: its line is O, which needs an O breakdown (BR-O-01).
    assert [violation.rule for violation in check_totals(document)] == ["BR-O-01"]


def test_a_document_without_a_vat_total_whose_grand_total_includes_vat_breaks_br_co_15() -> None:
    data = cii_invoice(
        number="NOVAT-2", profile=XRECHNUNG_CII, totals=CiiTotals(tax_total=None), vat_breakdown=()
    )

    assert rules_broken(data) == ["BR-CO-15"]


def test_a_ubl_document_without_a_tax_total_is_read_with_zero_vat() -> None:
    data = ubl_third_party_invoice("UBL-NOVAT", profile=XRECHNUNG_CII, payable="336.90")
    start, end = data.index(b"<cac:TaxTotal>"), data.index(b"</cac:TaxTotal>") + len(b"</cac:TaxTotal>")
    no_vat = data[:start] + data[end:]

    document = parse_einvoice(no_vat.replace(b">336.90<", b">314.86<"))

    assert document.totals.tax_total == 0
    assert check_totals(document) == []


# --- XRechnung extension: third-party payments (BG-DEX-09) -----------------------------------------


def test_third_party_payments_raise_the_amount_due_above_the_invoice_total() -> None:
    document = parse_einvoice(ubl_third_party_invoice("DEX-1"))

    assert document.profile_name == "xrechnung_extension"
    assert [(p.type, p.amount) for p in document.third_party_payments] == [
        ("MobilesBezahlen", 1996),
        ("MobilesBezahlen", 1000),
    ]
    assert document.totals.third_party == 2996
    assert document.totals.tax_inclusive == 33690
    assert document.totals.amount_due == 36686  # BT-112 - BT-113 + BT-114 + third parties
    assert check_totals(document) == []


def test_an_amount_due_that_leaves_out_the_third_party_payments_breaks_br_dex_09() -> None:
    assert rules_broken(ubl_third_party_invoice("DEX-2", payable="336.90")) == ["BR-DEX-09"]


def test_prepaid_payment_groups_count_only_in_the_xrechnung_extension() -> None:
    # Outside the extension cac:PrepaidPayment has no BG-DEX-09 meaning: BR-CO-16 applies as written.
    document = parse_einvoice(ubl_third_party_invoice("DEX-3", profile=XRECHNUNG_CII))

    assert document.third_party_payments == []
    assert [v.rule for v in check_totals(document)] == ["BR-CO-16"]


def test_a_third_party_payment_in_another_currency_is_refused_naming_it() -> None:
    with pytest.raises(EInvoiceError) as caught:
        parse_einvoice(ubl_third_party_invoice("DEX-4", currency="USD"))

    assert caught.value.field == "third_party_payments[0].amount"
