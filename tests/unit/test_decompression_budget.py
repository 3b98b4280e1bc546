"""Issue 11 finding 1: every parser of uploaded bytes stays within one decompressed-byte budget.

Hostile files are built here, in the test: a Factur-X PDF carrying twenty 70 MB zero streams next
to its invoice XML, a PDF whose invoice XML itself is a bomb, XML of nothing but elements, CSVs
near the body limit, a gzip bomb. Memory is measured with `tracemalloc` (allocations, not timing),
so the bounds hold on any machine at any speed.
"""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pypdf  # noqa: F401 - imported before measuring: the module itself is not the request's memory
import pytest

from cashline.domain.byte_budget import (
    MAX_DECOMPRESSED_BYTES,
    OverBudgetError,
    compressed_format,
    inflate,
    megabytes,
    require_within,
)
from cashline.domain.einvoice import EInvoiceError, EInvoiceTooLargeError, parse_einvoice
from cashline.domain.einvoice.facturx import MAX_PDF_OBJECTS, MAX_PDF_PAGES
from cashline.domain.einvoice.safe_xml import MAX_XML_ELEMENTS, parse_xml
from cashline.domain.invoices import Document
from cashline.errors import PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError
from cashline.services import bulk, documents
from cashline.services.einvoice_import import read_document
from tests.einvoice_files import (
    MB,
    Attachment,
    attachment,
    deflated_zeros,
    gzipped_zeros,
    minimum_invoice,
    pdf_with_attachments,
)

# "A few tens of MB" for any request up to the body limit: the budget itself plus parser overhead.
MEMORY_BOUND = 32 * MB
FIXED_INSTANT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def zeros_70_mb() -> bytes:
    return deflated_zeros(70 * MB)


@pytest.fixture(scope="module")
def hostile_pdf(zeros_70_mb: bytes) -> bytes:
    """The issue's PDF: a small invoice XML plus twenty attachments of 70 MB of zeros each."""
    others = [Attachment(f"annex-{n}.bin", zeros_70_mb, relationship="Supplement") for n in range(20)]
    return pdf_with_attachments([attachment("factur-x.xml", minimum_invoice("BOMB-1")), *others])


