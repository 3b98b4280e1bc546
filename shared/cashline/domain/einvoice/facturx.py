"""Factur-X / ZUGFeRD 2.x (and XRechnung-in-PDF): pull the invoice XML out of a PDF/A-3.

The PDF is only a container here: the embedded XML is the legal invoice, and it is parsed by the
same safe XML path as a bare XML upload. Only that one attachment is ever decompressed: it is
chosen by its name and /AFRelationship from the file specifications alone, and its stream is
inflated with a hard cap, so other attachments (however large they would expand) are never read.
Everything pypdf itself inflates while finding it (object and cross-reference streams) is capped
by the same budget.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES, OverBudgetError, inflate, megabytes
from cashline.domain.einvoice.model import EInvoiceError, EInvoiceTooLargeError

# Names the Factur-X, ZUGFeRD 2.x, XRechnung and Order-X specifications give the embedded file.
KNOWN_XML_NAMES = (
    "factur-x.xml",
    "zugferd-invoice.xml",
    "xrechnung.xml",
    "order-x.xml",
)
# PDF/A-3 relationships under which Factur-X and ZUGFeRD attach the invoice XML.
INVOICE_RELATIONSHIPS = frozenset({"/Data", "/Alternative", "/Source"})

MAX_PDF_BYTES = 50 * 1024 * 1024
# An invoice is a few pages and a handful of objects; these bound what pypdf builds in memory.
MAX_PDF_OBJECTS = 100_000
MAX_PDF_PAGES = 10_000
MAX_ATTACHMENTS = 1_000
MAX_NAME_TREE_DEPTH = 16

_DECLARED_COUNTS = re.compile(rb"/(Size|Count)\s+(\d{1,30})")
_XREF_INDEX = re.compile(rb"/Index\s*\[([\d\s]{0,4000})\]")


@dataclass(frozen=True, slots=True)
class _Attachment:
    name: str
    relationship: str | None
    file_spec: Any  # a pypdf DictionaryObject (/Type /Filespec)


def extract_invoice_xml(data: bytes) -> bytes:
    """Return the embedded invoice XML of a Factur-X/ZUGFeRD PDF, within the decompressed budget.

    Prefers the file names the standards prescribe (case-insensitively), then a single `.xml` file
    attached as /Data, /Alternative or /Source, then a single embedded `.xml` file. Any failure to
    read the PDF becomes `EInvoiceError` (`EInvoiceTooLargeError` beyond a limit), never a pypdf one.
    """
    if len(data) > MAX_PDF_BYTES:
        raise EInvoiceTooLargeError(
            f"PDF is larger than {MAX_PDF_BYTES // (1024 * 1024)} MB", limit=MAX_PDF_BYTES
        )
    _refuse_absurd_counts(data)
    # Deferred: pypdf costs ~40 ms of cold start that only PDF imports should pay.
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    budget = MAX_DECOMPRESSED_BYTES
    try:
        with apply_configuration(
            zlib_maximum_output_length=budget,
            lzw_maximum_output_length=budget,
            run_length_maximum_output_length=budget,
            brotli_maximum_output_length=budget,
            jbig2_maximum_output_length=budget,
            array_based_stream_maximum_output_length=budget,
            stream_decoding_work_maximum_length=budget,
            image_maximum_buffer_size=budget,
            xmp_maximum_input_length=budget,
        ):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise EInvoiceError(
                    "encrypted PDF is refused (Factur-X is PDF/A-3, which forbids encryption)"
                )
            catalog = reader.trailer["/Root"]
            _refuse_absurd_page_count(catalog)
            chosen = _choose(list(_attachments(catalog)))
            if chosen is None:
                raise EInvoiceError("PDF has no embedded Factur-X/ZUGFeRD XML")
            return _contents(chosen)
    except EInvoiceError:
        raise
    except OverBudgetError as exc:
        raise EInvoiceTooLargeError(exc.message, limit=exc.limit) from exc
    except LimitReachedError as exc:
        raise EInvoiceTooLargeError(
            f"the PDF has a stream that is more than {megabytes(budget)} once decompressed", limit=budget
        ) from exc
    except Exception as exc:  # pypdf raises many types (PdfReadError, KeyError, ValueError, ...) on bad input
        raise EInvoiceError(f"unreadable PDF: {type(exc).__name__}: {exc}") from exc


def _refuse_absurd_counts(data: bytes) -> None:
    """Refuse, before pypdf reads it, a PDF declaring more objects or pages than any invoice has.

    pypdf sizes its cross-reference tables from /Size and /Index, so a few bytes could make it
    build millions of entries; these keys sit in uncompressed dictionaries, so a scan finds them.
    """
    for match in _DECLARED_COUNTS.finditer(data):
        key, value = match.group(1).decode(), int(match.group(2))
        limit = MAX_PDF_OBJECTS if key == "Size" else MAX_PDF_PAGES
        if value > limit:
            raise EInvoiceError(f"PDF declares {value:,} {'objects' if key == 'Size' else 'pages'}")
    for match in _XREF_INDEX.finditer(data):
        numbers = [int(n) for n in match.group(1).split()]
        if sum(numbers[1::2]) > MAX_PDF_OBJECTS:
            raise EInvoiceError(f"PDF declares more than {MAX_PDF_OBJECTS:,} objects")


def _refuse_absurd_page_count(catalog: Any) -> None:
    # /Count of the page tree root (it may sit in a compressed object stream the scan cannot see).
    pages = _get(catalog, "/Pages")
    count = _get(pages, "/Count") if pages is not None else 0
    if int(count or 0) > MAX_PDF_PAGES:
        raise EInvoiceError(f"PDF declares {int(count):,} pages")


def _attachments(catalog: Any) -> Iterator[_Attachment]:
    """Every file specification of the /EmbeddedFiles name tree and the catalog's /AF array.

    Reads names and dictionaries only; no attachment's contents are touched here.
    """
    seen: set[int] = set()
    names = _get(catalog, "/Names")
    tree = _get(names, "/EmbeddedFiles") if names is not None else None
    specs = list(_name_tree(tree, depth=0))
    specs += list(_get(catalog, "/AF") or [])[:MAX_ATTACHMENTS]
    for spec_ref in specs:
        spec = spec_ref.get_object()
        if not hasattr(spec, "get") or id(spec) in seen:
            continue
        seen.add(id(spec))
        name = str(_get(spec, "/UF") or _get(spec, "/F") or "")
        relationship = _get(spec, "/AFRelationship")
        yield _Attachment(name.strip(), str(relationship) if relationship else None, spec)


def _name_tree(node: Any, *, depth: int) -> Iterator[Any]:
    """The values of a PDF name tree (/Names pairs, /Kids recursively), bounded in depth and size."""
    if node is None:
        return
    if depth > MAX_NAME_TREE_DEPTH:
        raise EInvoiceError("PDF attachment tree is nested too deeply")
    node = node.get_object()
    pairs = list(_get(node, "/Names") or [])
    if len(pairs) > 2 * MAX_ATTACHMENTS:
        raise EInvoiceError(f"PDF has more than {MAX_ATTACHMENTS:,} attachments")
    yield from pairs[1::2]
    kids = list(_get(node, "/Kids") or [])
    if len(kids) > MAX_ATTACHMENTS:
        raise EInvoiceError(f"PDF has more than {MAX_ATTACHMENTS:,} attachments")
    for kid in kids:
        yield from _name_tree(kid, depth=depth + 1)


def _choose(attachments: list[_Attachment]) -> _Attachment | None:
    by_lower_name: dict[str, _Attachment] = {}
    for attachment in attachments:
        by_lower_name.setdefault(attachment.name.lower(), attachment)  # a repeated name: keep the first
    for known in KNOWN_XML_NAMES:
        if known in by_lower_name:
            return by_lower_name[known]
    xml_files = [a for name, a in by_lower_name.items() if name.endswith(".xml")]
    related = [a for a in xml_files if a.relationship in INVOICE_RELATIONSHIPS]
    # With several candidate XML files there is no telling which one is the invoice.
    for candidates in (related, xml_files):
        if len(candidates) == 1:
            return candidates[0]
    return None


def _contents(attachment: _Attachment) -> bytes:
    """The attachment's bytes, inflated with a hard cap (never pypdf's own unbounded decoding)."""
    embedded = _get(attachment.file_spec, "/EF")
    stream = (_get(embedded, "/F") or _get(embedded, "/UF")) if embedded is not None else None
    if stream is None or not hasattr(stream, "_data"):
        raise EInvoiceError(f"PDF attachment {attachment.name!r} has no embedded file stream")
    raw: bytes = stream._data  # the stream's bytes as stored (still encoded): pypdf has no public accessor
    filters = _get(stream, "/Filter")
    names = [str(f) for f in filters] if isinstance(filters, list) else ([str(filters)] if filters else [])
    what = f"the PDF attachment {attachment.name!r}"
    if not names:
        return raw
    if names != ["/FlateDecode"] or _has_predictor(_get(stream, "/DecodeParms")):
        raise EInvoiceError(f"{what} uses an unsupported encoding {names}; expected /FlateDecode")
    try:
        return inflate(raw, what, wbits=zlib.MAX_WBITS | 32)  # a zlib (or gzip) header, as PDF prescribes
    except zlib.error:
        pass
    try:
        return inflate(raw, what, wbits=-zlib.MAX_WBITS)  # some writers omit the header: raw deflate
    except zlib.error as exc:
        raise EInvoiceError(f"{what} is not valid deflate data: {exc}") from exc


def _has_predictor(parameters: Any) -> bool:
    if isinstance(parameters, list):
        parameters = parameters[0].get_object() if parameters else None
    return bool(parameters and int(_get(parameters, "/Predictor") or 1) > 1)


def _get(dictionary: Any, key: str) -> Any:
    """`dictionary[key]` with an indirect reference resolved (pypdf's `.get` returns the reference)."""
    value = dictionary.get(key) if hasattr(dictionary, "get") else None
    return value.get_object() if value is not None else None
