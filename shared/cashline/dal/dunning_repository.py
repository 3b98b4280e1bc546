"""Collection campaigns in DynamoDB: campaigns and their revisions, each invoice's run, messages,
promises, letters, tasks, templates, settings, figures and the counterparty timeline. Every change
of a run is one transaction (`CollectionWrites`) with its messages, audit events and figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from cashline.dal.due import due_keys
from cashline.dal.dunning_records import (
    ASSIGNMENT_SK,
    CAMPAIGN_REVISION_SK_PREFIX,
    CAMPAIGN_SK,
    COLLECTION_SK,
    LETTER_SK,
    MESSAGE_SK_PREFIX,
    PROMISE_SK_PREFIX,
    PROVIDER_MESSAGE_SK,
    SETTINGS_SK,
    STATS_SK_PREFIX,
    TASK_SK,
    CampaignAssignmentRecord,
    CampaignRecord,
    CampaignRevisionRecord,
    CampaignStatRecord,
    CollectionRecord,
    CollectionSettingsRecord,
    LetterRecord,
    MessageRecord,
    PromiseRecord,
    ProviderMessageRecord,
    ReminderTemplateRecord,
    TaskRecord,
    TimelineRecord,
    campaign_pk,
    letter_pk,
    task_pk,
    templates_pk,
    timeline_pk,
)
from cashline.dal.errors import storage_errors
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.invoice_repository import event_record
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import counterparty_pk
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.dal.transactions import transaction
from cashline.domain.dunning import (
    Campaign,
    CampaignStatus,
    Channel,
    Collection,
    CollectionStatus,
    PauseReason,
    Step,
)
from cashline.domain.invoices import InvoiceEvent
from cashline.errors import ConflictError, NotFoundError

STEP_JOB = "collection_step"
TASK_REMINDER_JOB = "task_reminder"
# A step being sent is leased for this long: another sweep leaves it alone meanwhile.
STEP_LEASE = timedelta(minutes=10)


def steps_json(steps: tuple[Step, ...]) -> list[dict[str, Any]]:
    # Only None is left out: 0, False and "" are values (`v not in (None, False)` once dropped an
    # `offset_days` of 0, because 0 == False, and every later read of the campaign failed).
    return [{k: v for k, v in asdict(s).items() if v is not None} for s in steps]


def steps_of(data: list[dict[str, Any]]) -> tuple[Step, ...]:
    return tuple(
        Step(
            offset_days=int(s["offset_days"]),
            channel=Channel(s["channel"]),
            template=s.get("template"),
            attach_invoice=bool(s.get("attach_invoice")),
            late_charges=bool(s.get("late_charges")),
            require_approval=bool(s.get("require_approval")),
            send_on_weekends=bool(s.get("send_on_weekends")),
            fallback_channel=Channel(s["fallback_channel"]) if s.get("fallback_channel") else None,
            assignee=s.get("assignee"),
        )
        for s in data
    )


def to_campaign(r: CampaignRecord) -> Campaign:
    return Campaign(
        tenant_id=r.tenant_id,
        campaign_id=r.campaign_id,
        name=r.name,
        description=r.description,
        steps=steps_of(r.steps),
        status=CampaignStatus(r.status),
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=int(r.revision),
        record_version=int(r.version or 0),
    )


def _campaign_record(c: Campaign) -> CampaignRecord:
    return CampaignRecord(
        pk=campaign_pk(c.tenant_id, c.campaign_id),
        sk=CAMPAIGN_SK,
        tenant_id=c.tenant_id,
        campaign_id=c.campaign_id,
        name=c.name,
        description=c.description,
        steps=steps_json(c.steps),
        status=c.status.value,
        revision=c.version,
        created_at=c.created_at,
        updated_at=c.updated_at,
        gsi1pk=f"T#{c.tenant_id}#CMP",
        gsi1sk=f"{c.status.value}#{c.name.casefold()}#{c.campaign_id}",
    )


class UnreadableRecordError(RuntimeError):
    """A record about to be written would not read back as what was meant: a bug, never input."""


def _readable(record: CampaignRecord, meant: Campaign) -> CampaignRecord:
    """Nothing is written that the read path cannot load: the record, stored and read back the way
    `get_campaign` and the list read it, must give the campaign meant (else nothing is written)."""
    try:
        read = to_campaign(CampaignRecord.from_raw_data(record.serialize()))
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableRecordError(f"campaign {meant.campaign_id} would not read back: {exc!r}") from exc
    if replace(read, record_version=meant.record_version) != meant:
        raise UnreadableRecordError(f"campaign {meant.campaign_id} would read back changed")
    return record


def _revision_record(c: Campaign) -> CampaignRevisionRecord:
    return CampaignRevisionRecord(
        pk=campaign_pk(c.tenant_id, c.campaign_id),
        sk=f"{CAMPAIGN_REVISION_SK_PREFIX}{c.version:04d}",
        revision=c.version,
        steps=steps_json(c.steps),
        created_at=c.updated_at,
        updated_at=c.updated_at,
    )


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


def to_collection(r: CollectionRecord) -> Collection:
    return Collection(
        tenant_id=r.tenant_id,
        invoice_id=r.invoice_id,
        counterparty_id=r.counterparty_id,
        campaign_id=r.campaign_id,
        campaign_version=int(r.campaign_version),
        steps=steps_of(r.steps),
        status=CollectionStatus(r.status),
        next_step=int(r.next_step),
        next_at=r.next_at,
        entered_at=r.entered_at,
        outstanding_at_entry=int(r.outstanding_at_entry),
        paid_at_entry=int(r.paid_at_entry),
        last_paid=int(r.last_paid),
        currency=r.currency,
        timezone=r.timezone,
        pause_reason=PauseReason(r.pause_reason) if r.pause_reason else None,
        paused_until=r.paused_until,
        steps_done=tuple(int(i) for i in r.steps_done or []),
        step_sent_at={str(k): str(v) for k, v in (r.step_sent_at or {}).items()},
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )


@dataclass
class CollectionWrites:
    """One change of an invoice's run, with everything it entails, written together or not at all."""

    tenant_id: str
    now: datetime
    collection: tuple[Collection | None, Collection] | None = None
    messages: list[MessageRecord] = field(default_factory=list)
    message_updates: list[MessageRecord] = field(default_factory=list)  # existing, on their version
    events: list[InvoiceEvent] = field(default_factory=list)
    timeline: list[TimelineRecord] = field(default_factory=list)
    letters: list[LetterRecord] = field(default_factory=list)
    letter_updates: list[LetterRecord] = field(default_factory=list)  # existing, on their version
    tasks: list[TaskRecord] = field(default_factory=list)
    promises: list[PromiseRecord] = field(default_factory=list)  # new, or existing on their version
    provider_ids: list[ProviderMessageRecord] = field(default_factory=list)
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
        from cashline.ids import new_id

        self.timeline.append(
            TimelineRecord(
                pk=timeline_pk(self.tenant_id, counterparty_id),
                sk=f"{self.now.isoformat()}#{new_id('event')}",
                invoice_id=invoice_id,
                entry_kind=kind,
                summary=summary,
                detail=detail or None,
                created_at=self.now,
                updated_at=self.now,
            )
        )


