"""The "not in bank" check against DynamoDB Local: a processor's payout recorded through the payment
services gets a check item in the same transaction; once the tenant's days have passed, the sweep
flags it as one NOT_IN_BANK discrepancy, however often and however concurrently it runs; a check a
bank line ended is never flagged; a payment Cashline recorded itself gets no check.

Every sweep is given its instant; no test reads the clock.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from pynamodb.exceptions import DoesNotExist

from cashline.dal.bank_checks import (
    BANK_CHECK_SK,
    BankCheckRecord,
    StoredBankChecks,
    bank_check_pk,
    due_bank_checks,
    stage_bank_check_done,
)
from cashline.dal.bank_repository import StoredDiscrepancy, bank
from cashline.dal.due import due_keys
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.reconciliation import (
    DiscrepancyKind,
    MatchRule,
    MatchTarget,
    Proposal,
    TargetType,
    TransactionStatus,
)
from cashline.domain.payments import Payment, PaymentMethod, PaymentSource, PaymentStatus
from cashline.errors import ConflictError
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.bank import bank_check_sweep, matching
from cashline.services.bank.discrepancy_checks import check_not_in_bank
from cashline.services.payments.context import context_for, payments
from cashline.services.payments.events import process_event
from cashline.services.payments.manual import manual_event, record_payment
from tests.bank_setup import BankBooks
from tests.bank_setup import fixed_proposals as proposals_of
from tests.utils import TestTenant, make_tenant

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
PAID = date(2026, 11, 2)  # the payouts' value date (Stripe's arrival_date)
# The default not_in_bank_days is 5: the bank had until 2026-11-07; flagged from 2026-11-08 00:00Z.
DUE = datetime(2026, 11, 8, tzinfo=UTC)


@pytest.fixture
def shop() -> TestTenant:
    return make_tenant("Nicht auf der Bank GmbH", now=NOW)


def _event(action: EventAction, amount: int, *, method: PaymentMethod, **fields: object) -> PaymentEvent:
    reference = fields.pop("reference", None) or f"po_{uuid.uuid4().hex[:14]}"
    return PaymentEvent.model_validate(
        {
            "source": PaymentSource.STRIPE,
            "event_id": f"evt_{uuid.uuid4().hex}",
            "event_type": f"test.{action.value}",
            "occurred_at": NOW,
            "action": action,
            "reference": reference,
            "amount": amount,
            "currency": "EUR",
            "value_date": PAID,
            "method": method,
            **fields,
        }
    )


def _process(tenant_id: str, event: PaymentEvent) -> str | None:
    outcome = process_event(context_for(tenant_id, now=NOW, actor="webhook:stripe"), event)
    return outcome.payment_id


def _payout(tenant_id: str, amount: int = 48_750) -> Payment:
    """A Stripe `payout.paid` as the webhook adapter maps it (stripe_events._payout_paid)."""
    payment_id = _process(tenant_id, _event(EventAction.PAYOUT, amount, method=PaymentMethod.BANK_TRANSFER))
    assert payment_id is not None
    return payments.get(tenant_id, payment_id)


def _check(tenant_id: str, payment_id: str) -> BankCheckRecord | None:
    """The payment's check while it waits (on the due index); None when there is none or it is closed."""
    try:
        record = BankCheckRecord.get(
            bank_check_pk(tenant_id, payment_id), BANK_CHECK_SK, consistent_read=True
        )
    except DoesNotExist:
        return None
    return record if record.due_pk is not None else None


def _open_discrepancies(tenant_id: str) -> list[StoredDiscrepancy]:
    return bank.list_discrepancies(tenant_id, status="open", limit=50, starting_after=None).items


@pytest.fixture
def fixed_proposals(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Proposal]]:
    return proposals_of(monkeypatch)


# ---------------------------------------------------------------------------------------------
# Creation


def test_a_processor_payout_is_watched_in_the_transaction_that_records_it(shop: TestTenant) -> None:
    # When Stripe reports a payout paid, and the same event is delivered again
    event = _event(EventAction.PAYOUT, 48_750, method=PaymentMethod.BANK_TRANSFER)
    payment_id = _process(shop.tenant_id, event)
    assert payment_id is not None
    assert _process(shop.tenant_id, event) is None  # a duplicate: nothing written

    # Then one check waits for its bank line, due the day after value date + 5 days
    check = _check(shop.tenant_id, payment_id)
    assert check is not None and check.version == 1
    assert (check.due_pk, check.due_sk) == due_keys("payout_bank_check", DUE, shop.tenant_id, payment_id)


