"""Running collection campaigns: an invoice enters its campaign (when it falls overdue, or by hand),
each step goes out once at its moment on its channel, and payments, promises and disputes pause or
stop the run.

Exactly once per step: a sweep leases the run (a conditional write on its version), then writes the
step's message record before it sends (a conditional put on (invoice, step, channel)), then records
the outcome. A second sweep, or the same one run twice, finds the lease or the message and sends
nothing; a sweep that died between sending and recording leaves the message `sending`, which the
next one marks `unknown` and does not send again (at most once: a debtor never gets a reminder twice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar, cast
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.core import get_global

from cashline.adapters.documents import DocumentStore
from cashline.adapters.messaging import (
    Attachment,
    ChannelRefusedError,
    EmailChannel,
    OutgoingEmail,
    SmsChannel,
)
from cashline.dal.due import due_keys
from cashline.dal.dunning_records import (
    CollectionRecord,
    LetterRecord,
    MessageRecord,
    PromiseRecord,
    ProviderMessageRecord,
    TaskRecord,
    letter_pk,
    task_pk,
)
from cashline.dal.dunning_repository import (
    TASK_REMINDER_JOB,
    CollectionWrites,
    DunningRepository,
    message_sk,
    promise_sk,
    to_collection,
)
from cashline.dal.errors import storage_errors
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.pagination import Page
from cashline.dal.party_repository import CounterpartyRepository
from cashline.domain import dunning as runs
from cashline.domain.access import Tenant, today_for
from cashline.domain.counterparties import Counterparty, address_lines
from cashline.domain.dunning import Campaign, Channel, Collection, CollectionStatus, PauseReason, Step
from cashline.domain.invoices import Invoice, InvoiceEvent, InvoiceStatus, days_past_due
from cashline.domain.late_charges import ECB_REFERENCE_RATES_BP, LateCharges, late_charges
from cashline.domain.locales import locale_for
from cashline.errors import ConflictError, NotFoundError, UnprocessableError, ValidationError
from cashline.ids import is_id_of, new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services import campaigns
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

if TYPE_CHECKING:
    from cashline.domain.reminder_templates import ReminderTemplate

T = TypeVar("T")
# Its own repositories, not services.invoices': that module stages an entry into a campaign in the
# transaction that makes an invoice overdue, so it imports this one (and not the other way round).
dunning = DunningRepository()
invoices = InvoiceRepository()
parties = CounterpartyRepository()

STEP_SCHEDULE = "collection_steps"
# The function may run 300 s (.chalice/config.json); what is left after this goes on next tick.
STEP_SWEEP_BUDGET_S = 240.0
TASK_SCHEDULE = "task_reminders"
# Invoices in these states are not chased.
SETTLED = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF})
CHASEABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})
# The payment deadline a reminder sets.
PAY_WITHIN = timedelta(days=10)


@dataclass(frozen=True, slots=True)
class CollectionRuntime:
    email: EmailChannel
    sms: SmsChannel
    documents: DocumentStore


# Countries spanning several zones: the one most of their businesses keep (CLDR lists them unordered).
MAIN_ZONE = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "RU": "Europe/Moscow",
    "MX": "America/Mexico_City",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "NZ": "Pacific/Auckland",
}


def debtor_timezone(counterparty: Counterparty, tenant: Tenant) -> str:
    """The debtor's zone from its country: the tenant's own when it is in that country, else the
    country's main zone (CLDR's territory zones), else the tenant's."""
    country = (counterparty.country or "").upper()
    zones: Mapping[str, Any] = get_global("territory_zones")
    in_country = [str(z) for z in zones.get(country, [])]
    if not in_country:
        return tenant.timezone
    if tenant.timezone in in_country:
        return tenant.timezone
    return MAIN_ZONE.get(country, in_country[0])


def debtor_locale(counterparty: Counterparty, tenant: Tenant) -> tuple[str, str]:
    """(language, locale) the debtor is written to in: its preferred language, else its country's."""
    country = (counterparty.country or tenant.country or "").upper()
    language = (counterparty.preferred_language or "").split("-")[0].lower()
    if not language:
        try:
            language = Locale.parse(f"und_{country}").language if country else "en"
        except (UnknownLocaleError, ValueError):
            language = "en"
    return language, locale_for(language, country or None)


# --- entering, and a person's actions ------------------------------------------------------------


def new_run(
    tenant: Tenant, invoice: Invoice, counterparty: Counterparty, campaign: Campaign, now: datetime
) -> Collection:
    """The run an invoice starts in `campaign` now, in its debtor's time zone."""
    return runs.start(
        tenant_id=tenant.tenant_id,
        invoice_id=invoice.invoice_id,
        counterparty_id=invoice.counterparty_id,
        campaign=campaign,
        due_date=invoice.due_date,
        outstanding=invoice.amount_outstanding,
        amount_paid=invoice.amount_paid,
        currency=invoice.currency,
        timezone=debtor_timezone(counterparty, tenant),
        now=now,
    )


def prepare_entry(
    tenant: Tenant,
    invoice: Invoice,
    now: datetime,
    campaign_id: str | None = None,
    *,
    counterparty: Counterparty | None = None,
) -> Collection | None:
    """The run an invoice would start now, or None (no campaign applies, or one exists already).

    `counterparty`: the invoice's, when the caller holds it (a new invoice's counterparty may be
    created in the same transaction, so it cannot be read yet)."""
    if invoice.direction.value != "receivable" or invoice.status not in CHASEABLE:
        return None
    if dunning.collection(tenant.tenant_id, invoice.invoice_id) is not None:
        return None
    if counterparty is None:
        counterparty = parties.get_profile(tenant.tenant_id, invoice.counterparty_id)
    campaign = campaigns.campaign_for(tenant.tenant_id, counterparty, campaign_id)
    if campaign is None:
        return None
    return new_run(tenant, invoice, counterparty, campaign, now)


def stage_entry(writes: CollectionWrites, collection: Collection, actor: str) -> None:
    writes.collection = (None, collection)
    writes.add_stat(
        collection.campaign_id,
        f"TOTAL#{collection.currency}",
        tally=1,
        entered_amount=collection.outstanding_at_entry,
    )
    writes.add_stat(
        collection.campaign_id,
        f"STEP#{collection.next_step:02d}#{collection.currency}",
        tally=1,
        amount=collection.outstanding_at_entry,
    )
    _event(writes, collection.invoice_id, actor, "collection_started", f"campaign {collection.campaign_id}")
    writes.note(
        collection.counterparty_id,
        collection.invoice_id,
        "collection_started",
        f"entered campaign {collection.campaign_id}",
        campaign_id=collection.campaign_id,
    )


