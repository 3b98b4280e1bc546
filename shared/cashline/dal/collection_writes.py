"""One change of an invoice's collection run with everything it entails (the run, its messages,
promises, letters, tasks, audit events, timeline lines and campaign figures), as domain values;
`stage_collection_writes` adds them to a transaction (dal/transactions.py's UnitOfWork)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from cashline.dal.due import due_keys
from cashline.dal.dunning_records import (
    COLLECTION_SK,
    STATS_SK_PREFIX,
    STEP_JOB,
    CampaignStatRecord,
    CollectionRecord,
    LetterRecord,
    MessageRecord,
    TimelineRecord,
    campaign_pk,
    letter_record,
    message_record,
    promise_record,
    provider_message_record,
    steps_json,
    task_record,
    timeline_pk,
)
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.invoice_repository import event_record
from cashline.domain.collection_messages import CallTask, Letter, Message, Promise, TimelineEntry
from cashline.domain.dunning import Collection, CollectionStatus
from cashline.domain.invoices import InvoiceEvent
from cashline.ids import new_id


@dataclass
class CollectionWrites:
    """One change of an invoice's run, with everything it entails, written together or not at all."""

    tenant_id: str
    now: datetime
    collection: tuple[Collection | None, Collection] | None = None
    messages: list[Message] = field(default_factory=list)  # new: put only if absent
    message_updates: list[Message] = field(default_factory=list)  # existing, on their version
    events: list[InvoiceEvent] = field(default_factory=list)
    timeline: list[tuple[str, TimelineEntry]] = field(default_factory=list)  # (counterparty id, line)
    letters: list[Letter] = field(default_factory=list)  # new: put only if absent
    letter_updates: list[Letter] = field(default_factory=list)  # existing, on their version
    tasks: list[CallTask] = field(default_factory=list)  # new, or existing on their version
    promises: list[Promise] = field(default_factory=list)  # new, or existing on their version
    provider_ids: list[Message] = field(default_factory=list)  # sent: their reports must find them
    stats: dict[tuple[str, str], dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    # Counterparties whose risk changes once this commits: (counterparty id, "broken_promise").
    risk_events: list[tuple[str, str]] = field(default_factory=list)

    def add_stat(self, campaign_id: str, key: str, **deltas: int) -> None:
        entry = self.stats[(campaign_id, key)]
        for name, value in deltas.items():
            entry[name] = entry.get(name, 0) + value

    def note(
        self, counterparty_id: str, invoice_id: str | None, kind: str, summary: str, **detail: Any
    ) -> None:
        """A line on the counterparty's timeline."""
        entry = TimelineEntry(
            at=self.now, invoice_id=invoice_id, kind=kind, summary=summary, detail=detail or None
        )
        self.timeline.append((counterparty_id, entry))


def collection_record(c: Collection) -> CollectionRecord:
    record = CollectionRecord(
        pk=invoice_pk(c.tenant_id, c.invoice_id),
        sk=COLLECTION_SK,
        tenant_id=c.tenant_id,
        invoice_id=c.invoice_id,
        counterparty_id=c.counterparty_id,
        campaign_id=c.campaign_id,
        campaign_version=c.campaign_version,
        steps=steps_json(c.steps),
        status=c.status.value,
        next_step=c.next_step,
        next_at=c.next_at,
        entered_at=c.entered_at,
        outstanding_at_entry=c.outstanding_at_entry,
        paid_at_entry=c.paid_at_entry,
        last_paid=c.last_paid,
        currency=c.currency,
        timezone=c.timezone,
        pause_reason=c.pause_reason.value if c.pause_reason else None,
        paused_until=c.paused_until,
        steps_done=list(c.steps_done),
        step_sent_at=dict(c.step_sent_at),
        created_at=c.entered_at,
        updated_at=c.updated_at or c.entered_at,
        gsi1pk=f"T#{c.tenant_id}#COLL#{c.status.value}",
        gsi1sk=f"{c.entered_at.isoformat()}#{c.invoice_id}",
        gsi2pk=f"T#{c.tenant_id}#CMP#{c.campaign_id}#COLL",
        gsi2sk=f"{c.status.value}#{c.invoice_id}",
    )
    if c.next_at is not None and c.status in {CollectionStatus.ACTIVE, CollectionStatus.PAUSED}:
        record.due_pk, record.due_sk = due_keys(STEP_JOB, c.next_at, c.tenant_id, c.invoice_id)
    return record


def _timeline_record(tenant_id: str, counterparty_id: str, entry: TimelineEntry) -> TimelineRecord:
    return TimelineRecord(
        pk=timeline_pk(tenant_id, counterparty_id),
        sk=f"{entry.at.isoformat()}#{new_id('event')}",
        invoice_id=entry.invoice_id,
        entry_kind=entry.kind,
        summary=entry.summary,
        detail=entry.detail,
        created_at=entry.at,
        updated_at=entry.at,
    )


def _stat_update(
    tenant_id: str, campaign_id: str, key: str, deltas: dict[str, int], now: datetime
) -> tuple[CampaignStatRecord, list[Action]]:
    r = CampaignStatRecord
    record = CampaignStatRecord(pk=campaign_pk(tenant_id, campaign_id), sk=f"{STATS_SK_PREFIX}{key}")
    actions: list[Action] = [
        r.kind.set(r.kind | CampaignStatRecord),
        r.created_at.set(r.created_at | now),
        r.updated_at.set(now),
    ]
    actions += [getattr(r, name).add(value) for name, value in deltas.items() if value]
    return record, actions


def stage_collection_writes(write: TransactWrite, writes: CollectionWrites) -> None:
    """Add the change to a transaction. New messages and letters are put only if absent (a message
    goes out once); changed items are written on the version read (a concurrent change fails it)."""
    t, now = writes.tenant_id, writes.now
    if writes.collection is not None:
        before, after = writes.collection
        record = collection_record(after)
        if before is None:
            write.save(record, condition=CollectionRecord.pk.does_not_exist())
        else:
            record.version = before.version
            write.save(record)
    for message in writes.messages:
        write.save(message_record(message), condition=MessageRecord.pk.does_not_exist())
    for letter in writes.letters:
        write.save(letter_record(letter), condition=LetterRecord.pk.does_not_exist())
    for item in (
        *(message_record(m) for m in writes.message_updates),
        *(letter_record(letter) for letter in writes.letter_updates),
        *(task_record(task) for task in writes.tasks),
        *(promise_record(p) for p in writes.promises),
    ):
        write.save(item)
    for event in writes.events:
        write.save(event_record(t, event))
    for counterparty_id, entry in writes.timeline:
        write.save(_timeline_record(t, counterparty_id, entry))
    for sent in writes.provider_ids:
        assert sent.provider_id is not None
        write.save(provider_message_record(sent.provider_id, sent, now))
    for (campaign_id, key), deltas in writes.stats.items():
        stat, actions = _stat_update(t, campaign_id, key, deltas, now)
        write.update(stat, actions=actions)
