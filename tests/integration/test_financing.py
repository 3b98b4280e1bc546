"""Financing through the API: settings, quotes, plans on payable bills, cancel, and the reports that
follow them (what falls due when, and the summary cards).

Dates: plans are made in 2027-2029 (bank holidays known below) or relative to the real today, never
where a financing sweep runs (from 2040, tests/integration/test_debit_sweeps.py). The tests that fire
a sweep take their dates after the instant that sweep last ran at (its cursor), and leave nothing
due behind them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cashline.dal.schedule_records import ScheduleRepository
from localcloud.cloud import LocalCloud
from localcloud.handlers import fire_schedule
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = FROZEN_NOW.astimezone(BERLIN).date()  # "today" for the API: the tenants are in Berlin

# The app runs at FROZEN_NOW here: payout dates "not in the past" and the fixed calendar dates below
# (chosen for their holidays and month ends, 2027-06 onwards) mean the same whatever day the suite
# runs; before, each would have started failing once the real date passed it.
pytestmark = pytest.mark.usefixtures("frozen_now")

STRIPE = {"processor": "stripe", "customer_id": "cus_1", "payment_method_id": "pm_1"}
# TARGET2 closing days and German public holidays the dates below run into.
CLOSED = {
    date(2028, 4, 14),  # Good Friday
    date(2028, 4, 17),  # Easter Monday
    date(2028, 5, 1),
    date(2028, 12, 25),
    date(2028, 12, 26),
}
SWEEP_FLOOR = date(2040, 1, 9)  # as in test_debit_sweeps: where the financing sweeps run


def configure(api: Api, tenant: TestTenant, **changes: Any) -> dict[str, Any]:
    """Set the tenant's financing settings on the version it has now."""
    current = api.get("/v1/financing/settings", key=tenant.read_only)
    assert current.status_code == 200, current.body
    body = {
        "debit": STRIPE,
        "reminder_email": "ap@tenant.example",
        "retry_after_days": [3, 5, 7],
        "monthly_rate_bp": 150,
        "fixed_fee": 0,
        **changes,
        "version": current.json()["version"],
    }
    response = api.request("PUT", "/v1/financing/settings", key=tenant.admin, json_body=body)
    assert response.status_code == 200, response.body
    saved: dict[str, Any] = response.json()
    return saved


def create_invoice(
    api: Api,
    tenant: TestTenant,
    *,
    number: str,
    amount: int,
    due: date,
    direction: str = "payable",
    currency: str = "EUR",
    issued: date | None = None,
) -> dict[str, Any]:
    name = "Lieferant GmbH" if direction == "payable" else "Kunde AG"
    response = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": direction,
            "counterparty": {"name": name},
            "number": number,
            "issue_date": str(issued or min(TODAY, due)),
            "due_date": str(due),
            "currency": currency,
            "amount_due": amount,
        },
    )
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def finance(api: Api, tenant: TestTenant, invoice_id: str, **request: Any) -> Any:
    key = request.pop("key", tenant.finance)
    headers = request.pop("headers", None)
    body = {k: str(v) if isinstance(v, date) else v for k, v in request.items()}
    return api.post(f"/v1/invoices/{invoice_id}/financing", key=key, json_body=body, headers=headers)


def financed(api: Api, tenant: TestTenant, invoice_id: str, **request: Any) -> dict[str, Any]:
    response = finance(api, tenant, invoice_id, **request)
    assert response.status_code == 201, response.body
    plan: dict[str, Any] = response.json()
    return plan


