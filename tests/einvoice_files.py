"""E-invoice documents and hostile files built in code, for the parser and import tests.

Small CII and UBL invoices of each profile (written here, not copied from the corpus), a PDF
writer that stores attachment streams exactly as given (so a test can embed a deflate bomb
without ever holding it inflated), and the bombs themselves.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

MB = 1024 * 1024

FACTURX_MINIMUM = "urn:factur-x.eu:1p0:minimum"
FACTURX_BASIC_WL = "urn:factur-x.eu:1p0:basicwl"
FACTURX_EN16931 = "urn:cen.eu:en16931:2017"
FACTURX_EXTENDED = "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended"
XRECHNUNG_CII = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
XRECHNUNG_EXTENSION = (
    "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    "#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0"
)

_CII_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"'
    ' xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"'
    ' xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">'
)


@dataclass(frozen=True)
class CiiTotals:
    """Header amounts as written (major units); None leaves the element out."""

    line_total: str | None = "100.00"
    tax_basis: str = "100.00"
    tax_total: str | None = "19.00"
    grand_total: str = "119.00"
    prepaid: str | None = None
    due: str = "119.00"


def cii_invoice(
    *,
    number: str,
    profile: str = FACTURX_EN16931,
    totals: CiiTotals = CiiTotals(),
    line_amounts: Sequence[str] = ("100.00",),
    line_category: tuple[str, str | None] = ("S", "19"),
    vat_breakdown: Sequence[tuple[str, str | None, str, str]] = (("S", "19", "100.00", "19.00"),),
) -> bytes:
    """A CII invoice (EUR, seller Lieferant GmbH, buyer Kunde AG) of `profile` with these amounts.

    `vat_breakdown` rows are (category, rate, basis, tax); `line_amounts` one net amount per line.
    """
    category, rate = line_category
    rate_xml = f"<ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent>" if rate else ""
    lines = "".join(
        "<ram:IncludedSupplyChainTradeLineItem>"
        f"<ram:AssociatedDocumentLineDocument><ram:LineID>{index}</ram:LineID></ram:AssociatedDocumentLineDocument>"
        "<ram:SpecifiedTradeProduct><ram:Name>Beratung</ram:Name></ram:SpecifiedTradeProduct>"
        "<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>"
        f"<ram:ChargeAmount>{amount}</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>"
        '<ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">1</ram:BilledQuantity>'
        "</ram:SpecifiedLineTradeDelivery><ram:SpecifiedLineTradeSettlement><ram:ApplicableTradeTax>"
        f"<ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>{category}</ram:CategoryCode>{rate_xml}"
        "</ram:ApplicableTradeTax><ram:SpecifiedTradeSettlementLineMonetarySummation>"
        f"<ram:LineTotalAmount>{amount}</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation>"
        "</ram:SpecifiedLineTradeSettlement></ram:IncludedSupplyChainTradeLineItem>"
        for index, amount in enumerate(line_amounts, start=1)
    )
    taxes = "".join(
        f"<ram:ApplicableTradeTax><ram:CalculatedAmount>{tax}</ram:CalculatedAmount>"
        f"<ram:TypeCode>VAT</ram:TypeCode><ram:BasisAmount>{basis}</ram:BasisAmount>"
        f"<ram:CategoryCode>{cat}</ram:CategoryCode>"
        + (f"<ram:RateApplicablePercent>{r}</ram:RateApplicablePercent>" if r else "")
        + "</ram:ApplicableTradeTax>"
        for cat, r, basis, tax in vat_breakdown
    )

    def amount(tag: str, value: str | None, currency: bool = False) -> str:
        attribute = ' currencyID="EUR"' if currency else ""
        return "" if value is None else f"<ram:{tag}{attribute}>{value}</ram:{tag}>"

    summation = (
        amount("LineTotalAmount", totals.line_total)
        + amount("TaxBasisTotalAmount", totals.tax_basis)
        + amount("TaxTotalAmount", totals.tax_total, currency=True)
        + amount("GrandTotalAmount", totals.grand_total)
        + amount("TotalPrepaidAmount", totals.prepaid)
        + amount("DuePayableAmount", totals.due)
    )
    return (
        _CII_HEAD + "<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>"
        f"<ram:ID>{profile}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>"
        f"<rsm:ExchangedDocument><ram:ID>{number}</ram:ID><ram:TypeCode>380</ram:TypeCode>"
        '<ram:IssueDateTime><udt:DateTimeString format="102">20261101</udt:DateTimeString>'
        "</ram:IssueDateTime>"
        "</rsm:ExchangedDocument><rsm:SupplyChainTradeTransaction>"
        + lines
        + "<ram:ApplicableHeaderTradeAgreement>"
        "<ram:SellerTradeParty><ram:Name>Lieferant GmbH</ram:Name>"
        "<ram:PostalTradeAddress><ram:CountryID>DE</ram:CountryID></ram:PostalTradeAddress></ram:SellerTradeParty>"
        "<ram:BuyerTradeParty><ram:Name>Kunde AG</ram:Name></ram:BuyerTradeParty>"
        "</ram:ApplicableHeaderTradeAgreement><ram:ApplicableHeaderTradeDelivery/>"
        "<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>"
        + taxes
        + "<ram:SpecifiedTradePaymentTerms><ram:DueDateDateTime>"
        '<udt:DateTimeString format="102">20261201</udt:DateTimeString></ram:DueDateDateTime>'
        "</ram:SpecifiedTradePaymentTerms><ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
        + summation
        + "</ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement>"
        "</rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>"
    ).encode()


def minimum_invoice(number: str, *, due: str = "119.00") -> bytes:
    """Factur-X MINIMUM: header totals only; no lines, no BT-106, no VAT breakdown."""
    return cii_invoice(
        number=number,
        profile=FACTURX_MINIMUM,
        totals=CiiTotals(line_total=None, due=due),
        line_amounts=(),
        vat_breakdown=(),
    )


def basic_wl_invoice(number: str) -> bytes:
    """Factur-X BASIC WL: header totals, VAT breakdown and a prepaid amount; no lines."""
    return cii_invoice(
        number=number,
        profile=FACTURX_BASIC_WL,
        totals=CiiTotals(prepaid="19.00", due="100.00"),
        line_amounts=(),
    )


def no_vat_invoice(number: str, *, profile: str = XRECHNUNG_CII) -> bytes:
    """No VAT at all: no breakdown, no TaxTotalAmount, TaxBasisTotalAmount = GrandTotalAmount."""
    return cii_invoice(
        number=number,
        profile=profile,
        totals=CiiTotals(tax_total=None, grand_total="100.00", due="100.00"),
        line_category=("O", None),
        vat_breakdown=(),
    )


def ubl_third_party_invoice(
    number: str, *, profile: str = XRECHNUNG_EXTENSION, payable: str = "366.86", currency: str = "EUR"
) -> bytes:
    """XRechnung extension (UBL) with two third-party payments (BG-DEX-09) of 19.96 and 10.00.

    BT-112 is 336.90, so BT-115 = 336.90 + 29.96 = 366.86.
    """
    prepaid = "".join(
        f"<cac:PrepaidPayment><cbc:ID>MobilesBezahlen</cbc:ID>"
        f'<cbc:PaidAmount currencyID="{currency}">{paid}</cbc:PaidAmount>'
        "<cbc:InstructionID>Brutto-Forderung fuer Fremdleistungen</cbc:InstructionID></cac:PrepaidPayment>"
        for paid in ("19.96", "10.00")
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ubl:Invoice xmlns:ubl="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'
        ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"'
        ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        f"<cbc:CustomizationID>{profile}</cbc:CustomizationID><cbc:ID>{number}</cbc:ID>"
        "<cbc:IssueDate>2026-11-01</cbc:IssueDate><cbc:DueDate>2026-12-01</cbc:DueDate>"
        "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode><cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        "<cac:AccountingSupplierParty><cac:Party><cac:PartyLegalEntity>"
        "<cbc:RegistrationName>Verlag GmbH</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party>"
        "</cac:AccountingSupplierParty><cac:AccountingCustomerParty><cac:Party><cac:PartyLegalEntity>"
        "<cbc:RegistrationName>Leser AG</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party>"
        "</cac:AccountingCustomerParty>"
        + prepaid
        + '<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">22.04</cbc:TaxAmount><cac:TaxSubtotal>'
        '<cbc:TaxableAmount currencyID="EUR">314.86</cbc:TaxableAmount>'
        '<cbc:TaxAmount currencyID="EUR">22.04</cbc:TaxAmount><cac:TaxCategory><cbc:ID>S</cbc:ID>'
        "<cbc:Percent>7</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>"
        "</cac:TaxSubtotal></cac:TaxTotal><cac:LegalMonetaryTotal>"
        '<cbc:LineExtensionAmount currencyID="EUR">314.86</cbc:LineExtensionAmount>'
        '<cbc:TaxExclusiveAmount currencyID="EUR">314.86</cbc:TaxExclusiveAmount>'
        '<cbc:TaxInclusiveAmount currencyID="EUR">336.90</cbc:TaxInclusiveAmount>'
        f'<cbc:PayableAmount currencyID="EUR">{payable}</cbc:PayableAmount></cac:LegalMonetaryTotal>'
        '<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="XPP">1</cbc:InvoicedQuantity>'
        '<cbc:LineExtensionAmount currencyID="EUR">314.86</cbc:LineExtensionAmount>'
        "<cac:Item><cbc:Name>Zeitschrift</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID>"
        "<cbc:Percent>7</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>"
        '</cac:ClassifiedTaxCategory></cac:Item><cac:Price><cbc:PriceAmount currencyID="EUR">314.86'
        "</cbc:PriceAmount></cac:Price></cac:InvoiceLine></ubl:Invoice>"
    ).encode()


# --- hostile files -------------------------------------------------------------------------------


def deflated_zeros(size: int) -> bytes:
    """zlib data that inflates to `size` zero bytes, made a megabyte at a time (never held whole)."""
    compressor = zlib.compressobj(9)
    chunk = bytes(MB)
    parts = [compressor.compress(chunk) for _ in range(size // MB)]
    parts.append(compressor.compress(bytes(size % MB)))
    parts.append(compressor.flush())
    return b"".join(parts)


def gzipped_zeros(size: int) -> bytes:
    """A gzip member that inflates to `size` zero bytes."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as archive:
        chunk = bytes(MB)
        for _ in range(size // MB):
            archive.write(chunk)
        archive.write(bytes(size % MB))
    return out.getvalue()


@dataclass(frozen=True)
class Attachment:
    name: str
    stored: bytes  # the stream's bytes as written into the PDF
    deflated: bool = True  # /Filter /FlateDecode
    relationship: str = "Data"


def attachment(name: str, contents: bytes, relationship: str = "Data") -> Attachment:
    """An attachment of `contents`, deflated the way PDF writers store embedded files."""
    return Attachment(name, zlib.compress(contents), True, relationship)


def pdf_with_attachments(
    attachments: Sequence[Attachment], *, declared_pages: int = 1, declared_objects: int | None = None
) -> bytes:
    """A minimal PDF/A-3-like file: one page, the attachments in /EmbeddedFiles and /AF.

    Streams are written as given, so a bomb costs only its compressed size here. `declared_pages`
    and `declared_objects` let a test lie in /Count and /Size.
    """
    objects: list[bytes] = [b"", b"", b""]  # 1 catalog, 2 pages, 3 page: filled in below
    names: list[bytes] = []
    specs: list[bytes] = []
    for item in attachments:
        filter_entry = b" /Filter /FlateDecode" if item.deflated else b""
        objects.append(
            b"<< /Type /EmbeddedFile /Subtype /text#2Fxml /Length %d%s >>\nstream\n%s\nendstream"
            % (len(item.stored), filter_entry, item.stored)
        )
        stream_number = len(objects)
        name = item.name.encode()
        objects.append(
            b"<< /Type /Filespec /F (%s) /UF (%s) /AFRelationship /%s /EF << /F %d 0 R >> >>"
            % (name, name, item.relationship.encode(), stream_number)
        )
        spec = b"%d 0 R" % len(objects)
        names.append(b"(%s) %s" % (name, spec))
        specs.append(spec)
    objects[0] = (
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [%s] >> >> /AF [%s] >>"
        % (
            b" ".join(names),
            b" ".join(specs),
        )
    )
    objects[1] = b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % declared_pages
    objects[2] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    size = declared_objects if declared_objects is not None else len(objects) + 1
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)
