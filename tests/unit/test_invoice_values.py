"""The invoice's value types and their mappings, with no storage: a header survives the trip to its
record and back, the wire output shows every field it shares with the header, and a CSV import's
report (domain/import_reports.py) reads the same on the wire as it was built."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, date, datetime

import pytest

from cashline.dal.invoice_records import InvoiceRecord
from cashline.dal.invoice_repository import document_record, header_record, to_document, to_invoice
from cashline.dal.party_repository import profile_record, to_counterparty
from cashline.domain.counterparties import Counterparty
from cashline.domain.import_reports import ImportReport, RowResult
from cashline.domain.invoices import (
    Direction,
    Document,
    DocumentKind,
    Invoice,
    InvoiceBody,
    InvoiceStatus,
    InvoiceView,
)
from cashline.schemas.documents import ImportOutput
from cashline.schemas.invoices import InvoiceOutput

AT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)


def invoice(**changes: object) -> Invoice:
    base = Invoice(
        tenant_id="ten_1",
        invoice_id="inv_1",
        direction=Direction.RECEIVABLE,
        document_kind=DocumentKind.INVOICE,
        number="RE-1",
        counterparty_id="cp_1",
        counterparty_name="Müller GmbH",
        segment="smb",
        issue_date=date(2027, 3, 1),
        due_date=date(2027, 3, 31),
        currency="EUR",
        subtotal=10_000,
        tax=1_900,
        amount_due=11_900,
        amount_paid=900,
        status=InvoiceStatus.DISPUTED,
        status_before_dispute=InvoiceStatus.PARTIALLY_PAID,
        description="Wartung",
        source="api",
        metadata={"po": "4711"},
        created_at=AT,
        updated_at=AT,
        version=3,
        financing_plan_id="fin_1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header",
    [
        invoice(),
        invoice(
            segment=None,
            status=InvoiceStatus.OPEN,
            status_before_dispute=None,
            description=None,
            metadata={},
            financing_plan_id=None,
        ),
    ],
    ids=["every field set", "every optional field empty"],
)
def test_a_header_survives_the_trip_to_its_record_and_back(header: Invoice) -> None:
    # Given a header, stored as its record (PynamoDB keeps the version)
    record = header_record(header, overdue_instant=None)
    record.version = header.version

    # When it is read back
    read = to_invoice(record)

    # Then it is the same header, its dates and enums stored as text and no empty map stored
    assert read == header
    assert (record.issue_date, record.status) == ("2027-03-01", header.status.value)
    assert record.metadata == (header.metadata or None)


@pytest.mark.parametrize("checked", [False, True], ids=["pending", "checked"])
def test_a_document_survives_the_trip_to_its_record_and_back(checked: bool) -> None:
    # Given a document, pending (nothing known of its bytes yet) or checked
    document = Document(
        document_id="doc_1",
        invoice_id="inv_1",
        role="attachment",
        status="available" if checked else "pending",
        declared_content_type="application/pdf",
        detected_content_type="pdf" if checked else None,
        filename="RE-1.pdf",
        size_bytes=2048 if checked else None,
        max_bytes=20 * 1024 * 1024,
        sha256="ab" * 32 if checked else None,
        s3_key="documents/ten_1/inv_1/doc_1.pdf",
        problem=None,
        created_at=AT,
        version=2,
    )

    # When it is stored as its record and read back
    record = document_record("ten_1", document)
    record.version = document.version

    # Then it is the same document, kept in its invoice's item collection
    assert to_document(record) == document
    assert (record.pk, record.sk) == ("T#ten_1#INV#inv_1", "INV#DOC#doc_1")


@pytest.mark.parametrize(
    ("address", "metadata"),
    [({"line1": "Hauptstraße 1", "city": "Berlin"}, {"crm": "42"}), (None, {}), ({}, {})],
    ids=["with address and metadata", "without", "an empty address"],
)
def test_a_counterparty_survives_the_trip_to_its_record_and_back(
    address: dict[str, str] | None, metadata: dict[str, str]
) -> None:
    # Given a counterparty profile
    profile = Counterparty(
        tenant_id="ten_1",
        counterparty_id="cp_1",
        name="Müller GmbH",
        email="ap@mueller.example",
        phone=None,
        address=address,
        country="DE",
        preferred_language="de",
        segment=None,
        tax_id="DE811111111",
        iban=None,
        external_reference="C-1",
        metadata=metadata,
        created_at=AT,
        updated_at=AT,
        version=4,
    )

    # When it is stored as its record and read back
    record = profile_record(profile)
    record.version = profile.version

    # Then it is the same profile: an empty address stays empty, empty metadata is not stored
    assert to_counterparty(record) == profile
    assert record.address == address and record.metadata == (metadata or None)


def test_every_header_field_has_its_attribute_on_the_record() -> None:
    # A new field on Invoice needs its attribute of the same name on InvoiceRecord, and nothing else
    attributes = InvoiceRecord.get_attributes()
    assert [f.name for f in fields(Invoice) if f.name not in attributes] == []


def test_the_wire_shows_every_field_the_header_shares_with_it() -> None:
    # Given an invoice as read, with its body
    header = invoice()
    view = InvoiceView(header, InvoiceBody(lines=[], taxes=[], details=None), [], days_past_due=4)

    # When it is mapped to the wire, in full and as a list shows it
    full, summary = InvoiceOutput.of(view), InvoiceOutput.summary(header)

    # Then the shared fields are copied, `id` and `kind` renamed, and what is derived is there
    assert full.model_dump(exclude={"days_past_due", "lines", "taxes", "details", "documents"}) == (
        summary.model_dump(exclude={"days_past_due", "lines", "taxes", "details", "documents"})
    )
    assert (summary.id, summary.kind, summary.amount_outstanding) == ("inv_1", DocumentKind.INVOICE, 11_000)
    assert (summary.metadata, summary.version, summary.status) == ({"po": "4711"}, 3, InvoiceStatus.DISPUTED)
    assert (full.days_past_due, full.lines, full.documents) == (4, [], [])
    assert "tenant_id" not in full.model_dump() and "financing_plan_id" not in full.model_dump()


def test_an_import_report_reads_the_same_on_the_wire() -> None:
    # Given a partial import's report: a created row, a duplicate and an error
    report = ImportReport(
        kind="invoices",
        partial=True,
        rows=[
            RowResult(row=2, status="created", id="inv_2"),
            RowResult(row=3, status="duplicate", id="inv_2", message="same as row 2"),
            RowResult(row=4, status="error", field="amount", message="expected a decimal amount"),
        ],
        written=True,
    )

    # When it is mapped to the wire and read back as JSON
    answer = json.loads(ImportOutput.of(report).model_dump_json())

    # Then the counts and every row say what the report says
    assert (answer["type"], answer["partial"], answer["written"]) == ("invoices", True, True)
    assert (answer["created"], answer["duplicates"], answer["errors"]) == (1, 1, 1)
    assert [
        RowResult(row=r["row"], status=r["status"], id=r["id"], field=r["field"], message=r["message"])
        for r in answer["rows"]
    ] == report.rows
