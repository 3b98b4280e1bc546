"""What a file really is, by its bytes, whatever name or type it was sent with."""

from __future__ import annotations

import filetype  # type: ignore[import-untyped]

ALLOWED_UPLOAD_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/xml": "xml",
    "text/xml": "xml",
}
EXTENSIONS = {"pdf": "pdf", "png": "png", "jpeg": "jpg", "xml": "xml"}
# What `POST /v1/invoices/import` accepts: here, not in the service, because the route declares it at
# import and the API function must not import the e-invoice parsers at cold start.
EINVOICE_CONTENT_TYPES = {"application/xml": "xml", "text/xml": "xml", "application/pdf": "pdf"}


def sniff(head: bytes) -> str | None:
    """`pdf`, `png`, `jpeg` or `xml` from the first bytes of a file; None for anything else."""
    kind = filetype.guess(head)
    if kind is not None:
        return {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpeg"}.get(kind.mime)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<?xml") or (text.startswith(b"<") and text[1:2].isalpha()):
        return "xml"
    return None
