"""What the billing engine keeps beside an invoice: the work still to do on it (finalise a draft,
deliver a finalised invoice) and the index of a subscription's invoices.

Work items: `T#<t>#INV#<inv>` / `JOB#<job>`, one per job, each on the sparse `due` index at its
moment (`DUE#<job>#<shard>`, dal/due.py). They are items of their own rather than the invoice header's
`due` attributes because the header's slot belongs to the overdue check (an open invoice waits for
its overdue moment and for its delivery at the same time) and because the draft's finalise moment is
written in the transaction that creates the header (a transaction may touch an item only once).
`JOB#` sorts after the invoice's header, body, documents and audit trail (`INV...`), so no read of
the invoice reads them. A job item is versioned: a sweep `lease`s it (dal/due.py) and takes it off
the index once done; the item stays as the mark of work done (scheduled functions never delete).

Subscription index: `T#<t>#SUB#<sub>#INV` / `<issue date>#<inv>`, written with each invoice or
credit note of the subscription, so its invoices are one Query, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute, VersionAttribute
from pynamodb.expressions.update import Action

from cashline.dal.due import due_keys, lease
from cashline.dal.errors import storage_errors
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.invoice_repository import has_placeholder_number, number_lookup_record
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import UNIQUE_SK, UniqueRecord, unique_pk
from cashline.dal.party_repository import unique_record
from cashline.dal.table import CashlineItem
from cashline.domain.invoices import Invoice

FINALISE_JOB = "invoice_finalise"
DELIVERY_JOB = "invoice_delivery"
JOB_SK_PREFIX = "JOB#"


class InvoiceJobRecord(CashlineItem, discriminator="invoice_job"):
    """Work still to do on one invoice: on the `due` index while it is to do, off it once done."""

    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    job = UnicodeAttribute()


class SubscriptionInvoiceRecord(CashlineItem, discriminator="subscription_invoice_ref"):
    """One invoice (or credit note) of a subscription: never changed."""

    tenant_id = UnicodeAttribute()
    subscription_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    issue_date = UnicodeAttribute()


@dataclass(frozen=True, slots=True)
class InvoiceJob:
    """A due work item as a sweep read it (`version`: what a lease or a clear is conditioned on)."""

    tenant_id: str
    invoice_id: str
    job: str
    version: int


def _job_record(tenant_id: str, invoice_id: str, job: str, at: datetime) -> InvoiceJobRecord:
    record = InvoiceJobRecord(
        pk=invoice_pk(tenant_id, invoice_id),
        sk=f"{JOB_SK_PREFIX}{job}",
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        job=job,
        created_at=at,
        updated_at=at,
    )
    record.due_pk, record.due_sk = due_keys(job, at, tenant_id, invoice_id)
    return record


def stage_finalise_due(write: Any, invoice: Invoice, at: datetime) -> None:
    """The draft is finalised by the `invoice_finalise` sweep at `at` (issue + auto_finalise_hours),
    unless it is finalised before (finalising takes this item off the index in its transaction)."""
    write.save(_job_record(invoice.tenant_id, invoice.invoice_id, FINALISE_JOB, at))


def stage_delivery_due(write: Any, invoice: Invoice, at: datetime) -> None:
    """The finalised invoice is delivered by the `invoice_delivery` sweep (F) from `at`."""
    write.save(_job_record(invoice.tenant_id, invoice.invoice_id, DELIVERY_JOB, at))


def _done(now: datetime) -> list[Action]:
    """A work item done: off the `due` index. The item stays, without due keys, as the mark that the
    work was done; an update rather than a delete keeps the scheduled functions to reads and writes
    (tests/integration/test_package.py: only the API deletes)."""
    return [
        InvoiceJobRecord.due_pk.remove(),
        InvoiceJobRecord.due_sk.remove(),
        InvoiceJobRecord.updated_at.set(now),
    ]


def stage_job_done(write: Any, tenant_id: str, invoice_id: str, job: str, now: datetime) -> None:
    """Take the invoice's `job` item off the `due` index in the caller's transaction, whatever its
    version (a sweep's lease may have moved it on): what makes the work happen once is the change
    written in the same transaction (the draft's version), not this item. Only for an invoice that
    has the item (conditional on it existing: an update would otherwise create a stray one)."""
    record = InvoiceJobRecord(pk=invoice_pk(tenant_id, invoice_id), sk=f"{JOB_SK_PREFIX}{job}")
    record.version = 0  # any number: PynamoDB then adds one to the stored version, unconditioned
    write.update(
        record,
        actions=_done(now),
        condition=InvoiceJobRecord.pk.exists(),
        add_version_condition=False,
    )


def stage_leased_job_done(write: Any, job: InvoiceJob, now: datetime) -> None:
    """Take a leased work item off the `due` index on the version the lease left (a versioned update:
    if another sweep took the item again meanwhile, the caller's transaction fails: ConflictError)."""
    record = InvoiceJobRecord(pk=invoice_pk(job.tenant_id, job.invoice_id), sk=f"{JOB_SK_PREFIX}{job.job}")
    record.version = job.version
    write.update(record, actions=_done(now))


def job_of(item: object) -> InvoiceJob | None:
    """The work item a sweep read from the `due` index, or None for an item of another kind."""
    if not isinstance(item, InvoiceJobRecord):
        return None
    return InvoiceJob(
        tenant_id=item.tenant_id, invoice_id=item.invoice_id, job=item.job, version=int(item.version or 0)
    )


def lease_job(item: object, *, until: datetime, now: datetime) -> bool:
    """Take a work item read from the `due` index for one worker until `until` (dal/due.py `lease`):
    False when another worker took it or it changed since it was read."""
    if not isinstance(item, InvoiceJobRecord):
        return False
    return lease(
        item, job=item.job, tenant_id=item.tenant_id, entity_id=item.invoice_id, until=until, now=now
    )


def clear_job(job: InvoiceJob, now: datetime) -> None:
    """Take a work item read from the `due` index off it (nothing left to do), if it is still at the
    version read (ConflictError when it changed: someone else took it again)."""
    record = InvoiceJobRecord(pk=invoice_pk(job.tenant_id, job.invoice_id), sk=f"{JOB_SK_PREFIX}{job.job}")
    record.version = job.version
    with storage_errors("invoice work item changed meanwhile", job=job.job):
        record.update(actions=_done(now))


def stage_renumbered(write: Any, before: Invoice, after: Invoice) -> None:
    """Give a draft its final number: the number's claim (`INVNO` `<cp>#<number>`, conditional: a
    number another invoice of the counterparty holds fails the transaction) and the remittance
    lookup. The engine's placeholder (dal/invoice_repository.py `placeholder_number`) has neither,
    so finalising an engine draft writes only; a `DRAFT-...` number a person gave through the API
    gives its claim and lookup back, which only the API's finalisation meets (the scheduled
    functions finalise the engine's drafts alone: only they have a finalise work item)."""
    t, invoice_id = after.tenant_id, after.invoice_id
    if not has_placeholder_number(before):
        write.delete(
            UniqueRecord(pk=unique_pk(t, "INVNO", f"{before.counterparty_id}#{before.number}"), sk=UNIQUE_SK)
        )
        if (old_lookup := number_lookup_record(before)) is not None:
            write.delete(old_lookup)
    write.save(
        unique_record(t, "INVNO", f"{after.counterparty_id}#{after.number}", invoice_id, after.updated_at),
        condition=UniqueRecord.pk.does_not_exist(),
    )
    if (new_lookup := number_lookup_record(after)) is not None:
        write.save(new_lookup)


# --- a subscription's invoices ----------------------------------------------------------------


def _subscription_partition(tenant_id: str, subscription_id: str) -> str:
    return f"T#{tenant_id}#SUB#{subscription_id}#INV"


def stage_subscription_invoice_ref(
    write: Any, tenant_id: str, subscription_id: str, invoice: Invoice
) -> None:
    """List `invoice` among the subscription's invoices (written with the invoice)."""
    write.save(
        SubscriptionInvoiceRecord(
            pk=_subscription_partition(tenant_id, subscription_id),
            sk=f"{invoice.issue_date.isoformat()}#{invoice.invoice_id}",
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            invoice_id=invoice.invoice_id,
            issue_date=invoice.issue_date.isoformat(),
            created_at=invoice.created_at,
            updated_at=invoice.created_at,
        )
    )


def subscription_invoice_ids(
    tenant_id: str, subscription_id: str, *, limit: int, starting_after: str | None
) -> Page[str]:
    """The ids of a subscription's invoices and credit notes, newest issue date first: one Query."""
    partition = _subscription_partition(tenant_id, subscription_id)
    start = decode_cursor(starting_after, partition_attr="pk", partition_value=partition)
    results = SubscriptionInvoiceRecord.query(
        partition,
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        last_evaluated_key=start,
        consistent_read=True,
    )
    ids = [item.invoice_id for item in results if isinstance(item, SubscriptionInvoiceRecord)]
    return Page(items=ids, next_cursor=encode_cursor(results.last_evaluated_key))
