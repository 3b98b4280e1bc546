"""Collection campaigns against the local cloud, time driven by schedule ticks: an invoice falls
overdue, enters its campaign, gets its e-mail, SMS, letter and call task on the right days, is paid
partly (reminders pause), then fully (the campaign stops); a second sweep sends nothing new."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from cashline.dal.schedule_records import ScheduleRepository
from localcloud.cloud import LocalCloud
from localcloud.handlers import fire_schedule
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = FROZEN_NOW.date()
SCHEDULES = ("invoice_overdue_check", "collection_steps", "task_reminders")

# Requests and queued messages are handled at FROZEN_NOW; time then moves only by the ticks fired.
pytestmark = pytest.mark.usefixtures("frozen_now")


def after_every_cursor() -> date:
    """A Monday after every instant these schedules ran at in this session (sweeps go forward)."""
    latest = TODAY + timedelta(days=30)
    for schedule in SCHEDULES:
        cursor = ScheduleRepository().swept_until(schedule)
        if cursor is not None:
            latest = max(latest, cursor.astimezone(BERLIN).date() + timedelta(days=2))
    return latest + timedelta(days=(7 - latest.weekday()) % 7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def tick(app: Any, instant: datetime) -> dict[str, Any]:
    """Every schedule this test cares about, in the order EventBridge may fire them."""
    return {name: fire_schedule(app, name, instant) for name in SCHEDULES}


def outbox(cloud: LocalCloud) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(cloud.outbox_dir.glob("*.json"))]


def sent_to(cloud: LocalCloud, *recipients: str) -> list[dict[str, Any]]:
    return [m for m in outbox(cloud) if m.get("to") in recipients]


CAMPAIGN = {
    "name": "Standard B2B",
    "steps": [
        {"offset_days": -3, "channel": "email", "template": "friendly_reminder"},
        {
            "offset_days": 1,
            "channel": "email",
            "template": "first_reminder",
            "attach_invoice": True,
            "late_charges": True,
        },
        {"offset_days": 3, "channel": "sms", "template": "first_reminder", "fallback_channel": "email"},
        {"offset_days": 7, "channel": "letter", "template": "second_reminder", "late_charges": True},
        {
            "offset_days": 8,
            "channel": "call_task",
            "template": "final_notice",
            "assignee": "calls@nordlicht.example",
        },
    ],
}


def debtor(api: Api, tenant: TestTenant, suffix: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": f"Müller & Söhne {suffix}",
        "email": f"ap-{suffix}@mueller.example",
        "phone": "+49 170 1234567",
        "country": "DE",
        "preferred_language": "de",
        "address": {"line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"},
        **extra,
    }
    response = api.post("/v1/counterparties", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def invoice_for(
    api: Api, tenant: TestTenant, counterparty_id: str, number: str, due: date, amount: int
) -> dict[str, Any]:
    response = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": "receivable",
            "counterparty": {"id": counterparty_id},
            "number": number,
            "issue_date": str(TODAY),
            "due_date": str(due),
            "currency": "EUR",
            "lines": [{"description": "Wartung", "quantity": "1", "unit_amount": amount, "tax_rate": "0"}],
        },
    )
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def campaign(api: Api, tenant: TestTenant, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post("/v1/campaigns", key=tenant.admin, json_body=body or CAMPAIGN)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def collection_of(api: Api, tenant: TestTenant, invoice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}/collection", key=tenant.read_only)
    assert response.status_code == 200, response.body
    found: dict[str, Any] = response.json()
    return found


def settings(api: Api, tenant: TestTenant, **values: Any) -> dict[str, Any]:
    current = api.get("/v1/collection-settings", key=tenant.read_only).json()
    response = api.request(
        "PUT", "/v1/collection-settings", key=tenant.admin, json_body={**current, **values}
    )
    assert response.status_code == 200, response.body
    saved: dict[str, Any] = response.json()
    return saved


def test_an_overdue_invoice_runs_through_email_sms_letter_and_call_then_stops_when_paid(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    plan = campaign(api, tenant)
    settings(
        api,
        tenant,
        default_campaign_id=plan["id"],
        creditor_name="Nordlicht Maschinenbau GmbH",
        creditor_iban="DE89370400440532013000",
        creditor_email="buchhaltung@nordlicht.example",
    )
    who = debtor(api, tenant, "e2e")
    due = after_every_cursor()  # a Monday: every step day is a weekday
    inv = invoice_for(api, tenant, who["id"], "RE-4711", due, 1_234_56)
    email, phone = who["email"], "+491701234567"

    # The day after the due date: overdue, into the campaign; the friendly pre-due step is past and
    # skipped, the first reminder goes out at 09:00 the debtor's time, with the PDF and late charges.
    tick(chalice_app, at(due + timedelta(days=1), 8, 30))
    assert api.get(f"/v1/invoices/{inv['id']}", key=tenant.read_only).json()["status"] == "overdue"
    run = collection_of(api, tenant, inv["id"])
    assert (run["status"], run["next_step"], run["campaign_id"]) == ("active", 1, plan["id"])
    assert sent_to(local_cloud, email) == []  # 08:30 in Berlin: too early
    tick(chalice_app, at(due + timedelta(days=1), 9, 5))
    [first] = sent_to(local_cloud, email)
    assert "RE-4711" in first["subject"] and "1.234,56 €" in first["text"]
    assert "Verzugszinsen" in first["text"] or "Zinsen" in first["text"]
    [attachment] = first["attachments"]
    assert attachment["filename"] == "RE-4711.pdf"
    tick(chalice_app, at(due + timedelta(days=1), 15, 0))  # a second sweep that day sends nothing
    assert len(sent_to(local_cloud, email)) == 1

    tick(chalice_app, at(due + timedelta(days=3), 9, 0))
    [sms] = sent_to(local_cloud, phone)
    assert "RE-4711" in sms["text"]

    # A part payment pauses the reminders at once.
    paid = api.post(
        "/v1/payments",
        key=tenant.finance,
        json_body={"amount": 34_56, "currency": "EUR", "value_date": str(TODAY), "invoice_id": inv["id"]},
    )
    assert paid.status_code == 201, paid.body
    paused = collection_of(api, tenant, inv["id"])
    assert (paused["status"], paused["pause_reason"]) == ("paused", "partial_payment")

    # A person resumes it (on its own it waits 14 days from the payment); the letter for what is
    # still owed goes to the print queue on its day.
    resumed = api.post(
        f"/v1/invoices/{inv['id']}/collection", key=tenant.finance, json_body={"action": "resume"}
    )
    assert resumed.status_code == 200 and resumed.json()["next_channel"] == "letter"
    tick(chalice_app, at(due + timedelta(days=7), 9, 0))
    letters = api.get("/v1/letters?status=ready", key=tenant.read_only).json()["data"]
    assert [letter["invoice_id"] for letter in letters] == [inv["id"]]
    pdf = (
        local_cloud.client("s3")
        .get_object(Bucket=_bucket(), Key=f"letters/{tenant.tenant_id}/{letters[0]['id']}.pdf")["Body"]
        .read()
    )
    text = "".join(page.extract_text() for page in PdfReader(_bytes_io(pdf)).pages)
    assert "Müller & Söhne e2e" in text and "1.200,00 €" in text

    tick(chalice_app, at(due + timedelta(days=8), 9, 0))
    tasks = api.get("/v1/tasks?assignee=calls@nordlicht.example", key=tenant.read_only).json()["data"]
    assert [(t["invoice_id"], t["due_date"], t["status"]) for t in tasks] == [
        (inv["id"], str(due + timedelta(days=8)), "open")
    ]
    reminders = [m for m in sent_to(local_cloud, "calls@nordlicht.example")]
    assert len(reminders) == 1 and "Müller & Söhne e2e" in reminders[0]["subject"]

    # Paid in full: the campaign stops, nothing more goes out.
    rest = api.post(
        "/v1/payments",
        key=tenant.finance,
        json_body={"amount": 1_200_00, "currency": "EUR", "value_date": str(TODAY), "invoice_id": inv["id"]},
    )
    assert rest.status_code == 201
    assert collection_of(api, tenant, inv["id"])["status"] == "completed"
    before = len(outbox(local_cloud))
    tick(chalice_app, at(due + timedelta(days=20), 9, 0))
    assert len(outbox(local_cloud)) == before

    trail = [
        e["action"]
        for e in api.get(f"/v1/invoices/{inv['id']}/events?limit=100", key=tenant.read_only).json()["data"]
    ]
    for action in ("collection_started", "reminder_sent", "collection_completed"):
        assert action in trail, trail
    timeline = api.get(f"/v1/counterparties/{who['id']}/timeline?limit=100", key=tenant.read_only).json()[
        "data"
    ]
    kinds = [entry["kind"] for entry in timeline]
    assert kinds.count("reminder_sent") == 4 and "collection_completed" in kinds

    stats = api.get(f"/v1/campaigns/{plan['id']}/stats", key=tenant.read_only).json()
    assert stats["entered"] == 1 and stats["entered_amount"] == 1_234_56
    assert stats["recovered_amount"] == 1_234_56 and stats["recovery_rate"] == 1.0
    assert stats["messages"]["email"]["sent"] == 1 and stats["messages"]["sms"]["sent"] == 1
    assert sum(s["debtors"] for s in stats["steps"]) == 0
    assert stats["completed_paid"] == 1


def _bucket() -> str:
    from localcloud.template import local_name

    return local_name("DocumentsBucket")


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def test_started_by_hand_before_due_with_a_promise_that_is_broken(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    plan = campaign(api, tenant)
    who = debtor(api, tenant, "promise")
    due = after_every_cursor()
    inv = invoice_for(api, tenant, who["id"], "RE-PROM", due, 50_000)
    started = api.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": plan["id"]},
    )
    assert started.status_code == 200, started.body
    assert started.json()["next_step"] == 0  # the friendly reminder before the due date is kept
    again = api.post(
        f"/v1/invoices/{inv['id']}/collection", key=tenant.finance, json_body={"action": "start"}
    )
    assert again.status_code == 409

    tick(chalice_app, at(due - timedelta(days=3), 10, 0))
    [friendly] = sent_to(local_cloud, who["email"])
    assert "Zinsen" not in friendly["text"]

    promised = api.post(
        f"/v1/invoices/{inv['id']}/promises",
        key=tenant.finance,
        json_body={"date": str(due + timedelta(days=2)), "amount": 50_000},
    )
    assert promised.status_code == 201, promised.body
    assert collection_of(api, tenant, inv["id"])["pause_reason"] == "promise"
    tick(chalice_app, at(due + timedelta(days=1), 10, 0))
    assert len(sent_to(local_cloud, who["email"])) == 1  # paused by the promise

    # Not paid by the promised day: broken, the reminders resume.
    tick(chalice_app, at(due + timedelta(days=3), 10, 0))
    run = collection_of(api, tenant, inv["id"])
    assert run["status"] == "active"
    kinds = [
        e["kind"]
        for e in api.get(f"/v1/counterparties/{who['id']}/timeline", key=tenant.read_only).json()["data"]
    ]
    assert "promise_broken" in kinds


def test_a_dispute_pauses_and_its_end_resumes(api: Api, tenant: TestTenant) -> None:
    plan = campaign(api, tenant)
    who = debtor(api, tenant, "dispute")
    inv = invoice_for(api, tenant, who["id"], "RE-DISP", after_every_cursor(), 10_000)
    api.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": plan["id"]},
    )
    version = api.get(f"/v1/invoices/{inv['id']}", key=tenant.read_only).json()["version"]
    assert (
        api.post(
            f"/v1/invoices/{inv['id']}/status",
            key=tenant.finance,
            json_body={"status": "disputed", "version": version},
        ).status_code
        == 200
    )
    assert collection_of(api, tenant, inv["id"])["pause_reason"] == "dispute"
    assert (
        api.post(
            f"/v1/invoices/{inv['id']}/status", key=tenant.finance, json_body={"status": "open"}
        ).status_code
        == 200
    )
    assert collection_of(api, tenant, inv["id"])["status"] == "active"
    stopped = api.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "stop", "note": "handled by phone"},
    )
    assert stopped.json()["status"] == "stopped"


def test_campaign_revisions_do_not_change_runs_under_way(api: Api, tenant: TestTenant) -> None:
    plan = campaign(api, tenant)
    who = debtor(api, tenant, "rev")
    inv = invoice_for(api, tenant, who["id"], "RE-REV", after_every_cursor(), 10_000)
    api.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": plan["id"]},
    )
    changed = api.patch(
        f"/v1/campaigns/{plan['id']}",
        key=tenant.admin,
        json_body={"version": plan["version"], "steps": [{"offset_days": 2, "channel": "letter"}]},
    )
    assert changed.status_code == 200, changed.body
    assert changed.json()["revision"] == 2
    run = collection_of(api, tenant, inv["id"])
    assert run["campaign_revision"] == 1 and len(run["steps"]) == 5
    stale = api.patch(
        f"/v1/campaigns/{plan['id']}", key=tenant.admin, json_body={"version": plan["version"], "name": "x"}
    )
    assert stale.status_code == 409


def test_preview_renders_each_step_in_the_debtors_language(api: Api, tenant: TestTenant) -> None:
    plan = campaign(api, tenant)
    who = debtor(api, tenant, "preview")
    inv = invoice_for(api, tenant, who["id"], "RE-PREV", after_every_cursor(), 1_234_56)
    response = api.post(
        f"/v1/campaigns/{plan['id']}/preview", key=tenant.read_only, json_body={"invoice_id": inv["id"]}
    )
    assert response.status_code == 200, response.body
    items = response.json()["items"]
    assert [i["channel"] for i in items] == ["email", "email", "sms", "letter", "call_task"]
    assert all(i["language"] == "de" for i in items)
    assert "1.234,56 €" in items[1]["body"]
    assert items[1]["late_charges"]["compensation"] == 4000
    english = api.post(
        f"/v1/campaigns/{plan['id']}/preview",
        key=tenant.read_only,
        json_body={"invoice_id": inv["id"], "step": 1, "language": "en"},
    ).json()["items"]
    # English words, the debtor's country's number format (en_DE).
    assert english[0]["language"] == "en" and "1.234,56 €" in english[0]["body"]
    assert "Dear" in english[0]["body"] and "reply to this message" in english[0]["body"]


def test_templates_are_copied_edited_and_sandboxed(api: Api, tenant: TestTenant) -> None:
    listed = api.get("/v1/reminder-templates", key=tenant.read_only).json()["items"]
    assert {(t["name"], t["language"]) for t in listed if t["channel"] == "email"} >= {
        ("friendly_reminder", "en"),
        ("friendly_reminder", "de"),
        ("final_notice", "de"),
    }
    copied = api.post(
        "/v1/reminder-templates",
        key=tenant.admin,
        json_body={"name": "my_first", "channel": "email", "language": "de", "copy_of": "first_reminder"},
    )
    assert copied.status_code == 200, copied.body
    escape = api.post(
        "/v1/reminder-templates",
        key=tenant.admin,
        json_body={
            "name": "evil",
            "channel": "email",
            "language": "en",
            "body": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        },
    )
    assert escape.status_code == 400 and error_of(escape)["field"] == "body"
    broken = api.post(
        "/v1/reminder-templates",
        key=tenant.admin,
        json_body={"name": "broken", "channel": "email", "language": "en", "body": "Hello {{ debtor.name "},
    )
    assert broken.status_code == 400 and error_of(broken)["field"] == "body"


def test_concurrent_sweeps_send_each_step_once(
    api: Api, tenant_factory: Any, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    tenant = tenant_factory()
    plan = campaign(api, tenant, {"name": "One mail", "steps": [{"offset_days": 1, "channel": "email"}]})
    due = after_every_cursor()
    emails = []
    for n in range(5):
        who = debtor(api, tenant, f"c{n}")
        emails.append(who["email"])
        inv = invoice_for(api, tenant, who["id"], f"RE-C{n}", due, 1000 + n)
        api.post(
            f"/v1/invoices/{inv['id']}/collection",
            key=tenant.finance,
            json_body={"action": "start", "campaign_id": plan["id"]},
        )
    instants = [at(due + timedelta(days=1), 10, 0) + timedelta(seconds=s) for s in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda i: fire_schedule(chalice_app, "collection_steps", i), instants))
    assert sorted(m["to"] for m in sent_to(local_cloud, *emails)) == sorted(emails)


def test_another_tenants_collection_things_are_404(api: Api, tenant_factory: Any) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    plan = campaign(api, mine)
    who = debtor(api, mine, "iso")
    inv = invoice_for(api, mine, who["id"], "RE-ISO", after_every_cursor(), 1000)
    assert api.get(f"/v1/campaigns/{plan['id']}", key=theirs.read_only).status_code == 404
    assert (
        api.post(
            f"/v1/invoices/{inv['id']}/collection",
            key=theirs.finance,
            json_body={"action": "start", "campaign_id": plan["id"]},
        ).status_code
        == 404
    )
    assert api.get(f"/v1/counterparties/{who['id']}/timeline", key=theirs.read_only).status_code == 404
    own = campaign(api, theirs)
    assert (
        api.post(
            f"/v1/invoices/{inv['id']}/collection",
            key=mine.finance,
            json_body={"action": "start", "campaign_id": own["id"]},
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "steps": []}, "steps"),
        (
            {
                "name": "x",
                "steps": [{"offset_days": 5, "channel": "email"}, {"offset_days": 1, "channel": "sms"}],
            },
            "steps",
        ),
        ({"name": "x", "steps": [{"offset_days": 1, "channel": "fax"}]}, "steps.0.channel"),
        (
            {"name": "x", "steps": [{"offset_days": 1, "channel": "sms", "attach_invoice": True}]},
            "steps[0].attach_invoice",
        ),
    ],
)
def test_bad_campaigns_are_refused_naming_the_field(
    api: Api, tenant: TestTenant, body: dict[str, Any], field: str
) -> None:
    response = api.post("/v1/campaigns", key=tenant.admin, json_body=body)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field


def test_a_bounced_email_falls_back_to_the_steps_other_channel(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    from localcloud.handlers import deliver_queue_batch

    plan = campaign(
        api,
        tenant,
        {
            "name": "Mail then letter",
            "steps": [{"offset_days": 1, "channel": "email", "fallback_channel": "letter"}],
        },
    )
    who = debtor(api, tenant, "bounce")
    due = after_every_cursor()
    inv = invoice_for(api, tenant, who["id"], "RE-BOUNCE", due, 2_000)
    api.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": plan["id"]},
    )
    tick(chalice_app, at(due + timedelta(days=1), 10, 0))
    [mail] = sent_to(local_cloud, who["email"])
    bounce = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": who["email"],
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-12-01T10:00:05.000Z",
            "feedbackId": "0100-bounce",
        },
        "mail": {
            "timestamp": "2026-12-01T10:00:00.000Z",
            "messageId": mail["provider_id"],
            "source": "x@y",
            "destination": [who["email"]],
        },
    }
    envelope = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:eu-central-1:123456789012:t",
        "Message": json.dumps(bounce),
    }
    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": json.dumps(envelope)}
    assert deliver_queue_batch(chalice_app, "cashline-delivery-feedback", [message]) == []
    assert (
        deliver_queue_batch(chalice_app, "cashline-delivery-feedback", [message]) == []
    )  # again: no second letter
    letters = [
        letter
        for letter in api.get("/v1/letters", key=tenant.read_only).json()["data"]
        if letter["invoice_id"] == inv["id"]
    ]
    assert len(letters) == 1
    bounced = api.get("/v1/collection-messages?status=bounced", key=tenant.read_only).json()["data"]
    assert [(m["invoice_id"], m["channel"]) for m in bounced] == [(inv["id"], "email")]
    assert "550" in (bounced[0]["problem"] or "")


def test_a_step_without_a_phone_number_falls_back_at_once(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    plan = campaign(
        api,
        tenant,
        {"name": "SMS", "steps": [{"offset_days": 1, "channel": "sms", "fallback_channel": "email"}]},
    )
    who = debtor(api, tenant, "nophone", phone=None)
    due = after_every_cursor()
    inv = invoice_for(api, tenant, who["id"], "RE-NOPHONE", due, 2_000)
    api.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": plan["id"]},
    )
    tick(chalice_app, at(due + timedelta(days=1), 10, 0))
    assert len(sent_to(local_cloud, who["email"])) == 1
    failed = api.get("/v1/collection-messages?status=failed", key=tenant.read_only).json()["data"]
    assert [(m["channel"], m["problem"]) for m in failed] == [
        ("sms", "no mobile number in international format (+...)")
    ]


def test_a_step_that_needs_approval_waits_for_a_person(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    plan = campaign(
        api,
        tenant,
        {
            "name": "Approved",
            "steps": [
                {"offset_days": 1, "channel": "email", "require_approval": True, "template": "final_notice"}
            ],
        },
    )
    who = debtor(api, tenant, "approval")
    due = after_every_cursor()
    inv = invoice_for(api, tenant, who["id"], "RE-APPROVE", due, 3_000)
    api.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": plan["id"]},
    )
    tick(chalice_app, at(due + timedelta(days=1), 10, 0))
    assert sent_to(local_cloud, who["email"]) == []
    waiting = api.get("/v1/collection-messages", key=tenant.read_only).json()["data"]
    assert [(m["invoice_id"], m["step"]) for m in waiting] == [(inv["id"], 0)]
    assert "RE-APPROVE" in waiting[0]["body"]
    approved = api.post(f"/v1/invoices/{inv['id']}/collection/steps/0/approve", key=tenant.finance)
    assert approved.status_code == 200, approved.body
    assert approved.json()["status"] == "sent"
    assert len(sent_to(local_cloud, who["email"])) == 1
    assert (
        api.post(f"/v1/invoices/{inv['id']}/collection/steps/0/approve", key=tenant.finance).status_code
        == 404
    )


def test_campaign_figures_never_add_currencies(api: Api, tenant: TestTenant) -> None:
    plan = campaign(
        api, tenant, {"name": "Two currencies", "steps": [{"offset_days": 5, "channel": "email"}]}
    )
    who = debtor(api, tenant, "fx")
    due = after_every_cursor()
    eur = invoice_for(api, tenant, who["id"], "RE-EUR", due, 10_000)
    chf = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": "receivable",
            "counterparty": {"id": who["id"]},
            "number": "RE-CHF",
            "issue_date": str(TODAY),
            "due_date": str(due),
            "currency": "CHF",
            "amount_due": 7_000,
        },
    ).json()
    for inv in (eur, chf):
        started = api.post(
            f"/v1/invoices/{inv['id']}/collection",
            key=tenant.finance,
            json_body={"action": "start", "campaign_id": plan["id"]},
        )
        assert started.status_code == 200, started.body
    stats = api.get(f"/v1/campaigns/{plan['id']}/stats", key=tenant.read_only).json()
    assert stats["entered"] == 2 and stats["currency"] is None and stats["entered_amount"] is None
    assert {(r["currency"], r["entered_amount"]) for r in stats["by_currency"]} == {
        ("EUR", 10_000),
        ("CHF", 7_000),
    }
    assert stats["steps"][0]["debtors"] == 2 and stats["steps"][0]["amount"] is None
