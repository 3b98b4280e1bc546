"""Factur-X / ZUGFeRD 2.x (and XRechnung-in-PDF): pull the invoice XML out of a PDF/A-3.

The PDF is only a container here: the embedded XML is the legal invoice, and it is parsed by the
same safe XML path as a bare XML upload.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from cashline.domain.einvoice.model import EInvoiceError

# Names the Factur-X, ZUGFeRD 2.x, XRechnung and Order-X specifications give the embedded file.
KNOWN_XML_NAMES = (
    "factur-x.xml",
    "zugferd-invoice.xml",
    "xrechnung.xml",
    "order-x.xml",
)

MAX_PDF_BYTES = 50 * 1024 * 1024


def extract_invoice_xml(data: bytes) -> bytes:
    """Return the embedded invoice XML of a Factur-X/ZUGFeRD PDF.

    Prefers the file names the standards prescribe (case-insensitively), else a single embedded
    `.xml` file. Any failure to read the PDF becomes `EInvoiceError`, never a pypdf exception.
    """
    if len(data) > MAX_PDF_BYTES:
        raise EInvoiceError(f"PDF is larger than {MAX_PDF_BYTES // (1024 * 1024)} MB")
    attachments = _attachments(data)
    chosen = _choose(attachments)
    if chosen is None:
        raise EInvoiceError("PDF has no embedded Factur-X/ZUGFeRD XML")
    return chosen


def _attachments(data: bytes) -> dict[str, bytes]:
    # Imported here: pypdf costs ~40 ms of cold start that only PDF imports should pay.
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise EInvoiceError("encrypted PDF is refused (Factur-X is PDF/A-3, which forbids encryption)")
        # pypdf reads the /EmbeddedFiles name tree; a name may occur more than once, keep the first.
        return {name: contents[0] for name, contents in reader.attachments.items() if contents}
    except EInvoiceError:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, KeyError, ValueError, ...) on bad input
        raise EInvoiceError(f"unreadable PDF: {type(exc).__name__}: {exc}") from exc


def _choose(attachments: Mapping[str, bytes]) -> bytes | None:
    by_lower_name = {name.strip().lower(): content for name, content in attachments.items()}
    for known in KNOWN_XML_NAMES:
        if known in by_lower_name:
            return by_lower_name[known]
    xml_files = [content for name, content in by_lower_name.items() if name.endswith(".xml")]
    # With several unknown XML files there is no telling which one is the invoice.
    return xml_files[0] if len(xml_files) == 1 else None
