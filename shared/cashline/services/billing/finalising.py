"""Finalising: a draft invoice becomes a numbered, open invoice, by a person
(`POST /v1/invoices/{id}/finalize`) or by the `invoice_finalise` sweep once the tenant's review hours
(billing settings `auto_finalise_hours`) have passed.

Numbers are gap-free and never reused (GoBD, EU VAT): a draft whose number starts with `DRAFT-`
(the issuing engine's placeholder `DRAFT-<its id>`, which has no claim, or one a person gave)
takes the next number of the tenant's sequence (dal/invoice_numbers.py) in the SAME transaction as
the header that carries it, the number's claim, the totals it now contributes, the end of its
finalise work item (an update: it stays off the due index), its delivery work item and, for a
subscription that charges automatically, its first charge attempt. Of two finalisations racing for
one number exactly one commits; the other reads the sequence again and retries. A draft with a
number of its own (created through `POST /v1/invoices` with `status: draft`) keeps it. A voided
invoice keeps its number: nothing ever gives a number back.

A sequence number is also claimed tenant-wide (dal/invoice_numbers.py `stage_number_claim`), in the
same transaction: the per-counterparty `INVNO` claim alone let a number made by hand for customer X
repeat the sequence's number for customer Y, and a pattern change between a yearly and an all-time
scope restarts a count (`R{seq}` then `R{YY}{seq:02}` both make `R2701`). When the number the
sequence stands at is already held (by such an invoice, or one made by hand), the sequence does NOT
skip it (it would leave a gap): the finalisation is refused, 409 on `number`, naming the holder and
telling the tenant to change the number pattern, and nothing is consumed.

The number's year (and month) is the invoice's issue date's, which finalising does not move (a
subscription invoice is dated its period's start, whenever the tenant's review ends).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from cashline.dal.billing_invoices import DELIVERY_JOB as DELIVERY_JOB
from cashline.dal.billing_invoices import FINALISE_JOB as FINALISE_JOB
from cashline.dal.billing_invoices import (
    clear_job,
    job_of,
    stage_delivery_due,
    stage_job_done,
    stage_renumbered,
)
from cashline.dal.billing_invoices import stage_finalise_due as stage_finalise_due
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.invoice_numbers import (
    current_next,
    number_claimed_by,
    receivable_numbered,
    stage_next_number,
    stage_number_claim,
)
from cashline.dal.invoice_repository import InvoiceRepository, has_placeholder_number
from cashline.dal.transactions import UnitOfWork
from cashline.domain.access import Tenant, today_for
from cashline.domain.billing.numbering import format_number, sequence_scope
from cashline.domain.billing.subscriptions import CollectionMethod, PaymentMethod, Subscription
from cashline.domain.invoices import (
    DocumentKind,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    InvoiceView,
    UniqueClaim,
    overdue_instant_of,
    settled_status,
)
from cashline.errors import ConflictError, NotFoundError
from cashline.ids import is_id_of, new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services import reactions
from cashline.services.billing.charging import stage_first_charge
from cashline.services.billing.settings import get_billing_settings
from cashline.services.collections import entry as collection_entry
from cashline.services.invoices import get_invoice
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

FINALISE_SCHEDULE = "invoice_finalise"
DRAFT_NUMBER_PREFIX = "DRAFT-"
# Each retry follows a finalisation that took the number first; 20 concurrent finalisations of one
# tenant's drafts in the same instant is far beyond what a tenant's review or the sweep produces.
MAX_ATTEMPTS = 20

invoices = InvoiceRepository()
subscriptions = SubscriptionRepository()


@dataclass(frozen=True, slots=True)
class KnownReads:
    """What a caller that just issued the draft has read already (the issuing engine): the tenant,
    its number pattern and the subscription as written, so finalising at once reads them no more."""

    tenant: Tenant
    number_pattern: str
    subscription: Subscription | None = None


@dataclass(frozen=True, slots=True)
class NumberToTake:
    """The next number of a tenant's sequence, as read: taken only by a transaction that stages
    `stage_number_taken` (conditioned on the sequence still standing at `sequence`)."""

    scope: str
    sequence: int
    number: str


def next_number_to_take(tenant_id: str, pattern: str, issued_on: date) -> NumberToTake:
    """The number an invoice issued on `issued_on` takes if its transaction commits first."""
    scope = sequence_scope(pattern, issued_on)
    sequence = current_next(tenant_id, scope)
    text = format_number(pattern, year=issued_on.year, seq=sequence, month=issued_on.month)
    return NumberToTake(scope=scope, sequence=sequence, number=text)


def stage_number_taken(write: Any, tenant_id: str, taken: NumberToTake, now: datetime) -> None:
    stage_next_number(write, tenant_id, taken.scope, taken.sequence, now=now)


def sequence_moved(tenant_id: str, taken: NumberToTake) -> bool:
    """Whether someone took the number since it was read (the reason a transaction failed)."""
    return current_next(tenant_id, taken.scope) != taken.sequence


def takes_sequence_number(invoice: Invoice) -> bool:
    """A draft numbered with the engine's placeholder (`DRAFT-<its id>`) or by a person with a
    `DRAFT-` number takes a sequence number; one numbered otherwise keeps its number."""
    return invoice.number.startswith(DRAFT_NUMBER_PREFIX)


# --- finalising one draft ----------------------------------------------------------------------


def finalise_invoice(
    tenant_id: str,
    invoice_id: str,
    *,
    now: datetime,
    actor: str = "system:finalise",
    known: KnownReads | None = None,
) -> Invoice:
    """Finalise a draft now: numbered, then open (overdue when its due date has passed; paid or
    partially paid when applied credit covers it). ConflictError field "status" when it is not a
    draft; NotFoundError for an unknown or another tenant's invoice. Finalised concurrently by
    someone else, it is finalised once and returned as they left it."""
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    before = invoices.get_header(tenant_id, invoice_id)
    if before.status is not InvoiceStatus.DRAFT:
        raise ConflictError(
            f"only a draft can be finalised; this invoice is {before.status.value}", field="status"
        )
    tenant = known.tenant if known is not None else tenants.get(tenant_id)
    finalised = _finalise(tenant, before, now=now, actor=actor, known=known)
    if finalised is None:  # someone else's finalisation won; theirs is the one
        return invoices.get_header(tenant_id, invoice_id)
    return finalised


def finalise_invoice_view(tenant_id: str, invoice_id: str, *, now: datetime, actor: str) -> InvoiceView:
    """`POST /v1/invoices/{id}/finalize`: finalise the draft now and answer it as `GET` would."""
    finalise_invoice(tenant_id, invoice_id, now=now, actor=actor)
    return get_invoice(tenant_id, invoice_id, now=now)


def _finalise(
    tenant: Tenant, before: Invoice, *, now: datetime, actor: str, known: KnownReads | None = None
) -> Invoice | None:
    """Write the finalisation, retried while other finalisations take the numbers first; None when
    the invoice stopped being a draft meanwhile (finalised or voided by someone else)."""
    pattern = (known.number_pattern if known else None) or get_billing_settings(
        tenant.tenant_id
    ).number_pattern
    method = _charged_method(before, known.subscription if known else None)
    for _ in range(MAX_ATTEMPTS):
        taken = (
            next_number_to_take(tenant.tenant_id, pattern, before.issue_date)
            if takes_sequence_number(before)
            else None
        )
        if taken is not None and (holder := _held_by(tenant.tenant_id, taken, before.invoice_id)):
            raise _number_held(taken.number, holder)
        after = _finalised(before, taken, today_for(tenant, now), now)
        try:
            _work(tenant, before, after, taken, method, now, actor).commit()
        except ConflictError:
            current = invoices.get_header(tenant.tenant_id, before.invoice_id)
            if current.status is not InvoiceStatus.DRAFT:
                return None
            if current.version == before.version and not (taken and sequence_moved(tenant.tenant_id, taken)):
                raise _why_refused(after, taken) from None
            before = current
            continue
        _committed(tenant, before, after, now)
        return replace(after, version=before.version + 1)
    raise ConflictError("too many invoices were finalised at the same time; retry", field="number")


def _finalised(before: Invoice, taken: NumberToTake | None, today: date, now: datetime) -> Invoice:
    return replace(
        before,
        number=taken.number if taken else before.number,
        status=settled_status(before.amount_due, before.amount_paid, before.due_date, today),
        updated_at=now,
    )


def _work(
    tenant: Tenant,
    before: Invoice,
    after: Invoice,
    taken: NumberToTake | None,
    method: PaymentMethod | None,
    now: datetime,
    actor: str,
) -> UnitOfWork:
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=after.invoice_id,
        at=now,
        actor=actor,
        action="finalised",
        changes={
            "status": [before.status.value, after.status.value],
            "number": [before.number, after.number],
        },
    )
    overdue_instant = overdue_instant_of(tenant, after)
    work = UnitOfWork("invoice was changed or its number taken meanwhile")
    work.add(
        lambda write: invoices.stage_change(write, before, after, event, overdue_instant=overdue_instant)
    )
    if taken is not None:
        work.add(lambda write: stage_number_taken(write, tenant.tenant_id, taken, now))
        work.add(
            lambda write: stage_number_claim(write, tenant.tenant_id, taken.number, after.invoice_id, now=now)
        )
        work.add(lambda write: stage_renumbered(write, before, after))
    if has_placeholder_number(before):
        # The engine's drafts (and only they) carry a finalise work item, written with the draft
        # (services/billing/drafts.py store_draft).
        work.add(lambda write: stage_job_done(write, after.tenant_id, after.invoice_id, FINALISE_JOB, now))
    if after.source == "subscription":
        work.add(lambda write: stage_delivery_due(write, after, now))
    if method is not None and after.amount_outstanding > 0:
        work.add(lambda write: stage_first_charge(write, after, method, now))
    # Finalised after its due date: overdue at once, so it enters its campaign with it.
    if after.status is InvoiceStatus.OVERDUE:
        entry = collection_entry.prepare_entry(tenant, after, now)
        work.add(collection_entry.entry_stage(entry, "system:collections", now))
    return work


def _charged_method(invoice: Invoice, read: Subscription | None = None) -> PaymentMethod | None:
    """The saved payment method a subscription invoice is charged to at finalisation (None: its
    subscription sends invoices, or it is no subscription invoice). `read`: the subscription as the
    caller just wrote it (its payment method and collection method), saving the read."""
    subscription_id = invoice.metadata.get("subscription_id")
    if not subscription_id or invoice.document_kind is not DocumentKind.INVOICE:
        return None
    subscription = (
        read
        if read is not None and read.subscription_id == subscription_id
        else subscriptions.get(invoice.tenant_id, subscription_id)
    )
    method = subscription.payment_method
    if subscription.collection_method is not CollectionMethod.CHARGE_AUTOMATICALLY or method is None:
        return None
    return method


def _held_by(tenant_id: str, taken: NumberToTake, invoice_id: str) -> str | None:
    """The receivable invoice other than `invoice_id` (made by hand, for any counterparty) that already
    carries the number about to be taken, while the sequence still stands at it: the sequence would
    repeat it. None when the number is free, or when the sequence moved since it was read (another
    finalisation took the number: the write fails on the sequence and is retried with the next)."""
    holder = receivable_numbered(tenant_id, taken.number, other_than=invoice_id)
    if holder is None or sequence_moved(tenant_id, taken):
        return None
    return holder


def _number_held(number: str, holder: str) -> ConflictError:
    logger.warning("sequence number already held; finalisation refused", number=number, holder=holder)
    return ConflictError(
        f"number {number} is already held by invoice {holder}; numbers are gap-free, so the sequence "
        "does not skip it: change the number pattern (PUT /v1/billing-settings, number_pattern) to "
        "one that makes numbers no invoice holds, then finalise again",
        field="number",
        details={"existing_id": holder},
    )


def _why_refused(after: Invoice, taken: NumberToTake | None) -> ConflictError:
    """Neither the invoice nor the sequence moved: the number's tenant-wide claim is held (by an
    invoice or credit note of another scope of the sequence), its per-counterparty claim is held (by
    an invoice of the counterparty created by hand with that number), or another part of the write
    was refused."""
    if taken is None:
        return ConflictError("the invoice could not be finalised; read it again", field="status")
    holder = number_claimed_by(after.tenant_id, after.number)
    if holder is not None and holder != after.invoice_id:
        return _number_held(after.number, holder)
    claim = UniqueClaim("INVNO", f"{after.counterparty_id}#{after.number}", "number")
    return invoices.which_claim(after.tenant_id, [claim])


def _committed(tenant: Tenant, before: Invoice, after: Invoice, now: datetime) -> None:
    metrics.add_metric(name="InvoiceFinalised", unit=MetricUnit.Count, value=1)
    logger.info(
        "invoice finalised",
        tenant_id=after.tenant_id,
        invoice_id=after.invoice_id,
        number=after.number,
        status=after.status.value,
    )
    reactions.invoices_changed(tenant.tenant_id, [(before, after)], now=now, paid_on=today_for(tenant, now))


# --- the sweep ---------------------------------------------------------------------------------


def run_invoice_finalise(*, tick_at: datetime, worker: str) -> SweepResult:
    """Every draft whose review time has passed at `tick_at` is finalised (as of `tick_at`). A draft
    voided or finalised by hand meanwhile only loses its work item."""

    def finalise_due(item: object) -> bool:
        job = job_of(item)
        if job is None or job.job != FINALISE_JOB:
            return False
        try:
            before = invoices.get_header(job.tenant_id, job.invoice_id)
        except NotFoundError:
            before = None
        if before is None or before.status is not InvoiceStatus.DRAFT:
            clear_job(job, tick_at)
            return False
        finalised = _finalise(tenants.get(job.tenant_id), before, now=tick_at, actor="system:auto-finalise")
        return finalised is not None

    return sweep(
        schedule=FINALISE_SCHEDULE, job=FINALISE_JOB, tick_at=tick_at, worker=worker, handle=finalise_due
    )
