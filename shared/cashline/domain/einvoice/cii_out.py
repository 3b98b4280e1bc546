"""UN/CEFACT CII D16B, Factur-X profile EN 16931, from an `OutgoingInvoice`.

This XML is what a Factur-X PDF carries (`adapters.invoice_documents` embeds it): elements follow
the order of the Factur-X 1.0 EN 16931 schema, which the `factur-x` library checks while embedding.
A credit note is type code 381 with positive amounts, as EN 16931 has it.
"""

from __future__ import annotations

from datetime import date
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from cashline.domain.einvoice.cii import RAM_NS, RSM_NS, UDT_NS
from cashline.domain.einvoice.outgoing import (
    OutgoingInvoice,
    OutLine,
    OutParty,
    OutTax,
    amount_text,
    einvoice_parties,
    percent_text,
    price_text,
    quantity_text,
)
from cashline.domain.einvoice.profiles import EN16931_ID

UNIT_CODE = "C62"  # UN/ECE rec. 20 "one"

register_namespace("rsm", RSM_NS)
register_namespace("ram", RAM_NS)
register_namespace("udt", UDT_NS)


def cii_xml(doc: OutgoingInvoice) -> bytes:
    """The Factur-X EN 16931 CrossIndustryInvoice, UTF-8 with an XML declaration. NotAnEInvoiceError
    when the invoice mixes category O with another (outgoing.einvoice_parties)."""
    doc = einvoice_parties(doc)
    root = Element(f"{{{RSM_NS}}}CrossIndustryInvoice")
    context = SubElement(root, f"{{{RSM_NS}}}ExchangedDocumentContext")
    _ram(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", EN16931_ID)
    document = SubElement(root, f"{{{RSM_NS}}}ExchangedDocument")
    _ram(document, "ID", doc.number)
    _ram(document, "TypeCode", "381" if doc.kind == "credit_note" else "380")
    _date(_ram(document, "IssueDateTime"), doc.issue_date)
    for note in doc.notes:
        _ram(_ram(document, "IncludedNote"), "Content", note)
    transaction = SubElement(root, f"{{{RSM_NS}}}SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(transaction, line, doc.currency)
    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    _ram(agreement, "BuyerReference", doc.buyer_reference)
    _party(_ram(agreement, "SellerTradeParty"), doc.seller, seller=True)
    _party(_ram(agreement, "BuyerTradeParty"), doc.buyer, seller=False)
    _ram(transaction, "ApplicableHeaderTradeDelivery")
    _settlement(_ram(transaction, "ApplicableHeaderTradeSettlement"), doc)
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def _ram(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    element = SubElement(parent, f"{{{RAM_NS}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _date(holder: Element, day: date) -> None:
    element = SubElement(holder, f"{{{UDT_NS}}}DateTimeString", {"format": "102"})
    element.text = day.strftime("%Y%m%d")


def _period(parent: Element, start: date, end: date) -> None:
    period = _ram(parent, "BillingSpecifiedPeriod")
    _date(_ram(period, "StartDateTime"), start)
    _date(_ram(period, "EndDateTime"), end)


def _line(transaction: Element, line: OutLine, currency: str) -> None:
    item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
    _ram(_ram(item, "AssociatedDocumentLineDocument"), "LineID", line.line_id)
    _ram(_ram(item, "SpecifiedTradeProduct"), "Name", line.description)
    price = _ram(_ram(item, "SpecifiedLineTradeAgreement"), "NetPriceProductTradePrice")
    _ram(price, "ChargeAmount", price_text(line.unit_price))
    delivery = _ram(item, "SpecifiedLineTradeDelivery")
    _ram(delivery, "BilledQuantity", quantity_text(line.quantity), unitCode=UNIT_CODE)
    settlement = _ram(item, "SpecifiedLineTradeSettlement")
    tax = _ram(settlement, "ApplicableTradeTax")
    _ram(tax, "TypeCode", "VAT")
    _ram(tax, "CategoryCode", line.category_code)
    if line.category_code != "O":
        _ram(tax, "RateApplicablePercent", percent_text(line.rate_basis_points))
    if line.service_start and line.service_end:
        _period(settlement, line.service_start, line.service_end)
    summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
    _ram(summation, "LineTotalAmount", amount_text(line.net_amount, currency))


def _party(el: Element, party: OutParty, *, seller: bool) -> None:
    _ram(el, "Name", party.name)
    if seller or party.email:
        contact = _ram(el, "DefinedTradeContact")
        _ram(contact, "PersonName", party.name)
        if party.phone:
            _ram(_ram(contact, "TelephoneUniversalCommunication"), "CompleteNumber", party.phone)
        if party.email:
            _ram(_ram(contact, "EmailURIUniversalCommunication"), "URIID", party.email)
    address = _ram(el, "PostalTradeAddress")
    if party.postal_code:
        _ram(address, "PostcodeCode", party.postal_code)
    if party.street:
        _ram(address, "LineOne", party.street)
    if party.city:
        _ram(address, "CityName", party.city)
    _ram(address, "CountryID", party.country or "")
    if party.email:
        _ram(_ram(el, "URIUniversalCommunication"), "URIID", party.email, schemeID="EM")
    if seller and party.tax_number:  # BT-32 (FC) before BT-31 (VA), the order of the Factur-X examples
        _ram(_ram(el, "SpecifiedTaxRegistration"), "ID", party.tax_number, schemeID="FC")
    if party.vat_id:
        _ram(_ram(el, "SpecifiedTaxRegistration"), "ID", party.vat_id, schemeID="VA")


def _settlement(el: Element, doc: OutgoingInvoice) -> None:
    _ram(el, "PaymentReference", doc.number)
    _ram(el, "InvoiceCurrencyCode", doc.currency)
    if doc.iban:
        means = _ram(el, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", "58")
        _ram(_ram(means, "PayeePartyCreditorFinancialAccount"), "IBANID", doc.iban)
        if doc.bic:
            _ram(_ram(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", doc.bic)
    for tax in doc.taxes:
        _tax(el, tax, doc.currency)
    if doc.period_start and doc.period_end:
        _period(el, doc.period_start, doc.period_end)
    terms = _ram(el, "SpecifiedTradePaymentTerms")
    _ram(terms, "Description", doc.payment_terms)
    if doc.kind == "invoice":
        _date(_ram(terms, "DueDateDateTime"), doc.due_date)
    summation = _ram(el, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(summation, "LineTotalAmount", amount_text(doc.line_total, doc.currency))
    _ram(summation, "TaxBasisTotalAmount", amount_text(doc.line_total, doc.currency))
    _ram(summation, "TaxTotalAmount", amount_text(doc.tax_total, doc.currency), currencyID=doc.currency)
    _ram(summation, "GrandTotalAmount", amount_text(doc.total, doc.currency))
    if doc.prepaid:
        _ram(summation, "TotalPrepaidAmount", amount_text(doc.prepaid, doc.currency))
    _ram(summation, "DuePayableAmount", amount_text(doc.amount_due, doc.currency))


def _tax(el: Element, tax: OutTax, currency: str) -> None:
    trade_tax = _ram(el, "ApplicableTradeTax")
    _ram(trade_tax, "CalculatedAmount", amount_text(tax.tax, currency))
    _ram(trade_tax, "TypeCode", "VAT")
    exempt = tax.category_code not in {"S", "L", "M"}
    if exempt and tax.exemption_reason:
        _ram(trade_tax, "ExemptionReason", tax.exemption_reason)
    _ram(trade_tax, "BasisAmount", amount_text(tax.taxable, currency))
    _ram(trade_tax, "CategoryCode", tax.category_code)
    if exempt and tax.exemption_reason_code:
        _ram(trade_tax, "ExemptionReasonCode", tax.exemption_reason_code)
    if tax.category_code != "O":
        _ram(trade_tax, "RateApplicablePercent", percent_text(tax.rate_basis_points))
