"""What else happens once a change has committed: the one place where a change to one entity moves
another. Read this module to learn every consequence of "an invoice was paid".

| committed change                                         | reaction                                   |
|----------------------------------------------------------|--------------------------------------------|
| an invoice's paid amount changed (payment, reversal)     | its reminders end (paid) or pause (part)   |
| an invoice entered or left a dispute, was voided or written off | its reminders pause, resume or stop |
| a payment made an invoice paid                           | its counterparty's risk: how late it paid  |
| an invoice became disputed                               | its counterparty's risk: one more dispute  |
| a run found a debtor's promise to pay broken             | its counterparty's risk: a broken promise  |

Each reaction runs after the change it reacts to has committed, never inside its transaction, and is
best effort: the change stands whatever a reaction does. A reminder run that is not brought in step
here is brought in step by the collection sweep at the run's next moment; a lost risk update costs
one data point of an analytic, never money. Every caller passes the committed before/after pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from cashline.domain.invoices import Invoice, InvoiceStatus
from cashline.services import risk
from cashline.services.collections.sync import sync_with_invoice

# Statuses that stop a run's reminders for good, or pause them while they last.
_ENDS_REMINDERS = frozenset({InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF})


def moves_reminders(before: Invoice, after: Invoice) -> bool:
    """Whether the change must bring the invoice's reminder run in step now rather than at the
    sweep's next look: a payment or its reversal, a dispute or its end, a void or a write-off."""
    return (
        after.amount_paid != before.amount_paid
        or InvoiceStatus.DISPUTED in {before.status, after.status}
        or (after.status in _ENDS_REMINDERS and after.status is not before.status)
    )


def _paid_by_this_change(before: Invoice, after: Invoice) -> bool:
    # Money made it paid; a dispute resolved over an invoice already paid in full is not a payment.
    return (
        after.status is InvoiceStatus.PAID
        and before.status is not InvoiceStatus.PAID
        and after.amount_paid != before.amount_paid
    )


def invoices_changed(
    tenant_id: str,
    changes: Iterable[tuple[Invoice, Invoice]],
    *,
    now: datetime,
    paid_on: date,
) -> None:
    """React to committed (before, after) invoice pairs. `paid_on`: the day an invoice that became
    paid counts as paid (the money's value date, not the day it was recorded: a transfer booked days
    later must not make the customer look late)."""
    pairs = list(changes)
    for invoice_id in sorted({after.invoice_id for before, after in pairs if moves_reminders(before, after)}):
        synced = sync_with_invoice(tenant_id, invoice_id, now=now)
        promises_broken(tenant_id, synced.broken_promises, now=now)
    for before, after in pairs:
        if _paid_by_this_change(before, after):
            risk.record_paid(tenant_id, after, paid_on, now)
        if after.status is InvoiceStatus.DISPUTED and before.status is not InvoiceStatus.DISPUTED:
            risk.record_event(tenant_id, after.counterparty_id, "dispute", now)


def promises_broken(tenant_id: str, counterparty_ids: Iterable[str], *, now: datetime) -> None:
    """React to promises to pay that a committed change of a reminder run found broken (the step
    sweep, or a run brought in step above): each counterparty's risk notes one broken promise."""
    for counterparty_id in counterparty_ids:
        risk.record_event(tenant_id, counterparty_id, "broken_promise", now)