def events_of(api: Api, tenant: TestTenant, invoice_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/invoices/{invoice_id}/events?limit=100", key=tenant.read_only)
    assert response.status_code == 200, response.body
    events: list[dict[str, Any]] = response.json()["data"]
    return events


def plans_of(api: Api, tenant: TestTenant) -> list[dict[str, Any]]:
    response = api.get("/v1/financing/plans?limit=100", key=tenant.read_only)
    assert response.status_code == 200, response.body
    plans: list[dict[str, Any]] = response.json()["data"]
    return plans


def fee(principal: int, months: int, rate_bp: int = 150) -> int:
    """principal x rate x months / 10 000, half-up, in integers."""
    return (principal * rate_bp * months * 2 + 10_000) // 20_000


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in CLOSED


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def upcoming(api: Api, tenant: TestTenant, query: str) -> Any:
    return api.get(f"/v1/reports/upcoming?{query}", key=tenant.read_only)


def amounts_by_period(api: Api, tenant: TestTenant, query: str) -> dict[str, int]:
    response = upcoming(api, tenant, query)
    assert response.status_code == 200, response.body
    return {p["period"]: p["amount"] for p in response.json()["periods"]}


# --- settings ---------------------------------------------------------------------------------------


def test_settings_are_saved_on_the_version_read(api: Api, tenant: TestTenant) -> None:
    fresh = api.get("/v1/financing/settings", key=tenant.read_only).json()
    assert (fresh["version"], fresh["debit"], fresh["monthly_rate_bp"], fresh["max_installments"]) == (
        0,
        None,
        150,
        12,
    )
    first = {"version": 0, "debit": STRIPE, "reminder_email": "ap@tenant.example", "max_installments": 6}
    saved = api.request("PUT", "/v1/financing/settings", key=tenant.admin, json_body=first)
    assert saved.status_code == 200, saved.body
    assert saved.json()["version"] == 1 and saved.json()["debit"]["processor"] == "stripe"

    stale = api.request("PUT", "/v1/financing/settings", key=tenant.admin, json_body=first)
    assert stale.status_code == 409, stale.body
    as_finance = api.request(
        "PUT", "/v1/financing/settings", key=tenant.finance, json_body={**first, "version": 1}
    )
    assert as_finance.status_code == 403
    too_many = api.request(
        "PUT",
        "/v1/financing/settings",
        key=tenant.admin,
        json_body={**first, "version": 1, "max_installments": 13},
    )
    assert too_many.status_code == 400 and error_of(too_many)["field"] == "max_installments"

    again = api.request(
        "PUT", "/v1/financing/settings", key=tenant.admin, json_body={**first, "version": 1, "fixed_fee": 500}
    )
    assert again.status_code == 200, again.body
    now = api.get("/v1/financing/settings", key=tenant.read_only).json()
    assert (now["version"], now["fixed_fee"], now["max_installments"]) == (2, 500, 6)


# --- quotes -----------------------------------------------------------------------------------------


def test_a_quote_prices_the_plan_on_business_days_and_stores_nothing(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    response = api.post(
        "/v1/financing/quotes",
        key=tenant.finance,
        json_body={"amount": 100_001, "currency": "EUR", "payout_date": "2028-01-14", "installments": 4},
    )
    assert response.status_code == 200, response.body
    quote = response.json()
    expected_fee = fee(100_001, 4)
    assert expected_fee == 6_000  # 6000.06 rounds down
    assert (quote["principal"], quote["fee"], quote["total"]) == (100_001, 6_000, 106_001)
    amounts = [i["amount"] for i in quote["installments"]]
    assert sum(amounts) == quote["total"]
    assert max(amounts) - min(amounts) <= 1 and amounts == sorted(amounts, reverse=True)
    assert amounts == [26_501, 26_500, 26_500, 26_500]
    # The 14th of each month; Good Friday (and Easter Monday) push April's to Tuesday, May's Sunday to Monday.
    assert quote["payout_date"] == "2028-01-14"
    dates = [date.fromisoformat(i["due_date"]) for i in quote["installments"]]
    assert dates == [date(2028, 2, 14), date(2028, 3, 14), date(2028, 4, 18), date(2028, 5, 15)]
    assert [i["sequence"] for i in quote["installments"]] == [1, 2, 3, 4]

    # Over Christmas: a Saturday payout moves to Monday, the 25th of December to the 27th.
    christmas = api.post(
        "/v1/financing/quotes",
        key=tenant.finance,
        json_body={"amount": 30_000, "currency": "EUR", "payout_date": "2028-11-25", "installments": 3},
    ).json()
    assert christmas["payout_date"] == "2028-11-27"
    assert [i["due_date"] for i in christmas["installments"]] == ["2028-12-27", "2029-01-25", "2029-02-26"]
    assert (christmas["fee"], christmas["total"]) == (fee(30_000, 3), 31_350)
    assert [i["amount"] for i in christmas["installments"]] == [10_450, 10_450, 10_450]
    for day in [*dates, *(date.fromisoformat(i["due_date"]) for i in christmas["installments"])]:
        assert is_business_day(day), day

    # Nothing stored: no plan, nothing falling due.
    assert plans_of(api, tenant) == []
    assert (
        amounts_by_period(api, tenant, "direction=payable&from=2028-01-01&to=2029-12-31&group_by=month") == {}
    )

    as_reader = api.post(
        "/v1/financing/quotes",
        key=tenant.read_only,
        json_body={"amount": 100, "currency": "EUR", "payout_date": "2028-01-14", "installments": 1},
    )
    assert as_reader.status_code == 403


def test_a_quote_is_held_to_the_tenants_maximum_and_the_calendar(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant, max_installments=3)
    base: dict[str, Any] = {"amount": 10_000, "currency": "EUR", "payout_date": "2028-01-14"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"installments": 4}, "installments"),
        ({"installments": 0}, "installments"),
        ({"installments": 2, "payout_date": str(TODAY - timedelta(days=1))}, "payout_date"),
        ({"installments": 2, "first_debit_date": "2028-01-14"}, "first_debit_date"),
        ({"installments": 2, "amount": 0}, "amount"),
    ]
    for change, field in cases:
        response = api.post("/v1/financing/quotes", key=tenant.finance, json_body={**base, **change})
        assert response.status_code == 400, (change, response.body)
        assert error_of(response)["field"] == field, (change, response.body)
    # Today (in the tenant's zone) is not in the past; three installments are the maximum.
    today = api.post(
        "/v1/financing/quotes",
        key=tenant.finance,
        json_body={**base, "payout_date": str(TODAY), "installments": 3},
    )
    assert today.status_code == 200, today.body
    assert len(today.json()["installments"]) == 3


