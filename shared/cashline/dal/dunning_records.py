"""Records of collection campaigns (dunning).

Keys (docs/data-model.md, "Collection"):
- a campaign is the item collection `T#<tenant>#CMP#<cmp>`: header `CMP`, one immutable snapshot per
  revision `CMPV#<nnnn>`, and its running figures `STAT#...` (ADD-only counters);
- an invoice's collection lives in the invoice's own item collection `T#<tenant>#INV#<inv>`: `RUN`
  (the run), `MSG#<nn>#<channel>` (each message), `PROM#<id>` (promises to pay);
- letters `T#<tenant>#LTR#<id>` / `LTR`, tasks `T#<tenant>#TASK#<id>` / `TASK`, reminder templates
  `T#<tenant>#TPL` / `<name>#<channel>#<language>`, settings `T#<tenant>` / `COLLSET`, a
  counterparty's campaign `T#<tenant>#CP#<cp>` / `CMPSET`, its timeline `T#<tenant>#CP#<cp>#TL` /
  `<at>#<id>`;
- `PMSG#<provider message id>` / `PMSG` finds the message an SES or SNS delivery report is about
  (the report names only the provider's id).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from cashline.dal.due import due_keys
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.collection_messages import (
    CallTask,
    Letter,
    Message,
    Promise,
    TimelineEntry,
    message_key,
)
from cashline.domain.dunning import Channel, CollectionSettings, OwnTemplate, Step

CAMPAIGN_SK = "CMP"
CAMPAIGN_REVISION_SK_PREFIX = "CMPV#"
STATS_SK_PREFIX = "STAT#"
# Sorts after the messages and promises, so one Query `sk >= "MSG#"` reads exactly those three kinds
# (the header, lines, documents and audit trail sort before).
COLLECTION_SK = "RUN"
MESSAGE_SK_PREFIX = "MSG#"
PROMISE_SK_PREFIX = "PROM#"
LETTER_SK = "LTR"
TASK_SK = "TASK"
SETTINGS_SK = "COLLSET"
ASSIGNMENT_SK = "CMPSET"
PROVIDER_MESSAGE_SK = "PMSG"
# Jobs of the `due` index (dal/due.py): a run's next step, a call task's reminder to its assignee.
STEP_JOB = "collection_step"
TASK_REMINDER_JOB = "task_reminder"


def campaign_pk(tenant_id: str, campaign_id: str) -> str:
    return f"T#{tenant_id}#CMP#{campaign_id}"


def letter_pk(tenant_id: str, letter_id: str) -> str:
    return f"T#{tenant_id}#LTR#{letter_id}"


def task_pk(tenant_id: str, task_id: str) -> str:
    return f"T#{tenant_id}#TASK#{task_id}"


def templates_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#TPL"


def timeline_pk(tenant_id: str, counterparty_id: str) -> str:
    return f"T#{tenant_id}#CP#{counterparty_id}#TL"


class CampaignRecord(CashlineItem, discriminator="campaign"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    steps = JSONAttribute()
    status = UnicodeAttribute()
    revision = NumberAttribute()


class CampaignRevisionRecord(CashlineItem, discriminator="campaign_revision"):
    """The steps of one revision, as debtors who entered with it run through them. Never changed."""

    revision = NumberAttribute()
    steps = JSONAttribute()


class CampaignStatRecord(CashlineItem, discriminator="campaign_stat"):
    """One running figure of a campaign (ADD only): `STAT#TOTAL`, `STAT#STEP#<nn>` (debtors and
    amount waiting at that step), `STAT#PAID#<nn>` (paid after that step: count, days, amount),
    `STAT#MSG#<channel>#<outcome>`."""

    tally = NumberAttribute(default=0)  # `count` is taken: Model.count
    amount = NumberAttribute(default=0)
    days = NumberAttribute(default=0)
    recovered = NumberAttribute(default=0)
    entered_amount = NumberAttribute(default=0)


class CollectionRecord(CashlineItem, discriminator="collection"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    campaign_version = NumberAttribute()
    steps = JSONAttribute()
    status = UnicodeAttribute()
    next_step = NumberAttribute()
    next_at = UTCDateTimeAttribute(null=True)
    entered_at = UTCDateTimeAttribute()
    outstanding_at_entry = NumberAttribute()
    paid_at_entry = NumberAttribute()
    last_paid = NumberAttribute()
    currency = UnicodeAttribute()
    timezone = UnicodeAttribute()
    pause_reason = UnicodeAttribute(null=True)
    paused_until = UTCDateTimeAttribute(null=True)
    steps_done = JSONAttribute(null=True)
    step_sent_at = JSONAttribute(null=True)  # step index -> ISO instant it went out


class MessageRecord(CashlineItem, discriminator="collection_message"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    step_index = NumberAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()  # sending | sent | failed | bounced | awaiting_approval | unknown
    recipient = UnicodeAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)
    template = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    problem = UnicodeAttribute(null=True)
    letter_id = UnicodeAttribute(null=True)
    task_id = UnicodeAttribute(null=True)
    late_charges = JSONAttribute(null=True)


class ProviderMessageRecord(CashlineItem, discriminator="provider_message"):
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    message_sk = UnicodeAttribute()


class PromiseRecord(CashlineItem, discriminator="promise"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    promise_id = UnicodeAttribute()
    promised_date = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    paid_at_promise = NumberAttribute()
    status = UnicodeAttribute()  # open | kept | broken | cancelled
    actor = UnicodeAttribute()
    note = UnicodeAttribute(null=True)


class LetterRecord(CashlineItem, discriminator="letter"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    letter_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    recipient_name = UnicodeAttribute()
    address = JSONAttribute(null=True)
    s3_key = UnicodeAttribute()
    status = UnicodeAttribute()  # ready | printed | mailed | cancelled
    language = UnicodeAttribute()
    size_bytes = NumberAttribute()


class TaskRecord(CashlineItem, discriminator="task"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    task_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    counterparty_name = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)
    assignee = UnicodeAttribute(null=True)
    due_date = UnicodeAttribute()
    script = UnicodeAttribute()
    status = UnicodeAttribute()  # open | done | cancelled
    outcome = UnicodeAttribute(null=True)
    notes = UnicodeAttribute(null=True)
    reminded = UnicodeAttribute(default="no")


class ReminderTemplateRecord(CashlineItem, discriminator="reminder_template"):
    version = VersionAttribute()
    name = UnicodeAttribute()
    channel = UnicodeAttribute()
    language = UnicodeAttribute()
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute()


class CollectionSettingsRecord(CashlineItem, discriminator="collection_settings"):
    version = VersionAttribute()
    default_campaign_id = UnicodeAttribute(null=True)
    campaigns_by_segment = JSONAttribute(null=True)
    default_assignee = UnicodeAttribute(null=True)
    reference_rate_bp = NumberAttribute(null=True)
    creditor = JSONAttribute(null=True)  # name, address lines, iban, email, phone shown on reminders
    email_statements = UnicodeAttribute(null=True)  # "yes": the monthly statements are e-mailed


class CampaignAssignmentRecord(CashlineItem, discriminator="campaign_assignment"):
    campaign_id = UnicodeAttribute()


class TimelineRecord(CashlineItem, discriminator="timeline_entry"):
    """One line of a counterparty's collection timeline. Never changed."""

    invoice_id = UnicodeAttribute(null=True)
    entry_kind = UnicodeAttribute()
    summary = UnicodeAttribute()
    detail = JSONAttribute(null=True)


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


