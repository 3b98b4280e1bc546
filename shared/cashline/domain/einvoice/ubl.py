"""UBL 2.1 Invoice and CreditNote (Peppol BIS Billing 3.0, XRechnung UBL) -> `EInvoice`."""

from __future__ import annotations

from datetime import date
from typing import Literal
from xml.etree.ElementTree import Element

from cashline.domain.einvoice.model import (
    AllowanceCharge,
    DocumentTotals,
    EInvoice,
    EInvoiceError,
    InvoiceLine,
    Party,
    TaxSubtotal,
    ThirdPartyPayment,
)
from cashline.domain.einvoice.profiles import profile_name
from cashline.domain.einvoice.rules import document_type_for
from cashline.domain.einvoice.safe_xml import (
    Paths,
    first,
    optional_decimal,
    optional_minor,
    required_minor,
    to_bool,
    to_currency,
    to_date,
    to_decimal,
)

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

ROOT_TAGS = frozenset({f"{{{INVOICE_NS}}}Invoice", f"{{{CREDIT_NOTE_NS}}}CreditNote"})

_p = Paths({"cac": CAC_NS, "cbc": CBC_NS})


def is_ubl(root: Element) -> bool:
    """True for a UBL 2.1 Invoice or CreditNote root element."""
    return root.tag in ROOT_TAGS


def parse_ubl(root: Element, *, container: Literal["xml", "pdf"] = "xml") -> EInvoice:
    """Read a UBL Invoice/CreditNote root into the syntax-neutral model.

    Raises `EInvoiceError` (with `field`) when mandatory data is missing or an amount is malformed.
    """
    credit_note = root.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote"
    # UBL names the same things differently in the two document kinds.
    type_code = _p.text(root, "cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode")
    type_code = type_code or ("381" if credit_note else "380")
    number = _p.required(root, "cbc:ID", "number")
    issue_date = to_date(_p.text(root, "cbc:IssueDate"), "issue_date", required=True)
    assert issue_date is not None  # required=True never returns None
    currency = to_currency(_p.text(root, "cbc:DocumentCurrencyCode"))
    line_tag = "cac:CreditNoteLine" if credit_note else "cac:InvoiceLine"
    quantity_tag = "cbc:CreditedQuantity" if credit_note else "cbc:InvoicedQuantity"
    profile = _p.text(root, "cbc:CustomizationID")
    third_party = (
        _third_party_payments(root, currency) if profile_name(profile) == "xrechnung_extension" else []
    )
    return EInvoice(
        syntax="ubl",
        container=container,
        profile=profile,
        document_type=document_type_for(type_code, credit_note_root=credit_note),
        type_code=type_code,
        number=number,
        issue_date=issue_date,
        due_date=_due_date(root),
        currency=currency,
        seller=_party(_p.find(root, "cac:AccountingSupplierParty/cac:Party"), "seller"),
        buyer=_party(_p.find(root, "cac:AccountingCustomerParty/cac:Party"), "buyer"),
        lines=[
            _line(el, index, currency, quantity_tag) for index, el in enumerate(_p.findall(root, line_tag))
        ],
        # Direct children only: line- and price-level allowances are already inside BT-131.
        allowances_charges=[
            _allowance_charge(el, index, currency)
            for index, el in enumerate(_p.findall(root, "cac:AllowanceCharge"))
        ],
        tax_subtotals=_tax_subtotals(_document_tax_total(root, currency), currency),
        totals=_totals(root, currency, third_party=sum(payment.amount for payment in third_party)),
        payment_terms="\n".join(_p.texts(root, "cac:PaymentTerms/cbc:Note")) or None,
        creditor_iban=_iban(root),
        payment_reference=_p.text(root, "cac:PaymentMeans/cbc:PaymentID"),
        buyer_reference=_p.text(root, "cbc:BuyerReference"),
        order_reference=_p.text(root, "cac:OrderReference/cbc:ID"),
        notes=_p.texts(root, "cbc:Note"),
        third_party_payments=third_party,
        tax_representative_vat_id=_vat_id(_p.find(root, "cac:TaxRepresentativeParty")),
    )


