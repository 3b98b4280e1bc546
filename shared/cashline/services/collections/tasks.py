"""Call tasks and letters, the work a campaign leaves for people: a task's assignee is reminded on
its day, records the call's outcome (a promise, with its date and amount), or moves the task; a
letter goes through the print queue (ready -> printed -> mailed, or cancelled)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from cashline.adapters.messaging import OutgoingEmail
from cashline.dal.collection_writes import CollectionWrites
from cashline.dal.dunning_records import TASK_REMINDER_JOB
from cashline.dal.pagination import Page
from cashline.dal.table import CashlineItem
from cashline.domain.collection_messages import LETTER_MOVES, CallTask, Letter, task_reminder_at
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import Invoice
from cashline.errors import ConflictError, NotFoundError, ValidationError
from cashline.ids import is_id_of
from cashline.services.collections.context import CollectionRuntime, audit, dunning, invoices, parties
from cashline.services.collections.promises import promise
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

TASK_SCHEDULE = "task_reminders"


def call_task(
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
) -> CallTask:
    """A call about `invoice` on `day`; an open one with an assignee reminds them on the day."""
    return CallTask(
        tenant_id=tenant_id,
        task_id=task_id,
        invoice_id=invoice.invoice_id,
        counterparty_id=counterparty.counterparty_id,
        counterparty_name=counterparty.name,
        phone=counterparty.phone,
        assignee=assignee,
        due_date=day,
        script=script,
        status=status,
        created_at=now,
        updated_at=now,
        remind_at=task_reminder_at(day, timezone, now) if assignee and status == "open" else None,
    )


def run_task_reminders(*, tick_at: datetime, worker: str, runtime: CollectionRuntime) -> SweepResult:
    """On a call task's day, its assignee gets an e-mail with the debtor, the amount and the script."""

    def handle(item: CashlineItem) -> bool:
        task = dunning.due_task(item)
        if task is None or task.status != "open" or task.reminded or not task.assignee:
            return False
        reminded = replace(task, reminded=True, remind_at=None, updated_at=tick_at)
        # On the version read: a second sweep finds it changed and sends nothing.
        if not dunning.save_task(reminded, "task reminded by another sweep"):
            return False
        runtime.email.send(
            OutgoingEmail(
                to=task.assignee,
                subject=f"Call today: {task.counterparty_name}",
                tenant_id=task.tenant_id,
                text=(
                    f"Please call {task.counterparty_name} ({task.phone or 'no phone on file'}) today about "
                    f"invoice {task.invoice_id}.\n\n{task.script}\n\n"
                    f"Record the outcome: PATCH /v1/tasks/{task.task_id}"
                ),
            )
        )
        return True

    return sweep(schedule=TASK_SCHEDULE, job=TASK_REMINDER_JOB, tick_at=tick_at, worker=worker, handle=handle)


def task_of(tenant_id: str, task_id: str) -> CallTask:
    if not is_id_of("task", task_id):
        raise NotFoundError("task not found", field="task_id")
    return dunning.task(tenant_id, task_id)


def list_tasks(
    tenant_id: str,
    *,
    status: str,
    assignee: str | None,
    due_from: date | None,
    due_to: date | None,
    limit: int,
    starting_after: str | None,
) -> Page[CallTask]:
    """Call tasks by status, assignee and due date."""
    return dunning.tasks(
        tenant_id,
        status=status,
        assignee=assignee,
        due_from=due_from,
        due_to=due_to,
        limit=limit,
        starting_after=starting_after,
    )


def update_task(
    tenant_id: str,
    task_id: str,
    *,
    expected_version: int,
    changes: dict[str, Any],
    actor: str,
    now: datetime,
) -> CallTask:
    """Record a call's outcome (a promise with its date and amount), reassign or move the task."""
    task = task_of(tenant_id, task_id)
    if task.version != expected_version:
        raise ConflictError("task was changed since this version; read it again", field="version")
    changes = dict(changes)
    promise_date, promise_amount = changes.pop("promise_date", None), changes.pop("promise_amount", None)
    if changes.get("outcome") == "promised" and (promise_date is None or promise_amount is None):
        raise ValidationError("a promise needs promise_date and promise_amount", field="promise_date")
    updated = _changed(task, changes, now)
    writes = CollectionWrites(tenant_id, now)
    writes.tasks.append(updated)
    if updated.outcome != task.outcome and updated.outcome:
        audit(
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


def _changed(task: CallTask, changes: dict[str, Any], now: datetime) -> CallTask:
    """The task with a person's changes, from the invoice and counterparty as they are now."""
    invoice = invoices.get_header(task.tenant_id, task.invoice_id)
    counterparty = parties.get_profile(task.tenant_id, task.counterparty_id)
    status = changes.get("status") or task.status
    if changes.get("outcome") and "status" not in changes:
        status = "done"
    rebuilt = call_task(
        task.tenant_id,
        task.task_id,
        invoice=invoice,
        counterparty=counterparty,
        assignee=changes.get("assignee", task.assignee),
        day=changes.get("due_date") or task.due_date,
        script=task.script,
        timezone=tenants.get(task.tenant_id).timezone,
        now=now,
        status=status,
    )
    return replace(
        rebuilt,
        created_at=task.created_at,
        version=task.version,
        outcome=changes.get("outcome", task.outcome),
        notes=changes.get("notes", task.notes),
        reminded=task.reminded if "due_date" not in changes else False,
    )


# --- letters -----------------------------------------------------------------------------------------


def letter_of(tenant_id: str, letter_id: str) -> Letter:
    if not is_id_of("letter", letter_id):
        raise NotFoundError("letter not found", field="letter_id")
    return dunning.letter(tenant_id, letter_id)


def list_letters(tenant_id: str, status: str, *, limit: int, starting_after: str | None) -> Page[Letter]:
    """The print queue: letters by status, newest first."""
    return dunning.letters(tenant_id, status, limit=limit, starting_after=starting_after)


def letter_download_url(letter: Letter, runtime: CollectionRuntime) -> str | None:
    """A short-lived link to the letter's PDF; none for a cancelled letter."""
    if letter.status == "cancelled":
        return None
    return runtime.documents.presign_download(letter.s3_key, filename=f"{letter.letter_id}.pdf")


def set_letter_status(tenant_id: str, letter_id: str, status: str, *, actor: str, now: datetime) -> Letter:
    """Mark a letter printed, mailed or cancelled."""
    letter = letter_of(tenant_id, letter_id)
    if status not in LETTER_MOVES.get(letter.status, frozenset()):
        raise ConflictError(f"a {letter.status} letter cannot become {status}", field="status")
    writes = CollectionWrites(tenant_id, now)
    writes.letter_updates.append(replace(letter, status=status, updated_at=now))
    audit(writes, letter.invoice_id, actor, f"letter_{status}", f"letter {letter_id}")
    writes.note(letter.counterparty_id, letter.invoice_id, f"letter_{status}", f"letter {status}")
    dunning.commit(writes)
    return dunning.letter(tenant_id, letter_id)