# --- financing a bill ---------------------------------------------------------------------------------


def test_financing_a_bill_makes_a_plan_and_shows_in_the_bills_trail(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    bill = create_invoice(api, tenant, number="ER-100", amount=250_000, due=date(2027, 7, 30))

    response = finance(api, tenant, bill["id"], payout_date=date(2027, 7, 15), installments=6)

    assert response.status_code == 201, response.body
    plan = response.json()
    assert plan["object"] == "financing_plan" and plan["id"].startswith("fin_")
    assert (plan["invoice_id"], plan["supplier_name"], plan["currency"]) == (
        bill["id"],
        "Lieferant GmbH",
        "EUR",
    )
    assert (plan["principal"], plan["fee"], plan["total"]) == (250_000, 22_500, 272_500)
    assert (plan["paid_amount"], plan["remaining"]) == (0, 272_500)
    assert (plan["payout_date"], plan["payout_status"], plan["status"]) == (
        "2027-07-15",
        "scheduled",
        "active",
    )
    installments = plan["installments"]
    assert [i["sequence"] for i in installments] == [1, 2, 3, 4, 5, 6]
    assert {(i["status"], i["attempt"], i["kind"]) for i in installments} == {("scheduled", 1, "scheduled")}
    assert sum(i["amount"] for i in installments) == 272_500
    assert {i["amount"] for i in installments} == {45_417, 45_416}
    assert all(is_business_day(date.fromisoformat(i["due_date"])) for i in installments)
    assert len({i["id"] for i in installments}) == 6

    # The bill is unchanged until the payout, and its trail records the financing.
    after = api.get(f"/v1/invoices/{bill['id']}", key=tenant.read_only).json()
    assert (after["status"], after["amount_outstanding"]) == ("open", 250_000)
    financed_events = [e for e in events_of(api, tenant, bill["id"]) if e["action"] == "financed"]
    assert len(financed_events) == 1
    assert financed_events[0]["changes"] == {"financing_plan_id": [None, plan["id"]]}
    assert financed_events[0]["actor"].startswith("key:")

    got = api.get(f"/v1/financing/plans/{plan['id']}", key=tenant.read_only)
    assert got.status_code == 200 and got.json() == plan


def test_a_bill_is_financed_only_once(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    bill = create_invoice(api, tenant, number="ER-200", amount=10_000, due=date(2027, 8, 31))
    plan = financed(api, tenant, bill["id"], payout_date=date(2027, 8, 20), installments=2)

    again = finance(api, tenant, bill["id"], payout_date=date(2027, 8, 20), installments=3)

    assert again.status_code == 409, again.body
    error = error_of(again)
    assert (error["field"], error["existing_id"]) == ("invoice_id", plan["id"])
    assert [p["id"] for p in plans_of(api, tenant)] == [plan["id"]]


def test_only_an_open_payable_bill_can_be_financed(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    receivable = create_invoice(
        api, tenant, number="AR-1", amount=10_000, due=date(2027, 9, 30), direction="receivable"
    )
    void = create_invoice(api, tenant, number="ER-300", amount=10_000, due=date(2027, 9, 30))
    voided = api.post(f"/v1/invoices/{void['id']}/status", key=tenant.finance, json_body={"status": "void"})
    assert voided.status_code == 200, voided.body

    for invoice in (receivable, void):
        response = finance(api, tenant, invoice["id"], payout_date=date(2027, 9, 15), installments=2)
        assert response.status_code == 409, response.body
        assert error_of(response)["field"] == "invoice_id"
    assert plans_of(api, tenant) == []


def test_financing_requests_that_cannot_be_honoured(
    api: Api, tenant_factory: Any, tenant: TestTenant
) -> None:
    bill = create_invoice(api, tenant, number="ER-400", amount=10_000, due=date(2027, 10, 29))
    request = {"payout_date": date(2027, 10, 15), "installments": 3}

    # No debit method yet, then one without the payment method Stripe needs.
    response = finance(api, tenant, bill["id"], **request)
    assert response.status_code == 422, response.body
    assert error_of(response)["field"] == "debit.processor"
    configure(api, tenant, debit={"processor": "stripe", "customer_id": "cus_1"})
    response = finance(api, tenant, bill["id"], **request)
    assert response.status_code == 422 and error_of(response)["field"] == "debit.payment_method_id"

    configure(api, tenant, max_installments=3)
    checks: list[tuple[dict[str, Any], int, str | None]] = [
        ({"installments": 4}, 400, "installments"),
        ({"installments": 13}, 400, "installments"),
        ({"payout_date": TODAY - timedelta(days=1)}, 400, "payout_date"),
        ({"first_debit_date": date(2027, 10, 15)}, 400, "first_debit_date"),
        ({"key": tenant.read_only}, 403, None),
    ]
    for change, status, field in checks:
        response = finance(api, tenant, bill["id"], **{**request, **change})
        assert response.status_code == status, (change, response.body)
        if field is not None:
            assert error_of(response)["field"] == field, (change, response.body)

    # Another tenant, ready to finance, does not see this bill; nor does anyone see a made-up one.
    other = tenant_factory(name="Other GmbH")
    configure(api, other)
    assert finance(api, other, bill["id"], **request).status_code == 404
    assert finance(api, tenant, "inv_01J00000000000000000000000", **request).status_code == 404

    assert plans_of(api, tenant) == [] and plans_of(api, other) == []
    assert "financed" not in {e["action"] for e in events_of(api, tenant, bill["id"])}
    # And after all that, the bill is financed as asked.
    assert financed(api, tenant, bill["id"], **request)["installments"][2]["sequence"] == 3


def test_an_idempotency_key_replays_the_plan(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    bill = create_invoice(api, tenant, number="ER-500", amount=33_333, due=date(2027, 11, 30))
    headers = {"Idempotency-Key": "finance-er-500"}
    request = {"payout_date": date(2027, 11, 15), "installments": 3}

    first = finance(api, tenant, bill["id"], headers=headers, **request)
    second = finance(api, tenant, bill["id"], headers=headers, **request)

    assert (first.status_code, second.status_code) == (201, 201), (first.body, second.body)
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert [p["id"] for p in plans_of(api, tenant)] == [first.json()["id"]]
    other_body = finance(api, tenant, bill["id"], headers=headers, **{**request, "installments": 2})
    assert other_body.status_code == 422, other_body.body
    assert error_of(other_body)["field"] == "Idempotency-Key"


def test_plans_are_listed_newest_first_and_only_to_their_tenant(
    api: Api, tenant: TestTenant, tenant_factory: Any
) -> None:
    configure(api, tenant)
    made = []
    for n in range(3):
        bill = create_invoice(api, tenant, number=f"ER-60{n}", amount=10_000 + n, due=date(2027, 12, 20))
        made.append(financed(api, tenant, bill["id"], payout_date=date(2027, 12, 10), installments=1 + n))

    listed = plans_of(api, tenant)
    assert [p["id"] for p in listed] == [p["id"] for p in reversed(made)]
    assert [p["principal"] for p in listed] == [10_002, 10_001, 10_000]
    assert all(p["installments"] is None for p in listed)  # the list shows plans, a GET their installments

    page = api.get("/v1/financing/plans?limit=2", key=tenant.read_only).json()
    assert [p["id"] for p in page["data"]] == [made[2]["id"], made[1]["id"]] and page["has_more"] is True
    rest = api.get(
        f"/v1/financing/plans?limit=2&starting_after={page['next_cursor']}", key=tenant.read_only
    ).json()
    assert [p["id"] for p in rest["data"]] == [made[0]["id"]]

    got = api.get(f"/v1/financing/plans/{made[1]['id']}", key=tenant.read_only).json()
    assert [i["sequence"] for i in got["installments"]] == [1, 2]

    other = tenant_factory(name="Other GmbH")
    assert api.get(f"/v1/financing/plans/{made[1]['id']}", key=other.read_only).status_code == 404
    assert api.post(f"/v1/financing/plans/{made[1]['id']}/cancel", key=other.finance).status_code == 404
    assert plans_of(api, other) == []
    assert (
        api.get("/v1/financing/plans/fin_01J00000000000000000000000", key=tenant.read_only).status_code == 404
    )


# --- cancel -----------------------------------------------------------------------------------------


def test_cancelling_before_the_payout_gives_the_bill_back(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    bill = create_invoice(api, tenant, number="ER-700", amount=45_000, due=date(2028, 2, 28))
    plan = financed(api, tenant, bill["id"], payout_date=date(2028, 2, 15), installments=3)
    assert api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.read_only).status_code == 403

    key = {"Idempotency-Key": "cancel-er-700"}
    response = api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance, headers=key)

    assert response.status_code == 200, response.body
    cancelled = response.json()
    replay = api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance, headers=key)
    assert (replay.status_code, replay.json()) == (200, cancelled)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert (cancelled["status"], cancelled["payout_status"]) == ("cancelled", "cancelled")
    assert [i["status"] for i in cancelled["installments"]] == ["cancelled"] * 3
    assert api.get(f"/v1/financing/plans/{plan['id']}", key=tenant.read_only).json() == cancelled
    events = events_of(api, tenant, bill["id"])
    cancel_events = [e for e in events if e["action"] == "financing_cancelled"]
    assert len(cancel_events) == 1
    assert cancel_events[0]["changes"] == {"financing_plan_id": [plan["id"], None]}
    invoice = api.get(f"/v1/invoices/{bill['id']}", key=tenant.read_only).json()
    assert (invoice["status"], invoice["amount_outstanding"]) == ("open", 45_000)

    again = api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance)
    assert again.status_code == 409 and error_of(again)["field"] == "plan_id"
    # The bill is the business's again: it can be financed anew.
    renewed = financed(api, tenant, bill["id"], payout_date=date(2028, 2, 16), installments=2)
    assert renewed["id"] != plan["id"]


def _sweep_day(schedule: str) -> date:
    """Two days after the last tick of `schedule` in this session, and no earlier than SWEEP_FLOOR."""
    cursor = ScheduleRepository().swept_until(schedule)
    latest = max(SWEEP_FLOOR, cursor.astimezone(BERLIN).date() if cursor else SWEEP_FLOOR)
    return latest + timedelta(days=2)


def test_a_plan_cannot_be_cancelled_after_its_payout(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant)
    payout = _sweep_day("financing_payouts")
    first_debit = max(payout + timedelta(days=7), _sweep_day("installment_debits"))
    bill = create_invoice(api, tenant, number="ER-800", amount=12_000, due=payout + timedelta(days=14))
    plan = financed(api, tenant, bill["id"], payout_date=payout, installments=1, first_debit_date=first_debit)
    paid_at = datetime.combine(date.fromisoformat(plan["payout_date"]), time(6), tzinfo=BERLIN)
    # >= 1: a sweep reads everything due by its instant, other tests' payouts included.
    assert fire_schedule(chalice_app, "financing_payouts", paid_at)["payouts"] >= 1

    response = api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance)

    assert response.status_code == 409, response.body
    assert error_of(response)["field"] == "plan_id"
    now = api.get(f"/v1/financing/plans/{plan['id']}", key=tenant.read_only).json()
    assert (now["status"], now["payout_status"]) == ("active", "paid")
    assert now["installments"][0]["status"] == "scheduled"
    assert api.get(f"/v1/invoices/{bill['id']}", key=tenant.read_only).json()["status"] == "paid"
    assert "financing_cancelled" not in {e["action"] for e in events_of(api, tenant, bill["id"])}

    # Leave nothing due for the sweep tests: the installment is debited (the stand-in says yes).
    local_cloud.processors.reset()
    due = datetime.combine(date.fromisoformat(now["installments"][0]["due_date"]), time(6), tzinfo=BERLIN)
    fire_schedule(chalice_app, "installment_debits", due)
    assert api.get(f"/v1/financing/plans/{plan['id']}", key=tenant.read_only).json()["status"] == "completed"


