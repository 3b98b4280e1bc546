"""Documents of an invoice, e-invoice import, CSV import and export."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.domain.filetypes import EINVOICE_CONTENT_TYPES
from cashline.schemas.documents import (
    CsvImportQuery,
    DownloadOutput,
    ExportQuery,
    ImportOutput,
    ImportQuery,
    PresignedPost,
    StartUploadRequest,
    UploadOutput,
)
from cashline.schemas.invoices import DocumentOutput, InvoiceOutput
from chalicelib.http import Call, RawOutput, api_route
from chalicelib.invoice_routes import actor_of, invoice_filter
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:
    from cashline.services import bulk, documents, einvoice_import
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    bulk = deferred("cashline.services.bulk")
    documents = deferred("cashline.services.documents")
    einvoice_import = deferred("cashline.services.einvoice_import")

document_api = Blueprint(__name__)
TAG = "documents and imports"


def _store() -> Any:
    return documents.store_for(api_ready())


@api_route(
    document_api,
    "/v1/invoices/{invoice_id}/documents",
    method="POST",
    summary="Start a document upload: a presigned S3 POST bound to its type and maximum size",
    request=StartUploadRequest,
    response=UploadOutput,
    role=Role.FINANCE,
    status=201,
    tag=TAG,
)
def start_upload(call: Call[StartUploadRequest, Any]) -> UploadOutput:
    started = documents.start_upload(
        _store(),
        call.tenant_id,
        call.path["invoice_id"],
        content_type=call.body.content_type,
        filename=call.body.filename,
        max_bytes=call.body.max_bytes,
        now=call.now,
    )
    return UploadOutput(
        **dict(DocumentOutput.of(started.document)),
        upload=PresignedPost(
            url=started.upload.url,
            fields=started.upload.fields,
            expires_in_seconds=started.upload.expires_in_seconds,
            max_bytes=started.document.max_bytes,
        ),
    )


@api_route(
    document_api,
    "/v1/invoices/{invoice_id}/documents/{document_id}",
    method="GET",
    summary="A document and a short-lived download URL",
    response=DownloadOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_document(call: Call[Any, Any]) -> DownloadOutput:
    document, url = documents.download(
        _store(), call.tenant_id, call.path["invoice_id"], call.path["document_id"]
    )
    return DownloadOutput(
        **dict(DocumentOutput.of(document)), download_url=url, expires_in_seconds=300 if url else None
    )


@api_route(
    document_api,
    "/v1/invoices/import",
    method="POST",
    summary="Create an invoice from a UBL, CII or Factur-X e-invoice sent as the body",
    query=ImportQuery,
    response=InvoiceOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
    accepts=tuple(EINVOICE_CONTENT_TYPES),
)
def import_einvoice(call: Call[Any, ImportQuery]) -> InvoiceOutput:
    view = einvoice_import.import_einvoice(
        _store(),
        call.tenant_id,
        call.raw_body,
        content_type=call.content_type,
        direction=call.query.direction,
        actor=actor_of(call),
        now=call.now,
    )
    return InvoiceOutput.of(view)


@api_route(
    document_api,
    "/v1/imports",
    method="POST",
    summary="Import counterparties or invoices from CSV, answered row by row (422 and nothing written "
    "when a row is bad, unless partial=true)",
    query=CsvImportQuery,
    response=ImportOutput,
    role=Role.FINANCE,
    status=200,
    idempotent=True,
    tag=TAG,
    accepts=("text/csv", "application/csv"),
    also_answers=(422,),  # the row-by-row report when rows had errors and nothing was written
)
def import_csv(call: Call[Any, CsvImportQuery]) -> tuple[int, ImportOutput]:
    report = bulk.import_csv(
        call.tenant_id,
        call.raw_body,
        kind=call.query.type,
        partial=call.query.partial,
        actor=actor_of(call),
        now=call.now,
    )
    return (200 if report.written else 422), ImportOutput.of(report)


@api_route(
    document_api,
    "/v1/invoices/export",
    method="GET",
    summary="The filtered invoice list as CSV (amounts as decimals; at most 50,000 rows)",
    query=ExportQuery,
    response=None,
    role=Role.READ_ONLY,
    tag=TAG,
    produces="text/csv",
)
def export_invoices(call: Call[Any, ExportQuery]) -> RawOutput:
    body = bulk.export_csv(call.tenant_id, invoice_filter(call.query))
    return RawOutput(body=body, content_type="text/csv; charset=utf-8", filename="invoices.csv")
