"""Delivery reports (SES bounces and complaints, via SNS and SQS): the message is marked, and a step
with a fallback channel goes out on it at once (a complaint never sends more)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from cashline.dal.collection_writes import CollectionWrites
from cashline.domain.dunning import Collection, Step
from cashline.services.collections.context import SETTLED, SYSTEM, CollectionRuntime, audit, dunning, invoices
from cashline.services.collections.delivery import send
from cashline.services.collections.rendering import prepare


def record_feedback(feedback: Any, runtime: CollectionRuntime, *, now: datetime) -> bool:
    """A bounce or complaint marks the message; the step's fallback channel goes out when it has one.
    Returns whether the report named a message of ours."""
    message = dunning.message_by_provider_id(feedback.provider_id)
    if message is None or feedback.outcome == "delivered" or message.status in {"bounced", "complained"}:
        return message is not None
    status = (
        "bounced"
        if feedback.outcome == "bounced"
        else ("complained" if feedback.outcome == "complained" else "failed")
    )
    marked = replace(message, status=status, problem=feedback.detail or feedback.outcome)
    writes = CollectionWrites(message.tenant_id, now)
    writes.message_updates.append(marked)
    writes.add_stat(message.campaign_id, f"MSG#{message.channel.value}#{status}", tally=1)
    audit(writes, message.invoice_id, SYSTEM, f"reminder_{status}", marked.problem or status)
    writes.note(
        message.counterparty_id,
        message.invoice_id,
        f"reminder_{status}",
        f"{message.channel.value} {status}: {marked.problem}",
    )
    dunning.commit(writes)
    collection = dunning.collection(message.tenant_id, message.invoice_id)
    index = message.step_index
    if collection is not None and index < len(collection.steps):
        step = collection.steps[index]
        if step.fallback_channel is not None and status != "complained":
            _fallback_now(collection, step, index, runtime, now)
    return True


def _fallback_now(
    collection: Collection, step: Step, index: int, runtime: CollectionRuntime, now: datetime
) -> None:
    assert step.fallback_channel is not None
    invoice = invoices.get_header(collection.tenant_id, collection.invoice_id)
    if invoice.status in SETTLED:
        return
    writes = CollectionWrites(collection.tenant_id, now)
    prepared = prepare(collection, invoice, step, index, step.fallback_channel, now)
    send(collection, invoice, step, index, prepared, runtime, writes, now)
    dunning.commit(writes)
