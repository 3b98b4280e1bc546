"""The daily "not in bank" check, below the sweep: which payments it watches, when one falls due, and
that a due check flags once, waits, or ends, against an in-memory store."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import pytest

from cashline.dal.bank_outcomes import StoredDiscrepancy
from cashline.domain.bank.reconciliation import DiscrepancyKind
from cashline.domain.invoices import Direction
from cashline.domain.payments import Payment, PaymentKind, PaymentMethod, PaymentSource, PaymentStatus
from cashline.errors import ConflictError
from cashline.services.bank.discrepancy_checks import (
    BankCheck,
    bank_check_due_at,
    check_not_in_bank,
    needs_bank_check,
)

RECORDED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def processor_payout(**changes: object) -> Payment:
    payout = Payment(
        id="pay_po1",
        tenant_id="t_1",
        direction=Direction.RECEIVABLE,
        source=PaymentSource.STRIPE,
        source_reference="po_1QxYz7AbCdEf",
        kind=PaymentKind.PAYOUT,
        status=PaymentStatus.SUCCEEDED,
        amount=97100,
        currency="EUR",
        value_date=date(2026, 12, 1),
        created_at=RECORDED,
        updated_at=RECORDED,
    )
    return replace(payout, **changes)  # type: ignore[arg-type]


@dataclass
class MemoryChecks:
    """The check items and discrepancies in memory; `flag` fails like the conditional delete does."""

    payments: dict[str, Payment]
    days: int = 5
    pending: dict[str, int] = field(default_factory=dict)  # payment id -> check version
    due: dict[str, datetime] = field(default_factory=dict)
    flagged: list[StoredDiscrepancy] = field(default_factory=list)

    def payment(self, tenant_id: str, payment_id: str) -> Payment | None:
        return self.payments.get(payment_id)

    def not_in_bank_days(self, tenant_id: str) -> int:
        return self.days

    def today(self, tenant_id: str, now: datetime) -> date:
        return now.date()

    def flag(self, check: BankCheck, discrepancy: StoredDiscrepancy) -> None:
        if self.pending.get(check.payment_id) != check.version:
            raise ConflictError("bank check changed meanwhile")
        del self.pending[check.payment_id]
        self.flagged.append(discrepancy)

    def postpone(self, check: BankCheck, due_at: datetime) -> None:
        self.pending[check.payment_id] = check.version + 1
        self.due[check.payment_id] = due_at

    def drop(self, check: BankCheck, now: datetime) -> None:
        self.pending.pop(check.payment_id, None)


@pytest.mark.parametrize(
    ("changes", "watched"),
    [
        ({}, True),
        ({"source": PaymentSource.GOCARDLESS}, True),
        ({"kind": PaymentKind.PAYMENT, "method": PaymentMethod.BANK_TRANSFER}, True),
        ({"kind": PaymentKind.PAYMENT, "method": PaymentMethod.CARD}, False),  # comes with a payout
        ({"kind": PaymentKind.REFUND}, False),
        ({"status": PaymentStatus.PENDING}, False),
        ({"source": PaymentSource.MANUAL}, False),
        ({"source": PaymentSource.BANK_TRANSFER}, False),
    ],
)
def test_which_payments_wait_for_the_bank(changes: dict[str, object], watched: bool) -> None:
    assert needs_bank_check(processor_payout(**changes)) is watched


def test_a_check_falls_due_at_midnight_utc_after_the_tenants_days() -> None:
    assert bank_check_due_at(processor_payout(), days=5) == datetime(2026, 12, 7, tzinfo=UTC)


def test_a_payout_the_bank_never_showed_is_flagged_once() -> None:
    # Given a payout of 1 December waiting for its bank line, and 5 days allowed
    store = MemoryChecks(payments={"pay_po1": processor_payout()}, pending={"pay_po1": 0})
    check = BankCheck("t_1", "pay_po1", version=0)
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    # When the sweep handles its due check
    outcome = check_not_in_bank(check, store=store, now=now, new_discrepancy_id=lambda: "bdc_1")
    # Then one open NOT_IN_BANK discrepancy names the payment, and the check is done
    assert outcome.action == "flagged"
    [stored] = store.flagged
    assert (stored.discrepancy_id, stored.payment_id, stored.status, stored.at) == (
        "bdc_1",
        "pay_po1",
        "open",
        now,
    )
    assert (stored.discrepancy.kind, stored.discrepancy.amount, stored.discrepancy.target_id) == (
        DiscrepancyKind.NOT_IN_BANK,
        97100,
        "pay_po1",
    )
    assert store.pending == {}
    # And a second run of the same check (a replayed tick) writes nothing
    with pytest.raises(ConflictError):
        check_not_in_bank(check, store=store, now=now)
    assert len(store.flagged) == 1


def test_a_check_read_before_the_tenants_days_passed_waits_and_flags_later() -> None:
    store = MemoryChecks(payments={"pay_po1": processor_payout()}, pending={"pay_po1": 0}, days=10)
    check = BankCheck("t_1", "pay_po1")
    outcome = check_not_in_bank(check, store=store, now=datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    assert outcome.action == "postponed"
    assert store.due["pay_po1"] == datetime(2026, 12, 12, tzinfo=UTC)
    assert store.flagged == []
    later = check_not_in_bank(
        replace(check, version=1), store=store, now=store.due["pay_po1"] + timedelta(hours=1)
    )
    assert later.action == "flagged"


@pytest.mark.parametrize("payments", [{}, {"pay_po1": processor_payout(status=PaymentStatus.REVERSED)}])
def test_a_payment_that_no_longer_promises_money_ends_its_check_unflagged(
    payments: dict[str, Payment],
) -> None:
    store = MemoryChecks(payments=payments, pending={"pay_po1": 0})
    outcome = check_not_in_bank(
        BankCheck("t_1", "pay_po1"), store=store, now=datetime(2026, 12, 20, tzinfo=UTC)
    )
    assert (outcome.action, store.pending, store.flagged) == ("dropped", {}, [])
