"""The financing sweeps against DynamoDB Local and the processor stand-in: supplier payouts,
installment debits (paid, refused and retried, timed out, settled later by GoCardless, several
sweeps at once) and the reminder e-mails.

Time: each sweep keeps one cursor for the whole session and reads from it, so every test takes its
dates after the instant its schedules last ran at (`next_day`, which reads the cursors, so another
module's ticks count too) and only ever fires forward. Every test also leaves nothing due behind:
each payout is made or its plan cancelled, each installment paid, failed or cancelled, so no later
sweep meets another test's work (or eats an outcome scripted for another test).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cashline.dal.schedule_records import ScheduleRepository
from localcloud.cloud import LocalCloud
from localcloud.handlers import fire_schedule
from localcloud.processor_standin import CreatedPayment
from tests.utils import FROZEN_NOW, Api, TestTenant

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = FROZEN_NOW.astimezone(BERLIN).date()  # the tenants' today: bills are issued on it
PAYOUTS, DEBITS, REMINDERS = "financing_payouts", "installment_debits", "debit_reminders"
# The sweeps run far in the future: no plan made elsewhere around the real date is ever swept here.
FLOOR = date(2040, 1, 9)
STRIPE = {"processor": "stripe", "customer_id": "cus_1", "payment_method_id": "pm_1"}
GOCARDLESS = {"processor": "gocardless", "mandate_id": "MD000TEST1"}
GERMAN_MONTHS = (
    *("Januar", "Februar", "März", "April", "Mai", "Juni"),
    *("Juli", "August", "September", "Oktober", "November", "Dezember"),
)

_last_fired: dict[str, datetime] = {}

# Requests and queued webhooks are handled at FROZEN_NOW; the sweeps at the instants fired.
pytestmark = pytest.mark.usefixtures("frozen_now")


def next_day(schedule: str) -> date:
    """Two days after the last instant `schedule` ran at in this session (never before FLOOR)."""
    latest = FLOOR
    cursor = ScheduleRepository().swept_until(schedule)
    for instant in (cursor, _last_fired.get(schedule)):
        if instant is not None:
            latest = max(latest, instant.astimezone(BERLIN).date())
    return latest + timedelta(days=2)


def at(day: date | str, hour: int, minute: int = 0) -> datetime:
    """`hour:minute` on `day` in Berlin, the tenants' zone."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def _note_fired(schedule: str, instant: datetime) -> None:
    previous = _last_fired.get(schedule)
    assert previous is None or instant >= previous, (
        f"{schedule} at {instant} after {previous}: sweeps go forward"
    )
    _last_fired[schedule] = instant


def fire(app: Any, schedule: str, instant: datetime) -> dict[str, Any]:
    _note_fired(schedule, instant)
    result: dict[str, Any] = fire_schedule(app, schedule, instant)
    return result


def fire_together(app: Any, schedule: str, instants: list[datetime]) -> list[dict[str, Any]]:
    """Every instant's tick at once, each in its own thread, released together."""
    for instant in sorted(instants):
        _note_fired(schedule, instant)
    barrier = threading.Barrier(len(instants))

    def run(instant: datetime) -> dict[str, Any]:
        barrier.wait()
        result: dict[str, Any] = fire_schedule(app, schedule, instant)
        return result

    with ThreadPoolExecutor(max_workers=len(instants)) as pool:
        return list(pool.map(run, instants))


@pytest.fixture(autouse=True)
def _fresh_processors(local_cloud: LocalCloud) -> Iterator[None]:
    local_cloud.processors.reset()  # no outcome left queued by an earlier test
    yield


def configure(api: Api, tenant: TestTenant, *, debit: dict[str, str] | None = None, **changes: Any) -> str:
    """The tenant's first financing settings; returns its reminder address."""
    email = f"ap-{tenant.tenant_id.lower()}@tenant.example"
    body = {
        "version": 0,
        "debit": debit or STRIPE,
        "reminder_email": email,
        "retry_after_days": [3, 5, 7],
        "monthly_rate_bp": 150,
        "fixed_fee": 0,
        **changes,
    }
    response = api.request("PUT", "/v1/financing/settings", key=tenant.admin, json_body=body)
    assert response.status_code == 200, response.body
    return email


