"""Keeping a run in step with its invoice: paid -> completed, a part payment -> paused for a while,
disputed -> paused, the dispute over or the pause ended -> on, promises judged.

Called after a payment, its reversal, a dispute or its resolution by services/reactions.py (which
imports this module, so this one imports no reaction: it returns what happened, e.g. the broken
promises whose risk event reactions.py records), and by the step sweep at each run's moment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cashline.dal.collection_writes import CollectionWrites
from cashline.domain import dunning as runs
from cashline.domain.collection_messages import Promise
from cashline.domain.dunning import Collection, CollectionStatus, PauseReason
from cashline.domain.invoices import Invoice, InvoiceStatus
from cashline.errors import ConflictError
from cashline.observability import logger
from cashline.services import campaigns
from cashline.services.collections.context import SETTLED, SYSTEM, audit, dunning, invoices, parties
from cashline.services.collections.entry import RUNNING, new_run, restart
from cashline.services.collections.progress import leave_step
from cashline.services.collections.promises import settle_promises
from cashline.services.tenancy import tenants


@dataclass(frozen=True, slots=True)
class Synced:
    """The run after it was brought in step, and the counterparties whose promise it found broken."""

    collection: Collection | None
    broken_promises: tuple[str, ...] = ()


def observe(
    collection: Collection, invoice: Invoice, promises: list[Promise], writes: CollectionWrites, now: datetime
) -> Collection:
    """What the invoice's state means for the run: paid -> completed, a new part payment -> paused for
    a while (the money counts as recovered), disputed -> paused, dispute resolved or pause over -> on."""
    after = collection
    if invoice.amount_paid > collection.last_paid:
        recovered = invoice.amount_paid - collection.last_paid
        writes.add_stat(collection.campaign_id, f"TOTAL#{collection.currency}", recovered=recovered)
        after = replace(after, last_paid=invoice.amount_paid)
        if invoice.status is not InvoiceStatus.PAID and after.status is CollectionStatus.ACTIVE:
            after = runs.paused(after, PauseReason.PARTIAL_PAYMENT, now + runs.PARTIAL_PAYMENT_PAUSE, now)
            writes.note(
                collection.counterparty_id,
                invoice.invoice_id,
                "collection_paused",
                f"part payment of {recovered}: reminders paused",
            )
    if invoice.status in SETTLED:
        return _completed(after, invoice, writes, now)
    broken = settle_promises(after, invoice, promises, writes, now)
    if invoice.status is InvoiceStatus.DISPUTED and after.status is CollectionStatus.ACTIVE:
        return runs.paused(after, PauseReason.DISPUTE, None, now)
    if after.status is CollectionStatus.PAUSED and after.pause_reason is not PauseReason.MANUAL:
        dispute_over = (
            after.pause_reason is PauseReason.DISPUTE and invoice.status is not InvoiceStatus.DISPUTED
        )
        pause_over = after.paused_until is not None and after.paused_until <= now
        if broken or dispute_over or pause_over:
            writes.note(
                collection.counterparty_id,
                invoice.invoice_id,
                "collection_resumed",
                "promise broken: reminders resume" if broken else "reminders resume",
            )
            return runs.resumed(after, invoice.due_date, now)
    return after


def _completed(c: Collection, invoice: Invoice, writes: CollectionWrites, now: datetime) -> Collection:
    if c.status in {CollectionStatus.COMPLETED, CollectionStatus.STOPPED}:
        return c
    leave_step(writes, c)
    if invoice.status is InvoiceStatus.PAID:
        last = c.steps_done[-1] if c.steps_done else None
        if last is not None:
            sent = datetime.fromisoformat(c.step_sent_at.get(str(last), now.isoformat()))
            writes.add_stat(
                c.campaign_id, f"PAID#{last:02d}#{c.currency}", tally=1, days=max(0, (now - sent).days)
            )
        writes.add_stat(c.campaign_id, "PAIDRUNS", tally=1)
    audit(writes, invoice.invoice_id, SYSTEM, "collection_completed", f"invoice {invoice.status.value}")
    writes.note(
        c.counterparty_id,
        invoice.invoice_id,
        "collection_completed",
        f"invoice {invoice.status.value}: reminders stop",
    )
    return runs.stopped(c, CollectionStatus.COMPLETED, now)


def sync_with_invoice(tenant_id: str, invoice_id: str, *, now: datetime) -> Synced:
    """After a payment, its reversal, a dispute or its resolution: bring the run in step at once (the
    sweep would at the run's next moment). An overdue invoice with no run (a chargeback reopened a
    paid one) enters its campaign; one whose run completed when it was paid starts a new run. Best
    effort; a conflict means someone else just did it."""
    items = dunning.run_items(tenant_id, invoice_id)
    before = items.collection
    if before is None or before.status is CollectionStatus.COMPLETED:
        return Synced(_reenter(tenant_id, invoice_id, before, now))
    if before.status not in RUNNING:
        return Synced(before)
    invoice = invoices.get_header(tenant_id, invoice_id)
    writes = CollectionWrites(tenant_id, now)
    after = observe(before, invoice, items.promises, writes, now)
    if after == before and not writes.promises:
        return Synced(before)
    writes.collection = (before, after)
    try:
        dunning.commit(writes)
    except ConflictError:
        logger.info("collection changed meanwhile; the sweep brings it in step", invoice_id=invoice_id)
        return Synced(before)
    return Synced(after, broken_promises(writes))


def broken_promises(writes: CollectionWrites) -> tuple[str, ...]:
    """The counterparties whose promise a committed change found broken."""
    return tuple(counterparty_id for counterparty_id, kind in writes.risk_events if kind == "broken_promise")


def _reenter(
    tenant_id: str, invoice_id: str, finished: Collection | None, now: datetime
) -> Collection | None:
    """An overdue invoice that is in no running campaign (never was, or its run completed when it
    was paid and a reversal reopened it) enters one now; otherwise nothing changes."""
    invoice = invoices.get_header(tenant_id, invoice_id)
    if invoice.status is not InvoiceStatus.OVERDUE or invoice.direction.value != "receivable":
        return finished
    tenant = tenants.get(tenant_id)
    counterparty = parties.get_profile(tenant_id, invoice.counterparty_id)
    campaign = campaigns.campaign_for(tenant_id, counterparty)
    if campaign is None:
        return finished
    writes = CollectionWrites(tenant_id, now)
    started = restart(writes, new_run(tenant, invoice, counterparty, campaign, now), finished, SYSTEM)
    try:
        dunning.commit(writes)
    except ConflictError:
        logger.info("collection changed meanwhile; left as it is", invoice_id=invoice_id)
        return finished
    return started
