"""EN 16931 e-invoices: read UBL 2.1, UN/CEFACT CII and Factur-X/ZUGFeRD PDFs into one model.

`parse_einvoice` sniffs the container from the bytes (never from a file name or a claimed MIME
type), refuses anything that is not a safe XML or a PDF with an embedded invoice XML, and picks
the syntax from the root element's namespace. `check_totals` then verifies the arithmetic.
"""

from __future__ import annotations

from typing import Literal

from cashline.domain.einvoice.cii import is_cii, parse_cii
from cashline.domain.einvoice.facturx import extract_invoice_xml
from cashline.domain.einvoice.model import (
    AllowanceCharge,
    DocumentTotals,
    EInvoice,
    EInvoiceError,
    EInvoiceTooLargeError,
    InvoiceLine,
    Party,
    RuleViolation,
    TaxSubtotal,
    ThirdPartyPayment,
)
from cashline.domain.einvoice.profiles import ProfileName, is_header_only, profile_name
from cashline.domain.einvoice.rules import check_totals
from cashline.domain.einvoice.safe_xml import local_name, namespace_of, parse_xml
from cashline.domain.einvoice.ubl import is_ubl, parse_ubl

__all__ = [
    "AllowanceCharge",
    "DocumentTotals",
    "EInvoice",
    "EInvoiceError",
    "EInvoiceTooLargeError",
    "InvoiceLine",
    "Party",
    "ProfileName",
    "RuleViolation",
    "TaxSubtotal",
    "ThirdPartyPayment",
    "check_totals",
    "is_header_only",
    "parse_einvoice",
    "profile_name",
]

_UTF8_BOM = b"\xef\xbb\xbf"


def parse_einvoice(data: bytes) -> EInvoice:
    """Parse an e-invoice (UBL or CII XML, or a Factur-X/ZUGFeRD PDF) from raw bytes.

    Raises `EInvoiceError` for anything else: other file types, unsafe or malformed XML,
    unsupported root elements, missing mandatory data or amounts finer than the currency allows.
    """
    container: Literal["xml", "pdf"]
    if data.startswith(b"%PDF-"):
        container, xml = "pdf", extract_invoice_xml(data)
    elif _looks_like_xml(data):
        # Expat rejects an XML declaration that is not at the very start, so drop what precedes it.
        container, xml = "xml", data.removeprefix(_UTF8_BOM).lstrip()
    else:
        raise EInvoiceError("not an e-invoice: expected XML or a Factur-X PDF")
    root = parse_xml(xml)
    if is_ubl(root):
        return parse_ubl(root, container=container)
    if is_cii(root):
        return parse_cii(root, container=container)
    namespace = namespace_of(root.tag)
    where = f" in namespace {namespace}" if namespace else ""
    raise EInvoiceError(
        f"unsupported XML document: root element {local_name(root.tag)}{where} is neither "
        "a UBL Invoice/CreditNote nor a CII CrossIndustryInvoice"
    )


def _looks_like_xml(data: bytes) -> bool:
    # Sniff only the start: an XML document begins with "<" after an optional BOM and whitespace.
    head = data[:1024].removeprefix(_UTF8_BOM).lstrip()
    return head.startswith(b"<")
