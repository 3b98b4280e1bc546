"""Three reviewer findings in bank lookups and imports, each proven against DynamoDB Local:

1. a payout, refund, chargeback or fee is found by its amount lookup item (written with the payment
   by PaymentRepository.stage) whatever the number of the tenant's other payments near its day;
2. a reference-less line of two notifications (or intraday reports) is two lines, and the end-of-day
   statement holding them stores neither again; a referenced line is stored once across reports;
3. a later chunk that loses a line to a concurrent import moves it from the statement's
   `transaction_count` to its `duplicate_lines`.

Instants are fixed, never the wall clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bench.dynamodb_meter import metered
from cashline.dal.bank_candidates import StoredCandidates
from cashline.dal.bank_repository import TransactionFilter, bank
from cashline.dal.payment_records import PaymentRecord
from cashline.dal.payment_repository import PaymentRepository, PaymentWrites, payment_record
from cashline.dal.transactions import UnitOfWork
from cashline.domain.payments import Direction as PaymentDirection
from cashline.domain.payments import Payment, PaymentKind, PaymentSource, PaymentStatus
from cashline.ids import new_id
from cashline.services.bank import import_writes, imports
from tests.unit.test_bank_camt import balance, camt, entry, report
from tests.utils import TestTenant

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)


# --- 1. payouts and refunds of a busy tenant -----------------------------------------------------


def _payment(tenant_id: str, kind: PaymentKind, amount: int, value_date: date, **changes: Any) -> Payment:
    payment = Payment(
        id=new_id("payment"),
        tenant_id=tenant_id,
        direction=PaymentDirection.RECEIVABLE if kind is PaymentKind.PAYOUT else PaymentDirection.PAYABLE,
        source=PaymentSource.STRIPE,
        source_reference=f"po_{amount}",
        kind=kind,
        status=PaymentStatus.SUCCEEDED,
        amount=amount,
        currency="EUR",
        value_date=value_date,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(payment, **changes) if changes else payment


def _stored(*payments: Payment) -> None:
    """Through the payments' own stage, as every payment is first stored."""
    writes = PaymentWrites(tenant_id=payments[0].tenant_id, now=NOW, payments=[(None, p) for p in payments])
    UnitOfWork("payments").add(lambda w: PaymentRepository.stage(w, writes)).commit()


def _busy_day(tenant_id: str, count: int, day: date) -> None:
    """`count` card payments of one day, written straight to the table (their lookups do not matter)."""
    with PaymentRecord.batch_write() as batch:
        for n in range(count):
            batch.save(payment_record(_payment(tenant_id, PaymentKind.PAYMENT, 1_000 + n, day)))


def test_a_payout_is_found_among_600_payments_of_its_days_with_two_calls() -> None:
    t = new_id("tenant")
    _busy_day(t, 600, TODAY - timedelta(days=1))
    payout = _payment(t, PaymentKind.PAYOUT, 98_000, TODAY + timedelta(days=2))
    refund = _payment(t, PaymentKind.REFUND, 98_000, TODAY)
    failed = _payment(t, PaymentKind.REFUND, 98_000, TODAY, status=PaymentStatus.FAILED)
    far = _payment(t, PaymentKind.PAYOUT, 98_000, TODAY + timedelta(days=9))
    _stored(payout, refund, failed, far)
    books = StoredCandidates(t)

    with metered() as meter:
        found = books.payments_near("payout", "EUR", 98_000, TODAY)

    assert [(p.payment_id, p.reference, p.source) for p in found] == [(payout.id, "po_98000", "stripe")]
    assert (meter.total_calls, meter.describe()) == (2, "BatchGetItem x1, Query x1")
    assert [p.payment_id for p in books.payments_near("refund", "EUR", 98_000, TODAY)] == [refund.id]
    assert books.payments_near("payout", "EUR", 98_001, TODAY) == []
    assert books.payments_near("payout", "USD", 98_000, TODAY) == []
    assert StoredCandidates(new_id("tenant")).payments_near("payout", "EUR", 98_000, TODAY) == []
    with metered() as meter:
        assert books.payments_near("chargeback", "EUR", 98_000, TODAY) == []
    assert meter.describe() == "Query x1"