def measured(action: Callable[[], Any]) -> tuple[Any, int]:
    """(result or raised exception, peak bytes allocated while running `action`)."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = action()
        except Exception as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- the budget itself ---------------------------------------------------------------------------


def test_the_budget_is_10_mb_and_says_so() -> None:
    assert MAX_DECOMPRESSED_BYTES == 10 * MB
    assert megabytes(MAX_DECOMPRESSED_BYTES) == "10 MB"
    with pytest.raises(OverBudgetError, match="the CSV is more than 10 MB once decompressed"):
        require_within(MAX_DECOMPRESSED_BYTES + 1, "the CSV")
    require_within(MAX_DECOMPRESSED_BYTES, "the CSV")  # the limit itself is allowed


def test_inflate_stops_at_the_limit_without_producing_the_rest(zeros_70_mb: bytes) -> None:
    outcome, peak = measured(lambda: inflate(zeros_70_mb, "the stream"))

    assert isinstance(outcome, OverBudgetError)
    assert outcome.limit == MAX_DECOMPRESSED_BYTES
    # zlib grows its output buffer by doubling, so up to twice the budget for a moment; never 70 MB.
    assert peak < 2 * MAX_DECOMPRESSED_BYTES + 2 * MB


def test_inflate_returns_what_fits_exactly() -> None:
    data = b"<x/>" * 1000
    assert inflate(zlib.compress(data), "x", limit=len(data)) == data
    with pytest.raises(OverBudgetError):
        inflate(zlib.compress(data), "x", limit=len(data) - 1)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"PK\x03\x04rest", "zip"),
        (b"BZh91AY", "bzip2"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"(\xb5/\xfd", "zstd"),
        (b"<?xml version='1.0'?>", None),
        (b"%PDF-1.7", None),
        (b"name,email\n", None),
    ],
)
def test_compressed_containers_are_known_by_their_magic_bytes(data: bytes, kind: str | None) -> None:
    assert compressed_format(data) == kind


# --- PDF -----------------------------------------------------------------------------------------


def test_a_factur_x_pdf_with_twenty_70_mb_attachments_reads_only_its_invoice(hostile_pdf: bytes) -> None:
    # Given a 1.4 MB PDF that would inflate to 1.4 GB if every attachment were read
    assert len(hostile_pdf) < 2 * MB

    # When its invoice is read
    document, peak = measured(lambda: parse_einvoice(hostile_pdf))

    # Then the invoice is there, and the other attachments were never inflated
    assert not isinstance(document, Exception), document
    assert document.number == "BOMB-1"
    assert document.container == "pdf"
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"
    print(f"worst hostile PDF ({len(hostile_pdf) / MB:.2f} MB): peak {peak / MB:.1f} MB")


def test_the_invoice_is_chosen_by_its_af_relationship_when_its_name_is_not_a_standard_one(
    zeros_70_mb: bytes,
) -> None:
    pdf = pdf_with_attachments(
        [
            Attachment("readme.xml", zeros_70_mb, relationship="Supplement"),
            attachment("rechnung.xml", minimum_invoice("AF-1"), relationship="Alternative"),
        ]
    )

    document, peak = measured(lambda: parse_einvoice(pdf))

    assert not isinstance(document, Exception), document
    assert document.number == "AF-1"
    assert peak < MEMORY_BOUND


def test_a_pdf_whose_invoice_xml_is_itself_a_bomb_is_too_large(zeros_70_mb: bytes) -> None:
    pdf = pdf_with_attachments([Attachment("factur-x.xml", zeros_70_mb)])

    error, peak = measured(lambda: parse_einvoice(pdf))

    assert isinstance(error, EInvoiceTooLargeError)
    assert "'factur-x.xml' is more than 10 MB once decompressed" in error.message
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"declared_pages": MAX_PDF_PAGES + 1}, "pages"),
        ({"declared_objects": MAX_PDF_OBJECTS + 1}, "objects"),
        ({"declared_objects": 10**12}, "objects"),
    ],
)
def test_a_pdf_declaring_absurd_counts_is_refused_before_pypdf_builds_them(
    options: dict[str, int], message: str
) -> None:
    pdf = pdf_with_attachments([attachment("factur-x.xml", minimum_invoice("COUNT-1"))], **options)

    with pytest.raises(EInvoiceError, match=message):
        parse_einvoice(pdf)


def test_an_attachment_in_an_unsupported_encoding_is_refused() -> None:
    xml = minimum_invoice("ENC-1")
    hex_encoded = Attachment("factur-x.xml", xml.hex().encode() + b">", deflated=False)
    pdf = pdf_with_attachments([hex_encoded]).replace(
        b"/Subtype /text#2Fxml", b"/Filter /ASCIIHexDecode /Subtype /text#2Fxml", 1
    )

    with pytest.raises(EInvoiceError, match="unsupported encoding"):
        parse_einvoice(pdf)


def test_an_uncompressed_attachment_is_read_as_it_is() -> None:
    pdf = pdf_with_attachments([Attachment("factur-x.xml", minimum_invoice("RAW-1"), deflated=False)])

    assert parse_einvoice(pdf).number == "RAW-1"


# --- XML -----------------------------------------------------------------------------------------


def test_xml_beyond_the_budget_is_too_large_before_parsing() -> None:
    data = b"<a>" + b" " * MAX_DECOMPRESSED_BYTES + b"</a>"

    error, peak = measured(lambda: parse_xml(data))

    assert isinstance(error, EInvoiceTooLargeError)
    assert error.message == "the XML document is more than 10 MB once decompressed"
    assert peak < MB


def test_xml_of_millions_of_tiny_elements_stops_at_the_element_limit() -> None:
    # 4 MB (the import's body limit) of "<a/>" would be a million elements, hundreds of MB of tree.
    data = b"<r>" + b"<a/>" * (4 * MB // 4 - 2) + b"</r>"

    error, peak = measured(lambda: parse_xml(data))

    assert isinstance(error, EInvoiceTooLargeError)
    assert f"more than {MAX_XML_ELEMENTS:,} elements" in error.message
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"


def test_an_xml_upload_over_the_budget_is_a_413_naming_the_limit() -> None:
    data = b"<?xml version='1.0'?><r>" + b"<a/>" * (MAX_XML_ELEMENTS + 1) + b"</r>"

    with pytest.raises(PayloadTooLargeError) as caught:
        read_document(data, "application/xml")

    assert caught.value.field == "body"


# --- compressed bodies ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzipped_zeros(200 * MB)


@pytest.mark.parametrize("content_type", ["application/xml", "application/pdf"])
def test_a_gzip_bomb_sent_as_an_e_invoice_is_refused_by_its_magic_bytes(
    gzip_bomb: bytes, content_type: str
) -> None:
    error, peak = measured(lambda: read_document(gzip_bomb, content_type))

    assert isinstance(error, UnsupportedMediaTypeError)
    assert error.field == "body"
    assert "gzip" in error.message
    assert peak < MB


def test_a_gzip_bomb_sent_as_a_csv_is_refused_by_its_magic_bytes(gzip_bomb: bytes) -> None:
    error, peak = measured(lambda: bulk._read(gzip_bomb, "counterparties"))

    assert isinstance(error, UnsupportedMediaTypeError)
    assert error.field == "body"
    assert peak < MB


# --- CSV -----------------------------------------------------------------------------------------


def _near_limit(header: bytes, filler: Callable[[int], bytes]) -> bytes:
    body = header + filler(MAX_DECOMPRESSED_BYTES - len(header))
    assert MAX_DECOMPRESSED_BYTES - 64 <= len(body) <= MAX_DECOMPRESSED_BYTES
    return body


def _rows(size: int) -> bytes:
    lines: Iterator[bytes] = (b"Company %d,REF-%d\n" % (n, n) for n in range(10**7))
    out = bytearray()
    for line in lines:
        if len(out) + len(line) > size:
            return bytes(out)
        out += line
    return bytes(out)


CSV_NEAR_THE_LIMIT = {
    "many-short-rows": (_near_limit(b"name,external_reference\n", _rows), "more than 5000 rows"),
    "one-wide-row": (_near_limit(b"name\n", lambda n: b"," * n), "row is longer than 256 KB"),
    "quoted-newlines": (_near_limit(b"name\n", lambda n: b'"\n",' * (n // 4)), "row is longer than 256 KB"),
    "one-huge-field": (_near_limit(b"name\n", lambda n: b"x" * n), "row is longer than 256 KB"),
}


@pytest.mark.parametrize(("data", "message"), CSV_NEAR_THE_LIMIT.values(), ids=CSV_NEAR_THE_LIMIT.keys())
def test_a_csv_near_the_body_limit_is_refused_with_bounded_memory(data: bytes, message: str) -> None:
    error, peak = measured(lambda: bulk._read(data, "counterparties"))

    assert isinstance(error, PayloadTooLargeError), error
    assert error.field == "body"
    assert message in error.message
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"


def test_a_csv_over_the_budget_is_too_large_before_it_is_decoded() -> None:
    data = b"name\n" + b"Acme\n" * (MAX_DECOMPRESSED_BYTES // 5 + 1)

    error, peak = measured(lambda: bulk._read(data, "counterparties"))

    assert isinstance(error, PayloadTooLargeError)
    assert error.message == "the CSV is more than 10 MB"
    assert peak < MB


def test_a_csv_field_over_the_csv_modules_limit_is_a_bad_request_not_a_crash() -> None:
    data = b"name\n" + b"x" * (200 * 1024) + b"\n"

    with pytest.raises(ValidationError) as caught:
        bulk._read(data, "counterparties")

    assert caught.value.field == "body"


def test_5000_rows_and_a_byte_order_mark_are_still_read() -> None:
    rows = bulk._read(b"\xef\xbb\xbfname,external_reference\n" + b"A,1\n" * 5_000, "counterparties")

    assert len(rows) == 5_000
    assert rows[0] == {"name": "A", "external_reference": "1"}
    semicolons = bulk._read(b"\xef\xbb\xbfname;segment\nA;b\n", "counterparties")
    assert semicolons == [{"name": "A", "segment": "b"}]


# --- uploaded documents (the S3 upload check) ------------------------------------------------------


class _InMemoryStore:
    """The two reads the upload check makes, from bytes held here (a fake of DocumentStore)."""

    def __init__(self, data: bytes):
        self.data = data

    def head_bytes(self, key: str, count: int) -> bytes:
        return self.data[:count]

    def read(self, key: str) -> bytes:
        return self.data


def _uploaded_xml() -> Document:
    return Document(
        document_id="document_1",
        invoice_id="invoice_1",
        role="attachment",
        status="pending",
        declared_content_type="application/xml",
        detected_content_type=None,
        filename="advice.xml",
        size_bytes=None,
        max_bytes=documents.DEFAULT_MAX_BYTES,
        sha256=None,
        s3_key="uploads/ten_1/invoice_1/document_1",
        problem=None,
        created_at=FIXED_INSTANT,
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param(b"<r>" + b"<a/>" * (MAX_XML_ELEMENTS + 1) + b"</r>", "elements", id="too-many-elements"),
        pytest.param(b"<r>" + b" " * (11 * MB) + b"</r>", "more than 10 MB", id="over-10-mb"),
        pytest.param(b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'x'>]><r>&a;</r>", "DTD", id="entities"),
    ],
)
def test_an_uploaded_xml_beyond_the_budget_is_quarantined_with_bounded_memory(
    data: bytes, problem: str
) -> None:
    store: Any = _InMemoryStore(data)

    outcome, peak = measured(lambda: documents._problem(store, _uploaded_xml(), len(data)))

    detected, found = outcome
    assert detected == "xml"
    assert found is not None and problem in found
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"


def test_an_uploaded_xml_within_the_budget_is_kept() -> None:
    data = b'<?xml version="1.0"?><note><to>Accounts</to></note>'
    store: Any = _InMemoryStore(data)

    assert documents._problem(store, _uploaded_xml(), len(data)) == ("xml", None)


def test_an_attachment_deflated_without_a_zlib_header_is_read_too() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw_deflate = compressor.compress(minimum_invoice("RAW-DEFLATE")) + compressor.flush()
    pdf = pdf_with_attachments([Attachment("factur-x.xml", raw_deflate)])

    assert parse_einvoice(pdf).number == "RAW-DEFLATE"


def test_an_attachment_that_is_not_deflate_data_is_unreadable() -> None:
    pdf = pdf_with_attachments([Attachment("factur-x.xml", b"\x00\xff" * 64)])

    with pytest.raises(EInvoiceError, match="not valid deflate data"):
        parse_einvoice(pdf)