def _overdue_check_day() -> date:
    """A due date whose overdue tick comes after the overdue check's last tick in this session and,
    if test_invoices has not run yet, before its ticks (about 400 days ahead), so neither reads the
    other's days for long."""
    cursor = ScheduleRepository().swept_until("invoice_overdue_check")
    earliest = TODAY + timedelta(days=396)
    return max(earliest, cursor.astimezone(BERLIN).date() + timedelta(days=2)) if cursor else earliest


def test_a_bill_whose_financing_was_cancelled_becomes_overdue_like_any_other(
    api: Api, tenant: TestTenant, chalice_app: Any
) -> None:
    # Cancelling used to save the bill without its overdue instant: it then stayed open for good.
    configure(api, tenant)
    due = _overdue_check_day()
    never_financed = create_invoice(api, tenant, number="ER-OD1", amount=5_000, due=due)
    bill = create_invoice(api, tenant, number="ER-OD2", amount=6_000, due=due)
    plan = financed(api, tenant, bill["id"], payout_date=due - timedelta(days=7), installments=1)
    cancelled = api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance)
    assert cancelled.status_code == 200, cancelled.body

    # The day after the due date, in Berlin.
    result = fire_schedule(
        chalice_app,
        "invoice_overdue_check",
        datetime.combine(due + timedelta(days=1), time(1), tzinfo=BERLIN),
    )

    assert result["claimed"] is True, result
    assert api.get(f"/v1/invoices/{never_financed['id']}", key=tenant.read_only).json()["status"] == "overdue"
    after = api.get(f"/v1/invoices/{bill['id']}", key=tenant.read_only).json()
    assert (after["status"], after["amount_outstanding"]) == ("overdue", 6_000)


