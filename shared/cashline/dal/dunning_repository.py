"""Collection campaigns in DynamoDB: campaigns and their revisions, each invoice's run, messages,
promises, letters, tasks, templates, settings, figures and the counterparty timeline, stored and
returned as domain values (records and keys stay in dal/dunning_records.py). Every change of a run
is one unit of work (`CollectionWrites`, dal/collection_writes.py) with its messages, audit events
and figures; the step sweep's lease is dal/due.py's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from pynamodb.exceptions import DoesNotExist

from cashline.dal.collection_writes import CollectionWrites, stage_collection_writes
from cashline.dal.due import lease
from cashline.dal.dunning_records import (
    ASSIGNMENT_SK,
    CAMPAIGN_REVISION_SK_PREFIX,
    CAMPAIGN_SK,
    COLLECTION_SK,
    LETTER_SK,
    MESSAGE_SK_PREFIX,
    PROVIDER_MESSAGE_SK,
    SETTINGS_SK,
    STATS_SK_PREFIX,
    STEP_JOB,
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
    message_record,
    message_sk,
    own_template_record,
    settings_record,
    steps_json,
    steps_of,
    task_pk,
    task_record,
    template_sk,
    templates_pk,
    timeline_pk,
    to_letter,
    to_message,
    to_own_template,
    to_promise,
    to_settings,
    to_task,
    to_timeline_entry,
)
from cashline.dal.errors import storage_errors
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import counterparty_pk
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.collection_messages import CallTask, Letter, Message, Promise, TimelineEntry
from cashline.domain.dunning import (
    Campaign,
    CampaignStatus,
    Channel,
    Collection,
    CollectionSettings,
    CollectionStatus,
    OwnTemplate,
    PauseReason,
)
from cashline.errors import ConflictError, NotFoundError

__all__ = ["CollectionWrites", "DunningRepository", "RunItems", "steps_json", "steps_of"]

T = TypeVar("T")
# A step being sent is leased for this long: another sweep leaves it alone meanwhile.
STEP_LEASE = timedelta(minutes=10)


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


class DunningRepository:
    # --- campaigns ------------------------------------------------------------------------------
    def create_campaign(self, campaign: Campaign) -> Campaign:
        record = _readable(_campaign_record(campaign), campaign)
        work = UnitOfWork("campaign exists")
        work.add(lambda write: write.save(record, condition=CampaignRecord.pk.does_not_exist()))
        work.add(lambda write: write.save(_revision_record(campaign)))
        work.commit()
        return self.get_campaign(campaign.tenant_id, campaign.campaign_id)

    def save_campaign(self, before: Campaign, after: Campaign) -> Campaign:
        record = _readable(_campaign_record(after), after)
        record.version = before.record_version
        work = UnitOfWork("campaign was changed by someone else; read it again")
        work.add(lambda write: write.save(record))
        if after.version != before.version:
            revision = _revision_record(after)
            work.add(lambda write: write.save(revision, condition=CampaignRevisionRecord.pk.does_not_exist()))
        try:
            work.commit()
        except ConflictError as exc:
            # The caller sent the version it read: the conflict is about that field.
            raise ConflictError(exc.message, details={"field": "version"}) from exc
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
    def settings(self, tenant_id: str) -> CollectionSettings | None:
        try:
            record = CollectionSettingsRecord.get(tenant_pk(tenant_id), SETTINGS_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return to_settings(record)

    def save_settings(self, tenant_id: str, wanted: CollectionSettings, now: datetime) -> None:
        """On the version the caller read (0: the first time)."""
        with storage_errors(
            "collection settings were changed by someone else; read them again", field="version"
        ):
            settings_record(tenant_id, wanted, now).save()

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

    def templates(self, tenant_id: str) -> list[OwnTemplate]:
        return [
            to_own_template(tenant_id, item)
            for item in ReminderTemplateRecord.query(templates_pk(tenant_id))
            if isinstance(item, ReminderTemplateRecord)
        ]

    def template(self, tenant_id: str, name: str, channel: str, language: str) -> OwnTemplate | None:
        try:
            record = ReminderTemplateRecord.get(templates_pk(tenant_id), template_sk(name, channel, language))
        except DoesNotExist:
            return None
        return to_own_template(tenant_id, record)

    def save_template(self, template: OwnTemplate) -> None:
        """A new one only if none of its name, channel and language exists; else on its version."""
        record = own_template_record(template)
        with storage_errors("a template with this name, channel and language exists", field="name"):
            if template.version:
                record.save()
            else:
                record.save(condition=ReminderTemplateRecord.pk.does_not_exist())

    # --- an invoice's run ---------------------------------------------------------------------
    def collection(self, tenant_id: str, invoice_id: str) -> Collection | None:
        try:
            return to_collection(
                CollectionRecord.get(invoice_pk(tenant_id, invoice_id), COLLECTION_SK, consistent_read=True)
            )
        except DoesNotExist:
            return None

    def run_items(self, tenant_id: str, invoice_id: str) -> RunItems:
        """The run, its messages and promises: one Query on the invoice's item collection."""
        found = RunItems()
        for item in CashlineItem.query(
            invoice_pk(tenant_id, invoice_id), CashlineItem.sk >= MESSAGE_SK_PREFIX, consistent_read=True
        ):
            if isinstance(item, CollectionRecord):
                found.collection = to_collection(item)
            elif isinstance(item, MessageRecord):
                message = to_message(item)
                found.messages[message.key] = message
            elif isinstance(item, PromiseRecord):
                found.promises.append(to_promise(item))
        return found

    @staticmethod
    def due_collection(item: CashlineItem) -> Collection | None:
        """The run a `due` index item of the step sweep is, or None (another kind of item)."""
        return to_collection(item) if isinstance(item, CollectionRecord) else None

    def claim(self, collection: Collection, now: datetime) -> Collection | None:
        """Lease the run to this sweep (one conditional write on the version read)."""
        record = CollectionRecord(
            pk=invoice_pk(collection.tenant_id, collection.invoice_id), sk=COLLECTION_SK
        )
        record.version = collection.version
        taken = lease(
            record,
            job=STEP_JOB,
            tenant_id=collection.tenant_id,
            entity_id=collection.invoice_id,
            until=now + STEP_LEASE,
            now=now,
        )
        return replace(collection, version=collection.version + 1) if taken else None

    @staticmethod
    def stage(writes: CollectionWrites) -> Stage:
        """The change as a stage of a unit of work the caller owns (the overdue check's)."""
        return lambda write: stage_collection_writes(write, writes)

    def commit(self, writes: CollectionWrites) -> None:
        UnitOfWork("the collection changed at the same time; read it again").add(self.stage(writes)).commit()

    # --- messages -----------------------------------------------------------------------------
    def message(self, tenant_id: str, invoice_id: str, step_index: int, channel: Channel) -> Message | None:
        try:
            record = MessageRecord.get(
                invoice_pk(tenant_id, invoice_id), message_sk(step_index, channel), consistent_read=True
            )
        except DoesNotExist:
            return None
        return to_message(record)

    def add_message(self, message: Message) -> Message | None:
        """Store a new message on its own, before it is sent: None when one for its step and channel
        exists (it went out, or is going out, already)."""
        record = message_record(message)
        try:
            with storage_errors("a message for this step and channel exists"):
                record.save(condition=MessageRecord.pk.does_not_exist())
        except ConflictError:
            return None
        return replace(message, version=int(record.version or 0))

    def messages_by_status(
        self, tenant_id: str, status: str, *, limit: int, starting_after: str | None
    ) -> Page[Message]:
        return _page(
            MessageRecord,
            MessageRecord.gsi1,
            "gsi1pk",
            f"T#{tenant_id}#MSG#{status}",
            to_message,
            limit,
            starting_after,
        )

    def message_by_provider_id(self, provider_id: str) -> Message | None:
        """The message an SES or SNS delivery report is about (the report names only the provider's id)."""
        try:
            lookup = ProviderMessageRecord.get(f"PMSG#{provider_id}", PROVIDER_MESSAGE_SK)
            record = MessageRecord.get(
                invoice_pk(lookup.tenant_id, lookup.invoice_id), lookup.message_sk, consistent_read=True
            )
        except DoesNotExist:
            return None
        return to_message(record)

    # --- letters and tasks ----------------------------------------------------------------------
    def letter(self, tenant_id: str, letter_id: str) -> Letter:
        try:
            return to_letter(
                LetterRecord.get(letter_pk(tenant_id, letter_id), LETTER_SK, consistent_read=True)
            )
        except DoesNotExist as exc:
            raise NotFoundError("letter not found", field="letter_id") from exc

    def letters(self, tenant_id: str, status: str, *, limit: int, starting_after: str | None) -> Page[Letter]:
        return _page(
            LetterRecord,
            LetterRecord.gsi1,
            "gsi1pk",
            f"T#{tenant_id}#LTR#{status}",
            to_letter,
            limit,
            starting_after,
        )

    def task(self, tenant_id: str, task_id: str) -> CallTask:
        try:
            return to_task(TaskRecord.get(task_pk(tenant_id, task_id), TASK_SK, consistent_read=True))
        except DoesNotExist as exc:
            raise NotFoundError("task not found", field="task_id") from exc

    @staticmethod
    def due_task(item: CashlineItem) -> CallTask | None:
        """The call task a `due` index item of the task reminder sweep is, or None."""
        return to_task(item) if isinstance(item, TaskRecord) else None

    def save_task(self, task: CallTask, conflict_message: str) -> bool:
        """Write the task on the version read: False when someone changed it meanwhile."""
        try:
            with storage_errors(conflict_message):
                task_record(task).save()
        except ConflictError:
            return False
        return True

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
    ) -> Page[CallTask]:
        index: Any
        if assignee:
            index, attr, sort = TaskRecord.gsi2, "gsi2pk", TaskRecord.gsi2sk
            partition = f"T#{tenant_id}#TASKA#{assignee.casefold()}#{status}"
        else:
            index, attr, sort = TaskRecord.gsi1, "gsi1pk", TaskRecord.gsi1sk
            partition = f"T#{tenant_id}#TASK#{status}"
        condition = None
        if due_from or due_to:
            condition = sort.between(
                due_from.isoformat() if due_from else "0000",
                (due_to.isoformat() if due_to else "9999") + "#~",
            )
        return _page(TaskRecord, index, attr, partition, to_task, limit, starting_after, condition)

    # --- the timeline ---------------------------------------------------------------------------
    def timeline(
        self, tenant_id: str, counterparty_id: str, *, limit: int, starting_after: str | None
    ) -> Page[TimelineEntry]:
        partition = timeline_pk(tenant_id, counterparty_id)
        start = decode_cursor(starting_after, partition_attr="pk", partition_value=partition)
        results = TimelineRecord.query(
            partition, limit=limit, page_size=limit, last_evaluated_key=start, scan_index_forward=False
        )
        items = [to_timeline_entry(i) for i in results if isinstance(i, TimelineRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))


@dataclass
class RunItems:
    """An invoice's run with its messages (by key) and promises, as one read finds them."""

    collection: Collection | None = None
    messages: dict[str, Message] = field(default_factory=dict)
    promises: list[Promise] = field(default_factory=list)


def _page(
    model: type[CashlineItem],
    index: Any,
    partition_attr: str,
    partition: str,
    convert: Callable[[Any], T],
    limit: int,
    starting_after: str | None,
    condition: Any = None,
) -> Page[T]:
    """One page of an index partition, each item converted to its domain value."""
    start = decode_cursor(starting_after, partition_attr=partition_attr, partition_value=partition)
    results = index.query(partition, condition, limit=limit, page_size=limit, last_evaluated_key=start)
    items = [convert(i) for i in results if isinstance(i, model)]
    return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))
