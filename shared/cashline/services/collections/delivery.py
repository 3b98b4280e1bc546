"""A prepared reminder handed to its channel (e-mail, SMS, a letter in the print queue, a call task)
and its outcome recorded: the message, the letter or task, the provider's id (its delivery reports
find the message by it), the figures, the audit event and the timeline line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cashline.adapters.messaging import Attachment, ChannelRefusedError, OutgoingEmail
from cashline.dal.collection_writes import CollectionWrites
from cashline.domain.access import today_for
from cashline.domain.collection_messages import CallTask, Letter, Message
from cashline.domain.dunning import Channel, Collection, Step
from cashline.domain.invoices import Invoice
from cashline.ids import new_id
from cashline.observability import MetricUnit, metrics
from cashline.services import campaigns
from cashline.services.collections.context import SYSTEM, CollectionRuntime, audit, dunning
from cashline.services.collections.pdfs import invoice_pdf_bytes, letter_pdf_bytes
from cashline.services.collections.rendering import Prepared, charges_dict, prepare
from cashline.services.collections.tasks import call_task


@dataclass(frozen=True, slots=True)
class Delivery:
    status: str  # sent | failed
    provider_id: str | None
    problem: str | None
    recipient: str | None = None
    letter_id: str | None = None
    task_id: str | None = None
    letters: tuple[Letter, ...] = ()
    tasks: tuple[CallTask, ...] = ()


def new_message(c: Collection, index: int, p: Prepared, *, status: str, now: datetime) -> Message:
    return Message(
        tenant_id=c.tenant_id,
        invoice_id=c.invoice_id,
        counterparty_id=c.counterparty_id,
        campaign_id=c.campaign_id,
        step_index=index,
        channel=p.channel,
        status=status,
        created_at=now,
        template=p.template,
        language=p.language,
        subject=p.subject,
        body=p.body,
        late_charges=charges_dict(p.charges),
        updated_at=now,
    )


def send_with_fallback(
    c: Collection,
    invoice: Invoice,
    step: Step,
    index: int,
    prepared: Prepared,
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
) -> bool:
    """Send on the step's channel; when that fails, on its fallback channel. Whether one went out."""
    ok = send(c, invoice, step, index, prepared, runtime, writes, now)
    if not ok and step.fallback_channel is not None:
        fallback = prepare(c, invoice, step, index, step.fallback_channel, now)
        ok = send(c, invoice, step, index, fallback, runtime, writes, now)
    return ok


def send(
    c: Collection,
    invoice: Invoice,
    step: Step,
    index: int,
    prepared: Prepared,
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
) -> bool:
    """Mark, send, record: the marker is committed before anything leaves, so it leaves at most once."""
    marker = dunning.add_message(new_message(c, index, prepared, status="sending", now=now))
    if marker is None:
        return False  # a message for this step and channel exists: never twice
    return deliver_and_record(c, invoice, step, index, prepared, marker, runtime, writes, now)


def deliver_and_record(
    c: Collection,
    invoice: Invoice,
    step: Step,
    index: int,
    prepared: Prepared,
    message: Message,
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
    *,
    how: str = "",
) -> bool:
    """Hand the message to its channel and add its outcome to `writes`. Whether it went out."""
    try:
        outcome = deliver(c, invoice, step, prepared, runtime, now)
    except ChannelRefusedError as exc:
        outcome = Delivery("failed", None, exc.reason)
    recorded = replace(
        message,
        status=outcome.status,
        provider_id=outcome.provider_id,
        problem=outcome.problem,
        recipient=outcome.recipient or message.recipient,
        letter_id=outcome.letter_id,
        task_id=outcome.task_id,
    )
    writes.message_updates.append(recorded)
    writes.letters += outcome.letters
    writes.tasks += outcome.tasks
    if outcome.provider_id:
        writes.provider_ids.append(recorded)
    writes.add_stat(c.campaign_id, f"MSG#{prepared.channel.value}#{outcome.status}", tally=1)
    what = f"step {index + 1}: {prepared.channel.value} {outcome.status}{how}"
    audit(
        writes,
        invoice.invoice_id,
        SYSTEM,
        f"reminder_{outcome.status}",
        f"{what}{': ' + outcome.problem if outcome.problem else ''}",
        template=[None, prepared.template],
    )
    writes.note(
        c.counterparty_id,
        invoice.invoice_id,
        f"reminder_{outcome.status}",
        what,
        channel=prepared.channel.value,
        template=prepared.template,
        problem=outcome.problem,
    )
    metrics.add_metric(
        name=f"Reminder_{prepared.channel.value}_{outcome.status}", unit=MetricUnit.Count, value=1
    )
    return outcome.status == "sent"