def _event(
    writes: CollectionWrites, invoice_id: str, actor: str, action: str, note: str, **changes: Any
) -> None:
    writes.events.append(
        InvoiceEvent(
            event_id=new_id("event"),
            invoice_id=invoice_id,
            at=writes.now,
            actor=actor,
            action=action,
            changes={k: list(v) for k, v in changes.items()},
            note=note,
        )
    )


def act(
    tenant_id: str,
    invoice_id: str,
    action: str,
    *,
    campaign_id: str | None,
    actor: str,
    note: str | None,
    now: datetime,
) -> Collection:
    """start | pause | resume | stop, by a person."""
    invoice = _invoice(tenant_id, invoice_id)
    tenant = tenants.get(tenant_id)
    current = dunning.collection(tenant_id, invoice_id)
    writes = CollectionWrites(tenant_id, now)
    if action == "start":
        after = _start_by_hand(tenant, invoice, current, campaign_id, actor, writes, now)
    elif current is None:
        raise NotFoundError("this invoice is in no collection campaign", field="invoice_id")
    else:
        after = _change_by_hand(current, invoice, action, actor, note, writes, now)
        writes.collection = (current, after)
    dunning.commit(writes)
    metrics.add_metric(name=f"Collection_{action}", unit=MetricUnit.Count, value=1)
    return dunning.collection(tenant_id, invoice_id) or after


def _start_by_hand(
    tenant: Tenant,
    invoice: Invoice,
    current: Collection | None,
    campaign_id: str | None,
    actor: str,
    writes: CollectionWrites,
    now: datetime,
) -> Collection:
    if current is not None and current.status in {CollectionStatus.ACTIVE, CollectionStatus.PAUSED}:
        raise ConflictError("the invoice is in a campaign already; stop it first", field="action")
    if invoice.status not in CHASEABLE or invoice.direction.value != "receivable":
        raise ConflictError(
            f"a {invoice.status.value} {invoice.direction.value} invoice is not chased", field="action"
        )
    counterparty = parties.get_profile(tenant.tenant_id, invoice.counterparty_id)
    campaign = campaigns.campaign_for(tenant.tenant_id, counterparty, campaign_id)
    if campaign is None:
        raise UnprocessableError("no campaign applies: name one with campaign_id", field="campaign_id")
    started = new_run(tenant, invoice, counterparty, campaign, now)
    if current is not None:
        started = replace(started, version=current.version)  # a new run over a finished one
    stage_entry(writes, started, actor)
    if current is not None:
        writes.collection = (current, started)
    return started


def _change_by_hand(
    current: Collection,
    invoice: Invoice,
    action: str,
    actor: str,
    note: str | None,
    writes: CollectionWrites,
    now: datetime,
) -> Collection:
    status = current.status
    if action == "pause":
        if status is not CollectionStatus.ACTIVE:
            raise ConflictError(f"a {status.value} run cannot be paused", field="action")
        after = runs.paused(current, PauseReason.MANUAL, None, now)
    elif action == "resume":
        if status is not CollectionStatus.PAUSED:
            raise ConflictError(f"a {status.value} run cannot be resumed", field="action")
        after = runs.resumed(current, invoice.due_date, now)
    else:
        if status in {CollectionStatus.STOPPED, CollectionStatus.COMPLETED}:
            raise ConflictError(f"the run is {status.value} already", field="action")
        after = runs.stopped(current, CollectionStatus.STOPPED, now)
        _leave_step(writes, current)
    _event(
        writes,
        invoice.invoice_id,
        actor,
        f"collection_{action}",
        note or action,
        status=[status.value, after.status.value],
    )
    writes.note(
        current.counterparty_id,
        invoice.invoice_id,
        f"collection_{action}",
        note or f"collection {action}d by a person",
    )
    return after


def _leave_step(writes: CollectionWrites, c: Collection) -> None:
    if c.next_step < len(c.steps):
        writes.add_stat(
            c.campaign_id, f"STEP#{c.next_step:02d}#{c.currency}", tally=-1, amount=-c.outstanding_at_entry
        )


def _invoice(tenant_id: str, invoice_id: str) -> Invoice:
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    return invoices.get_header(tenant_id, invoice_id)


# --- promises --------------------------------------------------------------------------------------


