"""`POST /v1/invoices/import`: an EN 16931 e-invoice (UBL, CII, Factur-X PDF) becomes an invoice.

The document's arithmetic is checked against the EN 16931 rules first (a 422 names the rule); its
seller or buyer becomes the counterparty by the document's direction for this tenant; the file
itself is kept in S3 as the invoice's `source` document; the same file twice is a 409.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from cashline.adapters.documents import DocumentStore
from cashline.dal.party_repository import claimed_by
from cashline.domain.access import Tenant
from cashline.domain.byte_budget import compressed_format, megabytes
from cashline.domain.counterparties import normalize_tax_id
from cashline.domain.einvoice import (
    EInvoice,
    EInvoiceError,
    EInvoiceTooLargeError,
    Party,
    check_totals,
    is_header_only,
    parse_einvoice,
)
from cashline.domain.filetypes import EINVOICE_CONTENT_TYPES
from cashline.domain.invoices import (
    Direction,
    Document,
    DocumentKind,
    InvoiceStatus,
    InvoiceView,
    NewInvoice,
    StatedAmounts,
    UniqueClaim,
)
from cashline.errors import (
    ConflictError,
    PayloadTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from cashline.ids import new_id
from cashline.services import invoices as invoice_service
from cashline.services.counterparties import checked_fields
from cashline.services.tenancy import tenants

MAX_IMPORT_BYTES = 4 * 1024 * 1024  # under Lambda's 6 MB payload once API Gateway has base64-encoded a PDF


def _direction(tenant: Tenant, document: EInvoice, hint: Direction | None) -> Direction:
    """Receivable when the tenant is the seller, payable when it is the buyer."""
    if hint is not None:
        return hint
    ours = {normalize_tax_id(tenant.tax_id)} if tenant.tax_id else set()
    names = {tenant.name.casefold()}

    def is_us(party: Party) -> bool:
        return bool(party.tax_id and normalize_tax_id(party.tax_id) in ours) or party.name.casefold() in names

    seller, buyer = is_us(document.seller), is_us(document.buyer)
    if seller != buyer:
        return Direction.RECEIVABLE if seller else Direction.PAYABLE
    raise UnprocessableError(
        "cannot tell whether this document is yours to collect or to pay: set the tenant's tax_id, or pass "
        "?direction=receivable|payable",
        field="direction",
    )


def _usable_values(values: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The other party's data as far as it passes our checks; what does not is left out and noted.

    A supplier's malformed e-mail or IBAN in a real document must not block the bill from being
    recorded; it must not reach the counterparty either.
    """
    usable: dict[str, Any] = {}
    for name, value in values.items():
        try:
            usable.update(checked_fields({name: value}))
        except ValidationError as exc:
            warnings.append(f"counterparty {name} {value!r} left out: {exc.message}")
    return usable


