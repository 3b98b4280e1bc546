"""Issue 11 through the API: hostile import bodies are bounded, and the refused profiles import.

Finding 1: whatever a body would decompress to, handling it grows the server's memory by at most
a few tens of MB (`tracemalloc` around the in-process request, so the figure does not depend on the
machine) and the answer is a 413 naming the limit, a 415, or a 201 for a PDF whose invoice XML is
small (its other attachments are never read). Compressed bodies are refused on every route.

Profiles: Factur-X MINIMUM and BASIC WL import as invoices without lines, marked with their profile;
documents without VAT import; XRechnung third-party payments count in the amount due.
"""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.gateway import GatewayResponse
from tests.einvoice_files import (
    MB,
    Attachment,
    attachment,
    basic_wl_invoice,
    deflated_zeros,
    gzipped_zeros,
    minimum_invoice,
    no_vat_invoice,
    pdf_with_attachments,
    ubl_third_party_invoice,
)
from tests.utils import Api, TestTenant, error_of

# The request's own bytes (a 1.4 MB PDF is ~2 MB once the gateway base64-encodes it) plus the
# decompressed budget (10 MB, which zlib may briefly double) plus the parsed invoice and the stores.
MEMORY_BOUND = 48 * MB


@pytest.fixture(scope="module")
def zeros_70_mb() -> bytes:
    return deflated_zeros(70 * MB)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzipped_zeros(200 * MB)


def measured(call: Callable[[], GatewayResponse]) -> tuple[GatewayResponse, int]:
    tracemalloc.start()
    try:
        response = call()
        return response, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def import_body(
    api: Api, key: str, data: bytes, content_type: str, headers: dict[str, str] | None = None
) -> GatewayResponse:
    return api.post(
        "/v1/invoices/import?direction=receivable",
        key=key,
        raw_body=data,
        headers={"Content-Type": content_type, **(headers or {})},
    )


def nothing_written(api: Api, local_cloud: LocalCloud, tenant: TestTenant) -> bool:
    invoices = api.get("/v1/invoices?limit=100", key=tenant.read_only).json()["data"]
    counterparties = api.get("/v1/counterparties?limit=100", key=tenant.read_only).json()["data"]
    s3 = local_cloud.client("s3")
    listed = s3.list_objects_v2(
        Bucket=os.environ["CASHLINE_DOCUMENTS_BUCKET"], Prefix=f"documents/{tenant.tenant_id}"
    )
    return invoices == [] and counterparties == [] and not listed.get("Contents")


# --- hostile bodies ----------------------------------------------------------------------------


def test_the_issues_pdf_imports_its_invoice_without_reading_twenty_70_mb_attachments(
    api: Api, tenant: TestTenant, zeros_70_mb: bytes
) -> None:
    # Given the issue's PDF: 1.4 MB that would inflate to 1.4 GB if every attachment were read
    others = [Attachment(f"annex-{n}.bin", zeros_70_mb, relationship="Supplement") for n in range(20)]
    pdf = pdf_with_attachments([attachment("factur-x.xml", minimum_invoice("HOSTILE-1")), *others])
    assert 1 * MB < len(pdf) < 2 * MB

    # ... and a server past its cold start (the first import creates the S3 client: ~50 MB of
    # botocore models loaded once per process, whatever the request)
    warm_up = pdf_with_attachments([attachment("factur-x.xml", minimum_invoice("WARM-1"))])
    assert import_body(api, tenant.finance, warm_up, "application/pdf").status_code == 201

    # When it is imported
    response, peak = measured(lambda: import_body(api, tenant.finance, pdf, "application/pdf"))

    # Then its invoice is created and the server's memory grew by a few MB only
    assert response.status_code == 201, response.body
    assert response.json()["number"] == "HOSTILE-1"
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"
    print(f"\nworst hostile PDF through the API: {len(pdf) / MB:.2f} MB body, peak {peak / MB:.1f} MB")


