"""A run moving from step to step, and the campaign figures that follow it: debtors and amount
waiting at each step (`STEP#<nn>#<currency>`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cashline.dal.collection_writes import CollectionWrites
from cashline.domain import dunning as runs
from cashline.domain.dunning import Collection
from cashline.domain.invoices import Invoice
from cashline.services.collections.context import SYSTEM, audit


def leave_step(writes: CollectionWrites, c: Collection) -> None:
    """The run no longer waits at its step (stopped, completed)."""
    if c.next_step < len(c.steps):
        writes.add_stat(
            c.campaign_id, f"STEP#{c.next_step:02d}#{c.currency}", tally=-1, amount=-c.outstanding_at_entry
        )


def advance(c: Collection, invoice: Invoice, writes: CollectionWrites, now: datetime) -> Collection:
    """The run after its current step went out (or was given up): on to the next one."""
    index = c.next_step
    writes.add_stat(c.campaign_id, f"STEP#{index:02d}#{c.currency}", tally=-1, amount=-c.outstanding_at_entry)
    stamped = replace(c, step_sent_at={**c.step_sent_at, str(index): now.isoformat()})
    after = runs.advanced(stamped, invoice.due_date, now)
    if after.next_step < len(after.steps):
        writes.add_stat(
            c.campaign_id, f"STEP#{after.next_step:02d}#{c.currency}", tally=1, amount=c.outstanding_at_entry
        )
    else:
        audit(writes, invoice.invoice_id, SYSTEM, "collection_steps_done", "every step done")
        writes.note(
            c.counterparty_id,
            invoice.invoice_id,
            "collection_steps_done",
            "every step done; awaiting payment",
        )
    return after