class Bills:
    """Payable bills of one tenant, all from one supplier, financed through the API."""

    def __init__(self, api: Api, tenant: TestTenant):
        self.api, self.tenant = api, tenant
        self.supplier: dict[str, str] = {"name": "Lieferant GmbH"}
        self.count = 0

    def finance(
        self, *, amount: int, payout: date, installments: int, first_debit: date | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self.count += 1
        bill = self.api.post(
            "/v1/invoices",
            key=self.tenant.finance,
            json_body={
                "direction": "payable",
                "counterparty": self.supplier,
                "number": f"ER-{self.count}",
                "issue_date": str(TODAY),
                "due_date": str(payout + timedelta(days=14)),
                "currency": "EUR",
                "amount_due": amount,
            },
        )
        assert bill.status_code == 201, bill.body
        self.supplier = {"id": bill.json()["counterparty_id"]}
        request: dict[str, Any] = {"payout_date": str(payout), "installments": installments}
        if first_debit is not None:
            request["first_debit_date"] = str(first_debit)
        plan = self.api.post(
            f"/v1/invoices/{bill.json()['id']}/financing", key=self.tenant.finance, json_body=request
        )
        assert plan.status_code == 201, plan.body
        return bill.json(), plan.json()


def plan_dates() -> tuple[date, date]:
    """A payout day after the payout sweep's last tick and a first debit day after the debit sweep's."""
    payout = next_day(PAYOUTS)
    return payout, max(payout + timedelta(days=7), next_day(DEBITS))


def get_plan(api: Api, tenant: TestTenant, plan_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/financing/plans/{plan_id}", key=tenant.read_only)
    assert response.status_code == 200, response.body
    plan: dict[str, Any] = response.json()
    return plan


def get_invoice(api: Api, tenant: TestTenant, invoice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}", key=tenant.read_only)
    assert response.status_code == 200, response.body
    invoice: dict[str, Any] = response.json()
    return invoice


def paid_out(app: Any, plan: dict[str, Any]) -> datetime:
    """Fire the payout sweep at the plan's payout instant (06:00 on the payout day)."""
    instant = at(plan["payout_date"], 6)
    fire(app, PAYOUTS, instant)
    return instant


def payments(local_cloud: LocalCloud, installment_id: str) -> dict[str, list[CreatedPayment]]:
    """What the stand-in created for an installment, by idempotency key."""
    found: dict[str, list[CreatedPayment]] = {}
    for payment in local_cloud.processors.created:
        if payment.idempotency_key and payment.idempotency_key.startswith(installment_id + "-"):
            found.setdefault(payment.idempotency_key, []).append(payment)
    return found


# --- payout -----------------------------------------------------------------------------------------


def test_the_payout_pays_the_supplier_and_settles_the_bill_once(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant)
    payout, first_debit = plan_dates()
    bill, plan = Bills(api, tenant).finance(
        amount=80_000, payout=payout, installments=1, first_debit=first_debit
    )
    instant = at(plan["payout_date"], 6)

    early = fire(chalice_app, PAYOUTS, instant - timedelta(minutes=1))
    assert early["claimed"] is True and early["payouts"] == 0, early
    assert get_plan(api, tenant, plan["id"])["payout_status"] == "scheduled"
    assert get_invoice(api, tenant, bill["id"])["status"] == "open"

    result = fire(chalice_app, PAYOUTS, instant)
    assert result["claimed"] is True and result["payouts"] == 1, result
    after = get_plan(api, tenant, plan["id"])
    assert (after["payout_status"], after["status"], after["paid_amount"]) == ("paid", "active", 0)
    settled = get_invoice(api, tenant, bill["id"])
    assert settled["status"] == "paid"
    assert (settled["amount_paid"], settled["amount_outstanding"]) == (80_000, 0)
    events = api.get(f"/v1/invoices/{bill['id']}/events", key=tenant.read_only).json()["data"]
    paid_events = [e for e in events if e["action"] == "paid_by_financing"]
    assert len(paid_events) == 1 and paid_events[0]["actor"] == "system:financing"

    # The same tick delivered again, and the next hour's tick: nothing more happens.
    assert fire(chalice_app, PAYOUTS, instant)["claimed"] is False
    later = fire(chalice_app, PAYOUTS, instant + timedelta(hours=1))
    assert later["claimed"] is True and later["payouts"] == 0, later
    again = get_invoice(api, tenant, bill["id"])
    assert (again["status"], again["version"]) == ("paid", settled["version"])
    events_again = api.get(f"/v1/invoices/{bill['id']}/events", key=tenant.read_only).json()["data"]
    assert len(events_again) == len(events)
    assert get_plan(api, tenant, plan["id"])["version"] == after["version"]

    # Leave nothing due: the one installment is debited.
    fire(chalice_app, DEBITS, at(plan["installments"][0]["due_date"], 6))
    assert get_plan(api, tenant, plan["id"])["status"] == "completed"


# --- debits -----------------------------------------------------------------------------------------


def test_a_due_installment_is_debited_once_and_the_last_one_completes_the_plan(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant)
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=100_000, payout=payout, installments=2, first_debit=first_debit
    )
    paid_out(chalice_app, plan)
    first, second = plan["installments"]
    # fee 100000 x 1.5 % x 2 months = 3000; 103000 in two equal parts
    assert (plan["total"], first["amount"], second["amount"]) == (103_000, 51_500, 51_500)
    first_due = at(first["due_date"], 6)

    early = fire(chalice_app, DEBITS, first_due - timedelta(minutes=1))
    assert (early["debits"], early["items_read"]) == (0, 0), early
    assert payments(local_cloud, first["id"]) == {}
    assert get_plan(api, tenant, plan["id"])["installments"][0]["status"] == "scheduled"

    result = fire(chalice_app, DEBITS, first_due)
    assert (result["debits"], result["items_read"]) == (1, 1), result
    made = payments(local_cloud, first["id"])
    assert list(made) == [f"{first['id']}-1"] and len(made[f"{first['id']}-1"]) == 1
    payment = made[f"{first['id']}-1"][0]
    assert (payment.processor, payment.amount, payment.currency) == ("stripe", 51_500, "eur")
    assert payment.metadata == {
        "cashline_installment": first["id"],
        "cashline_plan": plan["id"],
        "attempt": "1",
    }
    assert payment.params["customer"] == "cus_1" and payment.params["payment_method"] == "pm_1"

    halfway = get_plan(api, tenant, plan["id"])
    assert (halfway["status"], halfway["paid_amount"], halfway["remaining"]) == ("active", 51_500, 51_500)
    one, two = halfway["installments"]
    assert (one["status"], one["attempt"]) == ("paid", 1)
    assert datetime.fromisoformat(one["paid_at"]) == first_due
    assert two["status"] == "scheduled"

    assert fire(chalice_app, DEBITS, first_due)["claimed"] is False  # the same tick again
    assert len(local_cloud.processors.created_with_key(f"{first['id']}-1")) == 1

    last = fire(chalice_app, DEBITS, at(second["due_date"], 6))
    assert (last["debits"], last["items_read"]) == (1, 1), last
    done = get_plan(api, tenant, plan["id"])
    assert (done["status"], done["paid_amount"], done["remaining"]) == ("completed", 103_000, 0)
    assert [i["status"] for i in done["installments"]] == ["paid", "paid"]
    assert list(payments(local_cloud, second["id"])) == [f"{second['id']}-1"]
    assert len(payments(local_cloud, first["id"])[f"{first['id']}-1"]) == 1


def test_a_refused_debit_is_retried_after_the_configured_days_then_the_plan_is_in_arrears(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant, retry_after_days=[3, 5, 7])
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=40_000, payout=payout, installments=1, first_debit=first_debit
    )
    paid_out(chalice_app, plan)
    installment_id = plan["installments"][0]["id"]
    attempt_at = at(plan["installments"][0]["due_date"], 6)

    local_cloud.processors.script("stripe", "fail")
    fire(chalice_app, DEBITS, attempt_at)
    state = get_plan(api, tenant, plan["id"])["installments"][0]
    assert (state["status"], state["attempt"], state["failure_reason"]) == (
        "retrying",
        2,
        "insufficient_funds",
    )
    assert len(local_cloud.processors.created_with_key(f"{installment_id}-1")) == 1

    for attempt, days in ((2, 3), (3, 5), (4, 7)):
        retry_at = attempt_at + timedelta(days=days)
        early = fire(chalice_app, DEBITS, retry_at - timedelta(minutes=1))
        assert early["items_read"] == 0, (attempt, early)
        assert local_cloud.processors.created_with_key(f"{installment_id}-{attempt}") == []
        assert get_plan(api, tenant, plan["id"])["installments"][0]["status"] == "retrying"

        local_cloud.processors.script("stripe", "fail")
        result = fire(chalice_app, DEBITS, retry_at)
        assert result["items_read"] == 1, (attempt, result)
        assert len(local_cloud.processors.created_with_key(f"{installment_id}-{attempt}")) == 1
        state = get_plan(api, tenant, plan["id"])["installments"][0]
        if attempt < 4:
            assert (state["status"], state["attempt"]) == ("retrying", attempt + 1)
        attempt_at = retry_at

    final = get_plan(api, tenant, plan["id"])
    assert (final["status"], final["paid_amount"]) == ("in_arrears", 0)
    state = final["installments"][0]
    assert (state["status"], state["attempt"], state["failure_reason"]) == ("failed", 4, "insufficient_funds")
    made = payments(local_cloud, installment_id)
    assert sorted(made) == [f"{installment_id}-{n}" for n in (1, 2, 3, 4)]
    assert all(len(each) == 1 for each in made.values())
    # A failed installment is no longer due: a week later nothing is asked for again.
    later = fire(chalice_app, DEBITS, attempt_at + timedelta(days=7))
    assert later["items_read"] == 0, later
    assert len(payments(local_cloud, installment_id)) == 4


