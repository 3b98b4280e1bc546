"""The PDFs a reminder carries: the invoice itself (attached to an e-mail) and a reminder letter.
The PDF library and Babel's date and number formatting load on first use, not at cold start."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.numbers import format_currency

from cashline.adapters.messaging import ChannelRefusedError
from cashline.domain.counterparties import address_lines
from cashline.domain.invoices import Invoice
from cashline.domain.money import currency_exponent
from cashline.services import campaigns
from cashline.services.collections.context import CollectionRuntime, invoices
from cashline.services.collections.rendering import Prepared


def invoice_pdf_bytes(invoice: Invoice, p: Prepared, runtime: CollectionRuntime) -> bytes:
    """The invoice's own PDF when one was uploaded or imported, else one made from its lines."""
    from babel.dates import format_date  # defer: Babel's date formatting, only when a PDF is made

    from cashline.adapters.pdf_documents import invoice_pdf  # defer the PDF library past cold start

    header, body, documents = invoices.get(invoice.tenant_id, invoice.invoice_id)
    for document in documents:
        if document.status == "available" and (document.detected_content_type or "") == "application/pdf":
            return runtime.documents.read(document.s3_key)
    lines = [
        {
            "description": str(line.get("description", "")),
            "quantity": str(line.get("quantity", "1")),
            "unit_amount": _money_text(int(line.get("unit_amount", 0)), header.currency, p.locale),
            "net": _money_text(int(line.get("net_amount", 0)), header.currency, p.locale),
        }
        for line in (body.lines if body else [])
    ] or [
        {
            "description": header.description or header.number,
            "quantity": "1",
            "unit_amount": _money_text(header.amount_due, header.currency, p.locale),
            "net": _money_text(header.subtotal or header.amount_due, header.currency, p.locale),
        }
    ]
    totals = [
        ("Net", _money_text(header.subtotal, header.currency, p.locale)),
        ("Tax", _money_text(header.tax, header.currency, p.locale)),
        ("Total", _money_text(header.amount_due, header.currency, p.locale)),
    ]
    return invoice_pdf(
        creditor={"name": p.tenant.name},
        debtor={"name": p.counterparty.name, "address": address_lines(p.counterparty)},
        number=header.number,
        issue_date_text=format_date(header.issue_date, format="medium", locale=p.locale),
        due_date_text=format_date(header.due_date, format="medium", locale=p.locale),
        lines=lines,
        totals=totals,
        notes=None,
    )


def letter_pdf_bytes(tenant_id: str, invoice: Invoice, p: Prepared, now: datetime) -> tuple[list[str], bytes]:
    """(the debtor's address, the letter's PDF); ChannelRefusedError without a postal address."""
    from babel.dates import format_date  # defer: Babel's date formatting, only when a PDF is made

    from cashline.adapters.pdf_documents import letter_pdf  # defer the PDF library past cold start

    address = address_lines(p.counterparty)
    if len(address) < 2:
        raise ChannelRefusedError("no postal address")
    config = campaigns.settings(tenant_id)
    creditor = {"name": p.tenant.name, **{k: v for k, v in config.creditor.items() if v}}
    pdf = letter_pdf(
        creditor=creditor,
        debtor={"name": p.counterparty.name, "address": address},
        date_text=format_date(now.date(), format="long", locale=p.locale),
        subject=p.subject or invoice.number,
        body=p.body,
        footer=" · ".join(
            str(v) for v in (creditor.get("name"), creditor.get("iban"), creditor.get("email")) if v
        ),
    )
    return address, pdf


def _money_text(amount: int, currency: str, locale: str) -> str:
    return format_currency(Decimal(amount).scaleb(-currency_exponent(currency)), currency, locale=locale)
