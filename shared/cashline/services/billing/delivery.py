"""Sending a finalised invoice: its PDF (and, where the customer asks for one, its e-invoice) stored
in the documents bucket and e-mailed to the customer.

Which files (the counterparty's metadata `einvoice_format`):
- absent: the PDF, `invoices/<tenant>/<invoice id>/<number>.pdf`;
- "xrechnung": the PDF and the XRechnung UBL XML beside it (`<number>.xml`), both attached;
- "facturx": one PDF with the CII XML embedded (Factur-X EN 16931).
An invoice that cannot be a valid EN 16931 e-invoice (VAT category O mixed with another, BR-O-11: a
consumer outside the EU buying a digital service and another service) goes out as the PDF alone, and
its audit event says why (`einvoice` change and the note): the customer still gets its invoice, and
the work item is done, nothing retries.

How often: the `invoice_delivery` sweep leases the invoice's delivery work item (dal/due.py `lease`,
one conditional write: of two sweeps exactly one proceeds), stores the files, sends the e-mail, then
deletes the work item on the version its lease left, in one transaction with the audit event
("invoice_sent" / "invoice_not_sent"). A crash between the send and that transaction leaves the item
leased: when the lease ends (LEASE) the next sweep sends again. So an invoice e-mail goes out at least
once and, short of such a crash, exactly once. This differs from the reminders (services/collections
mark a message before sending: at most once) on purpose: a reminder missed is only a reminder, an
invoice never received is one the customer cannot pay, and a second copy of the same numbered
invoice is harmless. The stored files are written under fixed keys, so a repeat overwrites them
with the same bytes.

Who it is from: the billing settings' invoice details (legal name, address, contact, bank, tax
number, register, managing directors), each empty one the collection creditor's
(services.billing.settings.invoice_seller); the PDF shows the tenant's logo, read from the documents
bucket in the version the settings name (read_logo).

A customer without an e-mail address, or an address SES refuses, is recorded as not sent and the
work item is done: nothing loops. SES being unavailable (throttling, an outage) leaves the item
leased, and a later sweep tries again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from cashline.adapters.documents import DocumentStore
from cashline.adapters.invoice_documents import (
    Letterhead,
    date_text,
    facturx_pdf,
    invoice_document_pdf,
    legal_notice,
    money_text,
)
from cashline.adapters.messaging import Attachment, ChannelRefusedError, EmailChannel, OutgoingEmail
from cashline.dal.billing_invoices import DELIVERY_JOB, InvoiceJob, job_of, lease_job, stage_leased_job_done
from cashline.dal.invoice_repository import InvoiceRepository, event_record
from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.counterparties import Counterparty, address_lines
from cashline.domain.einvoice.cii_out import cii_xml
from cashline.domain.einvoice.outgoing import NotAnEInvoiceError, OutgoingInvoice, OutParty, outgoing_invoice
from cashline.domain.einvoice.ubl_out import ubl_xml
from cashline.domain.invoice_texts import invoice_texts
from cashline.domain.invoices import Invoice, InvoiceBody, InvoiceEvent, InvoiceStatus
from cashline.domain.locales import locale_for
from cashline.errors import NotFoundError
from cashline.ids import is_id_of, new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services import campaigns
from cashline.services.billing.settings import InvoiceSeller, get_billing_settings, invoice_seller, read_logo
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

INVOICE_DELIVERY_JOB = DELIVERY_JOB  # "invoice_delivery": set by finalising (D2), cleared here
INVOICE_DELIVERY_SCHEDULE = "invoice_delivery"
# How long one sweep holds an invoice; a sweep that died mid-way is retried after it.
LEASE = timedelta(minutes=15)
# The function may run 300 s (.chalice/config.json); what is left after this goes on next tick.
DELIVERY_SWEEP_BUDGET_S = 240.0
ACTOR = "system:invoice-delivery"
EINVOICE_FORMATS = ("xrechnung", "facturx")
# Not delivered: nothing to send for them.
_NOT_DELIVERED = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.VOID})

invoices = InvoiceRepository()
parties = CounterpartyRepository()


@dataclass(frozen=True, slots=True)
class DeliveryRuntime:
    """The outside world a delivery goes through, built once per Lambda instance (chalicelib)."""

    email: EmailChannel
    documents: DocumentStore


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one invoice: the stored files and whether the e-mail went out."""

    invoice_id: str
    status: Literal["sent", "not_sent"]
    document_keys: tuple[str, ...]
    recipient: str | None
    provider_id: str | None
    problem: str | None
    einvoice_problem: str | None = None  # why the e-invoice the customer asks for was not attached


def pay_link(invoice: Invoice) -> str:
    """The one place the e-mail's pay link comes from; the customer-portal issue fills it in."""
    return "(pay link: coming with the customer portal)"


