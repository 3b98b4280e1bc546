"""The step sweep: every run whose moment has come is leased, brought in step with its invoice, and
its due step goes out once (or waits for the debtor's business hours, or for a person's approval).
A broken promise it finds moves the counterparty's risk, after the commit (services/reactions.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cashline.dal.collection_writes import CollectionWrites
from cashline.dal.dunning_records import STEP_JOB
from cashline.dal.dunning_repository import RunItems
from cashline.dal.table import CashlineItem
from cashline.domain import dunning as runs
from cashline.domain.collection_messages import message_key
from cashline.domain.dunning import Channel, Collection, CollectionStatus
from cashline.domain.invoices import Invoice
from cashline.services import reactions
from cashline.services.collections.context import SYSTEM, CollectionRuntime, audit, dunning, invoices
from cashline.services.collections.delivery import new_message, send_with_fallback
from cashline.services.collections.payment_retry import retry_payment
from cashline.services.collections.progress import advance
from cashline.services.collections.rendering import prepare
from cashline.services.collections.sync import broken_promises, observe
from cashline.services.sweeps import SweepResult, sweep

STEP_SCHEDULE = "collection_steps"
# The function may run 300 s (.chalice/config.json); what is left after this goes on next tick.
STEP_SWEEP_BUDGET_S = 240.0


def run_steps(*, tick_at: datetime, worker: str, runtime: CollectionRuntime) -> SweepResult:
    """One tick of the sweep: each run due at `tick_at`, once."""

    def handle(item: CashlineItem) -> bool:
        collection = dunning.due_collection(item)
        return collection is not None and step_once(collection, runtime, now=tick_at)

    return sweep(
        schedule=STEP_SCHEDULE,
        job=STEP_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=handle,
        time_budget_s=STEP_SWEEP_BUDGET_S,
    )


def step_once(collection: Collection, runtime: CollectionRuntime, *, now: datetime) -> bool:
    """Look at one run whose moment has come; returns whether a message went out."""
    claimed = dunning.claim(collection, now)
    if claimed is None:
        return False  # another sweep has it, or it changed since the index was read
    t, invoice_id = collection.tenant_id, collection.invoice_id
    items = dunning.run_items(t, invoice_id)
    invoice = invoices.get_header(t, invoice_id)
    writes = CollectionWrites(t, now)
    after = observe(claimed, invoice, items.promises, writes, now)
    sent = False
    step = after.current_step
    if (
        after.status is CollectionStatus.ACTIVE
        and step is not None
        and after.next_at
        and after.next_at <= now
    ):
        moment = runs.next_send_moment(now, after.timezone, weekends=step.send_on_weekends)
        if moment > now:
            after = replace(after, next_at=moment)  # night or weekend there: wait for the morning
        else:
            after, sent = _take_step(after, invoice, items, runtime, writes, now)
    writes.collection = (claimed, after)
    dunning.commit(writes)
    reactions.promises_broken(t, broken_promises(writes), now=now)
    return sent


def _take_step(
    c: Collection,
    invoice: Invoice,
    items: RunItems,
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
) -> tuple[Collection, bool]:
    index = c.next_step
    step = c.steps[index]
    if step.channel is Channel.RETRY_PAYMENT:
        # No message: a charge, exactly once by its own claim (a run leased again asks nothing twice).
        charged = retry_payment(c, invoice, index, runtime, writes, now)
        return advance(c, invoice, writes, now), charged
    existing = items.messages.get(message_key(index, step.channel))
    if existing is not None:
        if existing.status == "awaiting_approval":
            return replace(c, next_at=None), False  # waits for a person
        if existing.status == "sending":
            problem = "the sweep stopped while sending; not sent again"
            writes.message_updates.append(replace(existing, status="unknown", problem=problem))
        return advance(c, invoice, writes, now), False
    prepared = prepare(c, invoice, step, index, step.channel, now)
    if step.require_approval:
        writes.messages.append(new_message(c, index, prepared, status="awaiting_approval", now=now))
        audit(
            writes,
            invoice.invoice_id,
            SYSTEM,
            "reminder_awaiting_approval",
            f"step {index + 1} ({step.channel.value})",
        )
        return replace(c, next_at=None), False
    sent = send_with_fallback(c, invoice, step, index, prepared, runtime, writes, now)
    return advance(c, invoice, writes, now), sent