def promise(
    tenant_id: str, invoice_id: str, *, on: date, amount: int, actor: str, note: str | None, now: datetime
) -> PromiseRecord:
    """The debtor promises to pay `amount` by `on`: the run pauses until the day after; kept, it goes on
    for what is left (or ends when paid); broken, it resumes at once."""
    invoice = _invoice(tenant_id, invoice_id)
    tenant = tenants.get(tenant_id)
    if invoice.status not in CHASEABLE | {InvoiceStatus.DISPUTED}:
        raise ConflictError(f"a {invoice.status.value} invoice takes no promise", field="invoice_id")
    if on < today_for(tenant, now):
        raise ValidationError("a promise is for today or later", field="date")
    if amount > invoice.amount_outstanding:
        raise ValidationError(f"more than is owed ({invoice.amount_outstanding})", field="amount")
    promise_id = new_id("promise")
    record = PromiseRecord(
        pk=invoice_pk(tenant_id, invoice_id),
        sk=promise_sk(promise_id),
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        counterparty_id=invoice.counterparty_id,
        promise_id=promise_id,
        promised_date=on.isoformat(),
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
    writes.promises.append(record)
    current = dunning.collection(tenant_id, invoice_id)
    if current is not None and current.status in {CollectionStatus.ACTIVE, CollectionStatus.PAUSED}:
        wake = runs.next_send_moment(
            datetime.combine(on + timedelta(days=1), datetime.min.time()).replace(tzinfo=now.tzinfo),
            current.timezone,
            weekends=False,
        )
        writes.collection = (current, runs.paused(current, PauseReason.PROMISE, wake, now))
    _event(writes, invoice_id, actor, "promise_to_pay", f"{amount} {invoice.currency} by {on.isoformat()}")
    writes.note(
        invoice.counterparty_id,
        invoice_id,
        "promise",
        f"promised {amount} {invoice.currency} by {on.isoformat()}",
        amount=amount,
        currency=invoice.currency,
        date=on.isoformat(),
        promise_id=promise_id,
    )
    dunning.commit(writes)
    return record


def _settle_promises(
    collection: Collection, invoice: Invoice, items: list[Any], writes: CollectionWrites, now: datetime
) -> bool:
    """Judge the promises whose day has passed: kept when the money came. True when one was broken."""
    broken = False
    today = now.astimezone(ZoneInfo(collection.timezone)).date()
    for item in items:
        if not isinstance(item, PromiseRecord) or item.status != "open":
            continue
        if date.fromisoformat(item.promised_date) >= today and invoice.status not in SETTLED:
            continue
        kept = invoice.status is InvoiceStatus.PAID or invoice.amount_paid - int(item.paid_at_promise) >= int(
            item.amount
        )
        item.status = "kept" if kept else "broken"
        item.updated_at = now
        writes.promises.append(item)
        broken = broken or not kept
        if not kept:
            writes.risk_events.append((collection.counterparty_id, "broken_promise"))
        _event(
            writes,
            invoice.invoice_id,
            "system:collections",
            f"promise_{item.status}",
            f"promise {item.promise_id}",
        )
        writes.note(
            collection.counterparty_id,
            invoice.invoice_id,
            f"promise_{item.status}",
            f"promise of {int(item.amount)} {item.currency} by {item.promised_date} {item.status}",
        )
    return broken


# --- keeping a run in step with its invoice -----------------------------------------------------------


def observe(
    collection: Collection, invoice: Invoice, items: list[Any], writes: CollectionWrites, now: datetime
) -> Collection:
    """What the invoice's state means for the run: paid -> completed, a new part payment -> paused for
    a while (the money counts as recovered), disputed -> paused, dispute resolved or pause over -> on."""
    after = collection
    if invoice.amount_paid > collection.last_paid:
        recovered = invoice.amount_paid - collection.last_paid
        writes.add_stat(collection.campaign_id, f"TOTAL#{collection.currency}", recovered=recovered)
        after = replace(after, last_paid=invoice.amount_paid)
        if invoice.status is not InvoiceStatus.PAID and after.status is CollectionStatus.ACTIVE:
            after = runs.paused(after, PauseReason.PARTIAL_PAYMENT, now + runs.PARTIAL_PAYMENT_PAUSE, now)
            writes.note(
                collection.counterparty_id,
                invoice.invoice_id,
                "collection_paused",
                f"part payment of {recovered}: reminders paused",
            )
    if invoice.status in SETTLED:
        return _completed(after, invoice, writes, now)
    broken = _settle_promises(after, invoice, items, writes, now)
    if invoice.status is InvoiceStatus.DISPUTED and after.status is CollectionStatus.ACTIVE:
        return runs.paused(after, PauseReason.DISPUTE, None, now)
    if after.status is CollectionStatus.PAUSED and after.pause_reason is not PauseReason.MANUAL:
        dispute_over = (
            after.pause_reason is PauseReason.DISPUTE and invoice.status is not InvoiceStatus.DISPUTED
        )
        pause_over = after.paused_until is not None and after.paused_until <= now
        if broken or dispute_over or pause_over:
            writes.note(
                collection.counterparty_id,
                invoice.invoice_id,
                "collection_resumed",
                "promise broken: reminders resume" if broken else "reminders resume",
            )
            return runs.resumed(after, invoice.due_date, now)
    return after


def _completed(c: Collection, invoice: Invoice, writes: CollectionWrites, now: datetime) -> Collection:
    if c.status in {CollectionStatus.COMPLETED, CollectionStatus.STOPPED}:
        return c
    _leave_step(writes, c)
    if invoice.status is InvoiceStatus.PAID:
        last = c.steps_done[-1] if c.steps_done else None
        if last is not None:
            sent = datetime.fromisoformat(c.step_sent_at.get(str(last), now.isoformat()))
            writes.add_stat(
                c.campaign_id, f"PAID#{last:02d}#{c.currency}", tally=1, days=max(0, (now - sent).days)
            )
        writes.add_stat(c.campaign_id, "PAIDRUNS", tally=1)
    _event(
        writes,
        invoice.invoice_id,
        "system:collections",
        "collection_completed",
        f"invoice {invoice.status.value}",
    )
    writes.note(
        c.counterparty_id,
        invoice.invoice_id,
        "collection_completed",
        f"invoice {invoice.status.value}: reminders stop",
    )
    return runs.stopped(c, CollectionStatus.COMPLETED, now)


def sync(tenant_id: str, invoice_id: str, *, now: datetime) -> Collection | None:
    """After a payment, its reversal, a dispute or its resolution: bring the run in step at once (the
    sweep would at the run's next moment). An overdue invoice with no run (a chargeback reopened a
    paid one) enters its campaign; one whose run completed when it was paid starts a new run. Best
    effort; a conflict means someone else just did it."""
    items = dunning.collection_items(tenant_id, invoice_id)
    record = next((i for i in items if isinstance(i, CollectionRecord)), None)
    before = to_collection(record) if record is not None else None
    if before is None or before.status is CollectionStatus.COMPLETED:
        return _reenter(tenant_id, invoice_id, before, now)
    if before.status not in {CollectionStatus.ACTIVE, CollectionStatus.PAUSED}:
        return before
    invoice = invoices.get_header(tenant_id, invoice_id)
    writes = CollectionWrites(tenant_id, now)
    after = observe(before, invoice, items, writes, now)
    if after == before and not writes.promises:
        return before
    writes.collection = (before, after)
    try:
        dunning.commit(writes)
    except ConflictError:
        logger.info("collection changed meanwhile; the sweep brings it in step", invoice_id=invoice_id)
        return before
    _risk_events(writes)
    return after


def _reenter(
    tenant_id: str, invoice_id: str, finished: Collection | None, now: datetime
) -> Collection | None:
    """An overdue invoice that is in no running campaign (never was, or its run completed when it
    was paid and a reversal reopened it) enters one now; otherwise nothing changes."""
    invoice = invoices.get_header(tenant_id, invoice_id)
    if invoice.status is not InvoiceStatus.OVERDUE or invoice.direction.value != "receivable":
        return finished
    tenant = tenants.get(tenant_id)
    counterparty = parties.get_profile(tenant_id, invoice.counterparty_id)
    campaign = campaigns.campaign_for(tenant_id, counterparty)
    if campaign is None:
        return finished
    started = new_run(tenant, invoice, counterparty, campaign, now)
    writes = CollectionWrites(tenant_id, now)
    stage_entry(writes, started, "system:collections")
    if finished is not None:
        started = replace(started, version=finished.version)  # a new run over the finished one
        writes.collection = (finished, started)
    try:
        dunning.commit(writes)
    except ConflictError:
        logger.info("collection changed meanwhile; left as it is", invoice_id=invoice_id)
        return finished
    return started


def _risk_events(writes: CollectionWrites) -> None:
    from cashline.services import risk

    for counterparty_id, kind in writes.risk_events:
        risk.record_event(writes.tenant_id, counterparty_id, kind, writes.now)


# --- the sweep: each due step once ---------------------------------------------------------------------


def run_steps(*, tick_at: datetime, worker: str, runtime: CollectionRuntime) -> SweepResult:
    def handle(item: Any) -> bool:
        if not isinstance(item, CollectionRecord):
            return False
        return step_once(to_collection(item), runtime, now=tick_at)

    from cashline.dal.dunning_repository import STEP_JOB

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
    items = dunning.collection_items(t, invoice_id)
    invoice = invoices.get_header(t, invoice_id)
    writes = CollectionWrites(t, now)
    after = observe(claimed, invoice, items, writes, now)
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
    _risk_events(writes)
    return sent


@dataclass(frozen=True, slots=True)
class Prepared:
    channel: Channel
    template: str
    language: str
    subject: str | None
    body: str
    charges: LateCharges | None
    counterparty: Counterparty
    tenant: Tenant
    locale: str


def _take_step(
    c: Collection,
    invoice: Invoice,
    items: list[Any],
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
) -> tuple[Collection, bool]:
    index = c.next_step
    step = c.steps[index]
    messages = {i.sk: i for i in items if isinstance(i, MessageRecord)}
    existing = messages.get(message_sk(index, step.channel))
    if existing is not None:
        if existing.status == "awaiting_approval":
            return replace(c, next_at=None), False  # waits for a person
        if existing.status == "sending":
            existing.status, existing.problem = "unknown", "the sweep stopped while sending; not sent again"
            writes.message_updates.append(existing)
        return _advance(c, invoice, writes, now), False
    prepared = prepare(c, invoice, step, index, step.channel, now)
    if step.require_approval:
        record = _message_record(c, index, prepared, status="awaiting_approval", now=now)
        writes.messages.append(record)
        _event(
            writes,
            invoice.invoice_id,
            "system:collections",
            "reminder_awaiting_approval",
            f"step {index + 1} ({step.channel.value})",
        )
        return replace(c, next_at=None), False
    sent = _send_with_fallback(c, invoice, step, index, prepared, runtime, writes, now)
    return _advance(c, invoice, writes, now), sent


def _advance(c: Collection, invoice: Invoice, writes: CollectionWrites, now: datetime) -> Collection:
    index = c.next_step
    writes.add_stat(c.campaign_id, f"STEP#{index:02d}#{c.currency}", tally=-1, amount=-c.outstanding_at_entry)
    stamped = replace(c, step_sent_at={**c.step_sent_at, str(index): now.isoformat()})
    after = runs.advanced(stamped, invoice.due_date, now)
    if after.next_step < len(after.steps):
        writes.add_stat(
            c.campaign_id, f"STEP#{after.next_step:02d}#{c.currency}", tally=1, amount=c.outstanding_at_entry
        )
    else:
        _event(writes, invoice.invoice_id, "system:collections", "collection_steps_done", "every step done")
        writes.note(
            c.counterparty_id,
            invoice.invoice_id,
            "collection_steps_done",
            "every step done; awaiting payment",
        )
    return after


def _send_with_fallback(
    c: Collection,
    invoice: Invoice,
    step: Step,
    index: int,
    prepared: Prepared,
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
) -> bool:
    ok = _send(c, invoice, step, index, prepared, runtime, writes, now)
    if not ok and step.fallback_channel is not None:
        fallback = prepare(c, invoice, step, index, step.fallback_channel, now)
        ok = _send(c, invoice, step, index, fallback, runtime, writes, now)
    return ok


def _send(
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
    marker = _message_record(c, index, prepared, status="sending", now=now)
    try:
        with storage_errors("a message for this step and channel exists"):
            marker.save(condition=MessageRecord.pk.does_not_exist())
    except ConflictError:
        return False  # a message for this step and channel exists: never twice
    return _deliver_and_record(c, invoice, step, index, prepared, marker, runtime, writes, now)


def _deliver_and_record(
    c: Collection,
    invoice: Invoice,
    step: Step,
    index: int,
    prepared: Prepared,
    message: MessageRecord,
    runtime: CollectionRuntime,
    writes: CollectionWrites,
    now: datetime,
    *,
    how: str = "",
) -> bool:
    """Hand the message to its channel and add its outcome to `writes`: the message, a letter or task,
    the provider's id (for its delivery reports), the figures, the audit event and the timeline."""
    try:
        outcome = deliver(c, invoice, step, prepared, runtime, now)
    except ChannelRefusedError as exc:
        outcome = Delivery("failed", None, exc.reason)
    message.status, message.provider_id, message.problem = (
        outcome.status,
        outcome.provider_id,
        outcome.problem,
    )
    message.recipient = outcome.recipient or message.recipient
    message.letter_id, message.task_id = outcome.letter_id, outcome.task_id
    message.gsi1pk = f"T#{c.tenant_id}#MSG#{outcome.status}"
    writes.message_updates.append(message)
    writes.letters += outcome.letters
    writes.tasks += outcome.tasks
    if outcome.provider_id:
        writes.provider_ids.append(
            ProviderMessageRecord(
                pk=f"PMSG#{outcome.provider_id}",
                sk="PMSG",
                tenant_id=c.tenant_id,
                invoice_id=c.invoice_id,
                message_sk=message.sk,
                created_at=now,
                updated_at=now,
            )
        )
    writes.add_stat(c.campaign_id, f"MSG#{prepared.channel.value}#{outcome.status}", tally=1)
    what = f"step {index + 1}: {prepared.channel.value} {outcome.status}{how}"
    _event(
        writes,
        invoice.invoice_id,
        "system:collections",
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


def _message_record(c: Collection, index: int, p: Prepared, *, status: str, now: datetime) -> MessageRecord:
    return MessageRecord(
        pk=invoice_pk(c.tenant_id, c.invoice_id),
        sk=message_sk(index, p.channel),
        tenant_id=c.tenant_id,
        invoice_id=c.invoice_id,
        counterparty_id=c.counterparty_id,
        campaign_id=c.campaign_id,
        step_index=index,
        channel=p.channel.value,
        status=status,
        template=p.template,
        language=p.language,
        subject=p.subject,
        body=p.body,
        late_charges=_charges_dict(p.charges),
        created_at=now,
        updated_at=now,
        gsi1pk=f"T#{c.tenant_id}#MSG#{status}",
        gsi1sk=f"{now.isoformat()}#{c.invoice_id}#{index:02d}",
    )


def _charges_dict(charges: LateCharges | None) -> dict[str, Any] | None:
    if charges is None:
        return None
    return {
        "days_late": charges.days_late,
        "interest": charges.interest,
        "compensation": charges.compensation,
        "total": charges.total,
    }


_CACHE: dict[tuple[object, ...], tuple[float, Any]] = {}
# A sweep renders many reminders of one tenant: its settings, name and templates are read once a
# minute, not once a reminder (a change to them reaches reminders within this many seconds).
CACHE_SECONDS = 60.0


def _cached(key: tuple[object, ...], load: Callable[[], T]) -> T:
    hit = _CACHE.get(key)
    if hit is not None and monotonic() - hit[0] < CACHE_SECONDS:
        return cast(T, hit[1])
    value = load()
    if len(_CACHE) > 1_000:
        _CACHE.clear()
    _CACHE[key] = (monotonic(), value)
    return value


def prepare(
    c: Collection, invoice: Invoice, step: Step, index: int, channel: Channel, now: datetime
) -> Prepared:
    """The step's message on a channel, rendered in the debtor's language."""
    tenant = _cached(("tenant", c.tenant_id), lambda: tenants.get(c.tenant_id))
    counterparty = parties.get_profile(c.tenant_id, invoice.counterparty_id)
    config = _cached(("settings", c.tenant_id), lambda: campaigns.settings(c.tenant_id))
    language, _ = debtor_locale(counterparty, tenant)
    template = _cached(
        ("template", c.tenant_id, step.template, channel, language),
        lambda: _sweep_template(c, step, channel, language),
    )
    return _rendered(
        invoice, step, index, channel, counterparty, tenant, config, template, today_for(tenant, now)
    )


def _sweep_template(c: Collection, step: Step, channel: Channel, language: str) -> ReminderTemplate:
    try:
        return campaigns.template_for(c.tenant_id, step.template, channel, language)
    except campaigns.MissingTemplateError:
        # Only a run of a campaign saved before templates were checked can name a missing one. The
        # debtor still gets the reminder its lateness calls for, in the channel's default text, and
        # it is logged (the preview refuses such a step instead).
        logger.warning(
            "step names a missing template; the channel's default goes out",
            tenant_id=c.tenant_id,
            campaign_id=c.campaign_id,
            template=step.template,
            channel=channel.value,
        )
        return campaigns.template_for(c.tenant_id, None, channel, language)


def _rendered(
    invoice: Invoice,
    step: Step,
    index: int,
    channel: Channel,
    counterparty: Counterparty,
    tenant: Tenant,
    config: campaigns.CollectionSettings,
    template: ReminderTemplate,
    day: date,
) -> Prepared:
    """A step's message as of `day`: late charges, the context, the sandboxed render."""
    from cashline.domain import reminder_templates as templates  # Jinja2: not at cold start

    _, locale = debtor_locale(counterparty, tenant)
    charges = _charges(invoice, day, config) if step.late_charges else None
    context = _context(tenant, config, counterparty, invoice, charges, index, channel, day, locale)
    rendered = templates.render(template, context, locale)
    return Prepared(
        channel,
        template.name,
        template.language,
        rendered.subject,
        rendered.body,
        charges,
        counterparty,
        tenant,
        locale,
    )


def _context(
    tenant: Tenant,
    config: campaigns.CollectionSettings,
    counterparty: Counterparty,
    invoice: Invoice,
    charges: LateCharges | None,
    index: int,
    channel: Channel,
    today: date,
    locale: str,
) -> dict[str, Any]:
    from cashline.domain import reminder_templates as templates  # Jinja2: not at cold start

    creditor = config.creditor
    return templates.reminder_context(
        locale=locale,
        creditor_name=str(creditor.get("name") or tenant.name),
        creditor_email=str(creditor.get("email") or ""),
        creditor_phone=str(creditor["phone"]) if creditor.get("phone") else None,
        creditor_iban=str(creditor["iban"]) if creditor.get("iban") else None,
        debtor_name=counterparty.name,
        debtor_language=counterparty.preferred_language or "",
        invoice_number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        amount_due=invoice.amount_due,
        amount_outstanding=invoice.amount_outstanding,
        days_past_due=days_past_due(invoice.due_date, today, invoice.status),
        step_number=index + 1,
        channel=channel.value,
        late_charges=charges,
        pay_by=today + PAY_WITHIN,
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    status: str  # sent | failed
    provider_id: str | None
    problem: str | None
    recipient: str | None = None
    letter_id: str | None = None
    task_id: str | None = None
    letters: tuple[LetterRecord, ...] = ()
    tasks: tuple[TaskRecord, ...] = ()


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


def invoice_pdf_bytes(invoice: Invoice, p: Prepared, runtime: CollectionRuntime) -> bytes:
    """The invoice's own PDF when one was uploaded or imported, else one made from its lines."""
    from babel.dates import format_date

    from cashline.adapters.pdf_documents import invoice_pdf

    header, body, documents = invoices.get(invoice.tenant_id, invoice.invoice_id)
    for document in documents:
        if document.status == "available" and (document.detected_content_type or "") == "application/pdf":
            return runtime.documents.read(document.s3_key)
    lines = [
        {
            "description": str(line.get("description", "")),
            "quantity": str(line.get("quantity", "1")),
            "unit_amount": _money_text(int(line.get("unit_amount", 0)), header.currency, p.locale),
            "net": _money_text(int(line.get("net_amount", 0)), header.currency, p.locale),
        }
        for line in (body.lines if body else [])
    ] or [
        {
            "description": header.description or header.number,
            "quantity": "1",
            "unit_amount": _money_text(header.amount_due, header.currency, p.locale),
            "net": _money_text(header.subtotal or header.amount_due, header.currency, p.locale),
        }
    ]
    totals = [
        ("Net", _money_text(header.subtotal, header.currency, p.locale)),
        ("Tax", _money_text(header.tax, header.currency, p.locale)),
        ("Total", _money_text(header.amount_due, header.currency, p.locale)),
    ]
    return invoice_pdf(
        creditor={"name": p.tenant.name},
        debtor={"name": p.counterparty.name, "address": address_lines(p.counterparty)},
        number=header.number,
        issue_date_text=format_date(header.issue_date, format="medium", locale=p.locale),
        due_date_text=format_date(header.due_date, format="medium", locale=p.locale),
        lines=lines,
        totals=totals,
        notes=None,
    )


def _letter(
    c: Collection, invoice: Invoice, p: Prepared, runtime: CollectionRuntime, now: datetime
) -> Delivery:
    from babel.dates import format_date

    from cashline.adapters.pdf_documents import letter_pdf

    address = address_lines(p.counterparty)
    if len(address) < 2:
        raise ChannelRefusedError("no postal address")
    config = campaigns.settings(c.tenant_id)
    creditor = {"name": p.tenant.name, **{k: v for k, v in config.creditor.items() if v}}
    pdf = letter_pdf(
        creditor=creditor,
        debtor={"name": p.counterparty.name, "address": address},
        date_text=format_date(now.date(), format="long", locale=p.locale),
        subject=p.subject or invoice.number,
        body=p.body,
        footer=" · ".join(
            str(v) for v in (creditor.get("name"), creditor.get("iban"), creditor.get("email")) if v
        ),
    )
    letter_id = new_id("letter")
    key = f"letters/{c.tenant_id}/{letter_id}.pdf"
    runtime.documents.put(key, pdf, content_type="application/pdf")
    record = LetterRecord(
        pk=letter_pk(c.tenant_id, letter_id),
        sk="LTR",
        tenant_id=c.tenant_id,
        letter_id=letter_id,
        invoice_id=c.invoice_id,
        counterparty_id=c.counterparty_id,
        recipient_name=p.counterparty.name,
        address=address,
        s3_key=key,
        status="ready",
        language=p.language,
        size_bytes=len(pdf),
        created_at=now,
        updated_at=now,
        gsi1pk=f"T#{c.tenant_id}#LTR#ready",
        gsi1sk=f"{now.isoformat()}#{letter_id}",
    )
    return Delivery("sent", None, None, recipient=p.counterparty.name, letter_id=letter_id, letters=(record,))


def _task(c: Collection, invoice: Invoice, step: Step, p: Prepared, now: datetime) -> Delivery:
    config = campaigns.settings(c.tenant_id)
    assignee = step.assignee or config.default_assignee
    day = today_for(p.tenant, now)
    task_id = new_id("task")
    record = task_record(
        c.tenant_id,
        task_id,
        invoice=invoice,
        counterparty=p.counterparty,
        assignee=assignee,
        day=day,
        script=p.body,
        timezone=p.tenant.timezone,
        now=now,
    )
    return Delivery("sent", None, None, recipient=assignee, task_id=task_id, tasks=(record,))


def task_record(
    tenant_id: str,
    task_id: str,
    *,
    invoice: Invoice,
    counterparty: Counterparty,
    assignee: str | None,
    day: date,
    script: str,
    timezone: str,
    now: datetime,
    status: str = "open",
) -> TaskRecord:
    record = TaskRecord(
        pk=task_pk(tenant_id, task_id),
        sk="TASK",
        tenant_id=tenant_id,
        task_id=task_id,
        invoice_id=invoice.invoice_id,
        counterparty_id=counterparty.counterparty_id,
        counterparty_name=counterparty.name,
        phone=counterparty.phone,
        assignee=assignee,
        due_date=day.isoformat(),
        script=script,
        status=status,
        created_at=now,
        updated_at=now,
        gsi1pk=f"T#{tenant_id}#TASK#{status}",
        gsi1sk=f"{day.isoformat()}#{task_id}",
    )
    if assignee:
        record.gsi2pk = f"T#{tenant_id}#TASKA#{assignee.casefold()}#{status}"
        record.gsi2sk = f"{day.isoformat()}#{task_id}"
        if status == "open":
            # The assignee's reminder at 08:00 on the day (the tenant's zone); at once when that is past.
            remind = max(now, datetime.combine(day, time(8, 0), tzinfo=ZoneInfo(timezone)))
            record.due_pk, record.due_sk = due_keys(TASK_REMINDER_JOB, remind, tenant_id, task_id)
    return record


def _money_text(amount: int, currency: str, locale: str) -> str:
    from babel.numbers import format_currency

    from cashline.domain.money import currency_exponent

    return format_currency(Decimal(amount).scaleb(-currency_exponent(currency)), currency, locale=locale)


# --- approval -------------------------------------------------------------------------------------


def decide(
    tenant_id: str,
    invoice_id: str,
    step: int,
    *,
    approve: bool,
    actor: str,
    runtime: CollectionRuntime,
    now: datetime,
) -> MessageRecord:
    """A person approves (it goes out now) or rejects (the step is skipped) a prepared reminder."""
    invoice = _invoice(tenant_id, invoice_id)
    current = dunning.collection(tenant_id, invoice_id)
    if current is None or current.next_step != step or current.current_step is None:
        raise NotFoundError("no reminder awaits approval at this step", field="step")
    channel = current.current_step.channel
    held = dunning.message(tenant_id, invoice_id, message_sk(step, channel))
    if held is None or held.status != "awaiting_approval":
        raise NotFoundError("no reminder awaits approval at this step", field="step")
    writes = CollectionWrites(tenant_id, now)
    held.status = "approved" if approve else "rejected"
    held.gsi1pk = f"T#{tenant_id}#MSG#{held.status}"
    writes.message_updates.append(held)
    _event(writes, invoice_id, actor, f"reminder_{held.status}", f"step {step + 1} ({channel.value})")
    dunning.commit(writes)
    writes = CollectionWrites(tenant_id, now)
    if approve:
        prepared = Prepared(
            channel,
            held.template or "",
            held.language or "en",
            held.subject,
            held.body or "",
            None,
            parties.get_profile(tenant_id, invoice.counterparty_id),
            tenants.get(tenant_id),
            held.language or "en",
        )
        # The approved text itself goes out, recorded on the held message (its version as just saved).
        _deliver_and_record(
            current,
            invoice,
            current.current_step,
            step,
            prepared,
            held,
            runtime,
            writes,
            now,
            how=" (approved)",
        )
    writes.collection = (current, _advance(current, invoice, writes, now))
    dunning.commit(writes)
    return dunning.message(tenant_id, invoice_id, message_sk(step, channel)) or held


def messages_by_status(
    tenant_id: str, status: str, *, limit: int, starting_after: str | None
) -> Page[MessageRecord]:
    """Reminders by status, newest first: those awaiting approval, sent, failed, bounced."""
    return dunning.messages_by_status(tenant_id, status, limit=limit, starting_after=starting_after)


# --- delivery reports (SES bounces and complaints) ---------------------------------------------------


def record_feedback(feedback: Any, runtime: CollectionRuntime, *, now: datetime) -> bool:
    """A bounce or complaint marks the message; the step's fallback channel goes out when it has one.
    Returns whether the report named a message of ours."""
    lookup = dunning.provider_message(feedback.provider_id)
    if lookup is None:
        return False
    message = dunning.message(lookup.tenant_id, lookup.invoice_id, lookup.message_sk)
    if message is None or feedback.outcome == "delivered" or message.status in {"bounced", "complained"}:
        return message is not None
    status = (
        "bounced"
        if feedback.outcome == "bounced"
        else ("complained" if feedback.outcome == "complained" else "failed")
    )
    message.status, message.problem = status, feedback.detail or feedback.outcome
    message.gsi1pk = f"T#{lookup.tenant_id}#MSG#{status}"
    writes = CollectionWrites(lookup.tenant_id, now)
    writes.message_updates.append(message)
    writes.add_stat(message.campaign_id, f"MSG#{message.channel}#{status}", tally=1)
    _event(writes, lookup.invoice_id, "system:collections", f"reminder_{status}", message.problem or status)
    writes.note(
        message.counterparty_id,
        lookup.invoice_id,
        f"reminder_{status}",
        f"{message.channel} {status}: {message.problem}",
    )
    dunning.commit(writes)
    collection = dunning.collection(lookup.tenant_id, lookup.invoice_id)
    step_index = int(message.step_index)
    if collection is not None and step_index < len(collection.steps):
        step = collection.steps[step_index]
        if step.fallback_channel is not None and status != "complained":
            _fallback_now(collection, step, step_index, runtime, now)
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
    _send(collection, invoice, step, index, prepared, runtime, writes, now)
    dunning.commit(writes)


# --- tasks and letters -------------------------------------------------------------------------------


def run_task_reminders(*, tick_at: datetime, worker: str, runtime: CollectionRuntime) -> SweepResult:
    """On a call task's day, its assignee gets an e-mail with the debtor, the amount and the script."""

    def handle(item: Any) -> bool:
        if (
            not isinstance(item, TaskRecord)
            or item.status != "open"
            or item.reminded == "yes"
            or not item.assignee
        ):
            return False
        item.reminded = "yes"
        item.updated_at = tick_at
        item.due_pk = None
        item.due_sk = None
        try:
            with storage_errors("task reminded by another sweep"):
                item.save()  # on the version read: a second sweep finds it changed and sends nothing
        except ConflictError:
            return False
        runtime.email.send(
            OutgoingEmail(
                to=item.assignee,
                subject=f"Call today: {item.counterparty_name}",
                tenant_id=item.tenant_id,
                text=(
                    f"Please call {item.counterparty_name} ({item.phone or 'no phone on file'}) today about "
                    f"invoice {item.invoice_id}.\n\n{item.script}\n\n"
                    f"Record the outcome: PATCH /v1/tasks/{item.task_id}"
                ),
            )
        )
        return True

    return sweep(
        schedule=TASK_SCHEDULE,
        job=TASK_REMINDER_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=handle,
    )


def update_task(
    tenant_id: str,
    task_id: str,
    *,
    expected_version: int,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> TaskRecord:
    if not is_id_of("task", task_id):
        raise NotFoundError("task not found", field="task_id")
    task = dunning.task(tenant_id, task_id)
    if int(task.version or 0) != expected_version:
        raise ConflictError("task was changed since this version; read it again", field="version")
    promise_date, promise_amount = changes.pop("promise_date", None), changes.pop("promise_amount", None)
    if changes.get("outcome") == "promised" and (promise_date is None or promise_amount is None):
        raise ValidationError("a promise needs promise_date and promise_amount", field="promise_date")
    invoice = invoices.get_header(tenant_id, task.invoice_id)
    counterparty = parties.get_profile(tenant_id, task.counterparty_id)
    status = changes.get("status") or task.status
    if changes.get("outcome") and "status" not in changes:
        status = "done"
    updated = task_record(
        tenant_id,
        task_id,
        invoice=invoice,
        counterparty=counterparty,
        assignee=changes.get("assignee", task.assignee),
        day=changes.get("due_date") or date.fromisoformat(task.due_date),
        script=task.script,
        timezone=tenants.get(tenant_id).timezone,
        now=now,
        status=status,
    )
    updated.created_at, updated.version = task.created_at, task.version
    updated.outcome = changes.get("outcome", task.outcome)
    updated.notes = changes.get("notes", task.notes)
    updated.reminded = task.reminded if "due_date" not in changes else "no"
    writes = CollectionWrites(tenant_id, now)
    writes.tasks.append(updated)
    if updated.outcome != task.outcome and updated.outcome:
        _event(
            writes,
            task.invoice_id,
            actor,
            "call_outcome",
            f"{updated.outcome}: {updated.notes or ''}".strip(": "),
        )
        writes.note(
            task.counterparty_id,
            task.invoice_id,
            "call_outcome",
            f"call: {updated.outcome}",
            notes=updated.notes,
        )
        campaign = dunning.collection(tenant_id, task.invoice_id)
        if campaign is not None:
            writes.add_stat(campaign.campaign_id, f"MSG#call_task#{updated.outcome}", tally=1)
    dunning.commit(writes)
    if promise_date is not None and promise_amount is not None:
        promise(
            tenant_id,
            task.invoice_id,
            on=promise_date,
            amount=promise_amount,
            actor=actor,
            note="by phone",
            now=now,
        )
    return dunning.task(tenant_id, task_id)


def set_letter_status(
    tenant_id: str, letter_id: str, status: str, *, actor: str, now: datetime
) -> LetterRecord:
    if not is_id_of("letter", letter_id):
        raise NotFoundError("letter not found", field="letter_id")
    letter = dunning.letter(tenant_id, letter_id)
    allowed = {"ready": {"printed", "mailed", "cancelled"}, "printed": {"mailed", "cancelled"}}
    if status not in allowed.get(letter.status, set()):
        raise ConflictError(f"a {letter.status} letter cannot become {status}", field="status")
    letter.status = status
    letter.updated_at = now
    letter.gsi1pk = f"T#{tenant_id}#LTR#{status}"
    writes = CollectionWrites(tenant_id, now)
    writes.letter_updates.append(letter)
    _event(writes, letter.invoice_id, actor, f"letter_{status}", f"letter {letter_id}")
    writes.note(letter.counterparty_id, letter.invoice_id, f"letter_{status}", f"letter {status}")
    dunning.commit(writes)
    return dunning.letter(tenant_id, letter_id)


# --- figures and timeline ------------------------------------------------------------------------


def campaign_stats(tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """Counts over every run; amounts per currency (runs in several currencies are never added up)."""
    campaign = campaigns.get_campaign(tenant_id, campaign_id)
    raw = dunning.stats(tenant_id, campaign_id)
    per_currency: dict[str, dict[str, Any]] = {}

    def currency_row(ccy: str) -> dict[str, Any]:
        return per_currency.setdefault(
            ccy,
            {
                "currency": ccy,
                "entered": 0,
                "entered_amount": 0,
                "recovered_amount": 0,
                "waiting_by_step": {},
            },
        )

    steps: list[dict[str, Any]] = [
        {"step": i, "channel": s.channel.value, "debtors": 0, "paid_after": 0, "days": 0}
        for i, s in enumerate(campaign.steps)
    ]
    messages: dict[str, dict[str, int]] = {}
    for key, figures in raw.items():
        kind, _, rest = key.partition("#")
        if kind == "TOTAL" and rest:
            row = currency_row(rest)
            row["entered"] += figures["tally"]
            row["entered_amount"] += figures["entered_amount"]
            row["recovered_amount"] += figures["recovered"]
        elif kind in {"STEP", "PAID"} and "#" in rest:
            index_text, ccy = rest.split("#", 1)
            index = int(index_text)
            if index >= len(steps):
                continue
            if kind == "STEP":
                steps[index]["debtors"] += figures["tally"]
                currency_row(ccy)["waiting_by_step"][str(index)] = figures["amount"]
            else:
                steps[index]["paid_after"] += figures["tally"]
                steps[index]["days"] += figures["days"]
        elif kind == "MSG":
            channel, _, outcome = rest.partition("#")
            messages.setdefault(channel, {})[outcome] = figures["tally"]
    by_currency = [
        {
            **row,
            "recovery_rate": round(row["recovered_amount"] / row["entered_amount"], 4)
            if row["entered_amount"]
            else None,
        }
        for _, row in sorted(per_currency.items())
    ]
    single = by_currency[0] if len(by_currency) == 1 else None
    for step in steps:
        step["amount"] = int(single["waiting_by_step"].get(str(step["step"]), 0)) if single else None
        step["average_days_to_pay"] = (
            round(step["days"] / step["paid_after"], 1) if step["paid_after"] else None
        )
        del step["days"]
    return {
        "campaign_id": campaign_id,
        "currency": single["currency"] if single else None,
        "entered": sum(row["entered"] for row in by_currency),
        "entered_amount": single["entered_amount"] if single else None,
        "recovered_amount": single["recovered_amount"] if single else None,
        "recovery_rate": single["recovery_rate"] if single else None,
        "completed_paid": raw.get("PAIDRUNS", {}).get("tally", 0),
        "by_currency": by_currency,
        "steps": steps,
        "messages": messages,
    }


def preview(
    tenant_id: str,
    campaign_id: str,
    invoice_id: str,
    *,
    step: int | None,
    language: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    campaign = campaigns.get_campaign(tenant_id, campaign_id)
    invoice = _invoice(tenant_id, invoice_id)
    tenant = tenants.get(tenant_id)
    counterparty = parties.get_profile(tenant_id, invoice.counterparty_id)
    if language:
        counterparty = replace(counterparty, preferred_language=language)
    if step is not None and step >= len(campaign.steps):
        raise ValidationError(f"the campaign has {len(campaign.steps)} steps", field="step")
    run = new_run(tenant, invoice, counterparty, campaign, now)
    indexes = [step] if step is not None else list(range(len(campaign.steps)))
    rendered = []
    for index in indexes:
        s = campaign.steps[index]
        moment = runs.step_moment(run, invoice.due_date, index, now) or now
        p = _prepare_for(run, invoice, s, index, counterparty, tenant, moment)
        rendered.append(
            {
                "step": index,
                "channel": s.channel.value,
                "template": p.template,
                "language": p.language,
                "subject": p.subject,
                "body": p.body,
                "late_charges": _charges_dict(p.charges),
            }
        )
    return rendered


def _prepare_for(
    run: Collection,
    invoice: Invoice,
    step: Step,
    index: int,
    counterparty: Counterparty,
    tenant: Tenant,
    moment: datetime,
) -> Prepared:
    """Like `prepare`, with a given counterparty (a preview in another language), as of the step's day
    and with the settings and templates as they are now (no cache: a preview follows an edit at once)."""
    language, _ = debtor_locale(counterparty, tenant)
    try:
        template = campaigns.template_for(tenant.tenant_id, step.template, step.channel, language)
    except campaigns.MissingTemplateError as exc:
        # A preview shows what would go out: never another text in place of a missing one.
        raise UnprocessableError(
            f"{exc.message}: edit the campaign's step {index}", field=f"steps[{index}].template"
        ) from None
    day = moment.astimezone(ZoneInfo(tenant.timezone)).date()
    config = campaigns.settings(tenant.tenant_id)
    return _rendered(invoice, step, index, step.channel, counterparty, tenant, config, template, day)


def _charges(invoice: Invoice, day: date, config: campaigns.CollectionSettings) -> LateCharges | None:
    """Statutory late charges as of `day`; for a half-year the rate table does not know yet, the
    latest known reference rate (the tenant can set its own in the collection settings)."""
    if day <= invoice.due_date or invoice.amount_outstanding <= 0:
        return None
    rate = config.reference_rate_bp
    try:
        return late_charges(
            invoice.amount_outstanding, invoice.currency, invoice.due_date, day, reference_rate_bp=rate
        )
    except ValueError:
        latest = ECB_REFERENCE_RATES_BP[max(ECB_REFERENCE_RATES_BP)]
        logger.warning("reference rate unknown for the period; the latest known one used", rate_bp=latest)
        return late_charges(
            invoice.amount_outstanding, invoice.currency, invoice.due_date, day, reference_rate_bp=latest
        )
