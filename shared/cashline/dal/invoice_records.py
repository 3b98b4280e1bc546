"""Records of an invoice's item collection `T#<tenant>#INV#<id>`.

Sort keys are chosen so that one Query with `sk < "INV#EVT#"` returns the header, the body and the
documents, and the audit trail (`INV#EVT#...`) is read apart, page by page:
`INV` (header, the only item with index keys) < `INV#BODY` < `INV#DOC#<id>` < `INV#EVT#<at>#<id>`.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from cashline.dal.table import CashlineItem

HEADER_SK = "INV"
BODY_SK = "INV#BODY"
DOCUMENT_SK_PREFIX = "INV#DOC#"
EVENT_SK_PREFIX = "INV#EVT#"


def invoice_pk(tenant_id: str, invoice_id: str) -> str:
    return f"T#{tenant_id}#INV#{invoice_id}"


class InvoiceRecord(CashlineItem, discriminator="invoice"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    direction = UnicodeAttribute()
    document_kind = UnicodeAttribute()
    number = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    counterparty_name = UnicodeAttribute()
    segment = UnicodeAttribute(null=True)
    issue_date = UnicodeAttribute()
    due_date = UnicodeAttribute()
    currency = UnicodeAttribute()
    subtotal = NumberAttribute()
    tax = NumberAttribute()
    amount_due = NumberAttribute()
    amount_paid = NumberAttribute(default=0)
    status = UnicodeAttribute()
    status_before_dispute = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    source = UnicodeAttribute()
    metadata = JSONAttribute(null=True)
    financing_plan_id = UnicodeAttribute(null=True)


class InvoiceBodyRecord(CashlineItem, discriminator="invoice_body"):
    """Lines, tax breakdown and e-invoice details: written once, never indexed."""

    lines = JSONAttribute()
    taxes = JSONAttribute()
    details = JSONAttribute(null=True)


class DocumentRecord(CashlineItem, discriminator="document"):
    version = VersionAttribute()
    document_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    role = UnicodeAttribute()  # attachment | source (the imported e-invoice file)
    status = UnicodeAttribute()  # pending | available | quarantined
    declared_content_type = UnicodeAttribute()
    detected_content_type = UnicodeAttribute(null=True)
    filename = UnicodeAttribute(null=True)
    size_bytes = NumberAttribute(null=True)
    max_bytes = NumberAttribute()
    sha256 = UnicodeAttribute(null=True)
    s3_key = UnicodeAttribute()
    problem = UnicodeAttribute(null=True)


class InvoiceEventRecord(CashlineItem, discriminator="invoice_event"):
    """One line of the audit trail: who or what changed what, when. Never changed."""

    event_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    changes = JSONAttribute()
    note = UnicodeAttribute(null=True)
