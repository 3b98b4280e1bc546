"""Invoice documents: presigned uploads, the check of what arrived, short-lived downloads.

An upload goes to `uploads/<tenant>/<invoice>/<document>`. S3 notifies a queue; the handler reads
the object's first bytes and, if they are what was declared (PDF, PNG, JPEG, or XML without DTD
or entities) and within the size, moves it to `documents/...` and records it as available;
otherwise it moves it to `quarantine/...` (deleted after 30 days) and records why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from cashline.adapters.documents import DocumentStore, PresignedUpload
from cashline.config import url_text
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES, megabytes
from cashline.domain.einvoice import EInvoiceError
from cashline.domain.einvoice.safe_xml import parse_xml
from cashline.domain.filetypes import ALLOWED_UPLOAD_TYPES, EXTENSIONS, sniff
from cashline.domain.invoices import Document, InvoiceEvent
from cashline.errors import ConflictError, NotFoundError, ValidationError
from cashline.ids import is_id_of, new_id
from cashline.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    # The settings models are built on a function's first event (cashline.config), not at import.
    from cashline.config import StorageSettings

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
UPLOAD_PREFIX = "uploads/"
SNIFF_BYTES = 8192

invoices = InvoiceRepository()


def store_for(settings: StorageSettings) -> DocumentStore:
    endpoint = url_text(settings.aws_endpoint)
    return DocumentStore(settings.documents_bucket, region=settings.region, endpoint=endpoint)


@dataclass(frozen=True, slots=True)
class StartedUpload:
    document: Document
    upload: PresignedUpload


def start_upload(
    store: DocumentStore,
    tenant_id: str,
    invoice_id: str,
    *,
    content_type: str,
    filename: str | None,
    max_bytes: int | None,
    now: datetime,
) -> StartedUpload:
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    invoices.get_header(tenant_id, invoice_id)  # 404 for another tenant's invoice
    if content_type not in ALLOWED_UPLOAD_TYPES:
        raise ValidationError(
            f"content_type must be one of {', '.join(ALLOWED_UPLOAD_TYPES)}", field="content_type"
        )
    limit = min(max_bytes or DEFAULT_MAX_BYTES, DEFAULT_MAX_BYTES)
    document_id = new_id("document")
    document = Document(
        document_id=document_id,
        invoice_id=invoice_id,
        role="attachment",
        status="pending",
        declared_content_type=content_type,
        detected_content_type=None,
        filename=filename,
        size_bytes=None,
        max_bytes=limit,
        sha256=None,
        s3_key=f"{UPLOAD_PREFIX}{tenant_id}/{invoice_id}/{document_id}",
        problem=None,
        created_at=now,
    )
    invoices.add_document(tenant_id, document)
    return StartedUpload(
        document, store.presign_upload(document.s3_key, content_type=content_type, max_bytes=limit)
    )


def _problem(store: DocumentStore, document: Document, size: int) -> tuple[str | None, str | None]:
    """(detected type, problem) for the uploaded object; problem None means it may be kept."""
    if size > document.max_bytes:
        return None, f"{size} bytes is over the agreed maximum of {document.max_bytes}"
    detected = sniff(store.head_bytes(document.s3_key, SNIFF_BYTES))
    expected = ALLOWED_UPLOAD_TYPES[document.declared_content_type]
    if detected != expected:
        return (
            detected,
            f"declared {document.declared_content_type} but the bytes are {detected or 'unknown'}",
        )
    if detected == "xml":
        # Parsed only within the decompressed-byte budget (a tree costs far more than its bytes).
        if size > MAX_DECOMPRESSED_BYTES:
            return detected, f"XML of more than {megabytes(MAX_DECOMPRESSED_BYTES)} is not checked or kept"
        try:
            parse_xml(store.read(document.s3_key))
        except EInvoiceError as exc:
            return detected, f"unsafe, malformed or oversized XML: {exc.message}"
    return detected, None


def check_notified_uploads(store: DocumentStore, notification: str, *, now: datetime) -> list[str]:
    """Check every upload an S3 `ObjectCreated` notification (one queue message's body) names; S3
    also sends an "s3:TestEvent" without records, which names none."""
    return [
        check_upload(store, entry["s3"]["object"]["key"], now=now)
        for entry in json.loads(notification).get("Records", [])
        if str(entry.get("eventName", "")).startswith("ObjectCreated")
    ]


def check_upload(store: DocumentStore, key: str, *, now: datetime) -> str:
    """Check one uploaded object; safe to run twice for the same upload (a redelivered message)."""
    parts = unquote_plus(key).removeprefix(UPLOAD_PREFIX).split("/")
    if len(parts) != 3 or not is_id_of("document", parts[2]):
        logger.warning("upload with an unexpected key", key=key)
        return "ignored"
    tenant_id, invoice_id, document_id = parts
    try:
        document = invoices.get_document(tenant_id, invoice_id, document_id)
    except NotFoundError:
        return "ignored"
    upload_key = f"{UPLOAD_PREFIX}{tenant_id}/{invoice_id}/{document_id}"
    size = store.size(upload_key)
    if document.status != "pending":
        if size is not None:
            store.move(upload_key, document.s3_key)  # an earlier delivery recorded the result, then stopped
        return "already checked"
    if size is None:
        return "ignored"
    detected, problem = _problem(store, document, size)
    extension = EXTENSIONS.get(detected or "", "bin")
    if problem:
        target = f"quarantine/{tenant_id}/{invoice_id}/{document_id}"
        settled = replace(
            document,
            status="quarantined",
            detected_content_type=detected,
            size_bytes=size,
            problem=problem,
            s3_key=target,
        )
    else:
        target = f"documents/{tenant_id}/{invoice_id}/{document_id}.{extension}"
        settled = replace(
            document,
            status="available",
            detected_content_type=detected,
            size_bytes=size,
            sha256=store.sha256(document.s3_key),
            s3_key=target,
        )
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=invoice_id,
        at=now,
        actor="system:document-check",
        action="document_quarantined" if problem else "document_added",
        changes={"document": [None, document_id]},
        note=problem,
    )
    try:
        # Recorded first, moved second: a crash in between is finished by the redelivered message.
        invoices.settle_document(tenant_id, settled, event)
    except ConflictError:
        return "already checked"
    try:
        store.move(upload_key, target)
    except ClientError as exc:
        # A concurrent delivery of the same notification moved it first: the result is the same.
        if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404"}:
            raise
    metrics.add_metric(
        name="DocumentQuarantined" if problem else "DocumentAccepted", unit=MetricUnit.Count, value=1
    )
    logger.info("upload checked", document_id=document_id, status=settled.status, problem=problem)
    return settled.status


def download(
    store: DocumentStore, tenant_id: str, invoice_id: str, document_id: str
) -> tuple[Document, str | None]:
    """The document and, when it is available, a download URL valid for five minutes."""
    if not (is_id_of("invoice", invoice_id) and is_id_of("document", document_id)):
        raise NotFoundError("document not found", field="document_id")
    document = invoices.get_document(tenant_id, invoice_id, document_id)
    if document.status != "available":
        return document, None
    name = document.filename or f"{document_id}.{EXTENSIONS.get(document.detected_content_type or '', 'bin')}"
    return document, store.presign_download(document.s3_key, filename=name)