def test_a_failed_installment_is_counted_and_listed_alike(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    # A failed installment used to stay in the day's totals but leave the day's payment list.
    configure(api, tenant, retry_after_days=[])  # no retries: the first refusal is final
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=40_000, payout=payout, installments=1, first_debit=first_debit
    )
    paid_out(chalice_app, plan)
    due_date = plan["installments"][0]["due_date"]

    local_cloud.processors.script("stripe", "fail")
    fire(chalice_app, DEBITS, at(due_date, 6))
    final = get_plan(api, tenant, plan["id"])
    assert (final["status"], final["installments"][0]["status"]) == ("in_arrears", "failed")

    # One response, two views of the same day: the totals and the payments they are made of.
    report = api.get(f"/v1/reports/upcoming?direction=payable&period={due_date}", key=tenant.read_only)
    assert report.status_code == 200, report.body
    body = report.json()
    assert sum(p["amount"] for p in body["periods"]) == sum(p["amount"] for p in body["payments"]), body
    assert sum(p["count"] for p in body["periods"]) == len(body["payments"]), body


def test_a_timeout_after_the_processor_took_the_debit_never_debits_twice(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant)
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=60_000, payout=payout, installments=1, first_debit=first_debit
    )
    paid_out(chalice_app, plan)
    installment_id = plan["installments"][0]["id"]
    key = f"{installment_id}-1"
    due = at(plan["installments"][0]["due_date"], 6)

    local_cloud.processors.script("stripe", "timeout_after_create")
    fire(chalice_app, DEBITS, due)
    state = get_plan(api, tenant, plan["id"])["installments"][0]
    # The outcome is unknown: the same attempt (and key) is asked again later.
    assert (state["status"], state["attempt"], state["failure_reason"]) == (
        "retrying",
        1,
        "DebitTimeoutError",
    )
    assert len(local_cloud.processors.created_with_key(key)) == 1  # the processor did take it

    early = fire(chalice_app, DEBITS, due + timedelta(minutes=29))
    assert early["items_read"] == 0, early

    result = fire(chalice_app, DEBITS, due + timedelta(minutes=30))
    assert (result["debits"], result["items_read"]) == (1, 1), result
    final = get_plan(api, tenant, plan["id"])
    assert final["installments"][0]["status"] == "paid"
    assert (final["status"], final["paid_amount"]) == ("completed", plan["total"])
    assert list(payments(local_cloud, installment_id)) == [key]
    assert len(local_cloud.processors.created_with_key(key)) == 1  # the retry got the same debit back


