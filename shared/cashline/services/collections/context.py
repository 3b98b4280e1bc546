"""What every collection module shares: the channels a run sends through (`CollectionRuntime`),
the repositories, the invoice states that are chased, and the audit event a change adds.

Exactly once per step: a sweep leases the run (a conditional write on its version), then writes the
step's message before it sends (a conditional put on (invoice, step, channel)), then records the
outcome. A second sweep, or the same one run twice, finds the lease or the message and sends
nothing; a sweep that died between sending and recording leaves the message `sending`, which the
next one marks `unknown` and does not send again (at most once: a debtor never gets a reminder twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cashline.adapters.documents import DocumentStore
from cashline.adapters.messaging import EmailChannel, SmsChannel
from cashline.dal.collection_writes import CollectionWrites
from cashline.dal.dunning_repository import DunningRepository
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.party_repository import CounterpartyRepository
from cashline.domain.invoices import Invoice, InvoiceEvent, InvoiceStatus
from cashline.errors import NotFoundError
from cashline.ids import is_id_of, new_id
from cashline.services.billing.charging import ChargeRuntime

# Its own repositories, not services.invoices': that module stages an entry into a campaign in the
# transaction that makes an invoice overdue, so it imports `entry` (and not the other way round).
dunning = DunningRepository()
invoices = InvoiceRepository()
parties = CounterpartyRepository()

# Who the audit trail names for what the campaign machinery does by itself.
SYSTEM = "system:collections"
# Invoices in these states are not chased.
SETTLED = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF})
CHASEABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})


@dataclass(frozen=True, slots=True)
class CollectionRuntime:
    """The outside world a run sends through, built once per Lambda instance (chalicelib)."""

    email: EmailChannel
    sms: SmsChannel
    documents: DocumentStore
    # retry_payment steps charge through it; None where a function does not charge (the API's).
    charges: ChargeRuntime | None = None


def invoice_of(tenant_id: str, invoice_id: str) -> Invoice:
    """The invoice's header; NotFoundError for a malformed id or another tenant's invoice."""
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    return invoices.get_header(tenant_id, invoice_id)


def audit(
    writes: CollectionWrites, invoice_id: str, actor: str, action: str, note: str, **changes: Any
) -> None:
    """An entry in the invoice's audit trail, written with the change."""
    writes.events.append(
        InvoiceEvent(
            event_id=new_id("event"),
            invoice_id=invoice_id,
            at=writes.now,
            actor=actor,
            action=action,
            changes={k: list(v) for k, v in changes.items()},
            note=note,
        )
    )
