"""`POST /v1/invoices/import`: real EN 16931 e-invoices (UBL, CII, Factur-X) become invoices.

Expected values come from parsing the same corpus file with `parse_einvoice` in the test, so each
import is checked against the document itself, not against numbers copied from the product. The
corpus sits beside the checkout and is read in place.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from pypdf import PdfWriter

from cashline.domain.einvoice import EInvoice, Party, parse_einvoice
from localcloud.cloud import LocalCloud
from localcloud.gateway import GatewayResponse
from tests.utils import Api, TestTenant, error_of

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "einvoice"
DEFAULT_PAYMENT_DAYS = 30  # what the API gives a document that states no due date

# (file, direction to import it in). Payable takes the seller as counterparty along with the
# document's IBAN; the PEPPOL samples carry placeholder IBANs, so they are imported as receivables.
CORPUS_IMPORTS = [
    ("ubl/EN16931_Einfach.ubl.xml", "payable"),
    ("ubl/EN16931_Rabatte.ubl.xml", "receivable"),  # allowances + charges, 7 % and 19 %, prepaid
    ("ubl/EN16931_Miete.ubl.xml", "payable"),  # six lines
    ("ubl/EN16931_Physiotherapeut.ubl.xml", "payable"),  # VAT exempt, seller IBAN
    ("ubl/EN16931_Gutschrift.ubl.xml", "receivable"),  # type 389 self-billed: an invoice
    ("ubl/peppol-Allowance-example.xml", "receivable"),  # allowance + charge, 25 % and exempt
    ("ubl/peppol-Vat-category-S.xml", "receivable"),  # 25 % and 15 %
    ("ubl/peppol-base-creditnote-correction.xml", "receivable"),  # UBL CreditNote
    ("ubl/peppol-vat-category-E.xml", "receivable"),  # GBP
    ("ubl/peppol-vat-category-O.xml", "receivable"),  # SEK, outside scope: no rate
    ("ubl/peppol-vat-category-Z.xml", "receivable"),  # GBP, zero rated
    ("cii/EN16931_Einfach.cii.xml", "payable"),
    ("cii/EN16931_Rabatte.cii.xml", "payable"),  # allowances + charges in CII
    ("cii/EN16931_Innergemeinschaftliche_Lieferungen.cii.xml", "receivable"),  # intra-community
    ("cii/EN16931_Reisekostenabrechnung.cii.xml", "payable"),
    ("cii/XRECHNUNG_Einfach.cii.xml", "payable"),
    ("facturx/Avoir_FR_type381_BASIC.pdf", "payable"),  # credit note (381) in a PDF
    ("facturx/Facture_FR_BASICWL.pdf", "payable"),  # BASIC WL: no lines, prepaid amount
    ("facturx/MustangGnuaccountingBeispielRE-20201121_508.pdf", "payable"),
    ("facturx/zugferd_2p1_EN16931_2_Teilrechnung.pdf", "receivable"),
]


# --- helpers ------------------------------------------------------------------------------------


def sample(relative: str) -> bytes:
    return (CORPUS / relative).read_bytes()


def content_type_of(relative: str) -> str:
    return "application/pdf" if relative.endswith(".pdf") else "application/xml"


def mutate(data: bytes, old: bytes, new: bytes) -> bytes:
    """`data` with exactly one occurrence of `old` replaced, so a test cannot silently miss."""
    assert data.count(old) == 1, f"{old!r} occurs {data.count(old)} times"
    return data.replace(old, new)


def import_file(
    api: Api,
    key: str,
    data: bytes,
    *,
    content_type: str = "application/xml",
    direction: str | None = None,
    headers: dict[str, str] | None = None,
) -> GatewayResponse:
    path = "/v1/invoices/import" + (f"?direction={direction}" if direction else "")
    return api.post(path, key=key, raw_body=data, headers={"Content-Type": content_type, **(headers or {})})


def invoice_ids(api: Api, tenant: TestTenant) -> list[str]:
    listed = api.get("/v1/invoices?limit=100", key=tenant.read_only)
    assert listed.status_code == 200
    return [invoice["id"] for invoice in listed.json()["data"]]


def counterparty_ids(api: Api, tenant: TestTenant) -> list[str]:
    listed = api.get("/v1/counterparties?limit=100", key=tenant.read_only)
    assert listed.status_code == 200
    return [counterparty["id"] for counterparty in listed.json()["data"]]


def stored_keys(local_cloud: LocalCloud, tenant: TestTenant) -> list[str]:
    """Every object the documents bucket holds for the tenant (kept files, uploads, quarantine)."""
    s3 = local_cloud.client("s3")
    keys: list[str] = []
    for prefix in ("documents/", "uploads/", "quarantine/"):
        listed = s3.list_objects_v2(
            Bucket=os.environ["CASHLINE_DOCUMENTS_BUCKET"], Prefix=prefix + tenant.tenant_id
        )
        keys += [item["Key"] for item in listed.get("Contents", [])]
    return keys


def assert_nothing_written(api: Api, local_cloud: LocalCloud, tenant: TestTenant) -> None:
    assert invoice_ids(api, tenant) == []
    assert counterparty_ids(api, tenant) == []
    assert stored_keys(local_cloud, tenant) == []


def normalized(value: str | None) -> str | None:
    return None if value is None else re.sub(r"[\s.\-]", "", value).upper()


def expected_taxes(document: EInvoice) -> list[tuple[str, Decimal | None, int, int]]:
    return [(t.category, t.rate, t.taxable_amount, t.tax_amount) for t in document.tax_subtotals]


def stated_taxes(invoice: dict[str, Any]) -> list[tuple[str, Decimal | None, int, int]]:
    return [
        (
            t["category"],
            None if t["rate"] is None else Decimal(t["rate"]),
            t["taxable_amount"],
            t["tax_amount"],
        )
        for t in invoice["taxes"]
    ]


# --- the corpus ---------------------------------------------------------------------------------


def test_the_corpus_covers_what_the_import_tests_claim() -> None:
    documents = {relative: parse_einvoice(sample(relative)) for relative, _ in CORPUS_IMPORTS}
    assert {d.syntax for d in documents.values()} == {"ubl", "cii"}
    assert {d.container for d in documents.values()} == {"xml", "pdf"}
    assert {d.currency for d in documents.values()} >= {"EUR", "GBP", "SEK"}
    assert sum(d.document_type == "credit_note" for d in documents.values()) >= 2
    assert any(d.allowances_charges for d in documents.values())
    assert any(len({t.rate for t in d.tax_subtotals}) >= 2 for d in documents.values())
    assert len({t.rate for d in documents.values() for t in d.tax_subtotals}) >= 6


@pytest.mark.parametrize(("relative", "direction"), CORPUS_IMPORTS, ids=[r for r, _ in CORPUS_IMPORTS])
def test_a_real_einvoice_imports_as_the_document_states_it(
    api: Api, tenant: TestTenant, relative: str, direction: str
) -> None:
    # Given a real e-invoice, read independently here
    data = sample(relative)
    document = parse_einvoice(data)
    totals = document.totals

    # When it is imported
    response = import_file(
        api, tenant.finance, data, content_type=content_type_of(relative), direction=direction
    )

    # Then the invoice carries the document's own data
    assert response.status_code == 201, response.body
    invoice = response.json()
    assert invoice["direction"] == direction
    assert invoice["number"] == document.number.strip()
    assert invoice["issue_date"] == document.issue_date.isoformat()
    due = document.due_date or document.issue_date + timedelta(days=DEFAULT_PAYMENT_DAYS)
    assert invoice["due_date"] == due.isoformat()
    assert invoice["currency"] == document.currency
    assert invoice["amount_due"] == totals.tax_inclusive + totals.rounding  # BT-112 + BT-114
    assert invoice["subtotal"] == totals.tax_exclusive
    assert invoice["tax"] == totals.tax_total
    assert invoice["amount_paid"] == totals.prepaid
    assert invoice["amount_outstanding"] == invoice["amount_due"] - totals.prepaid
    assert invoice["kind"] == ("credit_note" if document.document_type == "credit_note" else "invoice")
    assert len(invoice["lines"]) == len(document.lines)
    assert [line["net_amount"] for line in invoice["lines"]] == [line.net_amount for line in document.lines]
    assert stated_taxes(invoice) == expected_taxes(document)
    assert invoice["details"]["syntax"] == document.syntax
    assert invoice["details"]["container"] == document.container
    assert invoice["details"]["type_code"] == document.type_code
    assert invoice["source"].startswith("import:")

    # ... the file is its source document
    [source] = invoice["documents"]
    assert source["role"] == "source"
    assert source["status"] == "available"
    assert source["content_type"] == content_type_of(relative)
    assert source["sha256"] == hashlib.sha256(data).hexdigest()
    assert source["size_bytes"] == len(data)
    assert source["problem"] is None

    # ... and the other party became the counterparty
    other: Party = document.buyer if direction == "receivable" else document.seller
    assert invoice["counterparty_name"] == other.name
    counterparty = api.get(f"/v1/counterparties/{invoice['counterparty_id']}", key=tenant.read_only)
    assert counterparty.status_code == 200
    assert counterparty.json()["name"] == other.name
    assert normalized(counterparty.json()["tax_id"]) == normalized(other.tax_id)
    if direction == "payable" and document.creditor_iban:
        assert normalized(counterparty.json()["iban"]) == normalized(document.creditor_iban)

    # ... and reading it back gives the same invoice
    read = api.get(f"/v1/invoices/{invoice['id']}", key=tenant.read_only)
    assert read.status_code == 200
    assert {k: v for k, v in read.json().items() if k != "days_past_due"} == {
        k: v for k, v in invoice.items() if k != "days_past_due"
    }
    assert invoice_ids(api, tenant) == [invoice["id"]]


# --- direction ----------------------------------------------------------------------------------


def _set_tax_id(api: Api, tenant: TestTenant, tax_id: str) -> None:
    version = api.get("/v1/tenant", key=tenant.admin).json()["version"]
    patched = api.patch("/v1/tenant", key=tenant.admin, json_body={"version": version, "tax_id": tax_id})
    assert patched.status_code == 200, patched.body


def test_the_tenants_tax_id_as_seller_makes_it_a_receivable(api: Api, tenant: TestTenant) -> None:
    # Given a tenant whose VAT id is the seller's
    data = sample("ubl/EN16931_Einfach.ubl.xml")
    document = parse_einvoice(data)
    assert document.seller.tax_id
    _set_tax_id(api, tenant, document.seller.tax_id)

    # When the document is imported without a direction
    response = import_file(api, tenant.finance, data)

    # Then it is the tenant's to collect, from the buyer
    assert response.status_code == 201, response.body
    assert response.json()["direction"] == "receivable"
    assert response.json()["counterparty_name"] == document.buyer.name


def test_the_tenants_tax_id_as_buyer_makes_it_a_payable_whatever_its_spelling(
    api: Api, tenant: TestTenant
) -> None:
    # Given a tenant whose VAT id, written with spaces and in lower case, is the buyer's
    data = sample("ubl/EN16931_Gutschrift.ubl.xml")
    document = parse_einvoice(data)
    assert document.buyer.tax_id == "DE136695976"
    _set_tax_id(api, tenant, "de 136 695 976")

    # When the document is imported without a direction
    response = import_file(api, tenant.finance, data)

    # Then it is a bill to pay, to the seller
    assert response.status_code == 201, response.body
    invoice = response.json()
    assert invoice["direction"] == "payable"
    counterparty = api.get(f"/v1/counterparties/{invoice['counterparty_id']}", key=tenant.read_only).json()
    assert counterparty["name"] == document.seller.name
    assert normalized(counterparty["tax_id"]) == normalized(document.seller.tax_id)


def test_the_tenants_name_as_buyer_makes_it_a_payable(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    data = sample("cii/EN16931_Einfach.cii.xml")
    document = parse_einvoice(data)
    tenant = tenant_factory(document.buyer.name.upper())

    response = import_file(api, tenant.finance, data, content_type="text/xml")

    assert response.status_code == 201, response.body
    assert response.json()["direction"] == "payable"
    assert response.json()["counterparty_name"] == document.seller.name


def test_without_a_direction_and_no_matching_tax_id_or_name_nothing_is_imported(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    # Given a tenant ("Acme GmbH", no tax id) that is neither party of the document
    response = import_file(api, tenant.finance, sample("ubl/EN16931_Einfach.ubl.xml"))

    assert response.status_code == 422
    assert error_of(response)["field"] == "direction"
    assert_nothing_written(api, local_cloud, tenant)


def test_a_tax_id_matching_both_parties_cannot_tell_the_direction(api: Api, tenant: TestTenant) -> None:
    # The tenant's name is the seller's and its tax id the buyer's: it is both, so neither.
    data = sample("ubl/EN16931_Gutschrift.ubl.xml")
    _set_tax_id(api, tenant, "DE136695976")
    version = api.get("/v1/tenant", key=tenant.admin).json()["version"]
    assert (
        api.patch(
            "/v1/tenant", key=tenant.admin, json_body={"version": version, "name": "Lieferant GmbH"}
        ).status_code
        == 200
    )

    response = import_file(api, tenant.finance, data)

    assert response.status_code == 422
    assert error_of(response)["field"] == "direction"
    assert invoice_ids(api, tenant) == []


# --- duplicates ---------------------------------------------------------------------------------


def test_the_same_file_twice_is_a_conflict_naming_the_first_invoice(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    data = sample("facturx/zugferd_2p1_EN16931_2_Teilrechnung.pdf")
    first = import_file(api, tenant.finance, data, content_type="application/pdf", direction="receivable")
    assert first.status_code == 201
    keys_before = stored_keys(local_cloud, tenant)

    # The same bytes again, even asking for the other direction
    again = import_file(api, tenant.finance, data, content_type="application/pdf", direction="payable")

    assert again.status_code == 409
    error = error_of(again)
    assert error["type"] == "conflict"
    assert error["existing_id"] == first.json()["id"]
    assert invoice_ids(api, tenant) == [first.json()["id"]]
    assert len(counterparty_ids(api, tenant)) == 1
    assert stored_keys(local_cloud, tenant) == keys_before


def test_the_same_invoice_in_another_syntax_is_a_conflict_on_its_number(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    # Given the UBL rendering of invoice 471102 imported
    first = import_file(api, tenant.finance, sample("ubl/EN16931_Einfach.ubl.xml"), direction="payable")
    assert first.status_code == 201

    # When its CII rendering (other bytes, same seller and number) is imported
    again = import_file(api, tenant.finance, sample("cii/EN16931_Einfach.cii.xml"), direction="payable")

    # Then it is the same invoice: 409, and no second file is kept
    assert again.status_code == 409
    assert error_of(again)["existing_id"] == first.json()["id"]
    assert error_of(again)["field"] == "number"
    assert invoice_ids(api, tenant) == [first.json()["id"]]
    assert len(stored_keys(local_cloud, tenant)) == 1


def test_concurrent_imports_of_one_file_make_one_invoice_and_keep_one_file(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    data = sample("ubl/peppol-base-example.xml")

    def post(_: int) -> GatewayResponse:
        return import_file(api, tenant.finance, data, direction="receivable")

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(post, range(6)))

    created = [r.json()["id"] for r in responses if r.status_code == 201]
    assert len(created) == 1, [(r.status_code, r.body) for r in responses]
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    assert {error_of(r).get("existing_id") for r in responses if r.status_code == 409} <= {created[0]}
    assert invoice_ids(api, tenant) == created
    assert len(counterparty_ids(api, tenant)) == 1
    [kept] = stored_keys(local_cloud, tenant)
    assert kept.startswith(f"documents/{tenant.tenant_id}/{created[0]}/")


def test_an_idempotency_key_replays_the_import(api: Api, tenant: TestTenant) -> None:
    data = sample("cii/EN16931_Rabatte.cii.xml")
    headers = {"Idempotency-Key": "import-rabatte-1"}

    first = import_file(api, tenant.finance, data, direction="payable", headers=headers)
    second = import_file(api, tenant.finance, data, direction="payable", headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert invoice_ids(api, tenant) == [first.json()["id"]]


def test_an_idempotency_key_reused_with_another_file_is_refused(api: Api, tenant: TestTenant) -> None:
    headers = {"Idempotency-Key": "import-reused"}
    first = import_file(
        api, tenant.finance, sample("cii/EN16931_Einfach.cii.xml"), direction="payable", headers=headers
    )
    assert first.status_code == 201

    other = import_file(
        api, tenant.finance, sample("cii/XRECHNUNG_Einfach.cii.xml"), direction="payable", headers=headers
    )

    assert other.status_code == 422
    assert error_of(other)["field"] == "Idempotency-Key"
    assert invoice_ids(api, tenant) == [first.json()["id"]]


# --- arithmetic ---------------------------------------------------------------------------------

BROKEN_TOTALS = [
    pytest.param(
        "ubl/EN16931_Einfach.ubl.xml",
        b'<cbc:PayableAmount currencyID="EUR">529.87</cbc:PayableAmount>',
        b'<cbc:PayableAmount currencyID="EUR">500.00</cbc:PayableAmount>',
        "BR-CO-16",
        id="ubl-payable-amount",
    ),
    pytest.param(
        "ubl/EN16931_Einfach.ubl.xml",
        b'<cbc:LineExtensionAmount currencyID="EUR">198</cbc:LineExtensionAmount>',
        b'<cbc:LineExtensionAmount currencyID="EUR">199</cbc:LineExtensionAmount>',
        "BR-CO-10",
        id="ubl-line-amount",
    ),
    pytest.param(
        "cii/EN16931_Einfach.cii.xml",
        b"<ram:DuePayableAmount>529.87</ram:DuePayableAmount>",
        b"<ram:DuePayableAmount>519.87</ram:DuePayableAmount>",
        "BR-CO-16",
        id="cii-due-payable-amount",
    ),
]


@pytest.mark.parametrize(("relative", "old", "new", "rule"), BROKEN_TOTALS)
def test_a_document_whose_totals_do_not_add_up_is_refused_and_nothing_is_written(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, relative: str, old: bytes, new: bytes, rule: str
) -> None:
    data = mutate(sample(relative), old, new)

    response = import_file(api, tenant.finance, data, direction="payable")

    assert response.status_code == 422
    error = error_of(response)
    assert error["rule"] == rule
    assert error["field"] == "body"
    assert rule in error["message"]
    assert_nothing_written(api, local_cloud, tenant)


# --- unsafe and wrong files ---------------------------------------------------------------------

_UBL = sample("ubl/EN16931_Einfach.ubl.xml")
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


def _billion_laughs() -> bytes:
    entities = [b'<!ENTITY lol0 "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (level, b"".join(b"&lol%d;" % (level - 1) for _ in range(10)))
        for level in range(1, 10)
    ]
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE Invoice [' + b"".join(entities) + b"]>\n"
        b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol9;</Invoice>'
    )


def _xxe(document: bytes) -> bytes:
    """The real UBL sample with its number taken from /etc/passwd, were entities resolved."""
    assert document.startswith(_DECLARATION)
    doctype = b'\n<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    with_doctype = document.replace(_DECLARATION, _DECLARATION + doctype, 1)
    return mutate(with_doctype, b"<cbc:ID>471102</cbc:ID>", b"<cbc:ID>&xxe;</cbc:ID>")


def _pdf(attachments: dict[str, bytes]) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    for name, content in attachments.items():
        writer.add_attachment(name, content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _executable() -> bytes:
    header = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"
    )
    return (
        header
        + b"\x0e\x1f\xba\x0e\x00\xb4\t\xcd!This program cannot be run in DOS mode.\r\r\n$"
        + b"\x00" * 512
    )


def _random_bytes() -> bytes:
    data = random.Random(20240601).randbytes(4096)
    assert not data.lstrip().startswith((b"<", b"%PDF", b"\xef\xbb\xbf"))
    return data


UNSAFE_FILES = [
    pytest.param(_billion_laughs(), "application/xml", id="billion-laughs"),
    pytest.param(_xxe(_UBL), "application/xml", id="external-entity"),
    pytest.param(_pdf({"factur-x.xml": _xxe(_UBL)}), "application/pdf", id="external-entity-inside-pdf"),
    pytest.param(_executable(), "application/pdf", id="renamed-executable"),
    pytest.param(_random_bytes(), "application/xml", id="random-bytes"),
    pytest.param(_pdf({}), "application/pdf", id="pdf-without-invoice"),
    pytest.param(b"", "application/xml", id="empty-body"),
]


@pytest.mark.parametrize(("data", "content_type"), UNSAFE_FILES)
def test_an_unsafe_or_unreadable_file_is_a_bad_request_and_nothing_is_written(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, data: bytes, content_type: str
) -> None:
    response = import_file(api, tenant.finance, data, content_type=content_type, direction="payable")

    assert response.status_code == 400, response.body
    error = error_of(response)
    assert error["type"] == "invalid_request"
    assert error["field"] is not None and error["field"].startswith("body")
    assert b"root:" not in response.body  # nothing of /etc/passwd leaks back
    assert_nothing_written(api, local_cloud, tenant)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/json",
        pytest.param("application/octet-stream"),
    ],
)
def test_a_body_of_another_content_type_is_unsupported(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, content_type: str
) -> None:
    response = import_file(
        api,
        tenant.finance,
        sample("ubl/EN16931_Einfach.ubl.xml"),
        content_type=content_type,
        direction="payable",
    )

    assert response.status_code == 415
    assert error_of(response)["field"] == "Content-Type"
    assert_nothing_written(api, local_cloud, tenant)


def test_a_content_type_with_a_charset_parameter_is_accepted(api: Api, tenant: TestTenant) -> None:
    response = import_file(
        api,
        tenant.finance,
        sample("cii/XRECHNUNG_Einfach.cii.xml"),
        content_type="application/xml; charset=utf-8",
        direction="payable",
    )
    assert response.status_code == 201, response.body


def test_the_source_documents_detected_type_is_what_the_bytes_are(api: Api, tenant: TestTenant) -> None:
    # A Factur-X PDF sent as application/xml: parse_einvoice reads it as a PDF (container "pdf")
    data = sample("facturx/Avoir_FR_type381_BASIC.pdf")
    assert parse_einvoice(data).container == "pdf"

    response = import_file(api, tenant.finance, data, content_type="application/xml", direction="payable")

    if response.status_code == 201:
        [source] = response.json()["documents"]
        assert source["detected_type"] == "pdf"
        assert not (source["filename"] or "").endswith(".xml")
    else:  # refusing the mismatch would be fine too
        assert response.status_code in {400, 415}


# --- the kept file, isolation, roles ------------------------------------------------------------


@pytest.mark.parametrize(
    "relative", ["ubl/EN16931_Rabatte.ubl.xml", "facturx/MustangGnuaccountingBeispielRE-20201121_508.pdf"]
)
def test_the_original_file_is_kept_byte_for_byte_and_can_be_downloaded(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, relative: str
) -> None:
    # Given an imported e-invoice
    data = sample(relative)
    content_type = content_type_of(relative)
    imported = import_file(api, tenant.finance, data, content_type=content_type, direction="payable")
    assert imported.status_code == 201, imported.body
    invoice_id = imported.json()["id"]
    [source] = imported.json()["documents"]

    # Then the bucket holds exactly that file, under the invoice
    [key] = stored_keys(local_cloud, tenant)
    assert key.startswith(f"documents/{tenant.tenant_id}/{invoice_id}/")
    stored = local_cloud.client("s3").get_object(Bucket=os.environ["CASHLINE_DOCUMENTS_BUCKET"], Key=key)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == content_type

    # ... and the document route gives a working, short-lived download URL
    response = api.get(f"/v1/invoices/{invoice_id}/documents/{source['id']}", key=tenant.read_only)
    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in source} == source
    assert body["download_url"]
    assert body["expires_in_seconds"] == 300
    downloaded = requests.get(body["download_url"], timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.content == data


def test_another_tenant_cannot_see_the_imported_invoice_or_its_file(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    data = sample("ubl/EN16931_Miete.ubl.xml")
    imported = import_file(api, mine.finance, data, direction="payable")
    assert imported.status_code == 201
    invoice_id, document_id = imported.json()["id"], imported.json()["documents"][0]["id"]

    for path in (
        f"/v1/invoices/{invoice_id}",
        f"/v1/invoices/{invoice_id}/documents/{document_id}",
        f"/v1/invoices/{invoice_id}/events",
    ):
        response = api.get(path, key=theirs.admin)
        assert response.status_code == 404, path
        assert error_of(response)["type"] == "not_found"
    assert invoice_ids(api, theirs) == []

    # Duplicate detection is per tenant: the other tenant may import the same file for itself.
    own = import_file(api, theirs.finance, data, direction="receivable")
    assert own.status_code == 201
    assert own.json()["id"] != invoice_id


def test_a_read_only_key_cannot_import(api: Api, tenant: TestTenant, local_cloud: LocalCloud) -> None:
    response = import_file(api, tenant.read_only, sample("ubl/EN16931_Einfach.ubl.xml"), direction="payable")

    assert response.status_code == 403
    assert error_of(response)["type"] == "forbidden"
    assert_nothing_written(api, local_cloud, tenant)


def test_an_admin_key_can_import(api: Api, tenant: TestTenant) -> None:
    response = import_file(api, tenant.admin, sample("ubl/EN16931_Einfach.ubl.xml"), direction="payable")
    assert response.status_code == 201


def test_without_a_key_the_import_is_unauthorized(api: Api) -> None:
    response = api.post(
        "/v1/invoices/import?direction=payable",
        raw_body=sample("ubl/EN16931_Einfach.ubl.xml"),
        headers={"Content-Type": "application/xml"},
    )
    assert response.status_code == 401