def test_a_gocardless_debit_is_paid_when_the_processor_confirms_it(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant, debit=GOCARDLESS)
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=70_000, payout=payout, installments=1, first_debit=first_debit
    )
    paid_out(chalice_app, plan)
    installment_id = plan["installments"][0]["id"]
    due = at(plan["installments"][0]["due_date"], 6)

    fire(chalice_app, DEBITS, due)
    made = local_cloud.processors.created_with_key(f"{installment_id}-1")
    assert len(made) == 1
    payment = made[0]
    assert (payment.processor, payment.amount, payment.currency) == ("gocardless", plan["total"], "EUR")
    assert payment.params["links"] == {"mandate": GOCARDLESS["mandate_id"]}
    assert local_cloud.processors.status_of(payment.reference) == "pending_submission"
    assert get_plan(api, tenant, plan["id"])["installments"][0]["status"] == "processing"

    # Looked at again an hour later; still pending there, so it stays processing.
    assert fire(chalice_app, DEBITS, due + timedelta(minutes=59))["items_read"] == 0
    still = fire(chalice_app, DEBITS, due + timedelta(hours=1))
    assert still["items_read"] == 1, still
    waiting = get_plan(api, tenant, plan["id"])
    assert (waiting["installments"][0]["status"], waiting["paid_amount"]) == ("processing", 0)

    local_cloud.processors.set_status(payment.reference, "confirmed")
    result = fire(chalice_app, DEBITS, due + timedelta(hours=2))
    assert (result["debits"], result["items_read"]) == (1, 1), result
    final = get_plan(api, tenant, plan["id"])
    assert final["installments"][0]["status"] == "paid"
    assert (final["status"], final["paid_amount"]) == ("completed", plan["total"])
    assert list(payments(local_cloud, installment_id)) == [f"{installment_id}-1"]
    assert len(made) == len(local_cloud.processors.created_with_key(f"{installment_id}-1")) == 1


