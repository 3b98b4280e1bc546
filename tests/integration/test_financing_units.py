"""Financing's storage below HTTP, against DynamoDB Local: the lease of a due installment and of a due
alert (cashline.dal.due.lease: of two claims at the same instant exactly one wins), and a debit's
outcome composed with its alert and day totals in one unit of work (all of it is written, or none).

Each test has a tenant of its own (a fresh id: the repositories need no tenant item) and fixed
instants, never the wall clock. What a test writes is deleted after it: its items sit on the real
jobs' `due` index, where another test's sweep would find them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from cashline.adapters.processors import DebitRefusedError, DebitResult
from cashline.dal.alert_repository import ALERT_JOB, ALERT_LEASE, Alert, AlertRepository, stage_alert
from cashline.dal.daily_totals import apply_in, day_pk, days_between
from cashline.dal.due import query_due
from cashline.dal.financing_records import plan_pk
from cashline.dal.financing_repository import (
    CLAIM_LEASE,
    DEBIT_JOB,
    FinancingRepository,
    installment_day,
)
from cashline.dal.payment_records import alert_pk
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.plans import Installment, InstallmentStatus, PayoutStatus, Plan, PlanStatus
from cashline.errors import ConflictError
from cashline.ids import new_id
from cashline.services import debits

pytestmark = pytest.mark.usefixtures("local_cloud")

CREATED = datetime(2025, 4, 1, 6, 0, tzinfo=UTC)
DUE_DAY = date(2025, 5, 2)
NOW = datetime(2025, 5, 2, 6, 0, tzinfo=UTC)
plans = FinancingRepository()
alerts = AlertRepository()
WRITTEN: list[str] = []  # the partitions this test wrote


@pytest.fixture(autouse=True)
def _delete_what_the_test_wrote() -> Iterator[None]:
    yield
    while WRITTEN:
        for item in CashlineItem.query(WRITTEN.pop()):
            item.delete()


def a_plan(installments: int = 2) -> tuple[str, Plan, list[Installment]]:
    """A paid-out plan with its installments due on DUE_DAY (and the months after), stored as
    financing stores one, with the installments in the day totals."""
    tenant_id = f"ten_fin_{uuid.uuid4().hex[:12]}"
    plan = Plan(
        tenant_id=tenant_id,
        plan_id=new_id("plan"),
        invoice_id=new_id("invoice"),
        supplier_name="Supplier GmbH",
        currency="EUR",
        principal=10_000,
        fee=200,
        total=10_200,
        paid_amount=0,
        payout_date=date(2025, 4, 2),
        payout_status=PayoutStatus.PAID,
        status=PlanStatus.ACTIVE,
        installments_count=installments,
        pricing={"monthly_rate_bp": 100, "fixed_fee": 0},
        created_at=CREATED,
        updated_at=CREATED,
    )
    items = [
        Installment(
            installment_id=new_id("installment"),
            plan_id=plan.plan_id,
            sequence=n,
            kind="scheduled",
            due_date=DUE_DAY.replace(month=DUE_DAY.month + n - 1),
            amount=10_200 // installments,
            currency="EUR",
            status=InstallmentStatus.SCHEDULED,
        )
        for n in range(1, installments + 1)
    ]
    debit_at = {i.sequence: datetime.combine(i.due_date, NOW.timetz()) for i in items}
    UnitOfWork("test plan").add(
        lambda write: plans.stage_new_plan(
            write, plan, items, payout_instant=CREATED, debit_instants=debit_at, reminders={}
        )
    ).add(lambda write: apply_in(write, [installment_day(tenant_id, i, 1) for i in items], CREATED)).commit()
    WRITTEN.extend([plan_pk(tenant_id, plan.plan_id), day_pk(tenant_id, "payable")])
    stored_plan, stored = plans.get_plan(tenant_id, plan.plan_id)
    return tenant_id, stored_plan, stored


def due_installments(tenant_id: str, at: datetime) -> list[Installment]:
    """What the debit sweep at `at` reads of this tenant."""
    found = [plans.due_installment(item) for item in query_due(DEBIT_JOB, now=at)]
    return [i for t, i in filter(None, found) if t == tenant_id]


def payable_on(tenant_id: str, day: date) -> int:
    return sum(d.installments_amount for d in days_between(tenant_id, "payable", day, day))


# --- the lease of a due installment --------------------------------------------------------------------


def test_of_two_claims_of_one_due_installment_exactly_one_wins() -> None:
    # Given an installment the debit sweep finds due, read by two sweeps
    tenant_id, _, (first, _second) = a_plan()
    (seen,) = [i for i in due_installments(tenant_id, NOW) if i.installment_id == first.installment_id]

    # When both claim it at the same instant
    won = [plans.claim(tenant_id, seen, NOW), plans.claim(tenant_id, seen, NOW)]

    # Then one has it, processing on the next version, and the other is told no
    claimed, lost = won
    assert lost is None
    assert claimed is not None
    assert claimed.status is InstallmentStatus.PROCESSING
    assert claimed.version == seen.version + 1
    # and it stays due at the lease's end, so a sweep that dies mid-way is taken over
    assert first.installment_id not in [i.installment_id for i in due_installments(tenant_id, NOW)]
    later = due_installments(tenant_id, NOW + CLAIM_LEASE)
    assert [i.installment_id for i in later if i.installment_id == first.installment_id] == [
        first.installment_id
    ]


def test_of_two_threads_claiming_one_installment_at_once_exactly_one_wins() -> None:
    # Given the same due installment in the hands of two workers running at the same moment
    tenant_id, _, (first, _second) = a_plan()
    start = threading.Barrier(2)
    won: list[Installment | None] = []

    def claim() -> None:
        start.wait()
        won.append(plans.claim(tenant_id, first, NOW))

    # When both claim it
    workers = [threading.Thread(target=claim) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then exactly one got it
    assert sorted(w is None for w in won) == [False, True]


def test_an_installment_changed_since_it_was_read_is_not_claimed() -> None:
    # Given an installment read, then claimed by another sweep (its version moved on)
    tenant_id, _, (first, _second) = a_plan()
    assert plans.claim(tenant_id, first, NOW) is not None

    # When a sweep claims it on the version it read after the lease ended
    # Then it is told no: the version it holds is not the stored one
    assert plans.claim(tenant_id, first, NOW + CLAIM_LEASE) is None


# --- the lease of a due alert --------------------------------------------------------------------------


def an_alert() -> Alert:
    alert = Alert(
        tenant_id=f"ten_alert_{uuid.uuid4().hex[:12]}",
        alert_id=new_id("alert"),
        alert_type="debit.failed",
        detail={"reason": "insufficient_funds"},
        at=NOW,
    )
    UnitOfWork("test alert").add(lambda write: stage_alert(write, alert)).commit()
    WRITTEN.append(alert_pk(alert.tenant_id, alert.alert_id))
    stored = alerts.get(alert.tenant_id, alert.alert_id)
    assert stored is not None
    return stored


def test_of_two_claims_of_one_due_alert_exactly_one_wins() -> None:
    # Given an alert written with its change, read by the delivery right after it and by the sweep
    alert = an_alert()

    # When both claim it at the same instant
    won = [alerts.claim(alert, NOW), alerts.claim(alert, NOW)]

    # Then one delivers it (on the next version) and the other leaves it
    assert won == [replace(alert, version=alert.version + 1), None]
    # and the alert is due again when the lease ends, should that delivery die
    due = [alerts.due_alert(item) for item in query_due(ALERT_JOB, now=NOW + ALERT_LEASE)]
    assert alert.alert_id in [a.alert_id for a in due if a is not None]


def test_a_delivered_alert_is_not_claimed_again() -> None:
    # Given an alert claimed and delivered (off the due index)
    alert = an_alert()
    claimed = alerts.claim(alert, NOW)
    assert claimed is not None
    alerts.save(replace(claimed, status="published"), next_attempt_at=None, now=NOW)

    # When a late sweep claims what it read before
    # Then there is nothing to take
    assert alerts.claim(claimed, NOW + ALERT_LEASE) is None


# --- a debit's outcome: one unit of work ---------------------------------------------------------------


def test_a_refused_debit_records_the_retry_the_plan_and_the_alert_together() -> None:
    # Given a claimed installment
    tenant_id, plan, (first, _second) = a_plan()
    claimed = plans.claim(tenant_id, first, NOW)
    assert claimed is not None

    # When the processor refuses the debit
    debits.settle_outcome(tenant_id, claimed, DebitRefusedError("insufficient_funds"), NOW)

    # Then the installment waits for its retry, the plan moved on, and finance has an alert
    stored_plan, (retried, _) = plans.get_plan(tenant_id, plan.plan_id)
    assert (retried.status, retried.attempt, retried.failure_reason) == (
        InstallmentStatus.RETRYING,
        2,
        "insufficient_funds",
    )
    assert stored_plan.version == plan.version + 1
    (alert,) = alerts.recent(tenant_id, 10)
    WRITTEN.append(alert_pk(tenant_id, alert.alert_id))
    assert alert.alert_type == "debit.failed"
    assert alert.detail["installment_id"] == first.installment_id


def test_an_outcome_on_a_stale_installment_writes_nothing_not_even_its_alert() -> None:
    # Given an installment claimed twice over (the second sweep took it after the lease ended)
    tenant_id, plan, (first, _second) = a_plan()
    stale = plans.claim(tenant_id, first, NOW)
    assert stale is not None
    assert plans.claim(tenant_id, stale, NOW + timedelta(hours=1)) is not None

    # When the first sweep records the processor's refusal on the version it holds
    with pytest.raises(ConflictError):
        debits.settle_outcome(tenant_id, stale, DebitRefusedError("insufficient_funds"), NOW)

    # Then neither the installment, the plan nor an alert was written
    stored_plan, (current, _) = plans.get_plan(tenant_id, plan.plan_id)
    assert current.status is InstallmentStatus.PROCESSING and current.attempt == 1
    assert stored_plan == plan
    assert alerts.recent(tenant_id, 10) == []


def test_a_paid_debit_on_a_stale_installment_moves_no_money() -> None:
    # Given an installment whose version moved on after this sweep claimed it
    tenant_id, plan, (first, _second) = a_plan()
    stale = plans.claim(tenant_id, first, NOW)
    assert stale is not None
    assert plans.claim(tenant_id, stale, NOW + timedelta(hours=1)) is not None

    # When this sweep records the debit as paid
    with pytest.raises(ConflictError):
        debits.settle_outcome(tenant_id, stale, DebitResult("stripe", "pi_1", "succeeded"), NOW)

    # Then the plan's paid amount and the day totals are as they were
    stored_plan, _ = plans.get_plan(tenant_id, plan.plan_id)
    assert stored_plan.paid_amount == 0
    assert payable_on(tenant_id, first.due_date) == first.amount


def test_the_last_paid_debit_completes_the_plan() -> None:
    # Given a plan of one installment, claimed
    tenant_id, plan, (only,) = a_plan(installments=1)
    claimed = plans.claim(tenant_id, only, NOW)
    assert claimed is not None

    # When the processor says it is paid
    debits.settle_outcome(tenant_id, claimed, DebitResult("stripe", "pi_2", "succeeded"), NOW)

    # Then the money is on the plan, off the day's payables, and the plan is complete
    stored_plan, (paid,) = plans.get_plan(tenant_id, plan.plan_id)
    assert paid.status is InstallmentStatus.PAID
    assert (stored_plan.paid_amount, stored_plan.status) == (only.amount, PlanStatus.COMPLETED)
    assert payable_on(tenant_id, only.due_date) == 0
