"""UN/CEFACT Cross Industry Invoice D16B (XRechnung CII, ZUGFeRD 2.x, Factur-X) -> `EInvoice`."""

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
)
from cashline.domain.einvoice.profiles import is_header_only, profile_name
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
    to_minor,
)

RSM_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM_NS = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT_NS = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"

ROOT_TAG = f"{{{RSM_NS}}}CrossIndustryInvoice"

_p = Paths({"rsm": RSM_NS, "ram": RAM_NS, "udt": UDT_NS})

_TRANSACTION = "rsm:SupplyChainTradeTransaction"
_AGREEMENT = f"{_TRANSACTION}/ram:ApplicableHeaderTradeAgreement"
_SETTLEMENT = f"{_TRANSACTION}/ram:ApplicableHeaderTradeSettlement"
_SUMMATION = "ram:SpecifiedTradeSettlementHeaderMonetarySummation"


def is_cii(root: Element) -> bool:
    """True for a CII CrossIndustryInvoice root element."""
    return root.tag == ROOT_TAG


def parse_cii(root: Element, *, container: Literal["xml", "pdf"] = "xml") -> EInvoice:
    """Read a CrossIndustryInvoice root into the syntax-neutral model.

    Raises `EInvoiceError` (with `field`) when mandatory data is missing or an amount is malformed.
    """
    document = _p.find(root, "rsm:ExchangedDocument")
    agreement = _p.find(root, _AGREEMENT)
    settlement = _p.find(root, _SETTLEMENT)
    type_code = _p.text(document, "ram:TypeCode") or "380"
    number = _p.required(document, "ram:ID", "number")
    issue_date = _date(_p.find(document, "ram:IssueDateTime"), "issue_date", required=True)
    assert issue_date is not None  # required=True never returns None
    currency = to_currency(_p.text(settlement, "ram:InvoiceCurrencyCode"))
    terms = _p.findall(settlement, "ram:SpecifiedTradePaymentTerms")
    profile = _p.text(
        root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    )
    name = profile_name(profile)
    # MINIMUM and BASIC WL carry no lines by definition: none are read, whatever the file holds.
    header_only = is_header_only(name)
    return EInvoice(
        syntax="cii",
        container=container,
        profile=profile,
        document_type=document_type_for(type_code),
        type_code=type_code,
        number=number,
        issue_date=issue_date,
        due_date=next(
            (d for d in (_date(_p.find(t, "ram:DueDateDateTime"), "due_date") for t in terms) if d), None
        ),
        currency=currency,
        seller=_party(_p.find(agreement, "ram:SellerTradeParty"), "seller"),
        buyer=_party(_p.find(agreement, "ram:BuyerTradeParty"), "buyer"),
        lines=[]
        if header_only
        else [
            _line(el, index, currency)
            for index, el in enumerate(
                _p.findall(root, f"{_TRANSACTION}/ram:IncludedSupplyChainTradeLineItem")
            )
        ],
        # Header-level only: line-level allowances are already inside each BT-131.
        allowances_charges=[
            _allowance_charge(el, index, currency)
            for index, el in enumerate(_p.findall(settlement, "ram:SpecifiedTradeAllowanceCharge"))
        ],
        tax_subtotals=[
            _tax_subtotal(el, index, currency)
            for index, el in enumerate(_p.findall(settlement, "ram:ApplicableTradeTax"))
        ],
        totals=_totals(_p.find(settlement, _SUMMATION), currency, line_total_required=name != "minimum"),
        payment_terms="\n".join(t for t in (_p.text(term, "ram:Description") for term in terms) if t) or None,
        creditor_iban=_iban(settlement),
        payment_reference=_p.text(settlement, "ram:PaymentReference"),
        buyer_reference=_p.text(agreement, "ram:BuyerReference"),
        order_reference=_p.text(agreement, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        notes=_p.texts(document, "ram:IncludedNote/ram:Content"),
        tax_representative_vat_id=_vat_id(_p.find(agreement, "ram:SellerTaxRepresentativeTradeParty")),
    )


def _date(el: Element | None, field: str, *, required: bool = False) -> date | None:
    """A udt:DateTimeString; EN 16931 only allows format 102 (YYYYMMDD)."""
    string = _p.find(el, "udt:DateTimeString")
    if string is not None and string.get("format", "102").strip() != "102":
        raise EInvoiceError(f"{field} uses date format {string.get('format')!r}, expected 102", field=field)
    return to_date(_p.text(el, "udt:DateTimeString"), field, required=required)


def _iban(settlement: Element | None) -> str | None:
    iban = _p.text(
        settlement,
        "ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
    )
    # IBANs are often written in groups of four; the identifier itself has no spaces.
    return "".join(iban.split()) if iban else None


def _party(el: Element | None, role: str) -> Party:
    name = _p.text(el, "ram:Name")
    if el is None or name is None:
        raise EInvoiceError(f"missing mandatory {role}.name", field=f"{role}.name")
    address = _p.find(el, "ram:PostalTradeAddress")
    return Party(
        name=name,
        tax_id=_tax_id(el),
        legal_id=_p.text(el, "ram:SpecifiedLegalOrganization/ram:ID"),
        email=first(
            _p.text(el, "ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID"),
            _electronic_address_email(el),
        ),
        street=_p.text(address, "ram:LineOne"),
        city=_p.text(address, "ram:CityName"),
        postal_code=_p.text(address, "ram:PostcodeCode"),
        country=_p.text(address, "ram:CountryID"),
        vat_id=_vat_id(el),
    )


def _tax_id(party: Element) -> str | None:
    """VAT identifier (schemeID VA, BT-31/BT-48) when present, else the tax number (FC, BT-32)."""
    registrations = _p.findall(party, "ram:SpecifiedTaxRegistration/ram:ID")
    for scheme in ("VA", "FC"):
        for registration in registrations:
            if (registration.get("schemeID") or "").strip().upper() == scheme and registration.text:
                return registration.text.strip() or None
    return None


def _vat_id(party: Element | None) -> str | None:
    """The VAT identifier alone (schemeID VA: BT-31, BT-48, BT-63), or None."""
    for registration in _p.findall(party, "ram:SpecifiedTaxRegistration/ram:ID"):
        if (registration.get("schemeID") or "").strip().upper() == "VA" and registration.text:
            return registration.text.strip() or None
    return None


def _electronic_address_email(party: Element) -> str | None:
    """BT-34/BT-49 electronic address, only when it is an e-mail (schemeID EM)."""
    for uri in _p.findall(party, "ram:URIUniversalCommunication/ram:URIID"):
        value = (uri.text or "").strip()
        if value and (uri.get("schemeID") == "EM" or "@" in value):
            return value
    return None


def _line(el: Element, index: int, currency: str) -> InvoiceLine:
    field = f"lines[{index}]"
    product = _p.find(el, "ram:SpecifiedTradeProduct")
    quantity_el = _p.find(el, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity")
    settlement = _p.find(el, "ram:SpecifiedLineTradeSettlement")
    tax = _p.find(settlement, "ram:ApplicableTradeTax")
    price = _p.required(
        el,
        "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
        f"{field}.unit_price",
    )
    quantity = _p.required(el, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", f"{field}.quantity")
    net = _p.text(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount")
    return InvoiceLine(
        line_id=_p.required(el, "ram:AssociatedDocumentLineDocument/ram:LineID", f"{field}.line_id"),
        description=first(_p.text(product, "ram:Name"), _p.text(product, "ram:Description")) or "",
        quantity=to_decimal(quantity, f"{field}.quantity"),
        unit_code=quantity_el.get("unitCode") if quantity_el is not None else None,
        unit_price=to_decimal(price, f"{field}.unit_price"),
        net_amount=required_minor(net, currency, f"{field}.net_amount"),
        tax_category=_p.required(tax, "ram:CategoryCode", f"{field}.tax_category"),
        tax_rate=optional_decimal(_p.text(tax, "ram:RateApplicablePercent"), f"{field}.tax_rate"),
    )


def _allowance_charge(el: Element, index: int, currency: str) -> AllowanceCharge:
    field = f"allowances_charges[{index}]"
    tax = _p.find(el, "ram:CategoryTradeTax")
    return AllowanceCharge(
        is_charge=to_bool(_p.text(el, "ram:ChargeIndicator/udt:Indicator"), f"{field}.is_charge"),
        amount=required_minor(_p.text(el, "ram:ActualAmount"), currency, f"{field}.amount"),
        reason=first(_p.text(el, "ram:Reason"), _p.text(el, "ram:ReasonCode")),
        tax_category=_p.text(tax, "ram:CategoryCode"),
        tax_rate=optional_decimal(_p.text(tax, "ram:RateApplicablePercent"), f"{field}.tax_rate"),
    )


def _tax_subtotal(el: Element, index: int, currency: str) -> TaxSubtotal:
    field = f"tax_subtotals[{index}]"
    return TaxSubtotal(
        category=_p.required(el, "ram:CategoryCode", f"{field}.category"),
        rate=optional_decimal(_p.text(el, "ram:RateApplicablePercent"), f"{field}.rate"),
        taxable_amount=required_minor(_p.text(el, "ram:BasisAmount"), currency, f"{field}.taxable_amount"),
        tax_amount=required_minor(_p.text(el, "ram:CalculatedAmount"), currency, f"{field}.tax_amount"),
        exemption_reason=first(_p.text(el, "ram:ExemptionReason"), _p.text(el, "ram:ExemptionReasonCode")),
    )


def _tax_total_amount(summation: Element | None, currency: str) -> int:
    """BT-110: the TaxTotalAmount in the document currency (a second one may be in the tax currency).

    BT-110 is optional in EN 16931: a document without VAT (no breakdown, TaxBasisTotalAmount =
    GrandTotalAmount) states none, and 0 is what BR-CO-15 then checks against.
    """
    for el in _p.findall(summation, "ram:TaxTotalAmount"):
        value = (el.text or "").strip()
        if value and (el.get("currencyID") or currency).strip().upper() == currency:
            return to_minor(value, currency, "totals.tax_total")
    return 0


def _totals(summation: Element | None, currency: str, *, line_total_required: bool) -> DocumentTotals:
    def amount(tag: str, field: str, *, required: bool = False) -> int:
        value = _p.text(summation, f"ram:{tag}")
        if required:
            return required_minor(value, currency, f"totals.{field}")
        return optional_minor(value, currency, f"totals.{field}")

    # Factur-X MINIMUM has no BT-106; every other profile must state it.
    stated_line_total = line_total_required or _p.text(summation, "ram:LineTotalAmount") is not None
    return DocumentTotals(
        line_total=amount("LineTotalAmount", "line_total", required=True) if stated_line_total else None,
        allowance_total=amount("AllowanceTotalAmount", "allowance_total"),
        charge_total=amount("ChargeTotalAmount", "charge_total"),
        tax_exclusive=amount("TaxBasisTotalAmount", "tax_exclusive", required=True),
        tax_total=_tax_total_amount(summation, currency),
        tax_inclusive=amount("GrandTotalAmount", "tax_inclusive", required=True),
        prepaid=amount("TotalPrepaidAmount", "prepaid"),
        rounding=amount("RoundingAmount", "rounding"),
        amount_due=amount("DuePayableAmount", "amount_due", required=True),
    )