# --- reports ----------------------------------------------------------------------------------------

RANGE = "from=2027-06-01&to=2027-12-31"


def test_the_upcoming_report_follows_the_financing_of_a_bill(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    bill = create_invoice(api, tenant, number="ER-900", amount=120_000, due=date(2027, 6, 15))
    receivable = create_invoice(
        api, tenant, number="AR-900", amount=50_000, due=date(2027, 6, 16), direction="receivable"
    )
    bill_week = week_of(date(2027, 6, 15))
    assert bill_week == "2027-W24"

    before = upcoming(api, tenant, f"direction=payable&{RANGE}&group_by=week")
    assert before.status_code == 200, before.body
    assert before.json()["periods"] == [
        {
            "period": "2027-W24",
            "first_day": "2027-06-14",
            "currency": "EUR",
            "amount": 120_000,
            "count": 1,
            "invoices_amount": 120_000,
            "installments_amount": 0,
        }
    ]

    plan = financed(api, tenant, bill["id"], payout_date=date(2027, 6, 10), installments=3)
    installments = plan["installments"]
    assert [i["due_date"] for i in installments] == ["2027-07-12", "2027-08-10", "2027-09-10"]
    assert plan["total"] == 120_000 + fee(120_000, 3) == 125_400

    expected: dict[str, int] = defaultdict(int)
    for installment in installments:
        expected[week_of(date.fromisoformat(installment["due_date"]))] += installment["amount"]
    weeks = upcoming(api, tenant, f"direction=payable&{RANGE}&group_by=week").json()["periods"]
    assert {p["period"]: p["amount"] for p in weeks} == expected
    assert bill_week not in {p["period"] for p in weeks}
    assert sum(p["amount"] for p in weeks) == plan["total"]
    assert {(p["invoices_amount"], p["count"], p["currency"]) for p in weeks} == {(0, 1, "EUR")}
    assert all(p["installments_amount"] == p["amount"] for p in weeks)
    months = amounts_by_period(api, tenant, f"direction=payable&{RANGE}&group_by=month")
    assert months == {"2027-07": 41_800, "2027-08": 41_800, "2027-09": 41_800}

    # The receivable side is its own report.
    assert amounts_by_period(api, tenant, f"direction=receivable&{RANGE}&group_by=week") == {
        "2027-W24": 50_000
    }

    # Cancelling gives the bill's amount back to its due date and takes the installments out.
    cancelled = api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance)
    assert cancelled.status_code == 200, cancelled.body
    assert amounts_by_period(api, tenant, f"direction=payable&{RANGE}&group_by=week") == {"2027-W24": 120_000}
    assert amounts_by_period(api, tenant, f"direction=receivable&{RANGE}&group_by=week") == {
        "2027-W24": 50_000
    }
    assert receivable["status"] == "open"


def test_a_periods_payments_are_listed_with_their_amounts(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    bill = create_invoice(api, tenant, number="ER-950", amount=120_000, due=date(2027, 6, 15))
    receivable = create_invoice(
        api, tenant, number="AR-950", amount=50_000, due=date(2027, 6, 16), direction="receivable"
    )
    plan = financed(api, tenant, bill["id"], payout_date=date(2027, 6, 10), installments=3)
    first = plan["installments"][0]
    week = week_of(date.fromisoformat(first["due_date"]))

    response = upcoming(api, tenant, f"direction=payable&period={week}")

    assert response.status_code == 200, response.body
    listed = response.json()
    assert listed["group_by"] == "day"
    assert listed["payments"] == [
        {
            "kind": "installment",
            "id": first["id"],
            "parent_id": plan["id"],
            "label": "installment 1",
            "due_date": first["due_date"],
            "currency": "EUR",
            "amount": first["amount"],
        }
    ]
    assert [(p["period"], p["amount"]) for p in listed["periods"]] == [(first["due_date"], first["amount"])]

    # The financed bill is no longer listed on its due date; the receivable is, on its side.
    bill_week = upcoming(api, tenant, "direction=payable&period=2027-W24").json()
    assert (bill_week["payments"], bill_week["periods"]) == ([], [])
    incoming = upcoming(api, tenant, "direction=receivable&period=2027-W24").json()["payments"]
    assert [(p["kind"], p["id"], p["amount"], p["parent_id"]) for p in incoming] == [
        ("invoice", receivable["id"], 50_000, receivable["counterparty_id"])
    ]
    # A month and a single day are periods too.
    month = upcoming(api, tenant, "direction=payable&period=2027-08").json()["payments"]
    assert [p["id"] for p in month] == [plan["installments"][1]["id"]]
    day = upcoming(api, tenant, f"direction=payable&period={plan['installments'][2]['due_date']}").json()
    assert [p["amount"] for p in day["payments"]] == [plan["installments"][2]["amount"]]

    api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance)
    back = upcoming(api, tenant, "direction=payable&period=2027-W24").json()["payments"]
    assert [(p["kind"], p["id"], p["amount"]) for p in back] == [("invoice", bill["id"], 120_000)]
    assert upcoming(api, tenant, f"direction=payable&period={week}").json()["payments"] == []


def test_the_summary_has_a_card_per_direction_and_currency(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    open_bill = create_invoice(api, tenant, number="ER-S1", amount=40_000, due=TODAY + timedelta(days=10))
    late_bill = create_invoice(
        api,
        tenant,
        number="ER-S2",
        amount=7_000,
        due=TODAY - timedelta(days=10),
        issued=TODAY - timedelta(days=40),
    )
    to_finance = create_invoice(api, tenant, number="ER-S3", amount=90_000, due=TODAY + timedelta(days=20))
    plan = financed(
        api,
        tenant,
        to_finance["id"],
        payout_date=TODAY + timedelta(days=5),
        installments=2,
        first_debit_date=TODAY + timedelta(days=15),
    )
    incoming = create_invoice(
        api, tenant, number="AR-S1", amount=50_000, due=TODAY + timedelta(days=20), direction="receivable"
    )
    dollars = create_invoice(
        api,
        tenant,
        number="AR-S2",
        amount=12_345,
        due=TODAY + timedelta(days=45),
        direction="receivable",
        currency="USD",
    )

    response = api.get("/v1/reports/summary", key=tenant.read_only)

    assert response.status_code == 200, response.body
    summary = response.json()
    cards = {(c["direction"], c["currency"]): c for c in summary["cards"]}
    assert set(cards) == {("payable", "EUR"), ("receivable", "EUR"), ("receivable", "USD")}
    soon = [
        i
        for i in plan["installments"]
        if TODAY <= date.fromisoformat(i["due_date"]) <= TODAY + timedelta(days=30)
    ]
    assert plan["total"] == 90_000 + fee(90_000, 2) and len(soon) == 1
    payable = cards[("payable", "EUR")]
    assert payable["outstanding"] == 40_000 + 7_000 + plan["total"]
    assert payable["due_next_30_days"] == 40_000 + sum(i["amount"] for i in soon)
    assert payable["overdue_or_past_due"] == 7_000
    assert {
        k: cards[("receivable", "EUR")][k] for k in ("outstanding", "due_next_30_days", "overdue_or_past_due")
    } == {
        "outstanding": 50_000,
        "due_next_30_days": 50_000,
        "overdue_or_past_due": 0,
    }
    assert (
        cards[("receivable", "USD")]["outstanding"],
        cards[("receivable", "USD")]["due_next_30_days"],
    ) == (
        12_345,
        0,
    )

    # The next payments of each direction: what falls due in 30 days, the financed bill through its
    # installment.
    payable_summary = api.get("/v1/reports/summary?direction=payable", key=tenant.read_only).json()
    upcoming_ids = [p["id"] for p in summary["next_payments"] + payable_summary["next_payments"]]
    assert sorted(upcoming_ids) == sorted([open_bill["id"], incoming["id"], *(i["id"] for i in soon)])
    for absent in (late_bill["id"], to_finance["id"], dollars["id"]):
        assert absent not in upcoming_ids
    dues = [p["due_date"] for p in summary["next_payments"]]
    assert dues == sorted(dues)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2026-X1", "period"),
        ("period=2026-W60", "period"),
        ("from=2027-02-01&to=2027-01-31", "to"),
        ("from=2027-01-01&to=2029-01-11", "to"),  # 741 days
        ("direction=sideways", "direction"),
        ("group_by=year", "group_by"),
    ],
)
def test_report_queries_are_checked(api: Api, tenant: TestTenant, query: str, field: str) -> None:
    response = upcoming(api, tenant, query)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field


def test_the_longest_report_range_is_740_days(api: Api, tenant: TestTenant) -> None:
    assert upcoming(api, tenant, "from=2027-01-01&to=2029-01-10").status_code == 200
    assert datetime(2029, 1, 10, tzinfo=UTC) - datetime(2027, 1, 1, tzinfo=UTC) == timedelta(days=740)


def test_a_financed_bill_cannot_be_voided_or_written_off(api: Api, tenant: TestTenant) -> None:
    configure(api, tenant)
    bill = create_invoice(api, tenant, number="NO-VOID", amount=7_000, due=TODAY + timedelta(days=400))
    plan = financed(api, tenant, bill["id"], payout_date=TODAY + timedelta(days=390), installments=2)
    for status in ("void", "written_off"):
        response = api.post(
            f"/v1/invoices/{bill['id']}/status", key=tenant.finance, json_body={"status": status}
        )
        assert response.status_code == 409, response.body
        assert error_of(response)["field"] == "status"
    assert api.get(f"/v1/financing/plans/{plan['id']}", key=tenant.read_only).json()["status"] == "active"
