"""A campaign's `retry_payment` step: the invoice's saved payment method is charged again
(services/billing/charging.py `retry_now`, with its own exactly-once claim), and the step's outcome
is written with the run (audit event, timeline line, figure). No message goes out.

The money arrives by the processor's webhook like any payment: an invoice it settles completes the
run there (services/collections/sync.py), as any payment does.
"""

from __future__ import annotations

from datetime import datetime

from cashline.dal.collection_writes import CollectionWrites
from cashline.domain.dunning import Channel, Collection
from cashline.domain.invoices import Invoice
from cashline.observability import MetricUnit, metrics
from cashline.services.billing import charging
from cashline.services.collections.context import SYSTEM, CollectionRuntime, audit


def retry_payment(
    c: Collection,
    invoice: Invoice,
    index: int,
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
) -> bool:
    """Charge the invoice again now; whether the processor took the money (or is taking it)."""
    if runtime.charges is None:
        outcome = charging.ChargeOutcome("skipped", None, "charging is not set up for this function")
    else:
        outcome = charging.retry_now(c.tenant_id, c.invoice_id, now=now, runtime=runtime.charges)
    channel = Channel.RETRY_PAYMENT.value
    what = f"step {index + 1}: {channel} {outcome.status}"
    note = f"{what}{': ' + outcome.reason if outcome.reason else ''}"
    audit(writes, invoice.invoice_id, SYSTEM, f"payment_retry_{outcome.status}", note)
    writes.note(
        c.counterparty_id,
        invoice.invoice_id,
        f"payment_retry_{outcome.status}",
        what,
        channel=channel,
        attempt=outcome.attempt,
        problem=outcome.reason,
    )
    writes.add_stat(c.campaign_id, f"MSG#{channel}#{outcome.status}", tally=1)
    metrics.add_metric(name=f"PaymentRetry_{outcome.status}", unit=MetricUnit.Count, value=1)
    return outcome.status in {"succeeded", "pending"}