def test_a_payment_cashline_recorded_itself_or_paid_by_card_is_not_watched(shop: TestTenant) -> None:
    # Given a payment a person recorded, and a Stripe card payment
    ctx = context_for(shop.tenant_id, now=NOW, actor="user:finance")
    manual = manual_event(
        source=PaymentSource.MANUAL,
        amount=12_000,
        currency="EUR",
        value_date=PAID,
        method="bank_transfer",
        payer_name="Kunde AG",
        payer_iban=None,
        remittance_reference="RE-1",
        invoice_id=None,
        bank_reference=None,
        event_id=f"evt_{uuid.uuid4().hex}",
        now=NOW,
    )
    recorded = record_payment(ctx, manual, invoice_amount=None, counterparty_id=None)
    card = _process(shop.tenant_id, _event(EventAction.SUCCEEDED, 5_000, method=PaymentMethod.CARD))
    # And a Stripe payment settled straight to the bank by transfer
    transfer = _process(
        shop.tenant_id, _event(EventAction.SUCCEEDED, 7_000, method=PaymentMethod.BANK_TRANSFER)
    )

    # Then only the transfer waits for a bank line, and nothing is flagged for the others
    assert card is not None and transfer is not None
    assert _check(shop.tenant_id, recorded.id) is None
    assert _check(shop.tenant_id, card) is None
    assert _check(shop.tenant_id, transfer) is not None
    bank_check_sweep.check_due(DUE)
    assert {d.payment_id for d in _open_discrepancies(shop.tenant_id)} == {transfer}


def test_a_payment_that_succeeds_again_keeps_its_one_check(shop: TestTenant) -> None:
    # Given a Stripe bank-transfer payment that succeeded, failed, and succeeded again (same intent)
    reference = f"pi_{uuid.uuid4().hex[:14]}"
    first = _event(EventAction.SUCCEEDED, 7_000, method=PaymentMethod.BANK_TRANSFER, reference=reference)
    payment_id = _process(shop.tenant_id, first)
    assert payment_id is not None
    failed = _event(EventAction.FAILED, 7_000, method=PaymentMethod.BANK_TRANSFER, reference=reference)
    _process(shop.tenant_id, failed)
    again = _event(EventAction.SUCCEEDED, 7_000, method=PaymentMethod.BANK_TRANSFER, reference=reference)

    # When the second success is recorded, the check the first one wrote does not stop it
    assert _process(shop.tenant_id, again) == payment_id
    assert payments.get(shop.tenant_id, payment_id).status is PaymentStatus.SUCCEEDED
    check = _check(shop.tenant_id, payment_id)
    assert check is not None and check.version == 1


# ---------------------------------------------------------------------------------------------
# The sweep


def test_a_payout_no_bank_line_showed_is_flagged_once_after_the_tenants_days(shop: TestTenant) -> None:
    # Given a recorded payout
    payout = _payout(shop.tenant_id)

    # When the sweep runs on the last day the bank had, nothing is due yet
    assert bank_check_sweep.check_due(DUE - timedelta(seconds=1)) == 0
    assert _open_discrepancies(shop.tenant_id) == []

    # When it runs at the due instant, and again
    flagged = bank_check_sweep.check_due(DUE)
    again = bank_check_sweep.check_due(DUE + timedelta(hours=1))

    # Then the payout is flagged once, naming the payment, and no longer watched
    assert flagged >= 1 and again == 0
    [found] = _open_discrepancies(shop.tenant_id)
    assert found.payment_id == payout.id and found.bank_transaction_id is None
    assert found.discrepancy.kind is DiscrepancyKind.NOT_IN_BANK
    assert (found.discrepancy.amount, found.discrepancy.currency) == (48_750, "EUR")
    assert found.discrepancy.target_id == payout.id and found.at == DUE
    assert _check(shop.tenant_id, payout.id) is None