def test_a_card_payment_has_no_amount_lookup_and_a_changed_payout_none_added() -> None:
    t = new_id("tenant")
    card = _payment(t, PaymentKind.PAYMENT, 5_000, TODAY)
    payout = _payment(t, PaymentKind.PAYOUT, 5_000, TODAY, status=PaymentStatus.PENDING)
    _stored(card, payout)
    paid = replace(payout, status=PaymentStatus.SUCCEEDED, version=1)
    writes = PaymentWrites(tenant_id=t, now=NOW, payments=[(replace(payout, version=1), paid)])
    UnitOfWork("payout paid").add(lambda w: PaymentRepository.stage(w, writes)).commit()

    assert StoredCandidates(t).payments_near("payment", "EUR", 5_000, TODAY) == []
    (found,) = StoredCandidates(t).payments_near("payout", "EUR", 5_000, TODAY)
    assert found.payment_id == payout.id


# --- 2. lines without references in notifications --------------------------------------------


def _line(amount: str, reference: str | None) -> str:
    plain = entry(amount)
    if reference is None:
        return plain.replace("<AcctSvcrRef>BANKREF-1</AcctSvcrRef>", "")
    return plain.replace("BANKREF-1", reference)


def _header(report_id: str) -> str:
    return (
        f"<Id>{report_id}</Id><CreDtTm>2026-12-01T12:00:00Z</CreDtTm>"
        "<FrToDt><FrDtTm>2026-12-01T00:00:00+01:00</FrDtTm><ToDtTm>2026-12-01T23:59:59+01:00</ToDtTm></FrToDt>"
    )


def _notification(report_id: str, *lines: str) -> bytes:
    return camt(report(*lines, header=_header(report_id)), message="054")


def _day(report_id: str, *lines: str, kind: str, closing: str) -> bytes:
    code = "CLBD" if kind == "053" else "ITBD"
    balances = balance("OPBD", "1000.00") + balance(code, closing)
    return camt(report(*lines, balances=balances, header=_header(report_id)), message=kind)


def _import(tenant: TestTenant, body: bytes, minutes: int = 0) -> Any:
    result = imports.import_file(
        tenant.tenant_id, body, bank_account_id=None, actor="test", now=NOW + timedelta(minutes=minutes)
    )
    (statement,) = result.statements
    return statement


def _stored_lines(tenant: TestTenant, bank_account_id: str) -> list[Any]:
    page = bank.list_transactions(
        tenant.tenant_id, TransactionFilter(bank_account_id=bank_account_id), limit=100, starting_after=None
    )
    return list(page.items)


def test_two_notifications_of_one_reference_less_line_are_two_lines_and_the_statement_adds_neither(
    tenant: TestTenant,
) -> None:
    first = _import(tenant, _notification("NTF-1", _line("50.00", None)))
    second = _import(tenant, _notification("NTF-2", _line("50.00", None)), minutes=1)
    statement = _import(
        tenant,
        _day(
            "STMT-1",
            _line("50.00", None),
            _line("50.00", None),
            _line("50.00", None),
            kind="053",
            closing="1150.00",
        ),
        minutes=2,
    )

    assert (first.transaction_count, second.transaction_count) == (1, 1)
    # The statement's three equal lines: two the notifications brought, one new
    assert (statement.transaction_count, statement.duplicate_lines) == (1, 2)
    lines = _stored_lines(tenant, first.bank_account_id)
    assert len(lines) == 3 and len({line.fingerprint for line in lines}) == 3
    assert sorted(line.statement_id for line in lines) == sorted(
        [first.statement_id, second.statement_id, statement.statement_id]
    )


def test_a_referenced_line_of_an_intraday_report_is_stored_once_with_the_statement(
    tenant: TestTenant,
) -> None:
    intraday = _import(
        tenant, _day("RPT-1", _line("20.00", "REF-A"), _line("30.00", None), kind="052", closing="1050.00")
    )
    statement = _import(
        tenant,
        _day(
            "STMT-1",
            _line("20.00", "REF-A"),
            _line("30.00", None),
            _line("5.00", "REF-B"),
            kind="053",
            closing="1055.00",
        ),
        minutes=1,
    )

    assert (intraday.transaction_count, intraday.duplicate_lines) == (2, 0)
    assert (statement.transaction_count, statement.duplicate_lines) == (1, 2)
    assert len(_stored_lines(tenant, intraday.bank_account_id)) == 3


