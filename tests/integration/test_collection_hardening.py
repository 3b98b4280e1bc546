"""Issue 11, findings 3, 8 and 12 (campaigns), against DynamoDB Local with explicit instants.

- An invoice that is overdue from the moment it exists (created, imported, finalized or back from a
  dispute after its due date) is in its campaign at once, written in the same transaction.
- Every sweep finds an item whose due moment lies before the last tick (backdated, written late,
  written between two ticks), and a tick at an earlier instant than the last one makes no later
  tick skip anything.
- A campaign step names a template that exists (built in or the tenant's own, on its channel and
  its fallback channel); the preview never renders another text in place of a missing one.
- Falsy step values (`offset_days: 0`, `false`, `""`) are values: what is saved reads back.

Instants are in 2025, before anything other tests date their data, and unique to each test, so
that a tick here neither meets another test's claim of the same tick nor sweeps its data.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cashline.dal import dunning_repository
from cashline.dal.due import due_keys, rekey_legacy_due_items
from cashline.dal.dunning_repository import DunningRepository, UnreadableRecordError
from cashline.dal.schedule_records import TickClaimRecord
from cashline.domain.access import Role
from cashline.domain.dunning import Campaign, CampaignStatus, Channel, Step
from cashline.errors import NotFoundError
from cashline.ids import new_id
from cashline.services.access import create_api_key
from cashline.services.collections.sync import sync_with_invoice
from cashline.services.sweeps import sweep
from localcloud.handlers import fire_schedule
from tests.integration.test_bulk_csv import csv_of, invoice_row, post_csv, rows_of
from tests.integration.test_einvoice_import import import_file, sample
from tests.utils import Api, TestTenant, error_of

# Tests that write records directly need the local cloud (and its environment) as well.
pytestmark = pytest.mark.usefixtures("local_cloud")

T0 = datetime(2025, 1, 2, 8, 0, tzinfo=UTC)  # when the tenants of this file are made
EINVOICE = "ubl/EN16931_Rabatte.ubl.xml"  # a receivable dated 2018, due 30 days later: overdue


def instant(month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def tenant(tenant_factory: Any) -> TestTenant:
    made: TestTenant = tenant_factory("Nordlicht GmbH", now=T0)
    return made


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body: dict[str, Any] = response.json()
    return body


def with_default_campaign(api: Api, tenant: TestTenant, steps: list[dict[str, Any]] | None = None) -> str:
    plan = ok(
        api.post(
            "/v1/campaigns",
            key=tenant.admin,
            json_body={"name": "Standard", "steps": steps or [{"offset_days": 1, "channel": "email"}]},
        ),
        201,
    )
    current = ok(api.get("/v1/collection-settings", key=tenant.read_only))
    ok(
        api.request(
            "PUT",
            "/v1/collection-settings",
            key=tenant.admin,
            json_body={**current, "default_campaign_id": plan["id"]},
        )
    )
    campaign_id: str = plan["id"]
    return campaign_id


def debtor(api: Api, tenant: TestTenant, suffix: str) -> str:
    body = {"name": f"Kunde {suffix}", "email": f"ap-{suffix}@kunde.example", "country": "DE"}
    counterparty_id: str = ok(api.post("/v1/counterparties", key=tenant.finance, json_body=body), 201)["id"]
    return counterparty_id


def invoice(
    api: Api, tenant: TestTenant, counterparty_id: str, number: str, due: date, **extra: Any
) -> dict[str, Any]:
    body = {
        "direction": "receivable",
        "counterparty": {"id": counterparty_id},
        "number": number,
        "issue_date": str(due - timedelta(days=30)),
        "due_date": str(due),
        "currency": "EUR",
        "amount_due": 119_00,
        **extra,
    }
    return ok(api.post("/v1/invoices", key=tenant.finance, json_body=body), 201)


def collection(api: Api, tenant: TestTenant, invoice_id: str) -> dict[str, Any] | None:
    response = api.get(f"/v1/invoices/{invoice_id}/collection", key=tenant.read_only)
    if response.status_code == 404:
        return None
    return ok(response)


def actions(api: Api, tenant: TestTenant, invoice_id: str) -> list[str]:
    events = ok(api.get(f"/v1/invoices/{invoice_id}/events?limit=100", key=tenant.read_only))["data"]
    return [e["action"] for e in events]


# --- finding 3: created overdue ---------------------------------------------------------------------


def test_an_invoice_created_overdue_is_in_its_campaign_at_once(api: Api, tenant: TestTenant) -> None:
    # Given a tenant with a default campaign
    now = instant(3, 4, 9, 0, 11)
    client = api.at(now)
    campaign_id = with_default_campaign(client, tenant)
    who = debtor(client, tenant, "past")

    # When an invoice is created with a due date in the past
    created = invoice(client, tenant, who, "RE-PAST-1", date(2025, 1, 20))

    # Then it is overdue and in the campaign already, entered with it (no tick in between)
    assert created["status"] == "overdue"
    run = collection(client, tenant, created["id"])
    assert run is not None and run["campaign_id"] == campaign_id and run["status"] == "active"
    assert datetime.fromisoformat(run["entered_at"]) == now
    assert {"created", "collection_started"} <= set(actions(client, tenant, created["id"]))
    stats = ok(client.get(f"/v1/campaigns/{campaign_id}/stats", key=tenant.read_only))
    assert stats["entered"] == 1


def test_an_invoice_created_on_time_or_without_a_campaign_is_not_in_one(api: Api, tenant: TestTenant) -> None:
    client = api.at(instant(3, 5, 9, 0, 13))
    who = debtor(client, tenant, "none")
    # No campaign applies yet: overdue, and in no campaign
    lonely = invoice(client, tenant, who, "RE-NONE-1", date(2025, 1, 20))
    assert lonely["status"] == "overdue" and collection(client, tenant, lonely["id"]) is None
    # With one, an invoice not yet due waits for the overdue check
    with_default_campaign(client, tenant)
    on_time = invoice(client, tenant, who, "RE-NONE-2", date(2025, 4, 30))
    assert on_time["status"] == "open" and collection(client, tenant, on_time["id"]) is None
    # A bill (payable) is never chased
    bill = invoice(client, tenant, who, "ER-NONE-3", date(2025, 1, 20), direction="payable")
    assert bill["status"] == "overdue" and collection(client, tenant, bill["id"]) is None


def test_a_csv_row_and_an_einvoice_created_overdue_are_in_their_campaign(
    api: Api, tenant: TestTenant
) -> None:
    client = api.at(instant(3, 6, 9, 0, 17))
    campaign_id = with_default_campaign(client, tenant)
    who = debtor(client, tenant, "csv")

    # A CSV file with an overdue row for an existing debtor and one for a debtor it creates
    rows = [
        invoice_row("RE-CSV-1", counterparty_id=who, due_date="2025-02-14", issue_date="2025-01-15"),
        invoice_row("RE-CSV-2", counterparty_name="Neu GmbH", due_date="2025-02-14", issue_date="2025-01-15"),
    ]
    response = post_csv(client, tenant.finance, "invoices", csv_of(rows))
    assert response.status_code == 200, response.body
    ids = [row["id"] for row in rows_of(response).values()]
    assert len(ids) == 2
    for invoice_id in ids:
        run = collection(client, tenant, invoice_id)
        assert run is not None and run["campaign_id"] == campaign_id

    # An e-invoice dated 2018 (due 30 days after) imported as a receivable
    imported = ok(import_file(client, tenant.finance, sample(EINVOICE), direction="receivable"), 201)
    assert imported["status"] == "overdue"
    run = collection(client, tenant, imported["id"])
    assert run is not None and run["campaign_id"] == campaign_id


def test_a_draft_finalized_after_its_due_date_enters_its_campaign(api: Api, tenant: TestTenant) -> None:
    client = api.at(instant(3, 7, 9, 0, 19))
    with_default_campaign(client, tenant)
    who = debtor(client, tenant, "draft")
    draft = invoice(client, tenant, who, "RE-DRAFT-1", date(2025, 2, 1), status="draft")
    assert draft["status"] == "draft" and collection(client, tenant, draft["id"]) is None

    finalized = ok(
        client.post(f"/v1/invoices/{draft['id']}/status", key=tenant.finance, json_body={"status": "open"})
    )

    assert finalized["status"] == "overdue"
    run = collection(client, tenant, draft["id"])
    assert run is not None and run["status"] == "active"


def test_a_dispute_resolved_after_the_due_date_enters_its_campaign(api: Api, tenant: TestTenant) -> None:
    # Given an open invoice disputed before it fell due (so the overdue check never saw it)
    before_due = api.at(instant(3, 10, 9, 0, 23))
    with_default_campaign(before_due, tenant)
    who = debtor(before_due, tenant, "dispute")
    inv = invoice(before_due, tenant, who, "RE-DISP-1", date(2025, 3, 20))
    disputed = before_due.post(
        f"/v1/invoices/{inv['id']}/status", key=tenant.finance, json_body={"status": "disputed"}
    )
    assert ok(disputed)["status"] == "disputed"

    # When the dispute is resolved after the due date
    after_due = api.at(instant(4, 2, 9, 0, 29))
    resolved = ok(
        after_due.post(f"/v1/invoices/{inv['id']}/status", key=tenant.finance, json_body={"status": "open"})
    )

    # Then it is overdue and in its campaign
    assert resolved["status"] == "overdue"
    run = collection(after_due, tenant, inv["id"])
    assert run is not None and run["status"] == "active"


def test_an_overdue_invoice_in_no_run_enters_one_when_brought_in_step(api: Api, tenant: TestTenant) -> None:
    """What a chargeback that reopens a paid invoice does after it commits (`sync_with_invoice`)."""
    now = instant(3, 11, 9, 0, 31)
    client = api.at(now)
    who = debtor(client, tenant, "sync")
    inv = invoice(client, tenant, who, "RE-SYNC-1", date(2025, 2, 1))
    assert collection(client, tenant, inv["id"]) is None  # no campaign applied when it fell overdue
    campaign_id = with_default_campaign(client, tenant)

    run = sync_with_invoice(tenant.tenant_id, inv["id"], now=now).collection

    assert run is not None and run.campaign_id == campaign_id
    assert (collection(client, tenant, inv["id"]) or {})["status"] == "active"


# --- finding 3: sweep cursors ---------------------------------------------------------------------


def test_the_overdue_check_finds_an_invoice_due_before_its_last_tick(
    api: Api, tenant: TestTenant, chalice_app: Any
) -> None:
    # Given an overdue check that last ran at a later instant (`cashline tick --at` ahead, a replay)
    fire_schedule(chalice_app, "invoice_overdue_check", instant(9, 1, 10, 0, 37))
    client = api.at(instant(5, 5, 9, 0, 37))
    with_default_campaign(client, tenant)
    who = debtor(client, tenant, "late")
    inv = invoice(client, tenant, who, "RE-LATE-1", date(2025, 5, 9))
    assert inv["status"] == "open"

    # When it ticks at an earlier instant, after the invoice's due date
    fire_schedule(chalice_app, "invoice_overdue_check", instant(5, 12, 10, 0, 37))

    # Then the invoice is overdue and in its campaign
    assert ok(client.get(f"/v1/invoices/{inv['id']}", key=tenant.read_only))["status"] == "overdue"
    assert collection(client, tenant, inv["id"]) is not None


def test_the_step_sweep_sends_a_step_due_before_its_last_tick(
    api: Api, tenant: TestTenant, chalice_app: Any
) -> None:
    # Given a step sweep that last ran at a later instant
    fire_schedule(chalice_app, "collection_steps", instant(9, 2, 10, 0, 41))
    # and an overdue invoice a person puts in a campaign on Monday 2025-06-02, 09:00 UTC (11:00 in
    # Berlin), so its first step is due at once
    client = api.at(instant(6, 2, 9, 0, 41))
    who = debtor(client, tenant, "steps")
    inv = invoice(client, tenant, who, "RE-STEP-1", date(2025, 5, 20))
    campaign_id = with_default_campaign(client, tenant)
    started = client.post(
        f"/v1/invoices/{inv['id']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": campaign_id},
    )
    assert ok(started)["next_step"] == 0

    # When the sweep ticks at an earlier instant than its last one, after the step's moment
    fire_schedule(chalice_app, "collection_steps", instant(6, 2, 9, 15, 41))

    # Then the step went out
    after = collection(client, tenant, inv["id"])
    assert after is not None and after["steps_done"] == [0]
    assert "reminder_sent" in actions(client, tenant, inv["id"])


def test_housekeeping_expires_a_key_due_before_its_last_tick(
    api: Api, tenant: TestTenant, chalice_app: Any
) -> None:
    fire_schedule(chalice_app, "housekeeping", instant(9, 3, 10, 0, 43))
    key = create_api_key(
        tenant.tenant_id, name="short", role=Role.READ_ONLY, now=instant(7, 1, 9, 0, 43), expires_in_days=1
    )

    fire_schedule(chalice_app, "housekeeping", instant(7, 3, 10, 0, 43))

    listed = ok(api.at(instant(7, 3, 11, 0, 0)).get(f"/v1/api-keys/{key.key.key_id}", key=tenant.admin))
    assert listed["status"] == "expired"


def _due_item(job: str, at: datetime, made: datetime) -> TickClaimRecord:
    """Any item in the `due` index will do for the sweep itself: a platform record of this test."""
    entity = new_id("event")
    record = TickClaimRecord(
        pk=f"TEST#{entity}",
        sk="ITEM",
        schedule=job,
        tick_at=at,
        claimed_by="test",
        created_at=made,
        updated_at=made,
    )
    record.due_pk, record.due_sk = due_keys(job, at, "ten_test", entity)
    record.save()
    return record


def test_no_tick_skips_an_item_whatever_the_order_of_ticks_and_writes() -> None:
    job, schedule = f"test_{new_id('event')}", f"test_{new_id('event')}"
    seen: list[str] = []

    def handle(item: Any) -> bool:
        seen.append(item.pk)
        item.update(actions=[type(item).due_pk.remove(), type(item).due_sk.remove()])  # done: leaves
        return True

    def tick(at: datetime) -> int:
        return sweep(schedule=schedule, job=job, tick_at=at, worker="test", handle=handle).items_read

    # A tick far ahead (a replay, `tick --at`), then items due long before it
    assert tick(instant(12, 1, 0, 0, 0)) == 0
    backdated = _due_item(job, instant(1, 10, 8, 0, 0), made=instant(8, 1, 9, 0, 0))
    # A tick at an earlier instant finds the backdated item
    assert tick(instant(8, 1, 9, 15, 0)) == 1 and seen == [backdated.pk]
    # Written between two ticks, due between them, weeks before the last tick's day
    between = _due_item(job, instant(8, 1, 9, 20, 0), made=instant(8, 1, 9, 25, 0))
    not_yet = _due_item(job, instant(8, 20, 9, 0, 0), made=instant(8, 1, 9, 25, 0))
    assert tick(instant(8, 1, 9, 30, 0)) == 1 and seen[-1] == between.pk
    # What is not due yet is not read, and is found once due; nothing is read twice
    assert tick(instant(8, 20, 9, 0, 0)) == 1 and seen[-1] == not_yet.pk
    assert tick(instant(12, 2, 0, 0, 0)) == 0
    assert len(seen) == len(set(seen)) == 3


def test_items_keyed_the_old_way_are_moved_where_the_sweeps_find_them() -> None:
    job, schedule = f"test_{new_id('event')}", f"test_{new_id('event')}"
    due_at = instant(2, 3, 8, 0, 0)
    legacy = _due_item(job, due_at, made=due_at)
    entity = legacy.pk.removeprefix("TEST#")
    legacy.update(
        actions=[TickClaimRecord.due_pk.set(f"DUE#{job}#2025-02-03#3")]
    )  # `DUE#<job>#<day>#<shard>`
    found: list[str] = []

    def handle(item: Any) -> bool:
        found.append(item.pk)
        return False

    def tick(at: datetime) -> int:
        return sweep(schedule=schedule, job=job, tick_at=at, worker="test", handle=handle).items_read

    assert tick(instant(2, 3, 9, 0, 0)) == 0  # not where a sweep looks

    assert rekey_legacy_due_items() >= 1

    assert tick(instant(2, 3, 9, 5, 0)) == 1 and found == [legacy.pk]
    assert TickClaimRecord.get(legacy.pk, "ITEM").due_pk == due_keys(job, due_at, "ten_test", entity)[0]


# --- finding 8: templates ---------------------------------------------------------------------------


def own_template(api: Api, tenant: TestTenant, name: str, channel: str = "email") -> None:
    body = {
        "name": name,
        "channel": channel,
        "language": "de",
        "subject": "Rechnung",
        "body": "Bitte zahlen.",
    }
    ok(api.post("/v1/reminder-templates", key=tenant.admin, json_body=body))


def test_a_step_naming_a_missing_or_foreign_template_is_refused(
    api: Api, tenant: TestTenant, tenant_factory: Any
) -> None:
    client = api.at(instant(3, 12, 9, 0, 47))
    other: TestTenant = tenant_factory("Fremd AG", now=T0)
    own_template(client, other, "vip_note")
    own_template(client, tenant, "my_note")

    def create(*steps: dict[str, Any]) -> Any:
        return client.post("/v1/campaigns", key=tenant.admin, json_body={"name": "T", "steps": list(steps)})

    email = {"offset_days": 1, "channel": "email"}
    for bad_name in ("no_such_template", "vip_note"):  # missing, and another tenant's
        refused = create(email, {"offset_days": 3, "channel": "email", "template": bad_name})
        assert refused.status_code == 400, refused.body
        assert error_of(refused)["field"] == "steps[1].template"
    # The tenant's own (in any language) and the built-ins are accepted, on every channel they name
    made = ok(
        create(
            {"offset_days": 1, "channel": "email", "template": "my_note"},
            {"offset_days": 3, "channel": "sms", "template": "first_reminder", "fallback_channel": "letter"},
        ),
        201,
    )
    # A fallback channel renders the same name: it must exist there too
    no_sms = create({"offset_days": 1, "channel": "email", "template": "my_note", "fallback_channel": "sms"})
    assert no_sms.status_code == 400 and error_of(no_sms)["field"] == "steps[0].template"
    # The same on PATCH
    patched = client.patch(
        f"/v1/campaigns/{made['id']}",
        key=tenant.admin,
        json_body={"version": made["version"], "steps": [email, email, {**email, "template": "vip_note"}]},
    )
    assert patched.status_code == 400 and error_of(patched)["field"] == "steps[2].template"
    # Another tenant names its own freely
    assert create_for(client, other, "vip_note").status_code == 201


def create_for(api: Api, tenant: TestTenant, template: str) -> Any:
    step = {"offset_days": 1, "channel": "email", "template": template}
    return api.post("/v1/campaigns", key=tenant.admin, json_body={"name": "V", "steps": [step]})


def test_the_preview_refuses_a_step_whose_template_is_missing(api: Api, tenant: TestTenant) -> None:
    # Given a campaign saved before templates were checked, naming one that does not exist
    now = instant(3, 13, 9, 0, 53)
    client = api.at(now)
    legacy = Campaign(
        tenant_id=tenant.tenant_id,
        campaign_id=new_id("campaign"),
        name="Legacy",
        description=None,
        steps=(
            Step(offset_days=1, channel=Channel.EMAIL, template="first_reminder"),
            Step(offset_days=5, channel=Channel.EMAIL, template="gone_missing"),
        ),
        status=CampaignStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    DunningRepository().create_campaign(legacy)
    who = debtor(client, tenant, "preview")
    inv = invoice(client, tenant, who, "RE-PREV-1", date(2025, 3, 20))

    def preview(**body: Any) -> Any:
        return client.post(
            f"/v1/campaigns/{legacy.campaign_id}/preview",
            key=tenant.read_only,
            json_body={"invoice_id": inv["id"], **body},
        )

    # Then the step that names it is refused, never rendered with a built-in text
    missing = preview()
    assert missing.status_code == 422, missing.body
    assert error_of(missing)["field"] == "steps[1].template"
    # and the step that names an existing one still previews
    assert ok(preview(step=0))["items"][0]["template"] == "first_reminder"


# --- finding 12: falsy values are values ----------------------------------------------------------


def test_a_step_with_offset_zero_and_false_flags_reads_back(api: Api, tenant: TestTenant) -> None:
    client = api.at(instant(3, 14, 9, 0, 59))
    steps = [
        {"offset_days": 0, "channel": "email", "attach_invoice": False, "late_charges": False},
        {"offset_days": 7, "channel": "call_task", "assignee": "", "send_on_weekends": False},
    ]

    created = client.post("/v1/campaigns", key=tenant.admin, json_body={"name": "Same day", "steps": steps})

    made = ok(created, 201)
    assert [s["offset_days"] for s in made["steps"]] == [0, 7]
    assert made["steps"][1]["assignee"] == ""
    assert ok(client.get(f"/v1/campaigns/{made['id']}", key=tenant.read_only))["steps"] == made["steps"]
    listed = ok(client.get("/v1/campaigns", key=tenant.read_only))
    assert [c["id"] for c in listed["data"]] == [made["id"]]
    patched = client.patch(
        f"/v1/campaigns/{made['id']}",
        key=tenant.admin,
        json_body={"version": made["version"], "steps": [{"offset_days": 0, "channel": "sms"}]},
    )
    assert ok(patched)["steps"][0]["offset_days"] == 0
    assert ok(client.get("/v1/campaigns", key=tenant.read_only))["data"][0]["revision"] == 2


def test_a_campaign_that_would_not_read_back_is_not_written(
    tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the serialiser that dropped falsy values (0 == False)
    def lossy(steps: tuple[Step, ...]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in asdict(s).items() if v not in (None, False)}  # the old bug
            for s in steps
        ]

    monkeypatch.setattr(dunning_repository, "steps_json", lossy)
    now = instant(3, 17, 9, 1, 1)
    campaign = Campaign(
        tenant_id=tenant.tenant_id,
        campaign_id=new_id("campaign"),
        name="Lossy",
        description=None,
        steps=(Step(offset_days=0, channel=Channel.EMAIL),),
        status=CampaignStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )

    # When it is written, the read model refuses it first
    with pytest.raises(UnreadableRecordError):
        DunningRepository().create_campaign(campaign)

    # Then nothing was written
    with pytest.raises(NotFoundError):
        DunningRepository().get_campaign(tenant.tenant_id, campaign.campaign_id)


def test_an_item_that_fails_does_not_stop_the_sweep_and_is_tried_again() -> None:
    job, schedule = f"test_{new_id('event')}", f"test_{new_id('event')}"
    poison = _due_item(job, instant(3, 1, 8, 0, 0), made=instant(3, 1, 8, 0, 0))
    healthy = _due_item(job, instant(3, 1, 8, 5, 0), made=instant(3, 1, 8, 0, 0))
    handled: list[str] = []
    attempts: list[str] = []

    def handle(item: Any) -> bool:
        attempts.append(item.pk)
        if item.pk == poison.pk:
            raise RuntimeError("a renderer that cannot take this item")
        handled.append(item.pk)
        item.update(actions=[type(item).due_pk.remove(), type(item).due_sk.remove()])
        return True

    def tick(at: datetime) -> int:
        return sweep(schedule=schedule, job=job, tick_at=at, worker="test", handle=handle).items_changed

    # The failing item is read first (it fell due first), and the other is handled all the same
    assert tick(instant(3, 1, 9, 0, 0)) == 1 and handled == [healthy.pk]
    # The failing item stays due: the next tick tries it again, the handled one is not read again
    assert tick(instant(3, 1, 9, 15, 0)) == 0
    assert attempts.count(poison.pk) == 2 and attempts.count(healthy.pk) == 1