def _third_party_payments(root: Element, currency: str) -> list[ThirdPartyPayment]:
    """XRechnung extension BG-DEX-09 (cac:PrepaidPayment): amounts collected for third parties.

    Only the XRechnung extension gives cac:PrepaidPayment this meaning (it adds to BT-115); other
    UBL customisations use it differently, so they are not read at all.
    """
    payments = []
    for index, el in enumerate(_p.findall(root, "cac:PrepaidPayment")):
        field = f"third_party_payments[{index}]"
        amount_el = _p.find(el, "cbc:PaidAmount")
        stated_currency = (amount_el.get("currencyID") or currency) if amount_el is not None else currency
        if stated_currency.strip().upper() != currency:  # BR-DEX-14
            raise EInvoiceError(
                f"{field}.amount is in {stated_currency}, not {currency}", field=f"{field}.amount"
            )
        payments.append(
            ThirdPartyPayment(
                type=_p.required(el, "cbc:ID", f"{field}.type"),  # BR-DEX-10
                amount=required_minor(
                    _p.text(el, "cbc:PaidAmount"), currency, f"{field}.amount"
                ),  # BR-DEX-11
                description=_p.text(el, "cbc:InstructionID"),
            )
        )
    return payments


def _due_date(root: Element) -> date | None:
    # Invoice has cbc:DueDate; CreditNote only has the payment means due date.
    raw = first(_p.text(root, "cbc:DueDate"), _p.text(root, "cac:PaymentMeans/cbc:PaymentDueDate"))
    return to_date(raw, "due_date")


def _iban(root: Element) -> str | None:
    account = _p.text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID")
    # IBANs are often written in groups of four; the identifier itself has no spaces.
    return "".join(account.split()) if account else None