# --- the domain values these records hold, and back (keys and index keys are built here only) -------


def message_sk(step_index: int, channel: Channel) -> str:
    return f"{MESSAGE_SK_PREFIX}{message_key(step_index, channel).removeprefix('MSG#')}"


def promise_sk(promise_id: str) -> str:
    return f"{PROMISE_SK_PREFIX}{promise_id}"


def _due_instant(due_sk: str) -> datetime:
    # The instant a due key was made for (dal/due.py writes it first, to the second, in UTC).
    return datetime.strptime(due_sk.split("#", 1)[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


R = TypeVar("R", bound=CashlineItem)


def _sortable(at: datetime) -> str:
    # In UTC, as the stored instant reads back: an item rewritten later keeps its index sort key.
    return at.astimezone(UTC).isoformat()


def _on_version(record: R, version: int) -> R:
    """The record written on the version read; 0 is "not stored yet" (PynamoDB then writes
    version 1, on condition that none exists)."""
    if version:
        record.version = version  # type: ignore[attr-defined]
    return record


def message_record(m: Message) -> MessageRecord:
    return _on_version(
        MessageRecord(
            pk=invoice_pk(m.tenant_id, m.invoice_id),
            sk=message_sk(m.step_index, m.channel),
            tenant_id=m.tenant_id,
            invoice_id=m.invoice_id,
            counterparty_id=m.counterparty_id,
            campaign_id=m.campaign_id,
            step_index=m.step_index,
            channel=m.channel.value,
            status=m.status,
            recipient=m.recipient,
            provider_id=m.provider_id,
            template=m.template,
            language=m.language,
            subject=m.subject,
            body=m.body,
            problem=m.problem,
            letter_id=m.letter_id,
            task_id=m.task_id,
            late_charges=m.late_charges,
            created_at=m.created_at,
            updated_at=m.updated_at or m.created_at,
            gsi1pk=f"T#{m.tenant_id}#MSG#{m.status}",
            gsi1sk=f"{_sortable(m.created_at)}#{m.invoice_id}#{m.step_index:02d}",
        ),
        m.version,
    )


def to_message(r: MessageRecord) -> Message:
    return Message(
        tenant_id=r.tenant_id,
        invoice_id=r.invoice_id,
        counterparty_id=r.counterparty_id,
        campaign_id=r.campaign_id,
        step_index=int(r.step_index),
        channel=Channel(r.channel),
        status=r.status,
        created_at=r.created_at,
        template=r.template,
        language=r.language,
        subject=r.subject,
        body=r.body,
        late_charges=r.late_charges,
        recipient=r.recipient,
        provider_id=r.provider_id,
        problem=r.problem,
        letter_id=r.letter_id,
        task_id=r.task_id,
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )


def provider_message_record(provider_id: str, m: Message, now: datetime) -> ProviderMessageRecord:
    return ProviderMessageRecord(
        pk=f"PMSG#{provider_id}",
        sk=PROVIDER_MESSAGE_SK,
        tenant_id=m.tenant_id,
        invoice_id=m.invoice_id,
        message_sk=message_sk(m.step_index, m.channel),
        created_at=now,
        updated_at=now,
    )


def promise_record(p: Promise) -> PromiseRecord:
    return _on_version(
        PromiseRecord(
            pk=invoice_pk(p.tenant_id, p.invoice_id),
            sk=promise_sk(p.promise_id),
            tenant_id=p.tenant_id,
            invoice_id=p.invoice_id,
            counterparty_id=p.counterparty_id,
            promise_id=p.promise_id,
            promised_date=p.promised_date.isoformat(),
            amount=p.amount,
            currency=p.currency,
            paid_at_promise=p.paid_at_promise,
            status=p.status,
            actor=p.actor,
            note=p.note,
            created_at=p.created_at,
            updated_at=p.updated_at,
        ),
        p.version,
    )


def to_promise(r: PromiseRecord) -> Promise:
    return Promise(
        tenant_id=r.tenant_id,
        invoice_id=r.invoice_id,
        counterparty_id=r.counterparty_id,
        promise_id=r.promise_id,
        promised_date=date.fromisoformat(r.promised_date),
        amount=int(r.amount),
        currency=r.currency,
        paid_at_promise=int(r.paid_at_promise),
        status=r.status,
        actor=r.actor,
        note=r.note,
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )


def letter_record(letter: Letter) -> LetterRecord:
    return _on_version(
        LetterRecord(
            pk=letter_pk(letter.tenant_id, letter.letter_id),
            sk=LETTER_SK,
            tenant_id=letter.tenant_id,
            letter_id=letter.letter_id,
            invoice_id=letter.invoice_id,
            counterparty_id=letter.counterparty_id,
            recipient_name=letter.recipient_name,
            address=list(letter.address) or None,
            s3_key=letter.s3_key,
            status=letter.status,
            language=letter.language,
            size_bytes=letter.size_bytes,
            created_at=letter.created_at,
            updated_at=letter.updated_at,
            gsi1pk=f"T#{letter.tenant_id}#LTR#{letter.status}",
            gsi1sk=f"{_sortable(letter.created_at)}#{letter.letter_id}",
        ),
        letter.version,
    )


def to_letter(r: LetterRecord) -> Letter:
    return Letter(
        tenant_id=r.tenant_id,
        letter_id=r.letter_id,
        invoice_id=r.invoice_id,
        counterparty_id=r.counterparty_id,
        recipient_name=r.recipient_name,
        address=tuple(str(line) for line in r.address or []),
        s3_key=r.s3_key,
        status=r.status,
        language=r.language,
        size_bytes=int(r.size_bytes),
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )


def task_record(task: CallTask) -> TaskRecord:
    day, t = task.due_date.isoformat(), task.tenant_id
    record = TaskRecord(
        pk=task_pk(t, task.task_id),
        sk=TASK_SK,
        tenant_id=t,
        task_id=task.task_id,
        invoice_id=task.invoice_id,
        counterparty_id=task.counterparty_id,
        counterparty_name=task.counterparty_name,
        phone=task.phone,
        assignee=task.assignee,
        due_date=day,
        script=task.script,
        status=task.status,
        outcome=task.outcome,
        notes=task.notes,
        reminded="yes" if task.reminded else "no",
        created_at=task.created_at,
        updated_at=task.updated_at,
        gsi1pk=f"T#{t}#TASK#{task.status}",
        gsi1sk=f"{day}#{task.task_id}",
    )
    if task.assignee:
        record.gsi2pk = f"T#{t}#TASKA#{task.assignee.casefold()}#{task.status}"
        record.gsi2sk = f"{day}#{task.task_id}"
    if task.remind_at is not None:
        record.due_pk, record.due_sk = due_keys(TASK_REMINDER_JOB, task.remind_at, t, task.task_id)
    return _on_version(record, task.version)


def to_task(r: TaskRecord) -> CallTask:
    return CallTask(
        tenant_id=r.tenant_id,
        task_id=r.task_id,
        invoice_id=r.invoice_id,
        counterparty_id=r.counterparty_id,
        counterparty_name=r.counterparty_name,
        phone=r.phone,
        assignee=r.assignee,
        due_date=date.fromisoformat(r.due_date),
        script=r.script,
        status=r.status,
        created_at=r.created_at,
        updated_at=r.updated_at,
        outcome=r.outcome,
        notes=r.notes,
        reminded=r.reminded == "yes",
        remind_at=_due_instant(r.due_sk) if r.due_pk and r.due_sk else None,
        version=int(r.version or 0),
    )


def to_timeline_entry(r: TimelineRecord) -> TimelineEntry:
    return TimelineEntry(
        at=r.created_at, invoice_id=r.invoice_id, kind=r.entry_kind, summary=r.summary, detail=r.detail
    )


def settings_record(tenant_id: str, s: CollectionSettings, now: datetime) -> CollectionSettingsRecord:
    return _on_version(
        CollectionSettingsRecord(
            pk=tenant_pk(tenant_id),
            sk=SETTINGS_SK,
            default_campaign_id=s.default_campaign_id,
            campaigns_by_segment=s.campaigns_by_segment or None,
            default_assignee=s.default_assignee,
            reference_rate_bp=s.reference_rate_bp,
            creditor=s.creditor or None,
            email_statements="yes" if s.email_statements else None,
            created_at=now,
            updated_at=now,
        ),
        s.version,
    )


def to_settings(r: CollectionSettingsRecord) -> CollectionSettings:
    return CollectionSettings(
        default_campaign_id=r.default_campaign_id,
        campaigns_by_segment=dict(r.campaigns_by_segment or {}),
        default_assignee=r.default_assignee,
        reference_rate_bp=int(r.reference_rate_bp) if r.reference_rate_bp is not None else None,
        creditor=dict(r.creditor or {}),
        email_statements=r.email_statements == "yes",
        version=int(r.version or 0),
    )


def template_sk(name: str, channel: str, language: str) -> str:
    return f"{name}#{channel}#{language}"


def own_template_record(t: OwnTemplate) -> ReminderTemplateRecord:
    return _on_version(
        ReminderTemplateRecord(
            pk=templates_pk(t.tenant_id),
            sk=template_sk(t.name, t.channel, t.language),
            name=t.name,
            channel=t.channel,
            language=t.language,
            subject=t.subject,
            body=t.body,
            created_at=t.created_at,
            updated_at=t.updated_at,
        ),
        t.version,
    )


def to_own_template(tenant_id: str, r: ReminderTemplateRecord) -> OwnTemplate:
    return OwnTemplate(
        tenant_id=tenant_id,
        name=r.name,
        channel=r.channel,
        language=r.language,
        subject=r.subject,
        body=r.body,
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )
