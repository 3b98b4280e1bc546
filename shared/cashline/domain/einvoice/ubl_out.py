"""XRechnung 3.0 in UBL 2.1 (Invoice or CreditNote) from an `OutgoingInvoice`.

Elements are written in the order the UBL 2.1 schema's sequences require. XRechnung asks for more
than EN 16931: a buyer reference (BT-10), the seller's contact (BT-41..43) and both parties'
electronic addresses (BT-34, BT-49, here their e-mail addresses, scheme EM). Payment is by SEPA
credit transfer (code 58) to the tenant's IBAN when there is one, else "not defined" (code 1).

Built with the standard library's ElementTree: the document is small, and Cashline's own importer
(`parse_einvoice`) reads it back in the round-trip tests.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

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
from cashline.domain.einvoice.ubl import CAC_NS, CBC_NS, CREDIT_NOTE_NS, INVOICE_NS

XRECHNUNG_CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
UNIT_CODE = "C62"  # UN/ECE rec. 20 "one": a subscription item, a seat, a usage unit

# Prefixes for the serialiser (ElementTree cannot write a default namespace beside the unqualified
# attributes UBL uses, such as currencyID); any prefix is the same document to an XML reader.
register_namespace("inv", INVOICE_NS)
register_namespace("cn", CREDIT_NOTE_NS)
register_namespace("cac", CAC_NS)
register_namespace("cbc", CBC_NS)


def ubl_xml(doc: OutgoingInvoice) -> bytes:
    """The XRechnung UBL document, UTF-8 with an XML declaration. NotAnEInvoiceError when the
    invoice mixes category O with another (outgoing.einvoice_parties)."""
    doc = einvoice_parties(doc)
    credit = doc.kind == "credit_note"
    document_ns = CREDIT_NOTE_NS if credit else INVOICE_NS
    root = Element(f"{{{document_ns}}}{'CreditNote' if credit else 'Invoice'}")
    _cbc(root, "CustomizationID", XRECHNUNG_CUSTOMIZATION)
    _cbc(root, "ProfileID", PEPPOL_PROFILE)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", doc.issue_date.isoformat())
    if not credit:
        _cbc(root, "DueDate", doc.due_date.isoformat())  # a CreditNote has no DueDate element
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", "381" if credit else "380")
    for note in doc.notes:
        _cbc(root, "Note", note)
    _cbc(root, "DocumentCurrencyCode", doc.currency)
    _cbc(root, "BuyerReference", doc.buyer_reference)
    if doc.period_start and doc.period_end:
        period = _cac(root, "InvoicePeriod")
        _cbc(period, "StartDate", doc.period_start.isoformat())
        _cbc(period, "EndDate", doc.period_end.isoformat())
    _party(_cac(root, "AccountingSupplierParty"), doc.seller, seller=True)
    _party(_cac(root, "AccountingCustomerParty"), doc.buyer, seller=False)
    _payment_means(root, doc, credit=credit)
    terms = _cac(root, "PaymentTerms")
    _cbc(terms, "Note", doc.payment_terms)
    _tax_total(root, doc)
    _monetary_total(root, doc)
    for line in doc.lines:
        _line(root, line, doc.currency, credit=credit)
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def _cbc(parent: Element, tag: str, text: str, **attributes: str) -> Element:
    element = SubElement(parent, f"{{{CBC_NS}}}{tag}", attributes)
    element.text = text
    return element


def _cac(parent: Element, tag: str) -> Element:
    return SubElement(parent, f"{{{CAC_NS}}}{tag}")


def _amount(parent: Element, tag: str, minor: int, currency: str) -> None:
    _cbc(parent, tag, amount_text(minor, currency), currencyID=currency)


def _party(holder: Element, party: OutParty, *, seller: bool) -> None:
    el = _cac(holder, "Party")
    if party.email:
        _cbc(el, "EndpointID", party.email, schemeID="EM")
    name = _cac(el, "PartyName")
    _cbc(name, "Name", party.name)
    address = _cac(el, "PostalAddress")
    if party.street:
        _cbc(address, "StreetName", party.street)
    if party.city:
        _cbc(address, "CityName", party.city)
    if party.postal_code:
        _cbc(address, "PostalZone", party.postal_code)
    country = _cac(address, "Country")
    _cbc(country, "IdentificationCode", party.country or "")
    if party.vat_id:
        scheme = _cac(el, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.vat_id)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "VAT")
    if seller and party.tax_number:  # BT-32: a tax scheme other than VAT ("FC" as XRechnung has it)
        scheme = _cac(el, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.tax_number)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "FC")
    legal = _cac(el, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    if seller or party.email:
        contact = _cac(el, "Contact")
        _cbc(contact, "Name", party.name)
        if party.phone:
            _cbc(contact, "Telephone", party.phone)
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)


def _payment_means(root: Element, doc: OutgoingInvoice, *, credit: bool) -> None:
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", "58" if doc.iban else "1")
    if credit:
        _cbc(means, "PaymentDueDate", doc.due_date.isoformat())
    _cbc(means, "PaymentID", doc.number)  # BT-83: the remittance text reconciliation looks for
    if doc.iban:
        account = _cac(means, "PayeeFinancialAccount")
        _cbc(account, "ID", doc.iban)
        _cbc(account, "Name", doc.seller.name)
        if doc.bic:
            _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", doc.bic)


def _tax_total(root: Element, doc: OutgoingInvoice) -> None:
    total = _cac(root, "TaxTotal")
    _amount(total, "TaxAmount", doc.tax_total, doc.currency)
    for tax in doc.taxes:
        sub = _cac(total, "TaxSubtotal")
        _amount(sub, "TaxableAmount", tax.taxable, doc.currency)
        _amount(sub, "TaxAmount", tax.tax, doc.currency)
        _tax_category(_cac(sub, "TaxCategory"), tax)


def _tax_category(el: Element, tax: OutTax) -> None:
    _cbc(el, "ID", tax.category_code)
    if tax.category_code != "O":  # BR-O-05: "not subject to VAT" has no rate
        _cbc(el, "Percent", percent_text(tax.rate_basis_points))
    if tax.category_code not in {"S", "L", "M"}:
        if tax.exemption_reason_code:
            _cbc(el, "TaxExemptionReasonCode", tax.exemption_reason_code)
        if tax.exemption_reason:
            _cbc(el, "TaxExemptionReason", tax.exemption_reason)
    _cbc(_cac(el, "TaxScheme"), "ID", "VAT")


def _monetary_total(root: Element, doc: OutgoingInvoice) -> None:
    total = _cac(root, "LegalMonetaryTotal")
    _amount(total, "LineExtensionAmount", doc.line_total, doc.currency)
    _amount(total, "TaxExclusiveAmount", doc.line_total, doc.currency)
    _amount(total, "TaxInclusiveAmount", doc.total, doc.currency)
    if doc.prepaid:
        _amount(total, "PrepaidAmount", doc.prepaid, doc.currency)
    _amount(total, "PayableAmount", doc.amount_due, doc.currency)


def _line(root: Element, line: OutLine, currency: str, *, credit: bool) -> None:
    el = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(el, "ID", line.line_id)
    _cbc(
        el,
        "CreditedQuantity" if credit else "InvoicedQuantity",
        quantity_text(line.quantity),
        unitCode=UNIT_CODE,
    )
    _amount(el, "LineExtensionAmount", line.net_amount, currency)
    if line.service_start and line.service_end:
        period = _cac(el, "InvoicePeriod")
        _cbc(period, "StartDate", line.service_start.isoformat())
        _cbc(period, "EndDate", line.service_end.isoformat())
    item = _cac(el, "Item")
    _cbc(item, "Name", line.description)
    category = _cac(item, "ClassifiedTaxCategory")
    _cbc(category, "ID", line.category_code)
    if line.category_code != "O":
        _cbc(category, "Percent", percent_text(line.rate_basis_points))
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
    price = _cac(el, "Price")
    _cbc(price, "PriceAmount", price_text(line.unit_price), currencyID=currency)
