"""Invoice number sequences against DynamoDB Local: gap-free and never reused, also under
concurrency (the finalising transaction takes its number with a conditional write)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from functools import partial

import pytest
from pynamodb.transactions import TransactWrite

from cashline.dal.invoice_numbers import (
    InvoiceSequenceRecord,
    current_next,
    number_claimed_by,
    stage_next_number,
    stage_number_claim,
)
from cashline.dal.table import tenant_pk
from cashline.dal.transactions import UnitOfWork
from cashline.errors import ConflictError
from tests.utils import TestTenant

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
THREADS = 8
PER_THREAD = 6


LOST_RACES: Counter[str] = Counter()


def _stage_claim(write: TransactWrite, *, claim: InvoiceSequenceRecord) -> None:
    write.save(claim, condition=InvoiceSequenceRecord.pk.does_not_exist())


def _take(tenant_id: str, scope: str, taker: int) -> int:
    """What finalising does: read the next number, write the invoice (here a claim item naming the
    number) and move the sequence on in one transaction; read again after a lost race."""
    while True:
        number = current_next(tenant_id, scope)
        claim = InvoiceSequenceRecord(
            pk=tenant_pk(tenant_id),
            sk=f"TESTCLAIM#{scope}#{number:06d}",
            next_number=taker,
            created_at=NOW,
            updated_at=NOW,
        )
        work = UnitOfWork("the number was taken")
        work.add(partial(_stage_claim, claim=claim))
        work.add(partial(stage_next_number, tenant_id=tenant_id, scope=scope, expected_next=number, now=NOW))
        try:
            work.commit()
        except ConflictError:
            LOST_RACES[tenant_id] += 1
            continue
        return number


def test_a_new_sequence_starts_at_one_and_counts_up(tenant: TestTenant) -> None:
    assert current_next(tenant.tenant_id, "2027") == 1
    assert [_take(tenant.tenant_id, "2027", 0) for _ in range(3)] == [1, 2, 3]
    assert current_next(tenant.tenant_id, "2027") == 4
    # Each scope counts on its own: a new year starts at 1 again.
    assert _take(tenant.tenant_id, "2028", 0) == 1
    assert current_next(tenant.tenant_id, "2027") == 4


def test_a_stale_expected_number_fails_the_whole_transaction(tenant: TestTenant) -> None:
    _take(tenant.tenant_id, "all", 0)  # the sequence now stands at 2
    for stale in (1, 3):
        work = UnitOfWork("the number was taken")
        work.add(
            partial(stage_next_number, tenant_id=tenant.tenant_id, scope="all", expected_next=stale, now=NOW)
        )
        with pytest.raises(ConflictError):
            work.commit()
    assert current_next(tenant.tenant_id, "all") == 2


def test_sequences_are_per_tenant(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    first, second = tenant_factory(), tenant_factory()
    _take(first.tenant_id, "2027", 0)
    _take(first.tenant_id, "2027", 0)
    assert current_next(second.tenant_id, "2027") == 1
    assert _take(second.tenant_id, "2027", 0) == 1


def test_concurrent_takers_get_every_number_once_with_no_gap(tenant: TestTenant) -> None:
    taken: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(taker: int) -> None:
        try:
            barrier.wait()
            for _ in range(PER_THREAD):
                number = _take(tenant.tenant_id, "2027", taker)
                with lock:
                    taken.append(number)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = THREADS * PER_THREAD
    assert sorted(taken) == list(range(1, total + 1))  # each number once, none skipped
    assert current_next(tenant.tenant_id, "2027") == total + 1
    claims = InvoiceSequenceRecord.query(
        tenant_pk(tenant.tenant_id), InvoiceSequenceRecord.sk.startswith("TESTCLAIM#2027#")
    )
    claimed = Counter(int(record.sk.rsplit("#", 1)[1]) for record in claims)
    assert claimed == Counter(range(1, total + 1))
    # A figure, not a limit: how many transactions lost the race and were retried.
    print(f"{total} numbers taken by {THREADS} threads, {LOST_RACES[tenant.tenant_id]} lost races retried")


def _claim(tenant_id: str, number: str, invoice_id: str) -> None:
    UnitOfWork("number taken").add(
        lambda write: stage_number_claim(write, tenant_id, number, invoice_id, now=NOW)
    ).commit()


def test_a_formatted_number_is_claimed_once_per_tenant(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    first, second = tenant_factory(), tenant_factory()
    assert number_claimed_by(first.tenant_id, "R2701") is None
    _claim(first.tenant_id, "R2701", "inv_a")
    assert number_claimed_by(first.tenant_id, "R2701") == "inv_a"
    # A second claim of the same text (another scope, another customer, a credit note) fails whole
    with pytest.raises(ConflictError):
        _claim(first.tenant_id, "R2701", "inv_b")
    assert number_claimed_by(first.tenant_id, "R2701") == "inv_a"
    # Another tenant's numbers are its own
    _claim(second.tenant_id, "R2701", "inv_c")
    assert number_claimed_by(second.tenant_id, "R2701") == "inv_c"


def test_a_claim_without_now_leaves_the_stamps_out(tenant: TestTenant) -> None:
    UnitOfWork("number taken").add(
        lambda write: stage_number_claim(write, tenant.tenant_id, "CN-1", "inv_cn")
    ).commit()
    assert number_claimed_by(tenant.tenant_id, "CN-1") == "inv_cn"
