"""Reminders a person approves before they go out: a step with `require_approval` is prepared and
held (`awaiting_approval`); approved, the held text goes out at once; rejected, the step is skipped."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cashline.dal.collection_writes import CollectionWrites
from cashline.dal.pagination import Page
from cashline.domain.collection_messages import Message
from cashline.errors import NotFoundError
from cashline.services.collections.context import CollectionRuntime, audit, dunning, invoice_of, parties
from cashline.services.collections.delivery import deliver_and_record
from cashline.services.collections.progress import advance
from cashline.services.collections.rendering import Prepared
from cashline.services.tenancy import tenants


def messages_by_status(
    tenant_id: str, status: str, *, limit: int, starting_after: str | None
) -> Page[Message]:
    """Reminders by status, newest first: those awaiting approval, sent, failed, bounced."""
    return dunning.messages_by_status(tenant_id, status, limit=limit, starting_after=starting_after)


def decide(
    tenant_id: str,
    invoice_id: str,
    step: int,
    *,
    approve: bool,
    actor: str,
    runtime: CollectionRuntime,
    now: datetime,
) -> Message:
    """A person approves (it goes out now) or rejects (the step is skipped) a prepared reminder."""
    invoice = invoice_of(tenant_id, invoice_id)
    current = dunning.collection(tenant_id, invoice_id)
    if current is None or current.next_step != step or current.current_step is None:
        raise NotFoundError("no reminder awaits approval at this step", field="step")
    current_step = current.current_step
    channel = current_step.channel
    held = dunning.message(tenant_id, invoice_id, step, channel)
    if held is None or held.status != "awaiting_approval":
        raise NotFoundError("no reminder awaits approval at this step", field="step")
    decided = replace(held, status="approved" if approve else "rejected")
    writes = CollectionWrites(tenant_id, now)
    writes.message_updates.append(decided)
    audit(writes, invoice_id, actor, f"reminder_{decided.status}", f"step {step + 1} ({channel.value})")
    dunning.commit(writes)
    decided = replace(decided, version=decided.version + 1)  # as just written
    writes = CollectionWrites(tenant_id, now)
    if approve:
        language = decided.language or "en"
        prepared = Prepared(
            channel,
            decided.template or "",
            language,
            decided.subject,
            decided.body or "",
            None,
            parties.get_profile(tenant_id, invoice.counterparty_id),
            tenants.get(tenant_id),
            language,
        )
        # The approved text itself goes out, recorded on the held message (its version as just saved).
        deliver_and_record(
            current, invoice, current_step, step, prepared, decided, runtime, writes, now, how=" (approved)"
        )
    writes.collection = (current, advance(current, invoice, writes, now))
    dunning.commit(writes)
    return dunning.message(tenant_id, invoice_id, step, channel) or decided