def deliver_invoice(
    tenant_id: str,
    invoice_id: str,
    *,
    now: datetime,
    runtime: DeliveryRuntime,
    job: InvoiceJob | None = None,
) -> Delivery:
    """Render, store and e-mail one finalised invoice, and record it in its audit trail (with `job`,
    the leased work item, deleted in the same transaction). NotFoundError for an unknown or another
    tenant's invoice; a draft or void invoice is recorded as not sent."""
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    invoice, body, _ = invoices.get(tenant_id, invoice_id)
    if invoice.status in _NOT_DELIVERED:
        delivery = Delivery(invoice_id, "not_sent", (), None, None, f"the invoice is {invoice.status.value}")
    else:
        delivery = _deliver(invoice, body, now=now, runtime=runtime)
    _record(invoice, delivery, job, now)
    metrics.add_metric(name=f"InvoiceDelivery_{delivery.status}", unit=MetricUnit.Count, value=1)
    logger.info(
        "invoice delivered" if delivery.status == "sent" else "invoice not delivered",
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        problem=delivery.problem,
    )
    return delivery


def run_invoice_delivery(*, tick_at: datetime, worker: str, runtime: DeliveryRuntime) -> SweepResult:
    """The `invoice_delivery` sweep: every invoice whose delivery is due at `tick_at`, leased, sent
    and cleared (see the module docstring for how often)."""

    def handle(item: CashlineItem) -> bool:
        job = job_of(item)
        if job is None or job.job != INVOICE_DELIVERY_JOB:
            return False
        if not lease_job(item, until=tick_at + LEASE, now=tick_at):
            return False  # another sweep has it, or it changed since the index was read
        leased = job_of(item)  # the lease wrote a new version: the clear is conditioned on it
        assert leased is not None
        delivery = deliver_invoice(job.tenant_id, job.invoice_id, now=tick_at, runtime=runtime, job=leased)
        return delivery.status == "sent"

    return sweep(
        schedule=INVOICE_DELIVERY_SCHEDULE,
        job=INVOICE_DELIVERY_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=handle,
        time_budget_s=DELIVERY_SWEEP_BUDGET_S,
    )


def einvoice_format(counterparty: Counterparty) -> str | None:
    """ "xrechnung", "facturx" or None (PDF only), from the counterparty's metadata."""
    wanted = (counterparty.metadata.get("einvoice_format") or "").strip().lower().replace("-", "")
    return wanted if wanted in EINVOICE_FORMATS else None


def _deliver(
    invoice: Invoice, body: InvoiceBody | None, *, now: datetime, runtime: DeliveryRuntime
) -> Delivery:
    tenant = tenants.get(invoice.tenant_id)
    counterparty, _ = parties.get(invoice.tenant_id, invoice.counterparty_id)
    billing = get_billing_settings(tenant.tenant_id)
    seller = invoice_seller(tenant, billing, campaigns.settings(tenant.tenant_id).creditor)
    locale = locale_for(counterparty.preferred_language or "", counterparty.country or tenant.country)
    texts = _texts(locale)
    doc = outgoing_invoice(
        invoice,
        body,
        seller=_seller_party(seller),
        buyer=_buyer(counterparty),
        buyer_reference=_buyer_reference(counterparty),
        iban=seller.iban,
        bic=seller.bic,
        payment_terms=texts[f"{_kind(invoice)}_terms"].format(
            due_date=date_text(invoice.due_date, locale), number=invoice.number
        ),
    )
    letterhead = Letterhead(
        creditor=_letterhead_seller(seller, locale),
        debtor={"name": counterparty.name, "address": address_lines(counterparty)},
        logo=read_logo(tenant.tenant_id, billing, runtime.documents),
    )
    files, no_einvoice = _files(doc, letterhead, counterparty, locale)
    keys = tuple(_store(runtime.documents, invoice, file) for file in files)
    if not counterparty.email:
        return Delivery(invoice.invoice_id, "not_sent", keys, None, None, "no e-mail address", no_einvoice)
    try:
        sent = runtime.email.send(_email(invoice, doc, counterparty, seller, files, locale))
    except ChannelRefusedError as refused:
        return Delivery(
            invoice.invoice_id, "not_sent", keys, counterparty.email, None, refused.reason, no_einvoice
        )
    return Delivery(invoice.invoice_id, "sent", keys, counterparty.email, sent.provider_id, None, no_einvoice)


def _kind(invoice: Invoice) -> str:
    return "credit_note" if invoice.document_kind.value == "credit_note" else "invoice"


def _texts(locale: str) -> Mapping[str, str]:
    return invoice_texts("email", locale)


def _files(
    doc: OutgoingInvoice, letterhead: Letterhead, counterparty: Counterparty, locale: str
) -> tuple[list[Attachment], str | None]:
    """The attachments, and why the e-invoice asked for is missing (None when it is there or not
    asked for): an invoice with no valid e-invoice goes out as its PDF alone."""
    name = _safe(doc.number)
    pdf = invoice_document_pdf(doc, letterhead, locale=locale)
    wanted = einvoice_format(counterparty)
    try:
        if wanted == "facturx":
            pdf = facturx_pdf(pdf, cii_xml(doc), doc=doc, seller_name=doc.seller.name, locale=locale)
        xml = ubl_xml(doc) if wanted == "xrechnung" else None
    except NotAnEInvoiceError as impossible:
        return [
            Attachment(f"{name}.pdf", "application/pdf", pdf)
        ], f"no {wanted} e-invoice: {impossible.message}"
    files = [Attachment(f"{name}.pdf", "application/pdf", pdf)]
    if xml is not None:
        files.append(Attachment(f"{name}.xml", "application/xml", xml))
    return files, None