def _party(el: Element | None, role: str) -> Party:
    if el is None:
        raise EInvoiceError(f"missing mandatory {role}.name", field=f"{role}.name")
    # BT-27 is the legal registration name; the trading name (BT-28) stands in when it is absent.
    name = first(
        _p.text(el, "cac:PartyLegalEntity/cbc:RegistrationName"), _p.text(el, "cac:PartyName/cbc:Name")
    )
    if name is None:
        raise EInvoiceError(f"missing mandatory {role}.name", field=f"{role}.name")
    address = _p.find(el, "cac:PostalAddress")
    return Party(
        name=name,
        tax_id=_tax_id(el),
        legal_id=_p.text(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        email=first(_p.text(el, "cac:Contact/cbc:ElectronicMail"), _endpoint_email(el)),
        street=_p.text(address, "cbc:StreetName"),
        city=_p.text(address, "cbc:CityName"),
        postal_code=_p.text(address, "cbc:PostalZone"),
        country=_p.text(address, "cac:Country/cbc:IdentificationCode"),
        vat_id=_vat_id(el),
    )


def _tax_id(party: Element) -> str | None:
    """VAT identifier (BT-31/BT-48) when present, else the first other tax registration (BT-32)."""
    schemes = _p.findall(party, "cac:PartyTaxScheme")
    for scheme in schemes:
        if (_p.text(scheme, "cac:TaxScheme/cbc:ID") or "").upper() == "VAT":
            return _p.text(scheme, "cbc:CompanyID")
    return next((cid for cid in (_p.text(s, "cbc:CompanyID") for s in schemes) if cid), None)


def _vat_id(party: Element | None) -> str | None:
    """The VAT identifier alone (BT-31, BT-48, BT-63: a PartyTaxScheme of scheme VAT), or None."""
    for scheme in _p.findall(party, "cac:PartyTaxScheme"):
        if (_p.text(scheme, "cac:TaxScheme/cbc:ID") or "").upper() == "VAT":
            return _p.text(scheme, "cbc:CompanyID")
    return None


def _endpoint_email(party: Element) -> str | None:
    endpoint = _p.find(party, "cbc:EndpointID")
    value = _p.text(party, "cbc:EndpointID")
    if endpoint is None or value is None:
        return None
    return value if endpoint.get("schemeID") == "EM" or "@" in value else None


def _line(el: Element, index: int, currency: str, quantity_tag: str) -> InvoiceLine:
    field = f"lines[{index}]"
    quantity_el = _p.find(el, quantity_tag)
    quantity = _p.required(el, quantity_tag, f"{field}.quantity")
    category = _p.find(el, "cac:Item/cac:ClassifiedTaxCategory")
    description = first(_p.text(el, "cac:Item/cbc:Name"), _p.text(el, "cac:Item/cbc:Description"))
    return InvoiceLine(
        line_id=_p.required(el, "cbc:ID", f"{field}.line_id"),
        description=description or "",
        quantity=to_decimal(quantity, f"{field}.quantity"),
        unit_code=quantity_el.get("unitCode") if quantity_el is not None else None,
        unit_price=to_decimal(
            _p.required(el, "cac:Price/cbc:PriceAmount", f"{field}.unit_price"), f"{field}.unit_price"
        ),
        net_amount=required_minor(_p.text(el, "cbc:LineExtensionAmount"), currency, f"{field}.net_amount"),
        tax_category=_p.required(category, "cbc:ID", f"{field}.tax_category"),
        tax_rate=optional_decimal(_p.text(category, "cbc:Percent"), f"{field}.tax_rate"),
    )


def _allowance_charge(el: Element, index: int, currency: str) -> AllowanceCharge:
    field = f"allowances_charges[{index}]"
    category = _p.find(el, "cac:TaxCategory")
    return AllowanceCharge(
        is_charge=to_bool(_p.text(el, "cbc:ChargeIndicator"), f"{field}.is_charge"),
        amount=required_minor(_p.text(el, "cbc:Amount"), currency, f"{field}.amount"),
        reason=first(_p.text(el, "cbc:AllowanceChargeReason"), _p.text(el, "cbc:AllowanceChargeReasonCode")),
        tax_category=_p.text(category, "cbc:ID"),
        tax_rate=optional_decimal(_p.text(category, "cbc:Percent"), f"{field}.tax_rate"),
    )


def _document_tax_total(root: Element, currency: str) -> Element | None:
    """The cac:TaxTotal in the document currency (a second one may give VAT in the tax currency)."""
    for tax_total in _p.findall(root, "cac:TaxTotal"):
        amount = _p.find(tax_total, "cbc:TaxAmount")
        if amount is not None and (amount.get("currencyID") or currency).strip().upper() == currency:
            return tax_total
    return None


def _tax_subtotals(tax_total: Element | None, currency: str) -> list[TaxSubtotal]:
    subtotals = []
    for index, el in enumerate(_p.findall(tax_total, "cac:TaxSubtotal")):
        field = f"tax_subtotals[{index}]"
        category = _p.find(el, "cac:TaxCategory")
        subtotals.append(
            TaxSubtotal(
                category=_p.required(category, "cbc:ID", f"{field}.category"),
                rate=optional_decimal(_p.text(category, "cbc:Percent"), f"{field}.rate"),
                taxable_amount=required_minor(
                    _p.text(el, "cbc:TaxableAmount"), currency, f"{field}.taxable_amount"
                ),
                tax_amount=required_minor(_p.text(el, "cbc:TaxAmount"), currency, f"{field}.tax_amount"),
                exemption_reason=first(
                    _p.text(category, "cbc:TaxExemptionReason"),
                    _p.text(category, "cbc:TaxExemptionReasonCode"),
                ),
            )
        )
    return subtotals


def _totals(root: Element, currency: str, *, third_party: int) -> DocumentTotals:
    monetary = _p.find(root, "cac:LegalMonetaryTotal")

    def amount(tag: str, field: str, *, required: bool = False) -> int:
        value = _p.text(monetary, f"cbc:{tag}")
        if required:
            return required_minor(value, currency, f"totals.{field}")
        return optional_minor(value, currency, f"totals.{field}")

    # BT-110 is optional in EN 16931: a document without VAT states none, and BR-CO-15 checks 0.
    tax_amount = _p.text(_document_tax_total(root, currency), "cbc:TaxAmount")
    return DocumentTotals(
        line_total=amount("LineExtensionAmount", "line_total", required=True),
        allowance_total=amount("AllowanceTotalAmount", "allowance_total"),
        charge_total=amount("ChargeTotalAmount", "charge_total"),
        tax_exclusive=amount("TaxExclusiveAmount", "tax_exclusive", required=True),
        tax_total=optional_minor(tax_amount, currency, "totals.tax_total"),
        tax_inclusive=amount("TaxInclusiveAmount", "tax_inclusive", required=True),
        prepaid=amount("PrepaidAmount", "prepaid"),
        rounding=amount("PayableRoundingAmount", "rounding"),
        amount_due=amount("PayableAmount", "amount_due", required=True),
        third_party=third_party,
    )