# --- 3. a later chunk losing a line to a concurrent import ------------------------------------


def test_a_later_chunk_that_loses_a_line_to_another_import_counts_it_as_a_duplicate(
    tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [_line(f"{n}.00", f"REF-{n}") for n in range(1, 61)]  # two chunks: 40 + 20
    data = _day("STMT-1", *lines, kind="053", closing=f"{1000 + 1830}.00")
    real_write_chunk = import_writes._write_chunk
    calls: list[int] = []

    def another_import_between_chunks(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the intraday report of line 50 arrives while the statement is written
            _import(tenant, _day("RPT-1", lines[49], kind="052", closing="1050.00"), minutes=1)
        return real_write_chunk(*args)

    monkeypatch.setattr(import_writes, "_write_chunk", another_import_between_chunks)
    result = imports.import_file(tenant.tenant_id, data, bank_account_id=None, actor="test", now=NOW)

    (statement,) = result.statements
    assert (statement.transaction_count, statement.duplicate_lines) == (59, 1)
    assert statement.matched + statement.unmatched == 59
    assert len(_stored_lines(tenant, statement.bank_account_id)) == 60  # 59 + the report's one


def test_a_slot_another_notification_takes_meanwhile_is_given_up_for_the_next_free_one(
    tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_chunk = import_writes._write_chunk
    calls: list[int] = []

    def another_notification_first(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # NTF-2 takes slot #0 between NTF-1's probe and its write
            _import(tenant, _notification("NTF-2", _line("50.00", None)), minutes=1)
        return real_write_chunk(*args)

    real_with_slots = import_writes._with_slots
    slotted: list[int] = []

    def counted_with_slots(*args: Any) -> Any:
        slotted.append(1)
        return real_with_slots(*args)

    monkeypatch.setattr(import_writes, "_write_chunk", another_notification_first)
    monkeypatch.setattr(import_writes, "_with_slots", counted_with_slots)
    first = _import(tenant, _notification("NTF-1", _line("50.00", None)))
    monkeypatch.setattr(import_writes, "_write_chunk", real_write_chunk)

    assert len(slotted) == 3  # NTF-1's slot, NTF-2's, and NTF-1's again after its write failed
    assert (first.transaction_count, first.duplicate_lines) == (1, 0)
    assert len(_stored_lines(tenant, first.bank_account_id)) == 2
    statement = _import(
        tenant,
        _day("STMT-1", _line("50.00", None), _line("50.00", None), kind="053", closing="1100.00"),
        minutes=2,
    )
    assert (statement.transaction_count, statement.duplicate_lines) == (0, 2)


def test_a_notification_import_that_died_half_way_resumes_without_taking_new_slots(
    tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = [_line("7.00", None)] * 60  # 60 equal reference-less lines: two chunks
    data = _notification("NTF-1", *same)
    real_write_chunk = import_writes._write_chunk
    written: list[int] = []

    def dies_after_one_chunk(*args: Any) -> Any:
        if written:
            raise RuntimeError("the Lambda timed out")
        written.append(1)
        return real_write_chunk(*args)

    monkeypatch.setattr(import_writes, "_write_chunk", dies_after_one_chunk)
    with pytest.raises(RuntimeError):
        _import(tenant, data)
    monkeypatch.setattr(import_writes, "_write_chunk", real_write_chunk)
    resumed = _import(tenant, data, minutes=16)

    assert (resumed.transaction_count, resumed.duplicate_lines) == (60, 0)
    assert len(_stored_lines(tenant, resumed.bank_account_id)) == 60
    statement = _import(tenant, _day("STMT-1", *same, kind="053", closing="1420.00"), minutes=30)
    assert (statement.transaction_count, statement.duplicate_lines) == (0, 60)
