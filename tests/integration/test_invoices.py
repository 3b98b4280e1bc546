"""Invoices and bills: exact amounts, one number per counterparty, legal status changes only, an
audit trail, counterparty totals kept current, overdue the day after the due date, and filters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from localcloud.handlers import fire_schedule
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

TODAY = FROZEN_NOW.date()
BERLIN = ZoneInfo("Europe/Berlin")  # the test tenants' zone

# The app runs at FROZEN_NOW here (requests; schedules at the instants fired): "overdue", "days past due"
# and the filters' dates come out the same whatever day the suite runs on.
pytestmark = pytest.mark.usefixtures("frozen_now")


def _invoice(api: Api, tenant: TestTenant, **fields: Any) -> dict[str, Any]:
    body = {
        "direction": "receivable",
        "counterparty": {"name": "Kunde AG", "external_reference": "K-1"},
        "number": "R-1",
        "issue_date": str(TODAY - timedelta(days=5)),
        "due_date": str(TODAY + timedelta(days=25)),
        "currency": "EUR",
        "amount_due": 10000,
        **fields,
    }
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def _totals(api: Api, tenant: TestTenant, counterparty_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    body = api.get(f"/v1/counterparties/{counterparty_id}", key=tenant.read_only).json()
    return {(t["direction"], t["currency"]): t for t in body["totals"]}


def _status(api: Api, tenant: TestTenant, invoice_id: str, status: str, **extra: Any) -> Any:
    return api.post(
        f"/v1/invoices/{invoice_id}/status", key=tenant.finance, json_body={"status": status, **extra}
    )


def test_lines_give_exact_amounts_with_tax_per_rate(api: Api, tenant: TestTenant) -> None:
    created = _invoice(
        api,
        tenant,
        amount_due=None,
        lines=[
            {"description": "Consulting", "quantity": "2.5", "unit_amount": 12000, "tax_rate": "19"},
            {"description": "Book", "quantity": "1", "unit_amount": 1999, "tax_rate": "7"},
            {"description": "Pens", "quantity": "3", "unit_amount": 333, "tax_rate": "19"},
        ],
    )
    # net: 30000 + 1999 + 999; tax: 19% of 30999 = 5889.81 -> 5890, 7% of 1999 = 139.93 -> 140
    assert (created["subtotal"], created["tax"], created["amount_due"]) == (32998, 6030, 39028)
    assert [t["tax_amount"] for t in created["taxes"]] == [140, 5890]
    assert sum(line["net_amount"] for line in created["lines"]) == created["subtotal"]
    assert created["amount_outstanding"] == 39028 and created["status"] == "open"


def test_zero_decimal_currencies_keep_their_units(api: Api, tenant: TestTenant) -> None:
    created = _invoice(
        api,
        tenant,
        currency="JPY",
        amount_due=None,
        lines=[{"description": "x", "quantity": "3", "unit_amount": 1001, "tax_rate": "10"}],
    )
    assert (created["subtotal"], created["tax"], created["amount_due"]) == (3003, 300, 3303)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "EURO"}, "currency"),
        ({"due_date": "2020-01-01"}, "due_date"),
        ({"amount_due": 0}, "amount_due"),
        ({"amount_due": "100"}, "amount_due"),
        ({"direction": "sideways"}, "direction"),
        ({"counterparty": {"id": "cp_01JD3Z5W4YV6Q3R0M8X2N5B7C9"}}, "counterparty.id"),
        (
            {"lines": [{"description": "x", "quantity": "two", "unit_amount": 1, "tax_rate": "19"}]},
            "lines.0.quantity",
        ),
        ({"issue_date": "2026-13-01"}, "issue_date"),
        ({"status": "paid"}, "status"),
    ],
)
def test_bad_invoices_are_refused_naming_the_field(
    api: Api, tenant: TestTenant, changes: dict[str, Any], field: str
) -> None:
    body = {
        "direction": "receivable",
        "counterparty": {"name": "Kunde AG"},
        "number": "B-1",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_due": 100,
        **changes,
    }
    if "lines" in changes:
        body.pop("amount_due")
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code in (400, 404), response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/invoices", key=tenant.read_only).json()["data"] == []
    assert api.get("/v1/counterparties", key=tenant.read_only).json()["data"] == []  # nothing half-written


def test_the_same_counterparty_and_number_twice_is_a_409_with_the_existing_id(
    api: Api, tenant: TestTenant
) -> None:
    first = _invoice(api, tenant)
    again = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": "receivable",
            "counterparty": {"id": first["counterparty_id"]},
            "number": " R-1 ",
            "issue_date": "2026-11-01",
            "due_date": "2026-12-01",
            "currency": "EUR",
            "amount_due": 5,
        },
    )
    assert again.status_code == 409
    assert error_of(again)["existing_id"] == first["id"] and error_of(again)["field"] == "number"
    # The inline counterparty with the same external reference is the same counterparty.
    other_number = _invoice(api, tenant, number="R-2")
    assert other_number["counterparty_id"] == first["counterparty_id"]


def test_concurrent_creates_of_one_number_make_one_invoice(api: Api, tenant: TestTenant) -> None:
    counterparty = _invoice(api, tenant, number="seed")["counterparty_id"]

    def create(_: int) -> int:
        return api.post(
            "/v1/invoices",
            key=tenant.finance,
            json_body={
                "direction": "receivable",
                "counterparty": {"id": counterparty},
                "number": "RACE-1",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "currency": "EUR",
                "amount_due": 700,
            },
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(pool.map(create, range(8)))
    assert statuses == Counter({201: 1, 409: 7})
    totals = _totals(api, tenant, counterparty)[("receivable", "EUR")]
    assert totals["billed"] == 10000 + 700  # the seed invoice and exactly one RACE-1


def test_status_changes_follow_the_rules_and_are_audited(api: Api, tenant: TestTenant) -> None:
    draft = _invoice(api, tenant, status="draft")
    assert draft["status"] == "draft"
    assert _totals(api, tenant, draft["counterparty_id"]) == {}  # a draft is not billed

    assert _status(api, tenant, draft["id"], "open").json()["status"] == "open"
    assert _status(api, tenant, draft["id"], "disputed", note="hours wrong").json()["status"] == "disputed"
    assert _status(api, tenant, draft["id"], "open", note="agreed").json()["status"] == "open"
    refused = api.post(f"/v1/invoices/{draft['id']}/status", key=tenant.finance, json_body={"status": "paid"})
    assert refused.status_code == 400  # paid comes from payments, not from a person
    assert _status(api, tenant, draft["id"], "void").json()["status"] == "void"
    illegal = _status(api, tenant, draft["id"], "open")
    assert illegal.status_code == 409 and error_of(illegal)["field"] == "status"

    events = api.get(f"/v1/invoices/{draft['id']}/events", key=tenant.read_only).json()["data"]
    assert [e["changes"]["status"] for e in events] == [
        [None, "draft"],
        ["draft", "open"],
        ["open", "disputed"],
        ["disputed", "open"],
        ["open", "void"],
    ]
    assert all(
        e["actor"] == f"key:{tenant.key_ids[next(iter(tenant.key_ids))]}" or e["actor"].startswith("key:")
        for e in events
    )
    assert events[2]["note"] == "hours wrong"
    assert _totals(api, tenant, draft["counterparty_id"])[("receivable", "EUR")]["billed"] == 0


def test_a_stale_version_cannot_change_the_status(api: Api, tenant: TestTenant) -> None:
    created = _invoice(api, tenant)
    assert _status(api, tenant, created["id"], "disputed", version=created["version"]).status_code == 200
    stale = _status(api, tenant, created["id"], "void", version=created["version"])
    assert stale.status_code == 409 and error_of(stale)["field"] == "version"


def test_totals_follow_every_change_per_direction_and_currency(api: Api, tenant: TestTenant) -> None:
    a = _invoice(api, tenant, number="T-1", amount_due=10000)
    cp = a["counterparty_id"]
    _invoice(api, tenant, number="T-2", amount_due=2500, currency="USD")
    _invoice(api, tenant, number="T-3", amount_due=900, kind="credit_note")
    bill = _invoice(api, tenant, number="T-4", amount_due=4000, direction="payable")
    totals = _totals(api, tenant, cp)
    assert totals[("receivable", "EUR")] | {"direction": "", "currency": ""} == {
        "direction": "",
        "currency": "",
        "billed": 9100,
        "paid": 0,
        "outstanding": 9100,
        "overdue": 0,
        "open_invoices": 2,
        "credit": 0,
    }
    assert totals[("receivable", "USD")]["outstanding"] == 2500
    assert totals[("payable", "EUR")]["outstanding"] == 4000

    _status(api, tenant, bill["id"], "written_off")
    _status(api, tenant, a["id"], "void")
    totals = _totals(api, tenant, cp)
    assert totals[("payable", "EUR")]["outstanding"] == 0 and totals[("payable", "EUR")]["billed"] == 4000
    assert totals[("receivable", "EUR")]["billed"] == -900


def test_an_invoice_becomes_overdue_the_day_after_its_due_date_in_the_tenants_zone(
    api: Api, tenant: TestTenant, chalice_app: Any
) -> None:
    # Due in the future (at FROZEN_NOW, when it is created), then time is driven by ticks.
    due = TODAY + timedelta(days=400)
    created = _invoice(api, tenant, number="OD-1", due_date=str(due), amount_due=5000)
    other = _invoice(api, tenant, number="OD-2", due_date=str(due + timedelta(days=1)), amount_due=700)
    # The day after the due date starts at midnight in Berlin (22:00 or 23:00 UTC on the due date).
    after = datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=BERLIN).astimezone(UTC)
    before = after - timedelta(hours=2)
    # Other tests' invoices may fall due by then too: what counts is that this one stays open.
    assert fire_schedule(chalice_app, "invoice_overdue_check", before)["claimed"] is True
    assert api.get(f"/v1/invoices/{created['id']}", key=tenant.read_only).json()["status"] == "open"

    result = fire_schedule(chalice_app, "invoice_overdue_check", after)
    assert result["invoices_overdue"] >= 1, result
    overdue = api.get(f"/v1/invoices/{created['id']}", key=tenant.read_only).json()
    assert overdue["status"] == "overdue"
    assert api.get(f"/v1/invoices/{other['id']}", key=tenant.read_only).json()["status"] == "open"
    assert fire_schedule(chalice_app, "invoice_overdue_check", after)["claimed"] is False  # same tick again
    events = api.get(f"/v1/invoices/{created['id']}/events", key=tenant.read_only).json()["data"]
    assert events[-1]["actor"] == "system:overdue-check"
    assert _totals(api, tenant, created["counterparty_id"])[("receivable", "EUR")]["overdue"] == 5000
    # An alert for finance, written with the change (delivery: tests/integration/test_webhooks.py).
    from cashline.dal.alert_repository import AlertRepository

    alerts = [a for a in AlertRepository().recent(tenant.tenant_id, 10) if a.alert_type == "invoice.overdue"]
    assert [a.detail["invoice_id"] for a in alerts] == [created["id"]]
    assert alerts[0].detail["amount_outstanding"] == 5000 and alerts[0].status == "pending"


def test_an_invoice_created_after_its_due_date_is_overdue_with_days_past_due(
    api: Api, tenant: TestTenant
) -> None:
    created = _invoice(
        api, tenant, issue_date=str(TODAY - timedelta(days=60)), due_date=str(TODAY - timedelta(days=30))
    )
    assert created["status"] == "overdue"
    assert created["days_past_due"] == 30  # FROZEN_NOW is the same calendar day in Berlin and in UTC


def _ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.body
    return {i["id"] for i in response.json()["data"]}


@pytest.fixture
def catalogue(api: Api, tenant: TestTenant) -> dict[str, Any]:
    """Invoices spread over every filter dimension."""
    smb = api.post(
        "/v1/counterparties", key=tenant.finance, json_body={"name": "Small", "segment": "smb"}
    ).json()
    big = api.post(
        "/v1/counterparties", key=tenant.finance, json_body={"name": "Big", "segment": "enterprise"}
    ).json()
    specs = [
        ("a", "receivable", smb, "EUR", 1000, "2026-01-05", "2026-02-05", "open"),
        ("b", "receivable", big, "EUR", 50000, "2026-01-10", "2026-03-10", "open"),
        ("c", "receivable", big, "USD", 7000, "2026-02-01", "2026-02-20", "disputed"),
        ("d", "payable", smb, "EUR", 3000, "2026-03-01", "2026-04-01", "open"),
        ("e", "payable", big, "EUR", 90000, "2026-01-20", "2026-01-30", "void"),
    ]
    made = {}
    for name, direction, cp, currency, amount, issued, due, status in specs:
        made[name] = _invoice(
            api,
            tenant,
            number=name,
            direction=direction,
            counterparty={"id": cp["id"]},
            currency=currency,
            amount_due=amount,
            issue_date=issued,
            due_date=str(TODAY + timedelta(days=30 + (date.fromisoformat(due) - date(2026, 1, 1)).days)),
        )
        if status != "open":
            _status(api, tenant, made[name]["id"], status)
    made["smb"], made["big"] = smb, big
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "abcde"),
        ("direction=payable", "de"),
        ("status=disputed,void", "ce"),
        ("status=open&direction=receivable", "ab"),
        ("segment=enterprise", "bce"),
        ("currency=USD", "c"),
        ("currency=EUR&amount_min=2000&amount_max=60000", "bd"),
        ("issue_from=2026-01-06&issue_to=2026-01-31", "be"),
        ("counterparty_id={big}&direction=receivable", "bc"),
        ("counterparty_id={smb}&status=open", "ad"),
        ("segment=smb&currency=EUR&amount_min=2000", "d"),
    ],
)
def test_every_filter_finds_exactly_its_invoices(
    api: Api, tenant: TestTenant, catalogue: dict[str, Any], query: str, expected: str
) -> None:
    query = query.format(big=catalogue["big"]["id"], smb=catalogue["smb"]["id"])
    found = _ids(api.get(f"/v1/invoices?limit=100&{query}", key=tenant.read_only))
    assert found == {catalogue[name]["id"] for name in expected}


def test_due_date_ranges_and_cursor_pages_across_partitions(
    api: Api, tenant: TestTenant, catalogue: dict[str, Any]
) -> None:
    dues = sorted(catalogue[n]["due_date"] for n in "abcde")
    ranged = _ids(api.get(f"/v1/invoices?due_from={dues[1]}&due_to={dues[3]}", key=tenant.read_only))
    assert ranged == {catalogue[n]["id"] for n in "abcde" if dues[1] <= catalogue[n]["due_date"] <= dues[3]}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        suffix = f"&starting_after={cursor}" if cursor else ""
        page = api.get(f"/v1/invoices?limit=2&status=open,disputed,void{suffix}", key=tenant.read_only).json()
        seen += [i["due_date"] + i["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen)  # merged in due-date order across the status partitions


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=late", "status"),
        ("amount_min=5", "currency"),
        ("due_from=2026-02-01&due_to=2026-01-01", "due_to"),
        ("limit=500", "limit"),
        ("starting_after=garbage", "starting_after"),
        ("currency=EURO", "currency"),
    ],
)
def test_bad_filters_name_the_parameter(api: Api, tenant: TestTenant, query: str, field: str) -> None:
    response = api.get(f"/v1/invoices?{query}", key=tenant.read_only)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_a_cursor_of_another_filter_or_tenant_is_refused(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    for index in range(3):
        _invoice(api, theirs, number=f"N{index}")
    page = api.get("/v1/invoices?limit=1", key=theirs.read_only).json()
    assert page["has_more"]
    foreign = api.get(f"/v1/invoices?limit=1&starting_after={page['next_cursor']}", key=mine.read_only)
    assert foreign.status_code == 400 and error_of(foreign)["field"] == "starting_after"
    other_filter = api.get(
        f"/v1/invoices?limit=1&status=open&starting_after={page['next_cursor']}", key=theirs.read_only
    )
    assert other_filter.status_code == 400


def test_another_tenants_invoice_is_not_found_anywhere(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    their = _invoice(api, theirs)
    for response in (
        api.get(f"/v1/invoices/{their['id']}", key=mine.admin),
        api.get(f"/v1/invoices/{their['id']}/events", key=mine.admin),
        api.post(f"/v1/invoices/{their['id']}/status", key=mine.admin, json_body={"status": "void"}),
        api.post(
            "/v1/invoices",
            key=mine.finance,
            json_body={
                "direction": "receivable",
                "counterparty": {"id": their["counterparty_id"]},
                "number": "X",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "currency": "EUR",
                "amount_due": 1,
            },
        ),
    ):
        assert response.status_code == 404, response.body
    assert api.get(f"/v1/invoices/{their['id']}", key=theirs.read_only).json()["status"] == "open"
    assert api.get("/v1/invoices", key=mine.read_only).json()["data"] == []


def test_create_with_an_idempotency_key_happens_once(api: Api, tenant: TestTenant) -> None:
    body = {
        "direction": "payable",
        "counterparty": {"name": "Supplier"},
        "number": "S-1",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_due": 100,
    }

    def post(_: int) -> tuple[int, str | None]:
        response = api.post(
            "/v1/invoices", key=tenant.finance, json_body=body, headers={"Idempotency-Key": "s-1"}
        )
        return response.status_code, response.json().get("id")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(post, range(6)))
    assert {status for status, _ in results} <= {201, 409}
    assert len({i for status, i in results if status == 201}) == 1
    assert len(api.get("/v1/invoices", key=tenant.read_only).json()["data"]) == 1


def test_renaming_or_resegmenting_a_counterparty_follows_onto_its_invoices(
    api: Api, tenant: TestTenant
) -> None:
    created = _invoice(api, tenant, number="SEG-1")
    cp = created["counterparty_id"]
    assert _ids(api.get("/v1/invoices?segment=retail", key=tenant.read_only)) == set()
    profile = api.get(f"/v1/counterparties/{cp}", key=tenant.read_only).json()
    updated = api.patch(
        f"/v1/counterparties/{cp}",
        key=tenant.finance,
        json_body={"version": profile["version"], "name": "Kunde Neu AG", "segment": "Retail"},
    )
    assert updated.status_code == 200
    assert _ids(api.get("/v1/invoices?segment=retail", key=tenant.read_only)) == {created["id"]}
    assert (
        api.get(f"/v1/invoices/{created['id']}", key=tenant.read_only).json()["counterparty_name"]
        == "Kunde Neu AG"
    )