def test_two_sweeps_at_once_flag_each_payout_once(shop: TestTenant) -> None:
    # Given recorded payouts, due
    payouts = {_payout(shop.tenant_id, 20_000 + n).id for n in range(6)}
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        start.wait()
        try:
            counts.append(bank_check_sweep.check_due(DUE))
        except BaseException as exc:
            errors.append(exc)

    # When two sweeps run at the same moment
    workers = [threading.Thread(target=sweep) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then exactly one discrepancy names each payout
    assert errors == []
    flagged = sorted(d.payment_id or "" for d in _open_discrepancies(shop.tenant_id))
    assert flagged == sorted(payouts)
    assert all(_check(shop.tenant_id, payment_id) is None for payment_id in payouts)


def test_a_check_read_by_two_sweeps_is_flagged_by_the_first_only(shop: TestTenant) -> None:
    # Given a due payout's check, read by two sweeps before either wrote
    payout = _payout(shop.tenant_id, 15_000)
    [check] = [c for c in due_bank_checks(DUE) if c.payment_id == payout.id]
    store = StoredBankChecks(lambda _tenant_id, now: now.date())  # the UTC day is the day here

    # When both decide it
    first = check_not_in_bank(check, store=store, now=DUE)

    # Then the second's transaction fails whole: one discrepancy
    with pytest.raises(ConflictError):
        check_not_in_bank(check, store=store, now=DUE)
    assert first.action == "flagged"
    assert [d.discrepancy_id for d in _open_discrepancies(shop.tenant_id)] == [
        first.discrepancy.discrepancy_id if first.discrepancy else None
    ]


def test_a_check_a_bank_line_ended_is_not_flagged(shop: TestTenant) -> None:
    # Given a payout whose bank line was matched (the match's transaction deletes the check)
    payout = _payout(shop.tenant_id)
    UnitOfWork("test").add(
        lambda write: stage_bank_check_done(write, shop.tenant_id, payout.id, NOW)
    ).commit()
    # (and deleting it again, as a second match attempt would, is harmless)
    UnitOfWork("test").add(
        lambda write: stage_bank_check_done(write, shop.tenant_id, payout.id, NOW)
    ).commit()

    # When the sweep runs long after
    bank_check_sweep.check_due(DUE + timedelta(days=30))

    # Then nothing is flagged
    assert _check(shop.tenant_id, payout.id) is None
    assert _open_discrepancies(shop.tenant_id) == []


def test_a_payout_a_bank_line_reconciled_is_dropped_not_flagged(
    shop: TestTenant, fixed_proposals: dict[str, list[Proposal]]
) -> None:
    # Given a payout matched to its bank line by the matching service
    payout = _payout(shop.tenant_id, 31_000)
    books = BankBooks(shop.tenant_id, NOW)
    line = books.line(31_000, remittance=f"STRIPE PAYOUT {payout.source_reference}")
    target = MatchTarget(TargetType.PAYOUT, payout.id, 31_000, payout.source_reference or "")
    fixed_proposals[line.transaction_id] = [Proposal(MatchRule.PROCESSOR_PAYOUT, 98, (target,))]
    [matched] = matching.match_lines(shop.tenant_id, [line], now=NOW)
    assert matched.status is TransactionStatus.MATCHED

    # When the sweep runs after the payout's days
    assert bank_check_sweep.check_due(DUE) == 0

    # Then the check is gone and nothing is flagged
    assert _check(shop.tenant_id, payout.id) is None
    assert _open_discrepancies(shop.tenant_id) == []


def test_a_tenant_that_gives_the_bank_more_days_is_flagged_later(shop: TestTenant) -> None:
    # Given a payout recorded while the tenant allowed 5 days, then 8
    payout = _payout(shop.tenant_id)
    settings = bank.get_settings(shop.tenant_id)
    bank.update_settings(shop.tenant_id, replace(settings, not_in_bank_days=8), NOW)

    # When the sweep reads the check at its first due instant, it waits
    bank_check_sweep.check_due(DUE)
    assert _open_discrepancies(shop.tenant_id) == []
    check = _check(shop.tenant_id, payout.id)
    later = datetime(2026, 11, 11, tzinfo=UTC)  # value date + 8 days + 1
    assert check is not None
    assert (check.due_pk, check.due_sk) == due_keys("payout_bank_check", later, shop.tenant_id, payout.id)

    # Then it is flagged once the 8 days have passed
    bank_check_sweep.check_due(later)
    assert [d.payment_id for d in _open_discrepancies(shop.tenant_id)] == [payout.id]


def test_the_scheduled_sweep_claims_its_tick_once(shop: TestTenant) -> None:
    payout = _payout(shop.tenant_id, 9_900)
    tick = DUE + timedelta(minutes=7)

    first = bank_check_sweep.run_bank_check(tick_at=tick, worker="w1")
    second = bank_check_sweep.run_bank_check(tick_at=tick, worker="w2")

    assert first.claimed and first.items_changed >= 1
    assert not second.claimed
    assert [d.payment_id for d in _open_discrepancies(shop.tenant_id)] == [payout.id]