def test_a_pdf_whose_invoice_xml_is_a_bomb_is_a_413_naming_the_limit(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, zeros_70_mb: bytes
) -> None:
    pdf = pdf_with_attachments([Attachment("factur-x.xml", zeros_70_mb)])

    response, peak = measured(lambda: import_body(api, tenant.finance, pdf, "application/pdf"))

    assert response.status_code == 413, response.body
    error = error_of(response)
    assert error["type"] == "payload_too_large"
    assert error["field"] == "body"
    assert "more than 10 MB once decompressed" in error["message"]
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"
    assert nothing_written(api, local_cloud, tenant)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"<r>" + b"<a/>" * (MB - 2) + b"</r>", "elements", id="a-million-elements"),
        pytest.param(b"<r><!--" + b"x" * (4 * MB) + b"--></r>", "over 4 MB", id="over-the-4-mb-body-limit"),
    ],
)
def test_a_huge_xml_is_a_413_with_bounded_memory(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, data: bytes, message: str
) -> None:
    response, peak = measured(lambda: import_body(api, tenant.finance, data, "application/xml"))

    assert response.status_code == 413, response.body
    assert error_of(response)["field"] == "body"
    assert message in error_of(response)["message"]
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"
    assert nothing_written(api, local_cloud, tenant)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/invoices/import?direction=receivable", "application/xml"),
        ("/v1/invoices/import?direction=receivable", "application/pdf"),
        ("/v1/imports?type=counterparties", "text/csv"),
        ("/v1/counterparties", "application/json"),
        ("/v1/fx-rates", "application/xml"),
    ],
)
def test_a_body_sent_with_content_encoding_gzip_is_a_415_naming_it(
    api: Api, tenant: TestTenant, gzip_bomb: bytes, path: str, content_type: str
) -> None:
    response, peak = measured(
        lambda: api.post(
            path,
            key=tenant.finance,
            raw_body=gzip_bomb,
            headers={"Content-Type": content_type, "Content-Encoding": "gzip"},
        )
    )

    assert response.status_code == 415, response.body
    assert error_of(response)["field"] == "Content-Encoding"
    assert peak < MEMORY_BOUND


def _zip_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("path", "content_type", "archive"),
    [
        ("/v1/invoices/import?direction=receivable", "application/xml", "gzip"),
        ("/v1/invoices/import?direction=receivable", "application/pdf", "zip"),
        ("/v1/imports?type=counterparties", "text/csv", "gzip"),
        ("/v1/imports?type=counterparties", "text/csv", "zip"),
    ],
)
def test_a_compressed_body_without_content_encoding_is_a_415_naming_the_body(
    api: Api, tenant: TestTenant, gzip_bomb: bytes, path: str, content_type: str, archive: str
) -> None:
    body = gzip_bomb if archive == "gzip" else _zip_of("invoice.xml", minimum_invoice("ZIP-1"))

    response = api.post(path, key=tenant.finance, raw_body=body, headers={"Content-Type": content_type})

    assert response.status_code == 415, response.body
    error = error_of(response)
    assert error["field"] == "body"
    assert archive in error["message"]


def _csv_rows(size: int) -> bytes:
    out = bytearray(b"name,external_reference\n")
    n = 0
    while len(out) < size - 40:
        out += b"Company %d,REF-%d\n" % (n, n)
        n += 1
    return bytes(out)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(_csv_rows(10 * MB - 64), "more than 5000 rows", id="near-the-limit-in-rows"),
        pytest.param(b"name\n" + b"," * (10 * MB - 64), "row is longer than 256 KB", id="one-wide-row"),
        pytest.param(_csv_rows(10 * MB + 64), "more than 10 MB", id="over-the-limit"),
    ],
)
def test_a_csv_near_or_over_the_limit_is_a_413_with_bounded_memory(
    api: Api, tenant: TestTenant, body: bytes, message: str
) -> None:
    response, peak = measured(
        lambda: api.post(
            "/v1/imports?type=counterparties",
            key=tenant.finance,
            raw_body=body,
            headers={"Content-Type": "text/csv"},
        )
    )

    assert response.status_code == 413, response.body
    assert error_of(response)["field"] == "body"
    assert message in error_of(response)["message"]
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"
    assert api.get("/v1/counterparties", key=tenant.read_only).json()["data"] == []


