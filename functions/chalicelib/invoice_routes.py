"""/v1/invoices: create, read, list with filters, change status, audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.domain.invoices import InvoiceFilter, InvoiceStatus
from cashline.errors import ValidationError
from cashline.schemas.common import ListQuery, PageOutput, page_output
from cashline.schemas.invoices import (
    ChangeStatusRequest,
    CreateInvoiceRequest,
    InvoiceEventOutput,
    InvoiceListQuery,
    InvoiceOutput,
)
from chalicelib.http import Call, api_route
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services import invoices
    from cashline.services.payments import credit
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    invoices = deferred("cashline.services.invoices")
    credit = deferred("cashline.services.payments.credit")

invoice_api = Blueprint(__name__)
TAG = "invoices"


def actor_of(call: Call[Any, Any]) -> str:
    return f"key:{call.principal.key_id}" if call.principal else "anonymous"


@api_route(
    invoice_api,
    "/v1/invoices",
    method="POST",
    summary="Create an invoice (receivable) or a bill (payable)",
    request=CreateInvoiceRequest,
    response=InvoiceOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def create_invoice(call: Call[CreateInvoiceRequest, Any]) -> InvoiceOutput:
    view = credit.create_invoice_using_credit(
        call.tenant_id, call.body.to_new_invoice(), actor=actor_of(call), now=call.now
    )
    return InvoiceOutput.of(view)


def invoice_filter(query: InvoiceListQuery) -> InvoiceFilter:
    statuses: tuple[InvoiceStatus, ...] = ()
    if query.status:
        try:
            statuses = tuple(
                dict.fromkeys(InvoiceStatus(s.strip()) for s in query.status.split(",") if s.strip())
            )
        except ValueError as exc:
            allowed = ", ".join(s.value for s in InvoiceStatus)
            raise ValidationError(f"status must be one or several of: {allowed}", field="status") from exc
    for low, high, name in (
        (query.due_from, query.due_to, "due_to"),
        (query.issue_from, query.issue_to, "issue_to"),
        (query.amount_min, query.amount_max, "amount_max"),
    ):
        if low is not None and high is not None and high < low:  # type: ignore[operator]
            raise ValidationError(f"{name} is before the start of its range", field=name)
    return InvoiceFilter(
        direction=query.direction,
        statuses=statuses,
        counterparty_id=query.counterparty_id,
        segment=query.segment.strip().lower() if query.segment else None,
        currency=query.currency,
        due_from=query.due_from,
        due_to=query.due_to,
        issue_from=query.issue_from,
        issue_to=query.issue_to,
        amount_min=query.amount_min,
        amount_max=query.amount_max,
    )


@api_route(
    invoice_api,
    "/v1/invoices",
    method="GET",
    summary="List invoices with filters (each served by an index: see docs/data-model.md)",
    query=InvoiceListQuery,
    response=PageOutput[InvoiceOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_invoices(call: Call[Any, InvoiceListQuery]) -> PageOutput[InvoiceOutput]:
    page = invoices.list_invoices(
        call.tenant_id,
        invoice_filter(call.query),
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, InvoiceOutput.summary)


@api_route(
    invoice_api,
    "/v1/invoices/{invoice_id}",
    method="GET",
    summary="An invoice with its amounts, days past due, lines and documents",
    response=InvoiceOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_invoice(call: Call[Any, Any]) -> InvoiceOutput:
    return InvoiceOutput.of(invoices.get_invoice(call.tenant_id, call.path["invoice_id"], now=call.now))


@api_route(
    invoice_api,
    "/v1/invoices/{invoice_id}/status",
    method="POST",
    summary="Finalize, dispute, resolve, void or write off (illegal changes: 409)",
    request=ChangeStatusRequest,
    response=InvoiceOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def change_status(call: Call[ChangeStatusRequest, Any]) -> InvoiceOutput:
    view = invoices.change_status(
        call.tenant_id,
        call.path["invoice_id"],
        InvoiceStatus(call.body.status),
        actor=actor_of(call),
        now=call.now,
        expected_version=call.body.version,
        note=call.body.note,
    )
    return InvoiceOutput.of(view)


@api_route(
    invoice_api,
    "/v1/invoices/{invoice_id}/events",
    method="GET",
    summary="The audit trail: who or what changed what, when (oldest first)",
    query=ListQuery,
    response=PageOutput[InvoiceEventOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_invoice_events(call: Call[Any, ListQuery]) -> PageOutput[InvoiceEventOutput]:
    page = invoices.invoice_events(
        call.tenant_id,
        call.path["invoice_id"],
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, InvoiceEventOutput.of)
