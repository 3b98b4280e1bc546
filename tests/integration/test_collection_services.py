"""The collection services below HTTP, against DynamoDB Local, each with the instant passed in:
entering a campaign, a person's actions, promises (a broken one moves risk through
services/reactions.py), keeping a run in step with its invoice, one step of the sweep, approval,
a bounce's fallback, a call task's outcome, and the campaign's figures.

The Given parts set the scene through the API (as a client would); the When parts call the services.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cashline.adapters.messaging import DeliveryFeedback
from cashline.dal.transactions import UnitOfWork
from cashline.domain.dunning import Channel, CollectionStatus, PauseReason
from cashline.domain.invoices import InvoiceStatus
from cashline.errors import ConflictError, NotFoundError
from cashline.services import reactions, risk
from cashline.services.collections import approvals, entry, feedback, promises, stats, sweep, sync, tasks
from cashline.services.collections.context import CollectionRuntime, dunning, invoices
from cashline.services.invoices import change_status
from cashline.services.tenancy import tenants
from chalicelib.collection_runtime import api_collection_runtime
from tests.integration.test_collection_hardening import debtor, invoice, ok, with_default_campaign
from tests.utils import Api, TestTenant

pytestmark = pytest.mark.usefixtures("local_cloud")

T0 = datetime(2025, 1, 2, 8, 0, tzinfo=UTC)  # when the tenants of this file are made
NOW = datetime(2025, 3, 4, 9, 0, 7, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin: inside business hours
DUE = date(2025, 2, 1)  # a month before NOW: overdue


@pytest.fixture
def tenant(tenant_factory: Any) -> TestTenant:
    made: TestTenant = tenant_factory("Sundvik GmbH", now=T0)
    return made


@pytest.fixture
def runtime() -> CollectionRuntime:
    return api_collection_runtime()


def overdue_in_campaign(
    api: Api,
    tenant: TestTenant,
    suffix: str,
    steps: list[dict[str, Any]] | None = None,
    **debtor_fields: Any,
) -> tuple[str, str, str]:
    """(campaign id, counterparty id, invoice id): an invoice created overdue, so in its campaign."""
    client = api.at(NOW)
    campaign_id = with_default_campaign(client, tenant, steps)
    if not debtor_fields:
        who = debtor(client, tenant, suffix)
    else:
        body = {
            "name": f"Kunde {suffix}",
            "email": f"ap-{suffix}@kunde.example",
            "country": "DE",
            **debtor_fields,
        }
        who = ok(client.post("/v1/counterparties", key=tenant.finance, json_body=body), 201)["id"]
    created = invoice(client, tenant, who, f"RE-{suffix}", DUE)
    assert created["status"] == "overdue"
    return campaign_id, who, created["id"]


# --- entering ----------------------------------------------------------------------------------------


def test_an_invoice_enters_its_campaign_through_the_callers_unit_of_work(
    api: Api, tenant: TestTenant
) -> None:
    # Given a default campaign and an open invoice that is in none yet
    client = api.at(NOW)
    campaign_id = with_default_campaign(client, tenant)
    created = invoice(client, tenant, debtor(client, tenant, "entry"), "RE-ENTRY", DUE + timedelta(days=60))
    header = invoices.get_header(tenant.tenant_id, created["id"])
    run = entry.prepare_entry(tenants.get(tenant.tenant_id), header, NOW)
    assert run is not None and run.campaign_id == campaign_id

    # When its entry is one stage of a unit of work
    UnitOfWork("test").add(entry.entry_stage(run, "system:test", NOW)).commit()

    # Then the run is stored, counted, and a second entry finds it
    stored = entry.collection_of(tenant.tenant_id, created["id"])
    assert (stored.status, stored.campaign_id, stored.entered_at) == (
        CollectionStatus.ACTIVE,
        campaign_id,
        NOW,
    )
    assert entry.prepare_entry(tenants.get(tenant.tenant_id), header, NOW) is None
    figures = stats.campaign_stats(tenant.tenant_id, campaign_id)
    assert (figures["entered"], figures["steps"][0]["debtors"]) == (1, 1)
    assert entry.entry_stage(None, "system:test", NOW) is None


def test_a_person_pauses_resumes_and_stops_a_run(api: Api, tenant: TestTenant) -> None:
    _, _, invoice_id = overdue_in_campaign(api, tenant, "act")

    def act(action: str, at: datetime) -> CollectionStatus:
        run = entry.act(tenant.tenant_id, invoice_id, action, campaign_id=None, actor="u", note=None, now=at)
        return run.status

    assert act("pause", NOW) is CollectionStatus.PAUSED
    with pytest.raises(ConflictError):
        act("pause", NOW + timedelta(minutes=1))
    assert act("resume", NOW + timedelta(minutes=2)) is CollectionStatus.ACTIVE
    assert act("stop", NOW + timedelta(minutes=3)) is CollectionStatus.STOPPED
    assert act("start", NOW + timedelta(minutes=4)) is CollectionStatus.ACTIVE  # a new run over it
    with pytest.raises(NotFoundError):
        entry.collection_of(tenant.tenant_id, "inv_00000000000000000000000000")


# --- promises ----------------------------------------------------------------------------------------


def test_a_broken_promise_resumes_the_run_and_moves_risk_after_the_commit(
    api: Api, tenant: TestTenant, runtime: CollectionRuntime
) -> None:
    # Given a promise to pay part by today: the run pauses until the day after
    _, who, invoice_id = overdue_in_campaign(api, tenant, "broken")
    made = promises.promise(
        tenant.tenant_id, invoice_id, on=NOW.date(), amount=50_00, actor="u", note=None, now=NOW
    )
    assert (made.status, made.promised_date, made.amount) == ("open", NOW.date(), 50_00)
    paused = dunning.collection(tenant.tenant_id, invoice_id)
    assert paused is not None and paused.pause_reason is PauseReason.PROMISE and paused.next_at is not None

    # When the sweep looks at the run at its moment and no money came
    later = paused.next_at + timedelta(minutes=1)
    sweep.step_once(paused, runtime, now=later)

    # Then the promise is broken, the run goes on, and the counterparty's risk notes it
    items = dunning.run_items(tenant.tenant_id, invoice_id)
    assert [p.status for p in items.promises] == ["broken"]
    assert items.collection is not None and items.collection.status is CollectionStatus.ACTIVE
    assert risk.counterparty_risk(tenant.tenant_id, who)[0].broken_promises == 1


def test_a_kept_promise_moves_no_risk(api: Api, tenant: TestTenant) -> None:
    # Given a promise of 50.00 by today, and 60.00 paid
    _, who, invoice_id = overdue_in_campaign(api, tenant, "kept")
    promises.promise(tenant.tenant_id, invoice_id, on=NOW.date(), amount=50_00, actor="u", note=None, now=NOW)
    body = {"amount": 60_00, "currency": "EUR", "value_date": str(NOW.date()), "invoice_id": invoice_id}
    ok(api.at(NOW).post("/v1/payments", key=tenant.finance, json_body=body), 201)

    # When the run is brought in step after the promised day
    synced = sync.sync_with_invoice(tenant.tenant_id, invoice_id, now=NOW + timedelta(days=2))

    # Then the promise is kept, no counterparty is reported, and its risk shows no broken promise
    assert synced.broken_promises == ()
    assert [p.status for p in dunning.run_items(tenant.tenant_id, invoice_id).promises] == ["kept"]
    reactions.promises_broken(tenant.tenant_id, synced.broken_promises, now=NOW + timedelta(days=2))
    assert risk.counterparty_risk(tenant.tenant_id, who)[0].broken_promises == 0


# --- keeping a run in step -------------------------------------------------------------------------


def test_a_dispute_pauses_the_run_its_end_resumes_it_and_a_write_off_completes_it(
    api: Api, tenant: TestTenant
) -> None:
    _, _, invoice_id = overdue_in_campaign(api, tenant, "sync")

    def status_after(target: InvoiceStatus, at: datetime) -> tuple[CollectionStatus, PauseReason | None]:
        change_status(tenant.tenant_id, invoice_id, target, actor="u", now=at)  # reactions sync the run
        run = entry.collection_of(tenant.tenant_id, invoice_id)
        return run.status, run.pause_reason

    assert status_after(InvoiceStatus.DISPUTED, NOW) == (CollectionStatus.PAUSED, PauseReason.DISPUTE)
    assert status_after(InvoiceStatus.OPEN, NOW + timedelta(hours=1)) == (CollectionStatus.ACTIVE, None)
    assert status_after(InvoiceStatus.WRITTEN_OFF, NOW + timedelta(hours=2)) == (
        CollectionStatus.COMPLETED,
        None,
    )
    # Nothing left to bring in step: the run stays as it is.
    synced = sync.sync_with_invoice(tenant.tenant_id, invoice_id, now=NOW + timedelta(hours=3))
    assert synced.collection is not None and synced.collection.status is CollectionStatus.COMPLETED


# --- the sweep, approval, bounces ------------------------------------------------------------------


def test_one_step_of_the_sweep_goes_out_once(
    api: Api, tenant: TestTenant, runtime: CollectionRuntime
) -> None:
    # Given a run whose e-mail step is due
    campaign_id, _, invoice_id = overdue_in_campaign(
        api, tenant, "sweep", [{"offset_days": 1, "channel": "email"}, {"offset_days": 60, "channel": "sms"}]
    )
    run = entry.collection_of(tenant.tenant_id, invoice_id)
    assert run.next_step == 0 and run.next_at is not None

    # When the sweep takes it, twice
    first = sweep.step_once(run, runtime, now=max(run.next_at, NOW))
    second = sweep.step_once(run, runtime, now=max(run.next_at, NOW))

    # Then one e-mail went out, recorded as sent, and the run waits for its next step
    assert (first, second) == (True, False)
    message = dunning.message(tenant.tenant_id, invoice_id, 0, Channel.EMAIL)
    assert message is not None and message.status == "sent" and message.key == "MSG#00#email"
    assert message.provider_id
    assert entry.collection_of(tenant.tenant_id, invoice_id).next_step == 1
    assert stats.campaign_stats(tenant.tenant_id, campaign_id)["messages"] == {"email": {"sent": 1}}


def test_an_approved_reminder_goes_out_as_it_was_held(
    api: Api, tenant: TestTenant, runtime: CollectionRuntime
) -> None:
    # Given a step held for approval
    _, _, invoice_id = overdue_in_campaign(
        api, tenant, "approve", [{"offset_days": 1, "channel": "email", "require_approval": True}]
    )
    run = entry.collection_of(tenant.tenant_id, invoice_id)
    assert sweep.step_once(run, runtime, now=NOW) is False
    held = [
        m
        for m in approvals.messages_by_status(
            tenant.tenant_id, "awaiting_approval", limit=50, starting_after=None
        ).items
        if m.invoice_id == invoice_id
    ]
    assert [m.step_index for m in held] == [0]

    # When a person approves it
    sent = approvals.decide(
        tenant.tenant_id,
        invoice_id,
        0,
        approve=True,
        actor="u",
        runtime=runtime,
        now=NOW + timedelta(minutes=5),
    )

    # Then the held text went out, and the run moved past the step
    assert (sent.status, sent.subject, sent.body) == ("sent", held[0].subject, held[0].body)
    assert entry.collection_of(tenant.tenant_id, invoice_id).next_step == 1
    with pytest.raises(NotFoundError):
        approvals.decide(tenant.tenant_id, invoice_id, 0, approve=False, actor="u", runtime=runtime, now=NOW)


def test_a_bounce_marks_the_message_and_the_fallback_goes_out(
    api: Api, tenant: TestTenant, runtime: CollectionRuntime
) -> None:
    # Given an e-mail step, with an SMS fallback, that went out to a debtor with a mobile number
    _, _, invoice_id = overdue_in_campaign(
        api,
        tenant,
        "bounce",
        [{"offset_days": 1, "channel": "email", "fallback_channel": "sms"}],
        phone="+4915112345678",
    )
    sweep.step_once(entry.collection_of(tenant.tenant_id, invoice_id), runtime, now=NOW)
    mail = dunning.message(tenant.tenant_id, invoice_id, 0, Channel.EMAIL)
    assert mail is not None and mail.provider_id is not None

    # When SES reports a permanent bounce, twice
    report = DeliveryFeedback(mail.provider_id, "bounced", True, mail.recipient, "550 user unknown", NOW)
    later = NOW + timedelta(minutes=1)
    assert feedback.record_feedback(report, runtime, now=later) is True
    assert feedback.record_feedback(report, runtime, now=later) is True

    # Then the e-mail is bounced and one SMS went out instead
    bounced = dunning.message(tenant.tenant_id, invoice_id, 0, Channel.EMAIL)
    sms = dunning.message(tenant.tenant_id, invoice_id, 0, Channel.SMS)
    assert bounced is not None and (bounced.status, bounced.problem) == ("bounced", "550 user unknown")
    assert sms is not None and (sms.status, sms.recipient) == ("sent", "+4915112345678")
    unknown = DeliveryFeedback("no-such-id", "bounced", True, None, None, NOW)
    assert feedback.record_feedback(unknown, runtime, now=later) is False


# --- call tasks ------------------------------------------------------------------------------------


def test_a_call_task_outcome_records_a_promise(
    api: Api, tenant: TestTenant, runtime: CollectionRuntime
) -> None:
    # Given a call step that made a task for its assignee
    _, _, invoice_id = overdue_in_campaign(
        api, tenant, "call", [{"offset_days": 1, "channel": "call_task", "assignee": "calls@sundvik.example"}]
    )
    sweep.step_once(entry.collection_of(tenant.tenant_id, invoice_id), runtime, now=NOW)
    page = tasks.list_tasks(
        tenant.tenant_id,
        status="open",
        assignee="calls@sundvik.example",
        due_from=NOW.date(),
        due_to=NOW.date(),
        limit=50,
        starting_after=None,
    )
    [task] = [t for t in page.items if t.invoice_id == invoice_id]
    assert (task.due_date, task.reminded, task.remind_at) == (NOW.date(), False, NOW)

    # When the caller records a promise, on the version read
    changes = {"outcome": "promised", "promise_date": NOW.date() + timedelta(days=7), "promise_amount": 40_00}
    done = tasks.update_task(
        tenant.tenant_id, task.task_id, expected_version=task.version, changes=changes, actor="u", now=NOW
    )

    # Then the task is done, the promise is made, and an old version is refused
    assert (done.status, done.outcome, done.remind_at) == ("done", "promised", None)
    assert [p.amount for p in dunning.run_items(tenant.tenant_id, invoice_id).promises] == [40_00]
    assert entry.collection_of(tenant.tenant_id, invoice_id).pause_reason is PauseReason.PROMISE
    with pytest.raises(ConflictError):
        tasks.update_task(
            tenant.tenant_id, task.task_id, expected_version=task.version, changes={}, actor="u", now=NOW
        )


def test_the_assignee_is_reminded_of_a_call_task_once(
    api: Api, tenant: TestTenant, runtime: CollectionRuntime
) -> None:
    # Given a call task due today for its assignee
    _, _, invoice_id = overdue_in_campaign(
        api,
        tenant,
        "remind",
        [{"offset_days": 1, "channel": "call_task", "assignee": "remind@sundvik.example"}],
    )
    sweep.step_once(entry.collection_of(tenant.tenant_id, invoice_id), runtime, now=NOW)
    message = dunning.message(tenant.tenant_id, invoice_id, 0, Channel.CALL_TASK)
    assert message is not None and message.task_id is not None

    # When the reminder sweep runs, and runs again at the same tick
    tick = NOW + timedelta(minutes=1, seconds=13)
    first = tasks.run_task_reminders(tick_at=tick, worker="test", runtime=runtime)
    again = tasks.run_task_reminders(tick_at=tick, worker="test", runtime=runtime)

    # Then the task is reminded and leaves the due index; the second delivery of the tick does nothing
    assert first.claimed and first.items_changed >= 1 and not again.claimed
    task = tasks.task_of(tenant.tenant_id, message.task_id)
    assert (task.reminded, task.remind_at, task.status) == (True, None, "open")


def test_a_letter_goes_through_the_print_queue(
    api: Api, tenant: TestTenant, runtime: CollectionRuntime
) -> None:
    # Given a letter step for a debtor with a postal address
    address = {"line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}
    _, _, invoice_id = overdue_in_campaign(
        api, tenant, "letter", [{"offset_days": 1, "channel": "letter"}], address=address
    )
    assert sweep.step_once(entry.collection_of(tenant.tenant_id, invoice_id), runtime, now=NOW) is True
    [letter] = [
        x
        for x in tasks.list_letters(tenant.tenant_id, "ready", limit=50, starting_after=None).items
        if x.invoice_id == invoice_id
    ]
    assert letter.address[:2] == ("Hauptstraße 1", "10115 Berlin") and letter.size_bytes > 0
    assert tasks.letter_download_url(letter, runtime)

    # When it is printed, then mailed
    printed = tasks.set_letter_status(tenant.tenant_id, letter.letter_id, "printed", actor="u", now=NOW)
    mailed = tasks.set_letter_status(tenant.tenant_id, letter.letter_id, "mailed", actor="u", now=NOW)

    # Then it moved through the queue, and a mailed letter cannot be cancelled
    assert (printed.status, mailed.status) == ("printed", "mailed")
    assert [
        x.letter_id
        for x in tasks.list_letters(tenant.tenant_id, "mailed", limit=50, starting_after=None).items
    ] == [letter.letter_id]
    with pytest.raises(ConflictError):
        tasks.set_letter_status(tenant.tenant_id, letter.letter_id, "cancelled", actor="u", now=NOW)
