"""The one lease of a due item (cashline.dal.due.lease) against DynamoDB Local: of two workers that
read the same due item, exactly one takes it (also when both write at the same moment from two
threads); the item stays in the `due` index at the lease's end; an item that left the index or
changed since it was read is not taken; the record's own changes go in the same write.

Every sweep leases a versioned record (alerts, runs, installments): PynamoDB conditions the lease
on the version read. The records here are versioned platform records of this test (`TEST#<id>`),
each under a job of its own so no sweep of the app meets them. Instants are fixed.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.expressions.update import Action

from cashline.dal.due import due_keys, lease, query_due
from cashline.dal.schedule_records import SweepCursorRecord, TickClaimRecord

pytestmark = pytest.mark.usefixtures("local_cloud")

TENANT = "ten_lease_test"
DUE_AT = datetime(2025, 4, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(minutes=5)
SWEPT = datetime(2025, 4, 1, 9, 30, tzinfo=UTC)


class DueItem:
    """One due item of its own job, written once; `read()` is what a sweep holds after its query."""

    def __init__(self) -> None:
        self.job = f"test_lease_{uuid.uuid4().hex[:12]}"
        self.entity_id = uuid.uuid4().hex
        record = SweepCursorRecord(
            pk=f"TEST#{self.entity_id}",
            sk="CURSOR",
            schedule=self.job,
            swept_until=DUE_AT,
            created_at=DUE_AT,
            updated_at=DUE_AT,
        )
        record.due_pk, record.due_sk = due_keys(self.job, DUE_AT, TENANT, self.entity_id)
        record.save()
        self.pk, self.sk = record.pk, record.sk

    def read(self) -> SweepCursorRecord:
        return SweepCursorRecord.get(self.pk, self.sk, consistent_read=True)

    def lease(self, record: SweepCursorRecord, *, also: tuple[Action, ...] = ()) -> bool:
        return lease(
            record, job=self.job, tenant_id=TENANT, entity_id=self.entity_id, until=UNTIL, now=NOW, also=also
        )

    def due_at(self, at: datetime) -> list[str]:
        """The pks a sweep of this job at `at` reads."""
        return [found.pk for found in query_due(self.job, now=at)]


def test_of_two_leases_on_what_both_read_exactly_one_wins() -> None:
    # Given two sweeps that read the same due item
    item = DueItem()
    first, second = item.read(), item.read()

    # When both lease it at the same instant
    won = [item.lease(first), item.lease(second)]

    # Then the first has it and the second is told no
    assert won == [True, False]


def test_of_two_threads_leasing_at_once_exactly_one_wins() -> None:
    # Given the same item read by two workers running at the same moment
    item = DueItem()
    readers = [item.read(), item.read()]
    start = threading.Barrier(len(readers))
    won: list[bool] = []
    lock = threading.Lock()

    def worker(record: SweepCursorRecord) -> None:
        start.wait()  # both send their conditional write together
        result = item.lease(record)
        with lock:
            won.append(result)

    # When both lease it from their own thread
    threads = [threading.Thread(target=worker, args=(record,)) for record in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly one has it
    assert sorted(won) == [False, True]


def test_a_lease_moves_the_item_to_the_end_of_the_lease_in_the_due_index() -> None:
    # Given a due item that a sweep at NOW finds
    item = DueItem()
    assert item.due_at(NOW) == [item.pk]

    # When a worker takes it until UNTIL
    assert item.lease(item.read())

    # Then its due keys are those of UNTIL: a sweep before then does not read it, one after does
    # (so the work is taken again if the worker died mid-way)
    stored = item.read()
    assert (stored.due_pk, stored.due_sk) == due_keys(item.job, UNTIL, TENANT, item.entity_id)
    assert stored.updated_at == NOW
    assert item.due_at(NOW) == []
    assert item.due_at(UNTIL - timedelta(seconds=1)) == []
    assert item.due_at(UNTIL) == [item.pk]


def test_a_lease_on_an_item_that_left_the_index_is_refused() -> None:
    # Given an item whose work was done (it left the index) and that a worker then read
    item = DueItem()
    done = item.read()
    done.update(actions=[SweepCursorRecord.due_pk.remove(), SweepCursorRecord.due_sk.remove()])
    current = item.read()  # its version is current: only the index condition can refuse it

    # When the worker leases it, it is refused, and the item stays out of the index
    assert not item.lease(current)
    stored = item.read()
    assert stored.due_pk is None and stored.due_sk is None
    assert item.due_at(UNTIL) == []


def test_a_lease_on_an_item_changed_since_it_was_read_is_refused() -> None:
    # Given an item read by a sweep, then changed by someone else while still due
    item = DueItem()
    stale = item.read()
    changed = item.read()
    changed.update(actions=[SweepCursorRecord.swept_until.set(SWEPT)])

    # When the sweep leases what it read, it is refused and the other change stands
    assert not item.lease(stale)
    stored = item.read()
    assert stored.swept_until == SWEPT
    assert (stored.due_pk, stored.due_sk) == due_keys(item.job, DUE_AT, TENANT, item.entity_id)


def test_the_records_own_changes_are_made_in_the_same_write() -> None:
    # Given an item read by two sweeps
    item = DueItem()
    first, second = item.read(), item.read()
    version_read = first.version
    assert version_read is not None

    # When both lease it with a change of the record's own (an installment's PROCESSING status)
    assert item.lease(first, also=(SweepCursorRecord.swept_until.set(SWEPT),))
    assert not item.lease(second, also=(SweepCursorRecord.swept_until.set(UNTIL),))

    # Then the winner's change is stored with its lease, in one write (one version on), and the
    # loser's is not
    stored = item.read()
    assert stored.swept_until == SWEPT
    assert stored.version == version_read + 1
    assert (stored.due_pk, stored.due_sk) == due_keys(item.job, UNTIL, TENANT, item.entity_id)


def test_a_record_without_a_version_cannot_be_leased() -> None:
    # Two workers reading the same unversioned item would both pass `due_pk exists`: refused outright.
    record = TickClaimRecord(pk=f"T#{TENANT}#TICK", sk="x")
    with pytest.raises(TypeError, match="no version attribute"):
        lease(record, job="x", tenant_id=TENANT, entity_id="e", until=UNTIL, now=NOW)
