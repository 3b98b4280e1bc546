"""A payer's credit (earlier overpayments) used by its next invoice, when the tenant's settings say so."""

from __future__ import annotations

from datetime import datetime

from cashline.dal.payment_settings import get_payment_settings
from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceView, NewInvoice
from cashline.errors import ConflictError, UnprocessableError
from cashline.services import invoices as invoice_service
from cashline.services.payments.context import PAYABLE, Context, invoices, payments
from cashline.services.payments.manual import assign
from cashline.services.tenancy import tenants


def apply_credit(tenant_id: str, invoice: Invoice, *, now: datetime, actor: str) -> int:
    """Use the payer's credit (earlier overpayments, oldest first) for a new invoice; returns how much."""
    settings = get_payment_settings(tenant_id)
    if not settings.auto_apply_credit or invoice.direction is not Direction.RECEIVABLE:
        return 0
    if invoice.document_kind is not DocumentKind.INVOICE or invoice.status not in PAYABLE:
        return 0
    ctx = Context(tenant=tenants.get(tenant_id), settings=settings, now=now, actor=actor)
    used = 0
    for payment in payments.credit_payments(tenant_id, invoice.counterparty_id, invoice.currency):
        current = invoices.get_header(tenant_id, invoice.invoice_id)
        if current.amount_outstanding <= 0 or current.status not in PAYABLE:
            break
        amount = min(payment.unallocated_amount, current.amount_outstanding)
        try:
            assign(ctx, payment.id, [(invoice.invoice_id, amount)])
            used += amount
        except (ConflictError, UnprocessableError):
            continue  # the credit was used meanwhile: the next payment's may still be there
    return used


def create_invoice_using_credit(tenant_id: str, new: NewInvoice, *, actor: str, now: datetime) -> InvoiceView:
    """Create an invoice; a customer's credit from earlier overpayments pays it at once (when the
    tenant's settings say so), with the allocation on the payments and in the invoice's trail."""
    view = invoice_service.create_invoice(tenant_id, new, actor=actor, now=now)
    if apply_credit(tenant_id, view.invoice, now=now, actor=actor):
        return invoice_service.get_invoice(tenant_id, view.invoice.invoice_id, now=now)
    return view