# --- reminders --------------------------------------------------------------------------------------


def _euros(cents: int) -> str:
    """German formatting, as the e-mail shows amounts (below 1,000 EUR: no thousands separator)."""
    assert cents < 100_000
    return f"{cents // 100},{cents % 100:02d}\xa0€"


def test_one_reminder_per_debit_day_lists_every_installment_of_that_day(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    email = configure(api, tenant, reminder_days_before=3)
    payout, first_debit = plan_dates()
    first_debit = max(first_debit, next_day(REMINDERS) + timedelta(days=3))
    bills = Bills(api, tenant)
    _, small = bills.finance(amount=20_000, payout=payout, installments=1, first_debit=first_debit)
    _, large = bills.finance(amount=30_000, payout=payout, installments=1, first_debit=first_debit)
    day = date.fromisoformat(small["installments"][0]["due_date"])
    assert large["installments"][0]["due_date"] == str(day)
    amounts = [small["installments"][0]["amount"], large["installments"][0]["amount"]]
    assert amounts == [20_300, 30_450]  # 1.5 % fee for one month
    remind_at = at(day - timedelta(days=3), 9)

    def mails() -> list[dict[str, str]]:
        response = api.get("/v1/dev/outbox", key=tenant.read_only)
        assert response.status_code == 200, response.body
        return [m for m in response.json()["data"] if m["to"] == email]

    fire(chalice_app, REMINDERS, remind_at - timedelta(minutes=1))  # anything due before: sent now
    assert mails() == []

    result = fire(chalice_app, REMINDERS, remind_at)
    assert result["reminders"] == 1, result
    sent = mails()
    assert len(sent) == 1
    mail = sent[0]
    total = _euros(sum(amounts))
    assert (
        mail["subject"] == f"Cashline debits on {day.day}. {GERMAN_MONTHS[day.month - 1]} {day.year}: {total}"
    )
    assert f"will debit {total} from pm_1" in mail["text"]
    assert f"plan {small['id']}, installment 1: {_euros(amounts[0])}" in mail["text"]
    assert f"plan {large['id']}, installment 1: {_euros(amounts[1])}" in mail["text"]
    files = list(local_cloud.outbox_dir.glob("*.json"))
    assert sum(email in path.read_text() for path in files) == 1

    again = fire(chalice_app, REMINDERS, remind_at + timedelta(hours=1))
    assert again["reminders"] == 0, again
    assert len(mails()) == 1

    # Leave nothing due: pay out and debit both.
    paid_out(chalice_app, small)
    fire(chalice_app, DEBITS, at(day, 6))
    for plan in (small, large):
        assert get_plan(api, tenant, plan["id"])["status"] == "completed"


# --- what a sweep reads -----------------------------------------------------------------------------


def test_a_sweep_reads_only_the_installments_that_are_due(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant)
    payout, first_debit = plan_dates()
    bills = Bills(api, tenant)
    due_now = [
        bills.finance(amount=10_000, payout=payout, installments=1, first_debit=first_debit)[1]
        for _ in range(2)
    ]
    # 36 installments that fall due later, from plans paid out later still.
    later = [
        bills.finance(amount=50_000, payout=first_debit + timedelta(days=1), installments=12)[1]
        for _ in range(3)
    ]
    assert all(
        i["due_date"] > due_now[0]["installments"][0]["due_date"] for p in later for i in p["installments"]
    )

    assert fire(chalice_app, PAYOUTS, at(due_now[0]["payout_date"], 6))["payouts"] == 2
    result = fire(chalice_app, DEBITS, at(due_now[0]["installments"][0]["due_date"], 6))
    assert (result["items_read"], result["debits"]) == (2, 2), result
    for plan in later:
        assert {i["status"] for i in get_plan(api, tenant, plan["id"])["installments"]} == {"scheduled"}

    # Leave nothing due: the later plans are cancelled before their payout.
    for plan in later:
        cancelled = api.post(f"/v1/financing/plans/{plan['id']}/cancel", key=tenant.finance)
        assert cancelled.status_code == 200, cancelled.body


# --- exactly once with sweeps running at once ---------------------------------------------------------

# 500 installments: 50 plans of 10, the same dates for all, every one due by the sweeps' ticks.
BATCH_PLANS, BATCH_INSTALLMENTS = 50, 10
DUE = BATCH_PLANS * BATCH_INSTALLMENTS


def test_sweeps_running_at_once_debit_each_due_installment_exactly_once(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    configure(api, tenant)
    payout, first_debit = plan_dates()
    bills = Bills(api, tenant)
    plans = [
        bills.finance(
            amount=100_000 + n, payout=payout, installments=BATCH_INSTALLMENTS, first_debit=first_debit
        )[1]
        for n in range(BATCH_PLANS)
    ]
    assert fire(chalice_app, PAYOUTS, at(plans[0]["payout_date"], 6))["payouts"] == BATCH_PLANS
    # A debit tick before the first due day, so the sweeps below read from there (a first-ever sweep
    # would look back only `sweep_lookback_days`).
    assert fire(chalice_app, DEBITS, at(first_debit - timedelta(days=1), 6))["items_read"] == 0
    ours = {i["id"]: i["amount"] for p in plans for i in p["installments"]}
    assert len(ours) == DUE
    last_due = max(at(i["due_date"], 6) for p in plans for i in p["installments"])
    tick = last_due + timedelta(hours=1)
    # One tick delivered twice, and two more ticks (10 and 20 minutes later, inside the 30-minute
    # claim lease of the first), all four at the same moment.
    ticks = [tick, tick, tick + timedelta(minutes=10), tick + timedelta(minutes=20)]

    results = fire_together(chalice_app, DEBITS, ticks)

    assert sorted(r["claimed"] for r in results[:2]) == [False, True], results
    assert [r["claimed"] for r in results[2:]] == [True, True], results
    assert {r["items_read"] for r in results if not r["claimed"]} == {0}, results

    def debited() -> Counter[str | None]:
        return Counter(
            p.idempotency_key
            for p in local_cloud.processors.created
            if (p.idempotency_key or "-").rsplit("-", 1)[0] in ours
        )

    assert debited() == Counter({f"{installment_id}-1": 1 for installment_id in ours})
    # Two installments of one plan recorded at the same moment conflict on the plan; the loser keeps
    # its claim until the lease ends, and the next sweep records it (the processor answers with the
    # debit it made). After that sweep every installment is recorded once, and none debited again.
    follow_up = fire(chalice_app, DEBITS, ticks[-1] + timedelta(hours=1))
    assert sum(r["debits"] for r in results) + follow_up["debits"] == DUE, (results, follow_up)
    assert debited() == Counter({f"{installment_id}-1": 1 for installment_id in ours})
    made = [p for p in local_cloud.processors.created if (p.idempotency_key or "-").rsplit("-", 1)[0] in ours]
    assert sum(p.amount for p in made) == sum(ours.values()) == sum(p["total"] for p in plans)
    for plan in plans:
        now = get_plan(api, tenant, plan["id"])
        assert (now["status"], now["paid_amount"]) == ("completed", plan["total"]), now
        assert {i["status"] for i in now["installments"]} == {"paid"}


# --- early repayment --------------------------------------------------------------------------------


def test_early_repayment_replaces_the_open_installments_with_one_debit_and_a_smaller_fee(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    from cashline.services.financing import repay_early

    configure(api, tenant)
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=120_000, payout=payout, installments=6, first_debit=first_debit
    )
    # principal 120,000; fee 1.5 % x 6 months = 10,800; total 130,800 in six debits of 21,800
    assert (plan["fee"], plan["total"]) == (10_800, 130_800)
    paid_out(chalice_app, plan)
    first = plan["installments"][0]
    fire(chalice_app, DEBITS, at(first["due_date"], 6))
    assert get_plan(api, tenant, plan["id"])["paid_amount"] == first["amount"]

    # Repaid two days after the first debit: the fee is 1.5 % of 120,000 per month started since the payout.
    repay_on = at(date.fromisoformat(first["due_date"]) + timedelta(days=2), 10)
    # (a started month counts in full, and never more than the six months of the plan's term)
    months = min(_months_started(date.fromisoformat(plan["payout_date"]), repay_on.date()), 6)
    fee = 1_800 * months
    repay_early(tenant.tenant_id, plan["id"], now=repay_on)
    after = get_plan(api, tenant, plan["id"])
    assert (after["fee"], after["total"]) == (fee, 120_000 + fee)
    statuses = [(i["kind"], i["status"]) for i in after["installments"]]
    assert statuses.count(("scheduled", "cancelled")) == 5
    final = next(i for i in after["installments"] if i["kind"] == "early_repayment")
    assert final["amount"] == 120_000 + fee - first["amount"]

    fire(chalice_app, DEBITS, max(at(final["due_date"], 6), repay_on) + timedelta(hours=1))
    done = get_plan(api, tenant, plan["id"])
    assert done["status"] == "completed" and done["paid_amount"] == 120_000 + fee and done["remaining"] == 0
    assert len(payments(local_cloud, final["id"])) == 1


def _months_started(start: date, on: date) -> int:
    """An independent count: month anniversaries of `start` reached before `on`, at least one."""
    months = 0
    while True:
        index = start.year * 12 + start.month - 1 + months
        year, month = divmod(index, 12)
        last_day = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
        if date(year, month + 1, min(start.day, last_day)) >= on:
            return max(months, 1)
        months += 1


# --- processor webhooks ----------------------------------------------------------------------------


def _gocardless_event(
    connection: dict[str, Any], event_id: str, action: str, payment: str, **details: str
) -> Any:
    from tests.payment_utils import GOCARDLESS_SECRET, signed_gocardless

    body = {
        "events": [
            {
                "id": event_id,
                "created_at": "2026-11-20T10:00:00.000Z",
                "resource_type": "payments",
                "action": action,
                "links": {"payment": payment},
                "details": {"origin": "gocardless", **details},
                "metadata": {},
            }
        ]
    }
    return signed_gocardless(connection, body, GOCARDLESS_SECRET)


def test_a_gocardless_webhook_settles_the_installment_before_the_sweep_looks_again(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    from tests.payment_utils import GOCARDLESS_SECRET, connect, drain

    configure(api, tenant, debit=GOCARDLESS)
    connection = connect(api, tenant, "gocardless", GOCARDLESS_SECRET, api_key="local_standin_token")
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=30_000, payout=payout, installments=1, first_debit=first_debit
    )
    paid_out(chalice_app, plan)
    installment = plan["installments"][0]
    due = at(installment["due_date"], 6)
    fire(chalice_app, DEBITS, due)
    [made] = local_cloud.processors.created_with_key(f"{installment['id']}-1")
    assert made.metadata["cashline_installment"] == installment["id"]

    for _ in range(2):  # GoCardless delivers at least once
        assert (
            api.post(
                **_gocardless_event(connection, f"EV{made.reference}", "confirmed", made.reference)
            ).status_code
            == 200
        )
    drain(local_cloud, chalice_app)
    settled = get_plan(api, tenant, plan["id"])
    assert settled["installments"][0]["status"] == "paid"
    assert (settled["status"], settled["paid_amount"]) == ("completed", plan["total"])
    [payment] = api.get("/v1/payments", key=tenant.read_only).json()["data"]
    assert payment["direction"] == "payable"
    assert [(a["target_type"], a["target_id"], a["amount"]) for a in payment["allocations"]] == [
        ("installment", installment["id"], plan["total"])
    ]
    # The sweep's next look finds nothing left to do.
    assert fire(chalice_app, DEBITS, due + timedelta(hours=1))["debits"] == 0


def test_a_failed_debit_by_webhook_schedules_the_retry_and_alerts_finance(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    from tests.payment_utils import GOCARDLESS_SECRET, connect, drain, settings

    configure(api, tenant, debit=GOCARDLESS)
    finance = f"finance-{tenant.tenant_id.lower()}@tenant.example"
    settings(api, tenant, finance_emails=[finance])
    connection = connect(api, tenant, "gocardless", GOCARDLESS_SECRET, api_key="local_standin_token")
    payout, first_debit = plan_dates()
    _, plan = Bills(api, tenant).finance(
        amount=20_000, payout=payout, installments=1, first_debit=first_debit
    )
    paid_out(chalice_app, plan)
    installment = plan["installments"][0]
    fire(chalice_app, DEBITS, at(installment["due_date"], 6))
    [made] = local_cloud.processors.created_with_key(f"{installment['id']}-1")

    failed = _gocardless_event(
        connection, f"EVF{made.reference}", "failed", made.reference, cause="insufficient_funds"
    )
    assert api.post(**failed).status_code == 200
    drain(local_cloud, chalice_app)
    after = get_plan(api, tenant, plan["id"])["installments"][0]
    assert (after["status"], after["attempt"]) == ("retrying", 2)
    # The alert was raised at FROZEN_NOW (the webhook's processing); the outbox sweep delivers it.
    fire_schedule(chalice_app, "alert_deliveries", FROZEN_NOW + timedelta(minutes=2))
    mails = [json.loads(p.read_text()) for p in local_cloud.outbox_dir.glob("*.json")]
    alerts = [m for m in mails if m["to"] == finance]
    assert len(alerts) == 1 and alerts[0]["subject"] == "A debit failed"
    assert "insufficient_funds" in alerts[0]["text"] or "failed" in alerts[0]["text"]
