"""The one unit of work (cashline.dal.transactions.UnitOfWork) against DynamoDB Local: stages from
several "repositories" are written together or not at all, a failed condition is a ConflictError,
and throttling is a DependencyUnavailableError.

The records are platform records of this test (`TEST#<id>` partitions), so no tenant's data is
touched; instants are fixed, never the wall clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import CancellationReason, DoesNotExist, TransactWriteError, VerboseClientError
from pynamodb.transactions import TransactWrite

from cashline.dal.schedule_records import SweepCursorRecord, TickClaimRecord
from cashline.dal.transactions import UnitOfWork
from cashline.errors import ConflictError, DependencyUnavailableError

pytestmark = pytest.mark.usefixtures("local_cloud")

AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
LATER = datetime(2025, 3, 4, 6, 0, 0, tzinfo=UTC)


def claim(name: str) -> TickClaimRecord:
    """An unversioned record of this test, not yet written."""
    return TickClaimRecord(
        pk=f"TEST#{uuid.uuid4().hex}",
        sk=name,
        schedule="unit-of-work-test",
        tick_at=AT,
        claimed_by="test",
        created_at=AT,
        updated_at=AT,
    )


def cursor(until: datetime = AT) -> SweepCursorRecord:
    """A versioned record of this test (PynamoDB conditions each write on its version)."""
    return SweepCursorRecord(
        pk=f"TEST#{uuid.uuid4().hex}",
        sk="CURSOR",
        schedule="unit-of-work-test",
        swept_until=until,
        created_at=AT,
        updated_at=AT,
    )


def exists(record: TickClaimRecord | SweepCursorRecord) -> bool:
    try:
        type(record).get(record.pk, record.sk, consistent_read=True)
    except DoesNotExist:
        return False
    return True


def test_every_stage_is_written_together() -> None:
    # Given three stages, as three repositories would offer them
    first, second, moved = claim("A"), claim("B"), cursor()
    moved.save()
    version_read = moved.version

    # When they are committed as one unit of work
    (
        UnitOfWork("changed at the same time")
        .add(lambda write: write.save(first, condition=TickClaimRecord.pk.does_not_exist()))
        .add(lambda write: write.save(second, condition=TickClaimRecord.pk.does_not_exist()))
        .add(lambda write: write.update(moved, actions=[SweepCursorRecord.swept_until.set(LATER)]))
        .commit()
    )

    # Then every item is there, and the versioned record moved one version on (stored and local)
    assert exists(first) and exists(second)
    stored = SweepCursorRecord.get(moved.pk, moved.sk, consistent_read=True)
    assert stored.swept_until == LATER
    assert version_read is not None
    assert stored.version == moved.version == version_read + 1


def test_one_failed_condition_is_a_conflict_and_nothing_is_written() -> None:
    # Given an item that exists already, and two new ones
    taken, fresh, other = claim("TAKEN"), claim("FRESH"), cursor()
    taken.save()

    # When one unit of work writes the new ones and requires the taken one not to exist
    work = (
        UnitOfWork("invoice changed at the same time")
        .add(lambda write: write.save(fresh, condition=TickClaimRecord.pk.does_not_exist()))
        .add(lambda write: write.save(other, condition=SweepCursorRecord.pk.does_not_exist()))
        .add(lambda write: write.save(taken, condition=TickClaimRecord.pk.does_not_exist()))
    )

    # Then it is refused with the caller's message, and neither new item was written
    with pytest.raises(ConflictError, match="invoice changed at the same time"):
        work.commit()
    assert not exists(fresh)
    assert not exists(other)
    assert other.version is None  # a failed commit moves no local version either


def test_a_stale_version_is_a_conflict_and_nothing_is_written() -> None:
    # Given a versioned record read by two writers, one of which has saved since
    mine = cursor()
    mine.save()
    theirs = SweepCursorRecord.get(mine.pk, mine.sk, consistent_read=True)
    theirs.swept_until = LATER
    theirs.save()
    fresh = claim("FRESH")

    # When the other writer's change (on the version it read) is composed with a new item
    work = (
        UnitOfWork("cursor changed at the same time")
        .add(lambda write: write.save(fresh, condition=TickClaimRecord.pk.does_not_exist()))
        .add(lambda write: write.update(mine, actions=[SweepCursorRecord.swept_until.set(AT)]))
    )

    # Then the whole unit is refused: the version condition is one of its conditions
    with pytest.raises(ConflictError):
        work.commit()
    assert not exists(fresh)
    assert SweepCursorRecord.get(mine.pk, mine.sk, consistent_read=True).swept_until == LATER


def test_none_stages_are_ignored() -> None:
    # Given optional parts that are absent (a change without alerts, say)
    written = claim("ONLY")

    # When None is added around a real stage
    UnitOfWork("changed").add(None).add(lambda write: write.save(written)).add(None).commit()

    # Then the real stage is written and nothing fails
    assert exists(written)


def test_a_stage_sees_the_same_transaction_as_every_other_stage() -> None:
    seen: list[TransactWrite] = []
    UnitOfWork("changed").add(seen.append).add(seen.append).add(lambda write: write.save(claim("X"))).commit()
    assert len(seen) == 2 and seen[0] is seen[1]


def test_a_stage_that_fails_writes_nothing_and_its_error_goes_up() -> None:
    # Given a unit of work whose second stage fails before anything is sent (a bug, a refused value)
    written = claim("BEFORE")

    def broken(write: TransactWrite) -> None:
        raise ValueError("no such amount")

    work = UnitOfWork("changed").add(lambda write: write.save(written)).add(broken)

    # Then the error is the caller's to see, and the first stage was not written either
    with pytest.raises(ValueError, match="no such amount"):
        work.commit()
    assert not exists(written)


def test_a_unit_of_work_with_nothing_to_write_writes_nothing() -> None:
    UnitOfWork("changed").add(None).add(lambda write: None).commit()


def throttled(code: str) -> TransactWriteError:
    """What PynamoDB raises when DynamoDB answers a TransactWriteItems with `code` (DynamoDB Local
    never throttles, so the answer is built here, the way botocore builds it)."""
    answer: Any = {"Error": {"Code": code, "Message": "Throughput exceeds the current capacity"}}
    return TransactWriteError(
        "Failed to write transaction items", cause=ClientError(answer, "TransactWriteItems")
    )


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"]
)
def test_throttling_is_dependency_unavailable_and_nothing_is_written(code: str) -> None:
    # Given a unit of work whose commit DynamoDB refuses for load
    written = claim("NOT")

    def refused(write: TransactWrite) -> None:
        write.save(written)
        raise throttled(code)

    # Then it is a retryable "busy" error, not a conflict, and nothing was written
    with pytest.raises(DependencyUnavailableError):
        UnitOfWork("changed").add(refused).commit()
    assert not exists(written)


def test_a_transaction_cancelled_for_throttling_is_dependency_unavailable() -> None:
    written = claim("NOT")
    answer = {"Error": {"Code": "TransactionCanceledException", "Message": "[ThrottlingError]"}}
    cancelled = VerboseClientError(
        answer, "TransactWriteItems", cancellation_reasons=[CancellationReason(code="ThrottlingError")]
    )

    def refused(write: TransactWrite) -> None:
        write.save(written)
        raise TransactWriteError("Failed to write transaction items", cause=cancelled)

    with pytest.raises(DependencyUnavailableError):
        UnitOfWork("changed").add(refused).commit()
