"""EN 16931 rules of VAT category O, "not subject to VAT" (BR-O-01..14), as the importer checks them.

Each rule has a failing case made from one valid all-O invoice; the parsers' part (which VAT
identifiers they read: BT-31, BT-48, BT-63) is tested on the corpus's Peppol category O sample.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cashline.domain.einvoice import check_totals, parse_einvoice
from cashline.domain.einvoice.model import (
    AllowanceCharge,
    DocumentTotals,
    EInvoice,
    InvoiceLine,
    Party,
    TaxSubtotal,
)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "einvoice"


def _line(line_id: str, net: int, category: str = "O", rate: Decimal | None = None) -> InvoiceLine:
    return InvoiceLine(line_id, "Subscription", Decimal(1), "C62", Decimal(net) / 100, net, category, rate)


def valid_o_invoice() -> EInvoice:
    """150.00 of O lines, an O allowance of 10.00 and an O charge of 5.00: taxable 145.00, no VAT.
    The seller has a tax number (BT-32), which BR-O-02 allows; nobody has a VAT identifier."""
    return EInvoice(
        syntax="ubl",
        container="xml",
        profile="urn:cen.eu:en16931:2017",
        document_type="invoice",
        type_code="380",
        number="O-1",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 15),
        currency="EUR",
        seller=Party(name="Cashline Demo GmbH", tax_id="201/123/45678", country="DE"),
        buyer=Party(name="Acme Inc.", country="US"),
        lines=[_line("1", 10000), _line("2", 5000)],
        allowances_charges=[
            AllowanceCharge(False, 1000, "Discount", "O", None),
            AllowanceCharge(True, 500, "Setup", "O", None),
        ],
        tax_subtotals=[TaxSubtotal("O", None, 14500, 0, "Not subject to VAT")],
        totals=DocumentTotals(
            line_total=15000,
            allowance_total=1000,
            charge_total=500,
            tax_exclusive=14500,
            tax_total=0,
            tax_inclusive=14500,
            prepaid=0,
            rounding=0,
            amount_due=14500,
        ),
    )


def rules(invoice: EInvoice) -> list[str]:
    return [violation.rule for violation in check_totals(invoice)]


def test_a_valid_invoice_not_subject_to_vat_passes() -> None:
    assert check_totals(valid_o_invoice()) == []


def test_br_o_01_o_lines_need_exactly_one_o_breakdown() -> None:
    base = valid_o_invoice()
    none = dataclasses.replace(base, tax_subtotals=[])
    two = dataclasses.replace(
        base,
        tax_subtotals=[
            TaxSubtotal("O", None, 14500, 0, "Not subject to VAT"),
            TaxSubtotal("O", None, 0, 0, "Not subject to VAT"),
        ],
    )

    assert rules(none) == ["BR-O-01"]
    assert rules(two)[0] == "BR-O-01"


@pytest.mark.parametrize(
    ("seller_vat", "representative_vat", "buyer_vat", "named"),
    [
        ("DE136695976", None, None, "BT-31"),
        (None, "DE136695976", None, "BT-63"),
        (None, None, "GB980780684", "BT-48"),
    ],
)
def test_br_o_02_to_04_no_vat_identifier_on_an_invoice_not_subject_to_vat(
    seller_vat: str | None, representative_vat: str | None, buyer_vat: str | None, named: str
) -> None:
    base = valid_o_invoice()
    invoice = dataclasses.replace(
        base,
        seller=dataclasses.replace(base.seller, vat_id=seller_vat),
        buyer=dataclasses.replace(base.buyer, vat_id=buyer_vat),
        tax_representative_vat_id=representative_vat,
    )

    violations = check_totals(invoice)

    # the lines (BR-O-02), the allowance (BR-O-03) and the charge (BR-O-04) are all O
    assert [v.rule for v in violations] == ["BR-O-02", "BR-O-03", "BR-O-04"]
    assert all(named in v.message for v in violations)


def test_br_o_03_and_04_apply_to_allowances_and_charges_alone() -> None:
    base = valid_o_invoice()
    # MINIMUM-like header: no lines, only an O allowance; a buyer VAT id is then BR-O-03 alone
    invoice = dataclasses.replace(
        base,
        buyer=dataclasses.replace(base.buyer, vat_id="GB980780684"),
        lines=[],
        allowances_charges=[base.allowances_charges[0]],
        profile="urn:factur-x.eu:1p0:basicwl",
        tax_subtotals=[TaxSubtotal("O", None, -1000, 0, "Not subject to VAT")],
        totals=dataclasses.replace(base.totals, charge_total=0, tax_exclusive=14000),
    )
    assert "BR-O-03" in rules(invoice)
    assert "BR-O-02" not in rules(invoice) and "BR-O-04" not in rules(invoice)


def test_a_tax_registration_number_is_allowed_on_an_invoice_not_subject_to_vat() -> None:
    base = valid_o_invoice()
    invoice = dataclasses.replace(base, buyer=dataclasses.replace(base.buyer, tax_id="98-7654321"))
    assert check_totals(invoice) == []


def test_br_o_05_to_07_no_rate_for_category_o() -> None:
    base = valid_o_invoice()
    invoice = dataclasses.replace(
        base,
        lines=[_line("1", 10000, rate=Decimal(0)), _line("2", 5000)],
        allowances_charges=[
            AllowanceCharge(False, 1000, "Discount", "O", Decimal(0)),
            AllowanceCharge(True, 500, "Setup", "O", Decimal(0)),
        ],
    )
    assert rules(invoice) == ["BR-O-05", "BR-O-06", "BR-O-07"]


def test_br_o_08_taxable_amount_is_o_lines_less_allowances_plus_charges() -> None:
    base = valid_o_invoice()
    # 150.00 - 10.00 + 5.00 = 145.00; stating 150.00 ignores the allowance and the charge
    invoice = dataclasses.replace(
        base, tax_subtotals=[TaxSubtotal("O", None, 15000, 0, "Not subject to VAT")]
    )
    violations = check_totals(invoice)
    assert [v.rule for v in violations] == ["BR-O-08"]
    assert "150.00" in violations[0].message and "145.00" in violations[0].message


def test_br_o_09_the_vat_of_category_o_is_zero() -> None:
    base = valid_o_invoice()
    invoice = dataclasses.replace(
        base,
        tax_subtotals=[TaxSubtotal("O", None, 14500, 100, "Not subject to VAT")],
        totals=dataclasses.replace(base.totals, tax_total=100, tax_inclusive=14600, amount_due=14600),
    )
    assert rules(invoice) == ["BR-O-09"]


def test_br_o_10_category_o_needs_an_exemption_reason_text_or_code() -> None:
    base = valid_o_invoice()
    invoice = dataclasses.replace(base, tax_subtotals=[TaxSubtotal("O", None, 14500, 0, None)])
    assert rules(invoice) == ["BR-O-10"]
    with_code = dataclasses.replace(base, tax_subtotals=[TaxSubtotal("O", None, 14500, 0, "VATEX-EU-O")])
    assert check_totals(with_code) == []


def test_br_o_11_to_14_category_o_cannot_be_mixed_with_another_category() -> None:
    base = valid_o_invoice()
    invoice = dataclasses.replace(
        base,
        lines=[_line("1", 10000), _line("2", 5000, "S", Decimal(19))],
        allowances_charges=[
            AllowanceCharge(False, 1000, "Discount", "S", Decimal(19)),
            AllowanceCharge(True, 500, "Setup", "S", Decimal(19)),
        ],
        tax_subtotals=[
            TaxSubtotal("O", None, 10000, 0, "Not subject to VAT"),
            TaxSubtotal("S", Decimal(19), 4500, 855),
        ],
        totals=dataclasses.replace(base.totals, tax_total=855, tax_inclusive=15355, amount_due=15355),
    )
    assert rules(invoice) == ["BR-O-11", "BR-O-12", "BR-O-13", "BR-O-14"]


def test_an_invoice_without_category_o_is_not_touched_by_the_o_rules() -> None:
    base = valid_o_invoice()
    invoice = dataclasses.replace(
        base,
        seller=dataclasses.replace(base.seller, vat_id="DE136695976"),
        lines=[_line("1", 10000, "S", Decimal(19)), _line("2", 5000, "S", Decimal(19))],
        allowances_charges=[],
        tax_subtotals=[TaxSubtotal("S", Decimal(19), 15000, 2850)],
        totals=dataclasses.replace(
            base.totals,
            allowance_total=0,
            charge_total=0,
            tax_exclusive=15000,
            tax_total=2850,
            tax_inclusive=17850,
            amount_due=17850,
        ),
    )
    assert check_totals(invoice) == []


# --- what the parsers read: the VAT identifiers alone ----------------------------------------------


def _o_sample() -> bytes:
    return (CORPUS / "ubl" / "peppol-vat-category-O.xml").read_bytes()


def test_the_peppol_category_o_sample_passes_the_o_rules() -> None:
    invoice = parse_einvoice(_o_sample())
    assert (invoice.seller.vat_id, invoice.buyer.vat_id, invoice.tax_representative_vat_id) == (
        None,
        None,
        None,
    )
    assert check_totals(invoice) == []


def test_ubl_a_seller_vat_identifier_breaks_br_o_02_but_a_tax_number_does_not() -> None:
    data = _o_sample()
    marker = b"<cac:PartyLegalEntity>"
    assert marker in data
    with_vat = data.replace(
        marker,
        b"<cac:PartyTaxScheme><cbc:CompanyID>SE556677889901</cbc:CompanyID>"
        b"<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>" + marker,
        1,
    )
    with_number = data.replace(
        marker,
        b"<cac:PartyTaxScheme><cbc:CompanyID>5566778899</cbc:CompanyID>"
        b"<cac:TaxScheme><cbc:ID>TAX</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>" + marker,
        1,
    )

    assert parse_einvoice(with_vat).seller.vat_id == "SE556677889901"
    assert rules(parse_einvoice(with_vat)) == ["BR-O-02"]
    number = parse_einvoice(with_number)
    assert (number.seller.tax_id, number.seller.vat_id) == ("5566778899", None)
    assert check_totals(number) == []