def _stat_update(tenant_id: str, campaign_id: str, key: str, deltas: dict[str, int], now: datetime) -> Any:
    r = CampaignStatRecord
    record = CampaignStatRecord(pk=campaign_pk(tenant_id, campaign_id), sk=f"{STATS_SK_PREFIX}{key}")
    actions: list[Action] = [
        r.kind.set(r.kind | CampaignStatRecord),
        r.created_at.set(r.created_at | now),
        r.updated_at.set(now),
    ]
    actions += [getattr(r, name).add(value) for name, value in deltas.items() if value]
    return record, actions


class DunningRepository:
    # --- campaigns ------------------------------------------------------------------------------
    def create_campaign(self, campaign: Campaign) -> Campaign:
        with storage_errors("campaign exists"), transaction() as write:
            write.save(
                _readable(_campaign_record(campaign), campaign), condition=CampaignRecord.pk.does_not_exist()
            )
            write.save(_revision_record(campaign))
        return self.get_campaign(campaign.tenant_id, campaign.campaign_id)

    def save_campaign(self, before: Campaign, after: Campaign) -> Campaign:
        record = _readable(_campaign_record(after), after)
        record.version = before.record_version
        with (
            storage_errors("campaign was changed by someone else; read it again", field="version"),
            transaction() as write,
        ):
            write.save(record)
            if after.version != before.version:
                write.save(_revision_record(after), condition=CampaignRevisionRecord.pk.does_not_exist())
        return self.get_campaign(after.tenant_id, after.campaign_id)

    def get_campaign(self, tenant_id: str, campaign_id: str) -> Campaign:
        try:
            return to_campaign(
                CampaignRecord.get(campaign_pk(tenant_id, campaign_id), CAMPAIGN_SK, consistent_read=True)
            )
        except DoesNotExist as exc:
            raise NotFoundError("campaign not found", field="campaign_id") from exc

    def list_campaigns(
        self, tenant_id: str, *, status: str, limit: int, starting_after: str | None
    ) -> Page[Campaign]:
        partition = f"T#{tenant_id}#CMP"
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = CampaignRecord.gsi1.query(
            partition,
            CampaignRecord.gsi1sk.startswith(f"{status}#"),
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        )
        items = [to_campaign(i) for i in results if isinstance(i, CampaignRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def stats(self, tenant_id: str, campaign_id: str) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for item in CampaignStatRecord.query(
            campaign_pk(tenant_id, campaign_id), CampaignStatRecord.sk.startswith(STATS_SK_PREFIX)
        ):
            if isinstance(item, CampaignStatRecord):
                found[item.sk.removeprefix(STATS_SK_PREFIX)] = {
                    "tally": int(item.tally or 0),
                    "amount": int(item.amount or 0),
                    "days": int(item.days or 0),
                    "recovered": int(item.recovered or 0),
                    "entered_amount": int(item.entered_amount or 0),
                }
        return found

    # --- settings, assignment, templates -------------------------------------------------------
    def settings(self, tenant_id: str) -> CollectionSettingsRecord | None:
        try:
            return CollectionSettingsRecord.get(tenant_pk(tenant_id), SETTINGS_SK, consistent_read=True)
        except DoesNotExist:
            return None

    def save_settings(self, record: CollectionSettingsRecord, expected_version: int) -> None:
        if expected_version:
            record.version = expected_version
        with storage_errors(
            "collection settings were changed by someone else; read them again", field="version"
        ):
            record.save()

    def assignment(self, tenant_id: str, counterparty_id: str) -> str | None:
        try:
            record = CampaignAssignmentRecord.get(counterparty_pk(tenant_id, counterparty_id), ASSIGNMENT_SK)
        except DoesNotExist:
            return None
        return str(record.campaign_id)

    def assign(self, tenant_id: str, counterparty_id: str, campaign_id: str | None, now: datetime) -> None:
        record = CampaignAssignmentRecord(
            pk=counterparty_pk(tenant_id, counterparty_id),
            sk=ASSIGNMENT_SK,
            campaign_id=campaign_id or "",
            created_at=now,
            updated_at=now,
        )
        if campaign_id:
            record.save()
        else:
            record.delete()

    def templates(self, tenant_id: str) -> list[ReminderTemplateRecord]:
        return [
            item
            for item in ReminderTemplateRecord.query(templates_pk(tenant_id))
            if isinstance(item, ReminderTemplateRecord)
        ]

    def template(
        self, tenant_id: str, name: str, channel: str, language: str
    ) -> ReminderTemplateRecord | None:
        try:
            return ReminderTemplateRecord.get(templates_pk(tenant_id), f"{name}#{channel}#{language}")
        except DoesNotExist:
            return None

    def save_template(self, record: ReminderTemplateRecord, *, new: bool) -> None:
        with storage_errors("a template with this name, channel and language exists", field="name"):
            if new:
                record.save(condition=ReminderTemplateRecord.pk.does_not_exist())
            else:
                record.save()

    # --- an invoice's run -----------------------------------------------------------------------
    def collection(self, tenant_id: str, invoice_id: str) -> Collection | None:
        try:
            return to_collection(
                CollectionRecord.get(invoice_pk(tenant_id, invoice_id), COLLECTION_SK, consistent_read=True)
            )
        except DoesNotExist:
            return None

    def collection_items(self, tenant_id: str, invoice_id: str) -> list[CashlineItem]:
        """The run, its messages and promises: one Query on the invoice's item collection."""
        return [
            item
            for item in CashlineItem.query(
                invoice_pk(tenant_id, invoice_id), CashlineItem.sk >= MESSAGE_SK_PREFIX, consistent_read=True
            )
            if isinstance(item, CollectionRecord | MessageRecord | PromiseRecord)
        ]

    def claim(self, collection: Collection, now: datetime) -> Collection | None:
        """Lease the run to this sweep (one conditional write on the version read)."""
        lease_pk, lease_sk = due_keys(STEP_JOB, now + STEP_LEASE, collection.tenant_id, collection.invoice_id)
        record = CollectionRecord(
            pk=invoice_pk(collection.tenant_id, collection.invoice_id), sk=COLLECTION_SK
        )
        record.version = collection.version
        try:
            with storage_errors("collection taken by another sweep"):
                record.update(
                    actions=[
                        CollectionRecord.due_pk.set(lease_pk),
                        CollectionRecord.due_sk.set(lease_sk),
                        CollectionRecord.updated_at.set(now),
                    ]
                )
        except ConflictError:
            return None
        return replace(collection, version=collection.version + 1)

    def commit(self, writes: CollectionWrites) -> None:
        with storage_errors("the collection changed at the same time; read it again"), transaction() as write:
            self.stage(write, writes)

    def stage(self, write: Any, writes: CollectionWrites) -> None:
        """`commit`'s writes, added to a transaction the caller owns (the overdue check's)."""
        t, now = writes.tenant_id, writes.now
        if writes.collection is not None:
            before, after = writes.collection
            record = collection_record(after)
            if before is None:
                write.save(record, condition=CollectionRecord.pk.does_not_exist())
            else:
                record.version = before.version
                write.save(record)
        self._stage_items(write, writes)
        for (campaign_id, key), deltas in writes.stats.items():
            stat, actions = _stat_update(t, campaign_id, key, deltas, now)
            write.update(stat, actions=actions)

    @staticmethod
    def _stage_items(write: Any, writes: CollectionWrites) -> None:
        """New items are put only if absent (a message is sent once); changed ones on their version."""
        for new in (*writes.messages, *writes.letters):
            write.save(new, condition=type(new).pk.does_not_exist())
        for item in (*writes.message_updates, *writes.letter_updates, *writes.tasks, *writes.promises):
            write.save(item)
        for event in writes.events:
            write.save(event_record(writes.tenant_id, event))
        for plain in (*writes.timeline, *writes.provider_ids):
            write.save(plain)

    # --- messages -----------------------------------------------------------------------------
    def message(self, tenant_id: str, invoice_id: str, sk: str) -> MessageRecord | None:
        try:
            return MessageRecord.get(invoice_pk(tenant_id, invoice_id), sk, consistent_read=True)
        except DoesNotExist:
            return None

    def messages_by_status(
        self, tenant_id: str, status: str, *, limit: int, starting_after: str | None
    ) -> Page[MessageRecord]:
        partition = f"T#{tenant_id}#MSG#{status}"
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = MessageRecord.gsi1.query(partition, limit=limit, page_size=limit, last_evaluated_key=start)
        items = [i for i in results if isinstance(i, MessageRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def provider_message(self, provider_id: str) -> ProviderMessageRecord | None:
        try:
            return ProviderMessageRecord.get(f"PMSG#{provider_id}", PROVIDER_MESSAGE_SK)
        except DoesNotExist:
            return None

    # --- letters and tasks ----------------------------------------------------------------------
    def letter(self, tenant_id: str, letter_id: str) -> LetterRecord:
        try:
            return LetterRecord.get(letter_pk(tenant_id, letter_id), LETTER_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("letter not found", field="letter_id") from exc

    def letters(
        self, tenant_id: str, status: str, *, limit: int, starting_after: str | None
    ) -> Page[LetterRecord]:
        partition = f"T#{tenant_id}#LTR#{status}"
        start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
        results = LetterRecord.gsi1.query(partition, limit=limit, page_size=limit, last_evaluated_key=start)
        items = [i for i in results if isinstance(i, LetterRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def task(self, tenant_id: str, task_id: str) -> TaskRecord:
        try:
            return TaskRecord.get(task_pk(tenant_id, task_id), TASK_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("task not found", field="task_id") from exc

    def tasks(
        self,
        tenant_id: str,
        *,
        status: str,
        assignee: str | None,
        due_from: date | None,
        due_to: date | None,
        limit: int,
        starting_after: str | None,
    ) -> Page[TaskRecord]:
        if assignee:
            index: Any = TaskRecord.gsi2
            attr, partition = "gsi2pk", f"T#{tenant_id}#TASKA#{assignee.casefold()}#{status}"
            sort = TaskRecord.gsi2sk
        else:
            index, attr, partition, sort = (
                TaskRecord.gsi1,
                "gsi1pk",
                f"T#{tenant_id}#TASK#{status}",
                TaskRecord.gsi1sk,
            )
        start = decode_cursor(starting_after, partition_attr=attr, partition_value=partition)
        condition = None
        if due_from or due_to:
            condition = sort.between(
                due_from.isoformat() if due_from else "0000",
                (due_to.isoformat() if due_to else "9999") + "#~",
            )
        results = index.query(partition, condition, limit=limit, page_size=limit, last_evaluated_key=start)
        items = [i for i in results if isinstance(i, TaskRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    # --- the timeline ---------------------------------------------------------------------------
    def timeline(
        self, tenant_id: str, counterparty_id: str, *, limit: int, starting_after: str | None
    ) -> Page[TimelineRecord]:
        partition = timeline_pk(tenant_id, counterparty_id)
        start = decode_cursor(starting_after, partition_attr="pk", partition_value=partition)
        results = TimelineRecord.query(
            partition, limit=limit, page_size=limit, last_evaluated_key=start, scan_index_forward=False
        )
        items = [i for i in results if isinstance(i, TimelineRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))


def message_sk(step_index: int, channel: Channel) -> str:
    return f"{MESSAGE_SK_PREFIX}{step_index:02d}#{channel.value}"


def promise_sk(promise_id: str) -> str:
    return f"{PROMISE_SK_PREFIX}{promise_id}"