def _store(documents: DocumentStore, invoice: Invoice, file: Attachment) -> str:
    key = f"invoices/{invoice.tenant_id}/{invoice.invoice_id}/{file.filename}"
    documents.put(key, file.data, content_type=file.content_type)
    return key


def _email(
    invoice: Invoice,
    doc: OutgoingInvoice,
    counterparty: Counterparty,
    seller: InvoiceSeller,
    files: list[Attachment],
    locale: str,
) -> OutgoingEmail:
    texts = _texts(locale)
    kind = _kind(invoice)
    values = {
        "number": invoice.number,
        "seller": seller.name,
        "buyer": counterparty.name,
        "issue_date": date_text(invoice.issue_date, locale),
        "due_date": date_text(invoice.due_date, locale),
        "total": money_text(doc.total, doc.currency, locale),
        "amount_due": money_text(doc.amount_due, doc.currency, locale),
        "pay_link": pay_link(invoice),
    }
    assert counterparty.email is not None
    return OutgoingEmail(
        to=counterparty.email,
        subject=texts[f"{kind}_subject"].format(**values),
        text=texts[f"{kind}_body"].format(**values),
        tenant_id=invoice.tenant_id,
        reply_to=seller.email,
        attachments=tuple(files),
        headers={"X-Cashline-Reference": f"{invoice.tenant_id}/{invoice.invoice_id}/delivery"},
    )


def _record(invoice: Invoice, delivery: Delivery, job: InvoiceJob | None, now: datetime) -> None:
    """The audit event and (leased) the work item's completion on the version the lease left: if
    another sweep took the item again meanwhile, nothing is written (ConflictError: that one records)."""
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=invoice.invoice_id,
        at=now,
        actor=ACTOR,
        action=f"invoice_{delivery.status}",
        changes={
            "delivery": [None, delivery.status],
            "documents": [None, list(delivery.document_keys)],
            **({"einvoice": [None, "not_attached"]} if delivery.einvoice_problem else {}),
        },
        note="; ".join(
            text
            for text in (
                delivery.problem or (f"e-mailed to {delivery.recipient}" if delivery.recipient else None),
                delivery.einvoice_problem,
            )
            if text
        )
        or None,
    )
    work = UnitOfWork("invoice delivery taken by another worker")
    work.add(lambda write: write.save(event_record(invoice.tenant_id, event)))
    if job is not None:
        work.add(lambda write: stage_leased_job_done(write, job, now))
    work.commit()


def _letterhead_seller(seller: InvoiceSeller, locale: str) -> dict[str, Any]:
    """The seller as pdf_documents prints it: name and address at the top, contact, bank, VAT id and
    the legal notice (tax number, commercial register, managing directors) in the footer."""
    return {
        "name": seller.name,
        "address": list(seller.letter_address),
        "email": seller.email,
        "phone": seller.phone,
        "iban": seller.iban,
        "bic": seller.bic,
        "vat_id": seller.vat_id,
        "legal_notice": legal_notice(
            locale,
            tax_number=seller.tax_number,
            commercial_register=seller.commercial_register,
            managing_directors=seller.managing_directors,
        ),
    }


def _seller_party(seller: InvoiceSeller) -> OutParty:
    """BG-4: the invoice details of the billing settings (or the creditor's, see invoice_seller)."""
    return OutParty(
        name=seller.name,
        vat_id=seller.vat_id,
        street=seller.street,
        city=seller.city,
        postal_code=seller.postcode,
        country=seller.country,
        email=seller.email,
        phone=seller.phone,
        tax_number=seller.tax_number,
    )


def _buyer(counterparty: Counterparty) -> OutParty:
    address = counterparty.address or {}
    street = ", ".join(x for x in (address.get("line1"), address.get("line2")) if x) or None
    return OutParty(
        name=counterparty.name,
        vat_id=counterparty.tax_id,
        street=street,
        city=address.get("city"),
        postal_code=address.get("postal_code"),
        country=address.get("country") or counterparty.country,
        email=counterparty.email,
        phone=counterparty.phone,
    )


def _buyer_reference(counterparty: Counterparty) -> str:
    """BT-10: the customer's own reference (a Leitweg-ID for German public bodies) from its
    metadata `buyer_reference`, else its external reference, else its Cashline id."""
    return (
        counterparty.metadata.get("buyer_reference")
        or counterparty.external_reference
        or counterparty.counterparty_id
    )


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:60] or "invoice"
