"""An invoice enters its campaign: by itself when it falls overdue (in the transaction that makes it
overdue: `entry_stage`), or started by a person; and a person pauses, resumes or stops a run."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cashline.dal.collection_writes import CollectionWrites
from cashline.dal.transactions import Stage
from cashline.domain import dunning as runs
from cashline.domain.access import Tenant
from cashline.domain.counterparties import Counterparty
from cashline.domain.dunning import Campaign, Collection, CollectionStatus, PauseReason
from cashline.domain.invoices import Invoice
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.observability import MetricUnit, metrics
from cashline.services import campaigns
from cashline.services.collections.context import CHASEABLE, audit, dunning, invoice_of, parties
from cashline.services.collections.debtors import debtor_timezone
from cashline.services.collections.progress import leave_step
from cashline.services.tenancy import tenants

RUNNING = frozenset({CollectionStatus.ACTIVE, CollectionStatus.PAUSED})


def new_run(
    tenant: Tenant, invoice: Invoice, counterparty: Counterparty, campaign: Campaign, now: datetime
) -> Collection:
    """The run an invoice starts in `campaign` now, in its debtor's time zone."""
    return runs.start(
        tenant_id=tenant.tenant_id,
        invoice_id=invoice.invoice_id,
        counterparty_id=invoice.counterparty_id,
        campaign=campaign,
        due_date=invoice.due_date,
        outstanding=invoice.amount_outstanding,
        amount_paid=invoice.amount_paid,
        currency=invoice.currency,
        timezone=debtor_timezone(counterparty, tenant),
        now=now,
    )


def prepare_entry(
    tenant: Tenant,
    invoice: Invoice,
    now: datetime,
    campaign_id: str | None = None,
    *,
    counterparty: Counterparty | None = None,
) -> Collection | None:
    """The run an invoice would start now, or None (no campaign applies, or one exists already).

    `counterparty`: the invoice's, when the caller holds it (a new invoice's counterparty may be
    created in the same transaction, so it cannot be read yet)."""
    if invoice.direction.value != "receivable" or invoice.status not in CHASEABLE:
        return None
    if dunning.collection(tenant.tenant_id, invoice.invoice_id) is not None:
        return None
    if counterparty is None:
        counterparty = parties.get_profile(tenant.tenant_id, invoice.counterparty_id)
    campaign = campaigns.campaign_for(tenant.tenant_id, counterparty, campaign_id)
    if campaign is None:
        return None
    return new_run(tenant, invoice, counterparty, campaign, now)


def stage_entry(writes: CollectionWrites, collection: Collection, actor: str) -> None:
    """Add a new run to `writes`, with its figures, audit event and timeline line."""
    writes.collection = (None, collection)
    writes.add_stat(
        collection.campaign_id,
        f"TOTAL#{collection.currency}",
        tally=1,
        entered_amount=collection.outstanding_at_entry,
    )
    writes.add_stat(
        collection.campaign_id,
        f"STEP#{collection.next_step:02d}#{collection.currency}",
        tally=1,
        amount=collection.outstanding_at_entry,
    )
    audit(writes, collection.invoice_id, actor, "collection_started", f"campaign {collection.campaign_id}")
    writes.note(
        collection.counterparty_id,
        collection.invoice_id,
        "collection_started",
        f"entered campaign {collection.campaign_id}",
        campaign_id=collection.campaign_id,
    )


def entry_stage(entry: Collection | None, actor: str, now: datetime) -> Stage | None:
    """The entry as a stage of the caller's unit of work (the invoice's change that makes it
    overdue), or None when there is nothing to enter (prepare_entry found no campaign)."""
    if entry is None:
        return None
    writes = CollectionWrites(entry.tenant_id, now)
    stage_entry(writes, entry, actor)
    return dunning.stage(writes)


def collection_of(tenant_id: str, invoice_id: str) -> Collection:
    """An invoice's run; NotFoundError for another tenant's invoice or one in no campaign."""
    invoice_of(tenant_id, invoice_id)  # 404 for another tenant's invoice
    run = dunning.collection(tenant_id, invoice_id)
    if run is None:
        raise NotFoundError("this invoice is in no collection campaign", field="invoice_id")
    return run


def act(
    tenant_id: str,
    invoice_id: str,
    action: str,
    *,
    campaign_id: str | None,
    actor: str,
    note: str | None,
    now: datetime,
) -> Collection:
    """start | pause | resume | stop, by a person."""
    invoice = invoice_of(tenant_id, invoice_id)
    tenant = tenants.get(tenant_id)
    current = dunning.collection(tenant_id, invoice_id)
    writes = CollectionWrites(tenant_id, now)
    if action == "start":
        after = _start_by_hand(tenant, invoice, current, campaign_id, actor, writes, now)
    elif current is None:
        raise NotFoundError("this invoice is in no collection campaign", field="invoice_id")
    else:
        after = _change_by_hand(current, invoice, action, actor, note, writes, now)
        writes.collection = (current, after)
    dunning.commit(writes)
    metrics.add_metric(name=f"Collection_{action}", unit=MetricUnit.Count, value=1)
    return dunning.collection(tenant_id, invoice_id) or after


def _start_by_hand(
    tenant: Tenant,
    invoice: Invoice,
    current: Collection | None,
    campaign_id: str | None,
    actor: str,
    writes: CollectionWrites,
    now: datetime,
) -> Collection:
    if current is not None and current.status in RUNNING:
        raise ConflictError("the invoice is in a campaign already; stop it first", field="action")
    if invoice.status not in CHASEABLE or invoice.direction.value != "receivable":
        raise ConflictError(
            f"a {invoice.status.value} {invoice.direction.value} invoice is not chased", field="action"
        )
    counterparty = parties.get_profile(tenant.tenant_id, invoice.counterparty_id)
    campaign = campaigns.campaign_for(tenant.tenant_id, counterparty, campaign_id)
    if campaign is None:
        raise UnprocessableError("no campaign applies: name one with campaign_id", field="campaign_id")
    return restart(writes, new_run(tenant, invoice, counterparty, campaign, now), current, actor)


def restart(
    writes: CollectionWrites, started: Collection, finished: Collection | None, actor: str
) -> Collection:
    """Stage a new run, over the invoice's finished one when it has one (written on its version)."""
    if finished is not None:
        started = replace(started, version=finished.version)
    stage_entry(writes, started, actor)
    if finished is not None:
        writes.collection = (finished, started)
    return started


def _change_by_hand(
    current: Collection,
    invoice: Invoice,
    action: str,
    actor: str,
    note: str | None,
    writes: CollectionWrites,
    now: datetime,
) -> Collection:
    status = current.status
    if action == "pause":
        if status is not CollectionStatus.ACTIVE:
            raise ConflictError(f"a {status.value} run cannot be paused", field="action")
        after = runs.paused(current, PauseReason.MANUAL, None, now)
    elif action == "resume":
        if status is not CollectionStatus.PAUSED:
            raise ConflictError(f"a {status.value} run cannot be resumed", field="action")
        after = runs.resumed(current, invoice.due_date, now)
    else:
        if status in {CollectionStatus.STOPPED, CollectionStatus.COMPLETED}:
            raise ConflictError(f"the run is {status.value} already", field="action")
        after = runs.stopped(current, CollectionStatus.STOPPED, now)
        leave_step(writes, current)
    audit(
        writes,
        invoice.invoice_id,
        actor,
        f"collection_{action}",
        note or action,
        status=[status.value, after.status.value],
    )
    writes.note(
        current.counterparty_id,
        invoice.invoice_id,
        f"collection_{action}",
        note or f"collection {action}d by a person",
    )
    return after