def deliver(
    c: Collection, invoice: Invoice, step: Step, p: Prepared, runtime: CollectionRuntime, now: datetime
) -> Delivery:
    """Hand the message to its channel. ChannelRefusedError (no address, a refusal) is a failed step;
    ChannelUnavailableError propagates: the sweep leaves the run leased and a later one retries."""
    if p.channel is Channel.EMAIL:
        return _email(c, invoice, step, p, runtime)
    if p.channel is Channel.SMS:
        phone = _e164(p.counterparty.phone)
        sent = runtime.sms.send(
            phone, p.body, message_ref=f"{c.invoice_id}/{c.next_step}", tenant_id=c.tenant_id
        )
        return Delivery("sent", sent.provider_id, None, recipient=phone)
    if p.channel is Channel.LETTER:
        return _letter(c, invoice, p, runtime, now)
    return _task(c, invoice, step, p, now)


def _e164(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit() or ch == "+")
    if not digits.startswith("+") or not 8 <= len(digits) - 1 <= 15:
        raise ChannelRefusedError("no mobile number in international format (+...)")
    return digits


def _email(c: Collection, invoice: Invoice, step: Step, p: Prepared, runtime: CollectionRuntime) -> Delivery:
    if not p.counterparty.email:
        raise ChannelRefusedError("no e-mail address")
    attachments: tuple[Attachment, ...] = ()
    if step.attach_invoice:
        attachments = (
            Attachment(
                f"{_safe(invoice.number)}.pdf", "application/pdf", invoice_pdf_bytes(invoice, p, runtime)
            ),
        )
    sent = runtime.email.send(
        OutgoingEmail(
            to=p.counterparty.email,
            subject=p.subject or invoice.number,
            text=p.body,
            tenant_id=c.tenant_id,
            attachments=attachments,
            headers={"X-Cashline-Reference": f"{c.tenant_id}/{c.invoice_id}/{c.next_step}"},
        )
    )
    return Delivery("sent", sent.provider_id, None, recipient=p.counterparty.email)


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:60] or "invoice"


def _letter(
    c: Collection, invoice: Invoice, p: Prepared, runtime: CollectionRuntime, now: datetime
) -> Delivery:
    address, pdf = letter_pdf_bytes(c.tenant_id, invoice, p, now)
    letter_id = new_id("letter")
    key = f"letters/{c.tenant_id}/{letter_id}.pdf"
    runtime.documents.put(key, pdf, content_type="application/pdf")
    letter = Letter(
        tenant_id=c.tenant_id,
        letter_id=letter_id,
        invoice_id=c.invoice_id,
        counterparty_id=c.counterparty_id,
        recipient_name=p.counterparty.name,
        address=tuple(address),
        s3_key=key,
        status="ready",
        language=p.language,
        size_bytes=len(pdf),
        created_at=now,
        updated_at=now,
    )
    return Delivery("sent", None, None, recipient=p.counterparty.name, letter_id=letter_id, letters=(letter,))


def _task(c: Collection, invoice: Invoice, step: Step, p: Prepared, now: datetime) -> Delivery:
    config = campaigns.settings(c.tenant_id)
    assignee = step.assignee or config.default_assignee
    task = call_task(
        c.tenant_id,
        new_id("task"),
        invoice=invoice,
        counterparty=p.counterparty,
        assignee=assignee,
        day=today_for(p.tenant, now),
        script=p.body,
        timezone=p.tenant.timezone,
        now=now,
    )
    return Delivery("sent", None, None, recipient=assignee, task_id=task.task_id, tasks=(task,))