# --- profiles that were refused ----------------------------------------------------------------


def _read_back(api: Api, tenant: TestTenant, created: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{created['id']}", key=tenant.read_only)
    assert response.status_code == 200
    stored: dict[str, Any] = response.json()
    for key in ("amount_due", "amount_paid", "amount_outstanding", "subtotal", "tax", "lines", "details"):
        assert stored[key] == created[key], key
    return stored


@pytest.mark.parametrize("container", ["xml", "pdf"])
def test_a_factur_x_minimum_invoice_imports_without_lines_marked_minimum(
    api: Api, tenant: TestTenant, container: str
) -> None:
    xml = minimum_invoice(f"MIN-{container}")
    data = pdf_with_attachments([attachment("factur-x.xml", xml)]) if container == "pdf" else xml

    response = import_body(api, tenant.finance, data, f"application/{container}")

    assert response.status_code == 201, response.body
    invoice = _read_back(api, tenant, response.json())
    assert (invoice["subtotal"], invoice["tax"], invoice["amount_due"]) == (10000, 1900, 11900)
    assert invoice["amount_outstanding"] == 11900
    assert invoice["lines"] == []
    details = invoice["details"]
    assert details["profile"] == "urn:factur-x.eu:1p0:minimum"
    assert details["profile_name"] == "minimum"
    assert details["header_only"] is True
    assert details["totals"]["line_total"] is None


def test_a_factur_x_basic_wl_invoice_imports_without_lines_with_its_prepaid_amount(
    api: Api, tenant: TestTenant
) -> None:
    response = import_body(api, tenant.finance, basic_wl_invoice("WL-API"), "application/xml")

    assert response.status_code == 201, response.body
    invoice = _read_back(api, tenant, response.json())
    assert (invoice["amount_due"], invoice["amount_paid"], invoice["amount_outstanding"]) == (
        11900,
        1900,
        10000,
    )
    assert invoice["lines"] == []
    assert [t["tax_amount"] for t in invoice["taxes"]] == [1900]
    assert (invoice["details"]["profile_name"], invoice["details"]["header_only"]) == ("basic_wl", True)


def test_a_cii_document_with_a_line_not_subject_to_vat_but_no_vat_breakdown_is_refused(
    api: Api, tenant: TestTenant
) -> None:
    # EN 16931 BR-O-01 (issue 14): an O line needs exactly one VAT breakdown group of category O.
    response = import_body(api, tenant.finance, no_vat_invoice("NOVAT-API"), "application/xml")

    assert response.status_code == 422, response.body
    assert (error_of(response)["rule"], error_of(response)["field"]) == ("BR-O-01", "body")


def test_xrechnung_third_party_payments_are_part_of_the_amount_due(api: Api, tenant: TestTenant) -> None:
    response = import_body(api, tenant.finance, ubl_third_party_invoice("DEX-API"), "application/xml")

    assert response.status_code == 201, response.body
    invoice = _read_back(api, tenant, response.json())
    assert invoice["subtotal"] == 31486
    assert invoice["tax"] == 2204
    assert invoice["amount_due"] == 36686  # BT-115: 336.90 + 19.96 + 10.00 collected for third parties
    assert invoice["amount_outstanding"] == 36686
    assert invoice["details"]["profile_name"] == "xrechnung_extension"
    assert [p["amount"] for p in invoice["details"]["third_party_payments"]] == [1996, 1000]
    assert invoice["details"]["totals"]["third_party"] == 2996


def test_an_amount_due_without_the_third_party_payments_is_a_422_naming_br_dex_09(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    data = ubl_third_party_invoice("DEX-BAD", payable="336.90")

    response = import_body(api, tenant.finance, data, "application/xml")

    assert response.status_code == 422, response.body
    assert error_of(response)["rule"] == "BR-DEX-09"
    assert nothing_written(api, local_cloud, tenant)