def _counterparty_values(party: Party, iban: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {"name": party.name}
    if party.tax_id:
        values["tax_id"] = party.tax_id
    if party.email:
        values["email"] = party.email
    if party.country:
        values["country"] = party.country
    if party.street or party.city:
        values["address"] = {
            k: v
            for k, v in {
                "line1": party.street or party.city or "",
                "city": party.city,
                "postal_code": party.postal_code,
                "country": party.country,
            }.items()
            if v
        }
    if iban:
        values["iban"] = iban
    return values


def _is_negative_invoice(document: EInvoice) -> bool:
    """An invoice whose total is negative corrects an earlier one: Cashline keeps it as a credit note."""
    return (
        document.document_type == "invoice" and document.totals.tax_inclusive + document.totals.rounding < 0
    )


def _stated(document: EInvoice) -> StatedAmounts:
    totals = document.totals
    sign = -1 if _is_negative_invoice(document) else 1
    lines = [
        {
            "line_id": line.line_id,
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_code": line.unit_code,
            "unit_price": str(line.unit_price),
            "net_amount": line.net_amount,
            "tax_category": line.tax_category,
            "tax_rate": str(line.tax_rate) if line.tax_rate is not None else None,
        }
        for line in document.lines
    ]
    taxes = [
        {
            "category": t.category,
            "rate": str(t.rate) if t.rate is not None else None,
            "taxable_amount": t.taxable_amount,
            "tax_amount": t.tax_amount,
            "exemption_reason": t.exemption_reason,
        }
        for t in document.tax_subtotals
    ]
    # Lines and taxes stay as the document states them; the header amounts are positive. Amounts
    # the seller collects for third parties (XRechnung BG-DEX-09) are owed too: part of the total.
    return StatedAmounts(
        subtotal=sign * totals.tax_exclusive,
        tax=sign * totals.tax_total,
        total=sign * (totals.tax_inclusive + totals.rounding + totals.third_party),
        lines=lines,
        taxes=taxes,
    )


def _details(document: EInvoice) -> dict[str, Any]:
    return {
        "syntax": document.syntax,
        "container": document.container,
        "profile": document.profile,
        "profile_name": document.profile_name,
        "header_only": is_header_only(document.profile_name),
        "type_code": document.type_code,
        "payment_terms": document.payment_terms,
        "creditor_iban": document.creditor_iban,
        "payment_reference": document.payment_reference,
        "buyer_reference": document.buyer_reference,
        "order_reference": document.order_reference,
        "notes": document.notes,
        "totals": asdict(document.totals),
        "allowances_charges": [
            {
                "is_charge": a.is_charge,
                "amount": a.amount,
                "reason": a.reason,
                "tax_category": a.tax_category,
                "tax_rate": str(a.tax_rate) if a.tax_rate is not None else None,
            }
            for a in document.allowances_charges
        ],
        "third_party_payments": [
            {"type": p.type, "amount": p.amount, "description": p.description}
            for p in document.third_party_payments
        ],
    }


def read_document(data: bytes, content_type: str) -> EInvoice:
    if not data:
        raise ValidationError("the body is empty: send the e-invoice file itself", field="body")
    if len(data) > MAX_IMPORT_BYTES:
        raise PayloadTooLargeError(f"the file is over {megabytes(MAX_IMPORT_BYTES)}", field="body")
    if content_type not in EINVOICE_CONTENT_TYPES:
        raise ValidationError("send application/xml or application/pdf", field="Content-Type")
    archive = compressed_format(data)
    if archive:
        raise UnsupportedMediaTypeError(
            f"the body is a {archive} archive: send the e-invoice file itself, uncompressed", field="body"
        )
    try:
        document = parse_einvoice(data)
    except EInvoiceTooLargeError as exc:
        raise PayloadTooLargeError(exc.message, field="body") from exc
    except EInvoiceError as exc:
        raise ValidationError(exc.message, field=f"body.{exc.field}" if exc.field else "body") from exc
    violations = check_totals(document)
    if violations:
        first = violations[0]
        raise UnprocessableError(
            f"{first.rule}: {first.message}"
            + (f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""),
            field="body",
            details={"rule": first.rule},
        )
    return document


def import_einvoice(
    store: DocumentStore,
    tenant_id: str,
    data: bytes,
    *,
    content_type: str,
    direction: Direction | None,
    actor: str,
    now: datetime,
) -> InvoiceView:
    document = read_document(data, content_type)
    digest = hashlib.sha256(data).hexdigest()
    existing = claimed_by(tenant_id, "DOCSHA", digest)
    if existing:
        raise ConflictError(
            "this document was imported already", field="body", details={"existing_id": existing}
        )
    tenant = tenants.get(tenant_id)
    chosen = _direction(tenant, document, direction)
    other = document.buyer if chosen is Direction.RECEIVABLE else document.seller
    iban = document.creditor_iban if chosen is Direction.PAYABLE else None
    warnings: list[str] = []
    credit = document.document_type == "credit_note" or _is_negative_invoice(document)
    if _is_negative_invoice(document):
        warnings.append("an invoice with a negative total: kept as a credit note with positive amounts")
    if document.due_date is None:
        warnings.append(
            f"no due date in the document: due {invoice_service.DEFAULT_PAYMENT_DAYS} days after issue"
        )
    new = NewInvoice(
        direction=chosen,
        number=document.number,
        issue_date=document.issue_date,
        due_date=document.due_date
        or document.issue_date + timedelta(days=invoice_service.DEFAULT_PAYMENT_DAYS),
        currency=document.currency,
        counterparty=_usable_values(_counterparty_values(other, iban), warnings),
        document_kind=DocumentKind.CREDIT_NOTE if credit else DocumentKind.INVOICE,
        amount_paid=(-1 if _is_negative_invoice(document) else 1) * document.totals.prepaid,
        status=InvoiceStatus.OPEN,
    )
    try:
        prepared = invoice_service.prepare_invoice(
            tenant,
            new,
            now=now,
            source=f"import:{document.syntax}-{document.container}",
            details={**_details(document), "warnings": warnings},
            extra_claims=[UniqueClaim("DOCSHA", digest, "body")],
            stated=_stated(document),
        )
    except ValidationError as exc:
        # The document's own data broke a rule of ours (e.g. an IBAN that does not check out).
        raise UnprocessableError(
            f"the document's {exc.field}: {exc.message}", field=f"body.{exc.field}"
        ) from exc
    invoice = prepared.invoice
    extension = document.container  # what the bytes are, whatever the Content-Type said
    stored_type = "application/pdf" if extension == "pdf" else "application/xml"
    source = Document(
        document_id=new_id("document"),
        invoice_id=invoice.invoice_id,
        role="source",
        status="available",
        declared_content_type=content_type,
        detected_content_type=extension,
        filename=f"{document.number}.{extension}",
        size_bytes=len(data),
        max_bytes=MAX_IMPORT_BYTES,
        sha256=digest,
        s3_key=f"documents/{tenant_id}/{invoice.invoice_id}/source.{extension}",
        problem=None,
        created_at=now,
    )
    store.put(source.s3_key, data, content_type=stored_type)
    try:
        invoice_service.store_prepared(prepared, actor=actor, documents=[source])
    except BaseException:
        store.delete(source.s3_key)  # nothing half-written: no file without its invoice
        raise
    return invoice_service.get_invoice(tenant_id, invoice.invoice_id, now=now, tenant=tenant)
