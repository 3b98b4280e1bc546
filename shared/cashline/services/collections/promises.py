"""A debtor's promise to pay: made (the run pauses until the day after), then judged once its day
has passed (kept when the money came; broken, the run resumes and the counterparty's risk notes it,
in services/reactions.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cashline.dal.collection_writes import CollectionWrites
from cashline.domain import dunning as runs
from cashline.domain.access import today_for
from cashline.domain.collection_messages import Promise
from cashline.domain.dunning import Collection, PauseReason
from cashline.domain.invoices import Invoice, InvoiceStatus
from cashline.errors import ConflictError, ValidationError
from cashline.ids import new_id
from cashline.services.collections.context import CHASEABLE, SETTLED, SYSTEM, audit, dunning, invoice_of
from cashline.services.collections.entry import RUNNING
from cashline.services.tenancy import tenants


def promise(
    tenant_id: str, invoice_id: str, *, on: date, amount: int, actor: str, note: str | None, now: datetime
) -> Promise:
    """The debtor promises to pay `amount` by `on`: the run pauses until the day after; kept, it goes on
    for what is left (or ends when paid); broken, it resumes at once."""
    invoice = invoice_of(tenant_id, invoice_id)
    tenant = tenants.get(tenant_id)
    if invoice.status not in CHASEABLE | {InvoiceStatus.DISPUTED}:
        raise ConflictError(f"a {invoice.status.value} invoice takes no promise", field="invoice_id")
    if on < today_for(tenant, now):
        raise ValidationError("a promise is for today or later", field="date")
    if amount > invoice.amount_outstanding:
        raise ValidationError(f"more than is owed ({invoice.amount_outstanding})", field="amount")
    made = Promise(
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        counterparty_id=invoice.counterparty_id,
        promise_id=new_id("promise"),
        promised_date=on,
        amount=amount,
        currency=invoice.currency,
        paid_at_promise=invoice.amount_paid,
        status="open",
        actor=actor,
        note=note,
        created_at=now,
        updated_at=now,
    )
    writes = CollectionWrites(tenant_id, now)
    writes.promises.append(made)
    current = dunning.collection(tenant_id, invoice_id)
    if current is not None and current.status in RUNNING:
        wake = runs.next_send_moment(
            datetime.combine(on + timedelta(days=1), datetime.min.time()).replace(tzinfo=now.tzinfo),
            current.timezone,
            weekends=False,
        )
        writes.collection = (current, runs.paused(current, PauseReason.PROMISE, wake, now))
    audit(writes, invoice_id, actor, "promise_to_pay", f"{amount} {invoice.currency} by {on.isoformat()}")
    writes.note(
        invoice.counterparty_id,
        invoice_id,
        "promise",
        f"promised {amount} {invoice.currency} by {on.isoformat()}",
        amount=amount,
        currency=invoice.currency,
        date=on.isoformat(),
        promise_id=made.promise_id,
    )
    dunning.commit(writes)
    return replace(made, version=1)


def settle_promises(
    collection: Collection, invoice: Invoice, promises: list[Promise], writes: CollectionWrites, now: datetime
) -> bool:
    """Judge the open promises whose day has passed (all of them once the invoice is settled): kept
    when the money came. True when one was broken (its counterparty goes to `writes.risk_events`)."""
    broken = False
    today = now.astimezone(ZoneInfo(collection.timezone)).date()
    for item in promises:
        if item.status != "open":
            continue
        if item.promised_date >= today and invoice.status not in SETTLED:
            continue
        kept = (
            invoice.status is InvoiceStatus.PAID or invoice.amount_paid - item.paid_at_promise >= item.amount
        )
        judged = replace(item, status="kept" if kept else "broken", updated_at=now)
        writes.promises.append(judged)
        broken = broken or not kept
        if not kept:
            writes.risk_events.append((collection.counterparty_id, "broken_promise"))
        audit(writes, invoice.invoice_id, SYSTEM, f"promise_{judged.status}", f"promise {item.promise_id}")
        writes.note(
            collection.counterparty_id,
            invoice.invoice_id,
            f"promise_{judged.status}",
            f"promise of {item.amount} {item.currency} by {item.promised_date.isoformat()} {judged.status}",
        )
    return broken
